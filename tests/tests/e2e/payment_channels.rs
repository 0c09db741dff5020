//! How customers get to pay and how merchants hear about it, through the running stack:
//! an Openpay merchant's OXXO reference sent as instructions, a provider outage that keeps the order
//! and sends the link once the provider answers, and the signed `order.paid` event delivered to the
//! merchant's own endpoint (with retries). On both engines.

use chrono::Utc;
use mostrador_app::entry::jobs::{self, Job};
use mostrador_app::parties::hooks;
use mostrador_app::platform::records::{QueueRecord, RecordError};
use mostrador_app::platform::tenant::{MerchantId, TenantTable};
use mostrador_core::{Clock, FixedClock};
use mostrador_e2e::{eventually, on_both_engines, Engine, TestApp};
use mostrador_local::Options;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CENTRO: &str = "100000000000001";
const OPENPAY_MERCHANT: &str = "mzdtln0bmtms6o3kck8f";

/// An Openpay store charge as its API answers it.
fn store_charge(order_id: &str) -> String {
    format!(
        r#"{{"id":"trzjaozcik8msyqshka4","amount":91.00,"authorization":null,"method":"store","operation_type":"in","transaction_type":"charge","status":"in_progress","conciliated":false,"creation_date":"2026-11-21T10:43:53-06:00","operation_date":"2026-11-21T10:43:53-06:00","description":"Pedido","error_message":null,"order_id":"{order_id}","due_date":"2026-11-21T18:00:00-06:00","payment_method":{{"type":"store","reference":"OPENPAY02DQ35YOY7","barcode_url":"https://sandbox-api.openpay.mx/barcode/OPENPAY02DQ35YOY7"}},"currency":"MXN"}}"#
    )
}

struct Customer<'a> {
    app: &'a TestApp,
    key: &'a str,
    wa_id: &'a str,
    n: u32,
}

impl Customer<'_> {
    async fn says(&mut self, message: Value) {
        self.n += 1;
        let mut message = message;
        message["from"] = json!(self.wa_id);
        message["id"] = json!(format!(
            "wamid.pay.{}.{}.{}",
            std::process::id(),
            self.wa_id,
            self.n
        ));
        message["timestamp"] = json!(self.app.deps.clock.now_secs().to_string());
        let body = serde_json::to_vec(&json!({ "object": "whatsapp_business_account", "entry": [{ "id": "1", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": { "display_phone_number": "5215550000001", "phone_number_id": CENTRO },
            "contacts": [{ "profile": { "name": "Mariana López" }, "wa_id": self.wa_id }], "messages": [message] } }] }] }))
        .expect("json");
        assert_eq!(self.app.post_webhook(&body).await.status(), 200);
    }

    /// Orders two paracetamol boxes from the catalog and confirms.
    async fn orders_and_confirms(&mut self) {
        self.says(json!({ "type": "order", "order": { "catalog_id": "123", "product_items": [
            { "product_retailer_id": "7501008491072", "quantity": 2, "item_price": 45.5, "currency": "MXN" } ] } }))
            .await;
        wait_for_text(self.app, self.key, self.wa_id, "Confirmar").await;
        self.says(json!({ "type": "interactive", "interactive": { "type": "button_reply", "button_reply": { "id": "confirmar", "title": "Confirmar" } } })).await;
    }
}

