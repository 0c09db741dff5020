//! The HTTP surface as a client sees it: documented routes exist, errors are JSON, limits hold.

use mostrador_e2e::{on_both_engines, Engine, TestApp};
use serde_json::Value;

async fn every_documented_route_exists(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let doc: Value = app
        .http
        .get(format!("{}/v1/openapi.json", app.url))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 15);
    for (path, ops) in paths {
        let concrete = path
            .replace("{provider}", "stripe")
            .replace('{', "X")
            .replace('}', "");
        for method in ops.as_object().expect("ops").keys() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let r = app
                .http
                .request(m, format!("{}{concrete}", app.url))
                .send()
                .await
                .expect("send");
            if r.status() == 404 {
                let body: Value = r.json().await.expect("404 bodies are JSON");
                assert_ne!(
                    body["error"]["message"], "no such route",
                    "{method} {path} is documented but not routed"
                );
            }
        }
    }
    app.stop().await;
}

async fn unknown_routes_get_404_json_and_big_bodies_413(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let r = app
        .http
        .get(format!("{}/v2/nothing", app.url))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "not_found");
    for path in [
        "/webhooks/whatsapp",
        "/v1/admin/merchants",
        "/webhooks/payments/stripe",
    ] {
        // The server answers 413 and closes the connection while a client may still be uploading:
        // a fresh, unpooled client per attempt, and a transport error is retried (never a success).
        let mut answer = None;
        for _ in 0..5 {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("client");
            let sent = client
                .post(format!("{}{path}", app.url))
                .bearer_auth(&app.admin_key)
                .header("content-type", "application/json")
                .body(vec![b'a'; 3 * 1024 * 1024 + 1])
                .send()
                .await;
            if let Ok(r) = sent {
                answer = Some(r);
                break;
            }
        }
        let r = answer.expect("the server answers an oversized body");
        assert_eq!(r.status(), 413, "{path}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"]["code"], "payload_too_large");
    }
    let r = app
        .admin(reqwest::Method::POST, "/v1/admin/merchants")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"]["code"],
        "bad_request"
    );
    let r = app
        .admin(reqwest::Method::POST, "/v1/admin/merchants")
        .json(&serde_json::json!({ "name": "" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"]["fields"][0]["field"],
        "name"
    );
    let r = app
        .http
        .delete(format!("{}/healthz", app.url))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 405);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"]["code"],
        "method_not_allowed"
    );
    let r = app
        .http
        .post(format!("{}/webhooks/payments/bitcoin", app.url))
        .body("{}")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
    app.stop().await;
}

async fn branch_fields_are_validated_with_reasons(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (_, key) = app.merchant("Papelería Azul").await;
    let bad = serde_json::json!({ "name": "", "postal_code": "6700", "timezone": "Mars/Olympus", "phone_number_id": "abc" });
    let r = app
        .as_merchant(&key, reqwest::Method::POST, "/v1/branches")
        .json(&bad)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.expect("json");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        ["name", "postal_code", "timezone", "phone_number_id"]
    );
    let list: Value = app
        .as_merchant(&key, reqwest::Method::GET, "/v1/branches")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        list["branches"].as_array().map(Vec::len),
        Some(0),
        "nothing half-written"
    );
    app.stop().await;
}

