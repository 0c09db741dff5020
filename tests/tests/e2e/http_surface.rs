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

on_both_engines!(
    every_documented_route_exists,
    unknown_routes_get_404_json_and_big_bodies_413,
    branch_fields_are_validated_with_reasons
);