/// Every message sent to `wa_id` so far, as JSON text.
async fn texts_to(app: &TestApp, key: &str, wa_id: &str) -> Vec<String> {
    let o: Value = app
        .as_merchant(key, Method::GET, "/v1/outbox?limit=200")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    o["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|m| &m["message"])
        .filter(|m| m["to"] == wa_id)
        .map(|m| m.to_string())
        .collect()
}

async fn wait_for_text(app: &TestApp, key: &str, wa_id: &str, needle: &str) {
    let what = format!("a message to the customer containing {needle:?}");
    eventually(&what, || async {
        texts_to(app, key, wa_id)
            .await
            .iter()
            .any(|t| t.contains(needle))
    })
    .await;
}

async fn openpay_reference_as_instructions_and_recovery_from_an_outage(engine: Engine) {
    let openpay = MockServer::start().await;
    let charges = format!("/v1/{OPENPAY_MERCHANT}/charges");
    let clock = FixedClock::at(Utc::now());
    let app = TestApp::spawn_full(
        engine,
        Arc::new(clock.clone()),
        Options::default(),
        &[("MOSTRADOR_OPENPAY_API_BASE", &openpay.uri())],
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let settings = |body: Value| {
        app.as_merchant(&demo.api_key, Method::PUT, "/v1/settings/payments")
            .json(&body)
    };
    // Card links need a return page and a buyer contact: refused with the fields named.
    let bad: Value = settings(json!({ "provider": "openpay", "merchant_id": OPENPAY_MERCHANT, "private_key": "sk_e568c42a6c384b7ab02cd47d2e407cab",
        "webhook_user": "mostrador", "webhook_password": "short", "methods": ["card"] }))
    .send()
    .await
    .expect("send")
    .json()
    .await
    .expect("json");
    let fields: Vec<&str> = bad["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    for f in ["webhook_password", "redirect_url", "customer"] {
        assert!(fields.contains(&f), "{f} missing from {bad}");
    }
    let ok = settings(json!({ "provider": "openpay", "merchant_id": OPENPAY_MERCHANT, "private_key": "sk_e568c42a6c384b7ab02cd47d2e407cab",
        "webhook_user": "mostrador", "webhook_password": "a-long-webhook-password", "sandbox": true, "methods": ["cash"] }))
    .send()
    .await
    .expect("send");
    assert_eq!(ok.status(), 200);

    // Openpay is down when the first customer confirms.
    Mock::given(method("POST"))
        .and(path(charges.clone()))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&openpay)
        .await;
    let mut first = Customer {
        app: &app,
        key: &demo.api_key,
        wa_id: "525511110001",
        n: 0,
    };
    first.orders_and_confirms().await;
    wait_for_text(
        &app,
        &demo.api_key,
        "525511110001",
        "en unos minutos te enviamos tu liga de pago",
    )
    .await;
    let orders: Value = app
        .as_merchant(
            &demo.api_key,
            Method::GET,
            "/v1/orders?status=awaiting_payment",
        )
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        orders["orders"].as_array().map(Vec::len),
        Some(1),
        "the order is kept with its stock reserved: {orders}"
    );
    let order_id = orders["orders"][0]["id"].as_str().expect("id").to_owned();

    // Openpay is back; the retry entry comes due and the customer gets the reference.
    Mock::given(method("POST"))
        .and(path(charges.clone()))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(store_charge(&order_id), "application/json"),
        )
        .mount(&openpay)
        .await;
    clock.advance(chrono::Duration::minutes(2));
    let run = jobs::run(&app.deps, Job::DueNotifications, clock.now_ms() + 60_000)
        .await
        .expect("run");
    assert!(run.processed >= 1, "{run:?}");
    wait_for_text(&app, &demo.api_key, "525511110001", "OPENPAY02DQ35YOY7").await;
    let sent = texts_to(&app, &demo.api_key, "525511110001")
        .await
        .join("\n");
    assert!(sent.contains("OXXO Pay"), "{sent}");
    assert!(sent.contains("$91.00"), "{sent}");
    // A second run sends nothing twice.
    let again = jobs::run(&app.deps, Job::DueNotifications, clock.now_ms() + 60_000)
        .await
        .expect("run");
    assert_eq!(again.processed, 0);

    // With Openpay up, the next customer gets the instructions right after the confirmation.
    let mut second = Customer {
        app: &app,
        key: &demo.api_key,
        wa_id: "525511110002",
        n: 0,
    };
    second.orders_and_confirms().await;
    wait_for_text(&app, &demo.api_key, "525511110002", "OPENPAY02DQ35YOY7").await;
    let sent = texts_to(&app, &demo.api_key, "525511110002")
        .await
        .join("\n");
    assert!(sent.contains("instrucciones"), "{sent}");
    let requests = openpay.received_requests().await.unwrap_or_default();
    assert_eq!(
        requests.len(),
        3,
        "one failed and two successful charge creations"
    );
    let body: Value = serde_json::from_slice(&requests[0].body).expect("json");
    assert_eq!(body["method"], "store");
    let raw = String::from_utf8_lossy(&requests[0].body);
    assert!(raw.contains("91.00"), "exact pesos to Openpay: {raw}");
    app.stop().await;
}