/// The console's optional second factor, from enrollment to sign-in and back off: a code works
/// once, a wrong one counts toward the lockout, turning it on ends the other sessions.
async fn a_second_factor_guards_the_console(engine: Engine) {
    use mostrador_app::parties::staff::{self, NewStaff, SignInError};
    let clock = mostrador_core::FixedClock::at(chrono::Utc::now());
    let app = TestApp::spawn_with(
        engine,
        std::sync::Arc::new(clock.clone()),
        mostrador_local::Options {
            pollers: false,
            scheduler: false,
            ..Default::default()
        },
    )
    .await;
    let (merchant, _) = app.merchant("Farmacia del Valle").await;
    let merchant = mostrador_app::platform::tenant::MerchantId::try_from(merchant).expect("id");
    let (email, password) = ("duena@delvalle.mx", "una-contraseña-larga");
    staff::create(
        &app.deps,
        &merchant,
        NewStaff {
            email: email.into(),
            name: "Dueña".into(),
            role: mostrador_core::accounts::Role::Owner,
            branch_id: None,
            password: password.into(),
        },
    )
    .await
    .expect("owner");
    let first = staff::sign_in(&app.deps, email, password, None)
        .await
        .map_err(|e| format!("{e:?}"))
        .expect("no second factor yet");
    let session = staff::resolve_session(&app.deps, &first.token)
        .await
        .map_err(|e| e.to_string())
        .expect("session");
    let user = session.member.id.clone();
    let enrollment = staff::totp_begin(&app.deps, &session.caller, &user)
        .await
        .expect("begin");
    assert!(enrollment.otpauth_url.starts_with("otpauth://totp/"));
    assert!(enrollment.qr_svg.contains("<svg"));
    let totp = totp_rs::TOTP::from_url(&enrollment.otpauth_url)
        .expect("an authenticator app reads the link");
    let now = |c: &mostrador_core::FixedClock| {
        u64::try_from(mostrador_core::Clock::now_secs(c)).expect("time")
    };
    // A wrong code does not turn it on.
    let wrong = staff::totp_confirm(&app.deps, &session.caller, &user, "000000").await;
    assert!(wrong.is_err() || totp.generate(now(&clock)) == "000000");
    let confirmed = staff::totp_confirm(
        &app.deps,
        &session.caller,
        &user,
        &totp.generate(now(&clock)),
    )
    .await
    .expect("confirm");
    assert!(confirmed.member.two_factor);
    assert!(
        staff::resolve_session(&app.deps, &first.token)
            .await
            .is_err(),
        "turning it on ends the other sessions"
    );
    // The password alone asks for the code; a wrong or replayed code is refused.
    let code_now = totp.generate(now(&clock));
    assert!(matches!(
        staff::sign_in(&app.deps, email, password, None).await,
        Err(SignInError::CodeRequired)
    ));
    assert!(
        matches!(
            staff::sign_in(&app.deps, email, password, Some(&code_now)).await,
            Err(SignInError::WrongCode)
        ),
        "the code that confirmed it was used"
    );
    clock.advance(chrono::Duration::seconds(30));
    let next = totp.generate(now(&clock));
    let signed = staff::sign_in(&app.deps, email, "otra-contraseña-mala", Some(&next)).await;
    assert!(
        matches!(signed, Err(SignInError::WrongCredentials)),
        "a code never stands for the password"
    );
    staff::sign_in(&app.deps, email, password, Some(&next))
        .await
        .map_err(|e| format!("{e:?}"))
        .expect("password and code");
    // Wrong codes count toward the lockout like wrong passwords: five in a row lock it.
    clock.advance(chrono::Duration::seconds(30));
    let mut last = None;
    for _ in 0..5 {
        last = Some(staff::sign_in(&app.deps, email, password, Some("123456")).await);
    }
    assert!(
        matches!(last, Some(Err(SignInError::Locked(_)))),
        "{last:?}"
    );
    clock.advance(chrono::Duration::minutes(16));
    // Off again, proven by a current code: the password alone signs in.
    let off = staff::totp_disable(
        &app.deps,
        &confirmed_caller(&app, &confirmed.token).await,
        &user,
        &totp.generate(now(&clock)),
    )
    .await
    .expect("disable");
    assert!(!off.two_factor);
    staff::sign_in(&app.deps, email, password, None)
        .await
        .map_err(|e| format!("{e:?}"))
        .expect("password alone again");
    app.stop().await;
}

async fn confirmed_caller(app: &TestApp, token: &str) -> mostrador_app::parties::merchants::Caller {
    mostrador_app::parties::staff::resolve_session(&app.deps, token)
        .await
        .map_err(|e| e.to_string())
        .expect("the session opened by the confirmation")
        .caller
}

on_both_engines!(
    a_second_factor_guards_the_console,
    every_documented_route_exists,
    unknown_routes_get_404_json_and_big_bodies_413,
    branch_fields_are_validated_with_reasons
);
