//! Merchant A cannot read or change anything of merchant B, and keys are what they claim to be.

use mostrador_e2e::{eventually, on_both_engines, text_webhook, Engine, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

async fn merchant_a_cannot_read_or_change_merchant_b(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (a_id, a_key) = app.merchant("Farmacia San Juan").await;
    let (b_id, b_key) = app.merchant("Taquería El Güero").await;
    let b_branch = app.branch(&b_key, "Centro", Some("106540352242922")).await;

    // A sees only itself.
    let me: Value = app
        .as_merchant(&a_key, Method::GET, "/v1/merchant")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(me["merchant"]["id"], a_id.as_str());
    let list: Value = app
        .as_merchant(&a_key, Method::GET, "/v1/branches")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(list["branches"], json!([]));

    // A cannot read, change or revoke B's things: they do not exist for A.
    let get = app
        .as_merchant(&a_key, Method::GET, &format!("/v1/branches/{b_branch}"))
        .send()
        .await
        .expect("send");
    assert_eq!(get.status(), 404);
    let put = app
        .as_merchant(&a_key, Method::PUT, &format!("/v1/branches/{b_branch}"))
        .json(&json!({ "name": "Mía", "postal_code": "01000" }))
        .send()
        .await
        .expect("send");
    assert_eq!(put.status(), 404);
    let b_keys: Value = app
        .as_merchant(&b_key, Method::GET, "/v1/api-keys")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let b_key_id = b_keys["api_keys"][0]["key_id"]
        .as_str()
        .expect("key id")
        .to_owned();
    let revoke = app
        .as_merchant(&a_key, Method::DELETE, &format!("/v1/api-keys/{b_key_id}"))
        .send()
        .await
        .expect("send");
    assert_eq!(revoke.status(), 404);

    // A issues its own keys: not for B's branch, not from a list, not from a branch-limited key.
    let issue = |k: &str, body: Value| {
        app.as_merchant(k, Method::POST, "/v1/api-keys")
            .json(&body)
            .send()
    };
    let foreign = issue(&a_key, json!({ "branch_id": b_branch }))
        .await
        .expect("send");
    assert_eq!(foreign.status(), 422, "B's branch does not exist for A");
    let listed = issue(&a_key, json!([])).await.expect("send");
    assert_eq!(listed.status(), 422, "a list is not the key's options");
    let issued: Value = issue(&a_key, json!({ "label": "Punto de venta" }))
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let pos_key = issued["api_key"].as_str().expect("the key, shown once");
    let me: Value = app
        .as_merchant(pos_key, Method::GET, "/v1/merchant")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(me["merchant"]["name"], "Farmacia San Juan", "{me}");
    let a_branch = app.branch(&a_key, "Sur", Some("5550111")).await;
    let limited: Value = issue(
        &a_key,
        json!({ "branch_id": a_branch, "label": "Caja Sur" }),
    )
    .await
    .expect("send")
    .json()
    .await
    .expect("json");
    let limited_key = limited["api_key"].as_str().expect("key");
    let escalation = issue(limited_key, json!({})).await.expect("send");
    assert_eq!(
        escalation.status(),
        403,
        "a branch key cannot mint a whole-merchant key"
    );

    // B's branch and key are intact.
    let b_get: Value = app
        .as_merchant(&b_key, Method::GET, &format!("/v1/branches/{b_branch}"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(b_get["name"], "Centro");
    assert_eq!(
        app.as_merchant(&b_key, Method::GET, "/v1/merchant")
            .send()
            .await
            .expect("send")
            .status(),
        200
    );

    // A cannot take B's WhatsApp number either.
    let steal = app
        .as_merchant(&a_key, Method::POST, "/v1/branches")
        .json(&json!({ "name": "Copia", "postal_code": "06700", "phone_number_id": "106540352242922" }))
        .send()
        .await
        .expect("send");
    assert_eq!(steal.status(), 409);
    assert_ne!(a_id, b_id);
    app.stop().await;
}

async fn wrong_missing_and_revoked_keys_get_401_revealing_nothing(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (id, key) = app.merchant("Boutique Lupita").await;
    for auth in [
        None,
        Some("mos_nope_0000"),
        Some("Basic abc"),
        Some(app.admin_key.as_str()),
    ] {
        let mut req = app.http.get(format!("{}/v1/merchant", app.url));
        if let Some(a) = auth {
            req = req.bearer_auth(a);
        }
        let r = req.send().await.expect("send");
        assert_eq!(r.status(), 401, "auth {auth:?}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(
            body,
            json!({ "error": { "code": "unauthorized", "message": "missing or invalid credentials" } })
        );
    }
    // Merchant keys are not admin keys.
    let r = app
        .as_merchant(&key, Method::POST, "/v1/admin/merchants")
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    // Revoked keys stop working at once; the secret is never listed.
    let keys: Value = app
        .admin(Method::GET, &format!("/v1/admin/merchants/{id}/api-keys"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert!(
        !keys.to_string().contains(&key),
        "a listing must never show the key itself"
    );
    let key_id = keys["api_keys"][0]["key_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let r = app
        .admin(
            Method::DELETE,
            &format!("/v1/admin/merchants/{id}/api-keys/{key_id}"),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let r = app
        .as_merchant(&key, Method::GET, "/v1/merchant")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    app.stop().await;
}

async fn branch_limited_key_acts_only_on_its_branch(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (id, key) = app.merchant("Cadena Farmacéutica").await;
    let norte = app.branch(&key, "Norte", None).await;
    let sur = app.branch(&key, "Sur", None).await;
    let r = app
        .admin(Method::POST, &format!("/v1/admin/merchants/{id}/api-keys"))
        .json(&json!({ "branch_id": norte, "label": "POS Norte" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    let pos_key = r.json::<Value>().await.expect("json")["api_key"]
        .as_str()
        .expect("key")
        .to_owned();
    let list: Value = app
        .as_merchant(&pos_key, Method::GET, "/v1/branches")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(list["branches"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["branches"][0]["id"], norte.as_str());
    let r = app
        .as_merchant(&pos_key, Method::GET, &format!("/v1/branches/{sur}"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 403);
    let r = app
        .as_merchant(&pos_key, Method::GET, &format!("/v1/branches/{norte}"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    app.stop().await;
}

/// A customer of the Polanco branch, seen through a key limited to Centro: the outbox, a message's
/// status, the conversation, the hand-off list and its release show nothing of them; the whole
/// merchant's key sees everything.
async fn branch_key_sees_only_its_own_numbers_messages_and_conversations(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (id, key) = app.merchant("Cadena Farmacéutica").await;
    let centro = app.branch(&key, "Centro", Some("200000000000001")).await;
    app.branch(&key, "Polanco", Some("200000000000002")).await;
    let r = app
        .admin(Method::POST, &format!("/v1/admin/merchants/{id}/api-keys"))
        .json(&json!({ "branch_id": centro, "label": "Mostrador Centro" }))
        .send()
        .await
        .expect("send");
    let centro_key = r.json::<Value>().await.expect("json")["api_key"]
        .as_str()
        .expect("key")
        .to_owned();
    // The Polanco customer asks for a person: greeted, then handed off.
    for (wamid, text) in [("wamid.pol.1", "Hola"), ("wamid.pol.2", "asesor")] {
        let body = text_webhook("200000000000002", "5215587654321", wamid, text);
        assert_eq!(app.post_webhook(&body).await.status(), 200);
    }
    let get = |k: &str, path: &str| app.as_merchant(k, Method::GET, path).send();
    eventually("the Polanco customer handed off", || async {
        let all: Value = get(&key, "/v1/conversations")
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        all["conversations"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    })
    .await;
    let outbox: Value = get(&key, "/v1/outbox")
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let polanco_ids: Vec<String> = outbox["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["phone_number_id"] == "200000000000002")
        .filter_map(|m| m["id"].as_str().map(str::to_owned))
        .collect();
    assert!(
        !polanco_ids.is_empty(),
        "the merchant's key sees the replies: {outbox}"
    );

    let seen: Value = get(&centro_key, "/v1/outbox")
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(seen["messages"].as_array().map(Vec::len), Some(0), "{seen}");
    let status = get(&centro_key, &format!("/v1/messages/{}", polanco_ids[0]))
        .await
        .expect("send");
    assert_eq!(status.status(), 404);
    let status = get(&key, &format!("/v1/messages/{}", polanco_ids[0]))
        .await
        .expect("send");
    assert_eq!(status.status(), 200);
    let conv = get(&centro_key, "/v1/conversations/5215587654321/messages")
        .await
        .expect("send");
    assert_eq!(conv.status(), 404, "not even the customer's name");
    let conv: Value = get(&key, "/v1/conversations/5215587654321/messages")
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert!(
        conv["messages"].as_array().is_some_and(|m| m.len() >= 3),
        "{conv}"
    );
    let list: Value = get(&centro_key, "/v1/conversations")
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        list["conversations"].as_array().map(Vec::len),
        Some(0),
        "{list}"
    );
    let release = app
        .as_merchant(
            &centro_key,
            Method::POST,
            "/v1/conversations/5215587654321/release",
        )
        .send()
        .await
        .expect("send");
    assert_eq!(release.status(), 404);
    app.stop().await;
}

on_both_engines!(
    branch_key_sees_only_its_own_numbers_messages_and_conversations,
    merchant_a_cannot_read_or_change_merchant_b,
    wrong_missing_and_revoked_keys_get_401_revealing_nothing,
    branch_limited_key_acts_only_on_its_branch,
    a_branch_key_reaches_nothing_of_another_branch_on_any_documented_route,
);

/// Every route of the OpenAPI document, called with a key limited to Centro and aimed at Polanco's
/// customer, order, invoice and branch: no answer carries Polanco's customer or order, and nothing
/// of Polanco's changes.
async fn a_branch_key_reaches_nothing_of_another_branch_on_any_documented_route(engine: Engine) {
    use mostrador_app::commerce::orders::{self, Order, OrderLine};
    use mostrador_core::money::Centavos;
    use mostrador_core::tax::{line_amounts, TaxTreatment};
    const POLANCO_CUSTOMER: &str = "5215587650000";
    const DIGITS: &str = "5587650000";
    let app = TestApp::spawn(engine).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let key = demo.api_key.clone();
    let branch = |phone: &str| {
        demo.branches
            .iter()
            .find(|b| b.phone_number_id == phone)
            .expect("branch")
            .id
            .clone()
    };
    let (centro, polanco) = (branch("100000000000001"), branch("100000000000002"));
    let merchant = mostrador_app::platform::tenant::MerchantId::try_from(demo.merchant_id.clone())
        .expect("id");

    // Polanco's customer talks, asks for a person, buys, pays and is invoiced.
    for (wamid, text) in [("wamid.walk.1", "Hola"), ("wamid.walk.2", "asesor")] {
        let body = text_webhook("100000000000002", POLANCO_CUSTOMER, wamid, text);
        assert_eq!(app.post_webhook(&body).await.status(), 200);
    }
    let unit = Centavos(4_550);
    let amounts = line_amounts(unit, 2, TaxTreatment::Iva0, true).expect("amounts");
    let now = app.deps.clock.now();
    let order = Order {
        id: format!("OWALK{}", std::process::id()),
        branch_id: polanco.clone(),
        wa_id: "525587650000".into(),
        phone_number_id: "100000000000002".into(),
        status: orders::OrderStatus::AwaitingPayment,
        lines: vec![OrderLine {
            discount: Default::default(),
            sku: "7501008491072".into(),
            name: "Paracetamol 500 mg".into(),
            qty: 2,
            unit,
            amounts,
        }],
        subtotal: amounts.base,
        iva: amounts.iva,
        total: amounts.total,
        created_at: now.to_rfc3339(),
        expires_at_ms: now.timestamp_millis() + 30 * 60_000,
        payment_url: None,
        fulfilment: Default::default(),
        customer_name: None,
        sealed_personal: None,
        refunds: Vec::new(),
        promotions: Vec::new(),
    };
    let placed = orders::place(&app.deps, &merchant, order, &[], Vec::new())
        .await
        .unwrap_or_else(|_| panic!("placed"));
    mostrador_e2e::issue_link(&app.deps, &merchant, &placed).await;
    app.pay_in_sandbox(
        &merchant,
        &placed.id,
        placed.total.0,
        &format!("evt-walk-{}", std::process::id()),
    )
    .await;
    let r = app
        .as_merchant(&key, Method::POST, &format!("/v1/orders/{}/invoice", placed.id))
        .json(&json!({ "rfc": "CACX7605101P8", "nombre": "Xochilt Casas Chavez", "codigo_postal": "36257", "regimen_fiscal": "626", "uso_cfdi": "G03" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 202);
    let (app_ref, key_ref, id_ref) = (&app, &key, &placed.id);
    eventually(
        "Polanco's invoice stamped and its customer handed off",
        || async move {
            let inv: Value = app_ref
                .as_merchant(key_ref, Method::GET, &format!("/v1/invoices/{id_ref}"))
                .send()
                .await
                .expect("send")
                .json()
                .await
                .unwrap_or(Value::Null);
            let conv: Value = app_ref
                .as_merchant(key_ref, Method::GET, "/v1/conversations")
                .send()
                .await
                .expect("send")
                .json()
                .await
                .unwrap_or(Value::Null);
            inv["status"] == "stamped" && conv.to_string().contains(DIGITS)
        },
    )
    .await;
    let r = app
        .admin(
            Method::POST,
            &format!("/v1/admin/merchants/{merchant}/api-keys"),
        )
        .json(&json!({ "branch_id": centro, "label": "Mostrador Centro" }))
        .send()
        .await
        .expect("send");
    let centro_key = r.json::<Value>().await.expect("json")["api_key"]
        .as_str()
        .expect("key")
        .to_owned();
    let before = |path: String| {
        let (app, key) = (&app, &key);
        async move {
            app.as_merchant(key, Method::GET, &path)
                .send()
                .await
                .expect("send")
                .text()
                .await
                .expect("text")
        }
    };
    let order_before = before(format!("/v1/orders/{}", placed.id)).await;
    let stock_before = before(format!("/v1/branches/{polanco}/stock")).await;
    let consent_before = before(format!("/v1/customers/{POLANCO_CUSTOMER}/consent")).await;

    let doc: Value = serde_json::from_str(mostrador_app::entry::http::merchant_api::OPENAPI)
        .expect("the OpenAPI document");
    let mut walked = 0;
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        if !path.starts_with("/v1/")
            || path.starts_with("/v1/admin/")
            || path.starts_with("/v1/session")
            || path.starts_with("/v1/invitations/")
            || path == "/v1/openapi.json"
            || path == "/v1/me/password"
        {
            continue;
        }
        let concrete = path
            .replace("{branch_id}", &polanco)
            .replace("{order_id}", &placed.id)
            .replace("{id}", &placed.id)
            .replace("{wa_id}", POLANCO_CUSTOMER)
            .replace("{sku}", "7501008491072")
            .replace("{name}", "pedido_listo")
            .replace("{key_id}", "nokey");
        for method in ops.as_object().expect("operations").keys() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let mut request = app.as_merchant(&centro_key, m.clone(), &concrete);
            if m != Method::GET && m != Method::DELETE {
                request = request.json(&json!({}));
            }
            let r = request.send().await.expect("send");
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            walked += 1;
            if (200..300).contains(&status) {
                assert!(
                    !body.contains(DIGITS) && !body.contains(&placed.id),
                    "{method} {path} with Centro's key answered {status} with Polanco's data: {body}"
                );
                let aimed_at_polanco = concrete.contains(&polanco)
                    || concrete.contains(&placed.id)
                    || concrete.contains(POLANCO_CUSTOMER);
                assert!(
                    m == Method::GET || !aimed_at_polanco,
                    "{method} {path} with Centro's key acted on Polanco's: {status} {body}"
                );
            }
        }
    }
    assert!(walked > 80, "walked {walked} operations");
    assert_eq!(
        before(format!("/v1/orders/{}", placed.id)).await,
        order_before
    );
    assert_eq!(
        before(format!("/v1/branches/{polanco}/stock")).await,
        stock_before
    );
    assert_eq!(
        before(format!("/v1/customers/{POLANCO_CUSTOMER}/consent")).await,
        consent_before
    );
    app.stop().await;
}