fn place_order(id: &str, branch: &str) -> mostrador_app::commerce::orders::Order {
    use mostrador_app::commerce::orders::{Order, OrderLine, OrderStatus};
    use mostrador_core::money::Centavos;
    use mostrador_core::tax::{line_amounts, TaxTreatment};
    let unit = Centavos(4_550);
    Order {
        id: id.into(),
        branch_id: branch.into(),
        wa_id: "525512345678".into(),
        phone_number_id: CENTRO.into(),
        status: OrderStatus::AwaitingPayment,
        lines: vec![OrderLine {
            discount: Default::default(),
            sku: "7501008491072".into(),
            name: "Paracetamol".into(),
            qty: 2,
            unit,
            amounts: line_amounts(unit, 2, TaxTreatment::Iva0, true).expect("amounts"),
        }],
        subtotal: Centavos(9_100),
        iva: Centavos::ZERO,
        total: Centavos(9_100),
        created_at: Utc::now().to_rfc3339(),
        expires_at_ms: Utc::now().timestamp_millis() + 30 * 60_000,
        payment_url: None,
        fulfilment: Default::default(),
        customer_name: None,
        sealed_personal: None,
        refunds: Vec::new(),
        promotions: Vec::new(),
    }
}

async fn paid_orders_reach_the_merchants_endpoint_signed(engine: Engine) {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/mostrador/events"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let app = TestApp::spawn(engine).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let merchant = MerchantId::try_from(demo.merchant_id.clone()).expect("id");
    let refused = app
        .as_merchant(&demo.api_key, Method::PUT, "/v1/settings/webhook")
        .json(&json!({ "url": "ftp://example.com/x" }))
        .send()
        .await
        .expect("send");
    assert_eq!(refused.status(), 422);
    let configured: Value = app
        .as_merchant(&demo.api_key, Method::PUT, "/v1/settings/webhook")
        .json(&json!({ "url": format!("{}/mostrador/events", receiver.uri()) }))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let secret = configured["secret"]
        .as_str()
        .expect("secret once")
        .to_owned();
    let shown: Value = app
        .as_merchant(&demo.api_key, Method::GET, "/v1/settings/webhook")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert!(
        shown.get("secret").is_none(),
        "the secret is shown only once"
    );

    let order = mostrador_app::flows::chat::place_order(
        &app.deps,
        &merchant,
        place_order("OHOOK1", &demo.branches[0].id),
    )
    .await
    .map_err(|_| "place")
    .expect("placed");
    let event = mostrador_payments::sandbox::SandboxEvent {
        id: "evt_hook_1".into(),
        kind: "payment.paid".into(),
        order_id: order.id.clone(),
        amount: 9_100,
        currency: "MXN".into(),
        method: mostrador_payments::Method::Cash,
    };
    mostrador_e2e::issue_link(&app.deps, &merchant, &order).await;
    let body = serde_json::to_vec(&event).expect("json");
    let sig = mostrador_app::flows::paying::sandbox(&app.deps, &merchant)
        .sign(&body, Utc::now().timestamp());
    let paid = app
        .http
        .post(format!(
            "{}/webhooks/payments/sandbox?m={merchant}",
            app.url
        ))
        .header("x-sandbox-signature", sig)
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(paid.status(), 200);
    eventually(
        "the order.paid event at the merchant's endpoint",
        || async {
            !receiver
                .received_requests()
                .await
                .unwrap_or_default()
                .is_empty()
        },
    )
    .await;
    let requests = receiver.received_requests().await.unwrap_or_default();
    let delivered = &requests[0];
    let header = delivered
        .headers
        .get(hooks::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .expect("signature header");
    assert!(
        hooks::verify(&secret, header, &delivered.body, Utc::now().timestamp()),
        "the signature verifies with the merchant's secret"
    );
    assert!(!hooks::verify(
        "whsec_wrong",
        header,
        &delivered.body,
        Utc::now().timestamp()
    ));
    let payload: Value = serde_json::from_slice(&delivered.body).expect("json");
    assert_eq!(payload["type"], "order.paid");
    assert_eq!(payload["id"], "order.paid:OHOOK1");
    assert_eq!(payload["data"]["total"], "91.00");
    assert_eq!(payload["data"]["method"], "cash");
    let t = TenantTable::of(&app.deps, &merchant);
    let order = mostrador_app::commerce::orders::get(&t, "OHOOK1")
        .await
        .expect("get")
        .expect("order");
    assert_eq!(order.status.as_str(), "paid");
    app.stop().await;

    // Retries: an endpoint that fails is tried again later; once it answers 2xx, never again.
    let flaky = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&flaky)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&flaky)
        .await;
    let app = TestApp::spawn_with(
        engine,
        Arc::new(mostrador_core::SystemClock),
        Options {
            pollers: false,
            scheduler: false,
            ..Default::default()
        },
    )
    .await;
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let merchant = MerchantId::try_from(demo.merchant_id.clone()).expect("id");
    hooks::configure(&app.deps, &merchant, &format!("{}/in", flaky.uri()))
        .await
        .expect("configure");
    hooks::emit(
        &app.deps,
        &merchant,
        hooks::HookEvent {
            id: "kyc.document:1".into(),
            kind: "kyc.document".into(),
            data: json!({ "n": 1 }),
        },
    )
    .await
    .expect("emit");
    let received = app
        .deps
        .queues
        .outbound
        .receive(
            1,
            std::time::Duration::from_secs(30),
            std::time::Duration::from_secs(1),
        )
        .await
        .expect("receive");
    let m = received.first().expect("the delivery is queued");
    let record = |count: u32| QueueRecord {
        message_id: m.message_id.clone(),
        body: m.body.clone(),
        group_id: Some(format!("hook:{merchant}")),
        receive_count: count,
        receipt: None,
    };
    match mostrador_app::entry::pipeline::handle_outbound(&app.deps, &record(1)).await {
        Err(RecordError::RetryAfter(delay, _)) => {
            assert_eq!(delay, std::time::Duration::from_secs(30))
        }
        other => panic!("a 500 is retried after a delay, got {other:?}"),
    }
    match mostrador_app::entry::pipeline::handle_outbound(&app.deps, &record(2)).await {
        Ok(()) => {}
        other => panic!("the second attempt is delivered, got {other:?}"),
    }
    mostrador_app::entry::pipeline::handle_outbound(&app.deps, &record(3))
        .await
        .expect("a redelivery after success");
    assert_eq!(
        flaky.received_requests().await.unwrap_or_default().len(),
        2,
        "nothing is delivered again once acknowledged"
    );
    app.stop().await;
}

/// Merchant webhooks reach public hosts only: every spelling of a private, loopback, link-local or
/// metadata address is refused when stored (this stack has no loopback allowance).
async fn webhook_urls_must_be_public(engine: Engine) {
    let app = TestApp::spawn_full(
        engine,
        Arc::new(mostrador_core::SystemClock),
        Options {
            pollers: false,
            scheduler: false,
            ..Default::default()
        },
        &[("MOSTRADOR_ALLOW_LOOPBACK_URLS", "false")],
    )
    .await;
    let (_, key) = app.merchant("Farmacia").await;
    for url in [
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/x",
        "https://[::ffff:127.0.0.1]/",
        "https://0x7f000001/",
        "https://2130706433/hook",
        "https://[fd00:ec2::254]/",
        "https://192.168.0.10/hook",
        "https://localhost/hook",
        "http://127.0.0.1:9000/hook",
        "http://erp.example.mx/hook",
    ] {
        let r = app
            .as_merchant(&key, Method::PUT, "/v1/settings/webhook")
            .json(&json!({ "url": url }))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 422, "{url}");
        let error: Value = r.json().await.expect("json");
        assert_eq!(error["error"]["fields"][0]["field"], "url", "{error}");
    }
    let r = app
        .as_merchant(&key, Method::PUT, "/v1/settings/webhook")
        .json(&json!({ "url": "https://203.0.114.7/mostrador/events" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "a public address is accepted");
    app.stop().await;
}

on_both_engines!(
    webhook_urls_must_be_public,
    openpay_reference_as_instructions_and_recovery_from_an_outage,
    paid_orders_reach_the_merchants_endpoint_signed,
);
