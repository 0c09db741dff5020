//! Getting paid through the sandbox provider: the checkout page posts a signed callback; the order
//! becomes paid, its stock committed and the customer thanked. Forged, stale, duplicate, out-of-order
//! and mismatched callbacks change nothing they should not. On both engines.

use chrono::Utc;
use mostrador_app::commerce::orders::{self, Order, OrderLine, OrderStatus};
use mostrador_app::flows::paying;
use mostrador_app::platform::tenant::{MerchantId, TenantTable};
use mostrador_core::money::Centavos;
use mostrador_core::tax::{line_amounts, TaxTreatment};
use mostrador_e2e::{on_both_engines, Engine, TestApp};
use mostrador_local::Options;
use mostrador_payments::sandbox::SandboxEvent;
use mostrador_payments::Method;
use reqwest::Method as Http;
use serde_json::Value;
use std::sync::Arc;

struct Shop {
    app: TestApp,
    merchant: MerchantId,
    key: String,
    branch: String,
}

async fn shop(engine: Engine) -> Shop {
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
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let merchant = MerchantId::try_from(demo.merchant_id.clone()).expect("id");
    Shop {
        merchant,
        key: demo.api_key.clone(),
        branch: demo.branches[0].id.clone(),
        app,
    }
}

impl Shop {
    /// An order with its sandbox payment link, as the chat places it.
    async fn order(&self, id: &str) -> Order {
        let placed = self.order_without_link(id).await;
        mostrador_e2e::issue_link(&self.app.deps, &self.merchant, &placed).await;
        placed
    }

    /// The checkout page's answer for `order` (`extra` appended to the query).
    async fn checkout(&self, method: Http, order: &str, extra: &str) -> u16 {
        self.app
            .http
            .request(
                method,
                format!(
                    "{}/sandbox/pay/{order}?m={}{extra}",
                    self.app.url, self.merchant
                ),
            )
            .send()
            .await
            .expect("send")
            .status()
            .as_u16()
    }

    async fn order_without_link(&self, id: &str) -> Order {
        let unit = Centavos(4_550);
        let o = Order {
            id: id.into(),
            branch_id: self.branch.clone(),
            wa_id: "525512345678".into(),
            phone_number_id: "100000000000001".into(),
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
        };
        mostrador_app::flows::chat::place_order(&self.app.deps, &self.merchant, o)
            .await
            .map_err(|_| "place")
            .expect("placed")
    }

    async fn callback(
        &self,
        event: &SandboxEvent,
        t_offset: i64,
        forged: bool,
    ) -> reqwest::Response {
        let body = serde_json::to_vec(event).expect("json");
        let sig = if forged {
            mostrador_payments::sandbox::Sandbox::new(b"not-the-key".to_vec(), "")
                .sign(&body, Utc::now().timestamp())
        } else {
            paying::sandbox(&self.app.deps, &self.merchant)
                .sign(&body, Utc::now().timestamp() + t_offset)
        };
        self.app
            .http
            .post(format!(
                "{}/webhooks/payments/sandbox?m={}",
                self.app.url, self.merchant
            ))
            .header("x-sandbox-signature", sig)
            .body(body)
            .send()
            .await
            .expect("send")
    }

    async fn status(&self, id: &str) -> String {
        let t = TenantTable::of(&self.app.deps, &self.merchant);
        orders::get(&t, id)
            .await
            .expect("get")
            .expect("order")
            .status
            .as_str()
            .to_owned()
    }

    async fn stock(&self) -> (i64, i64) {
        let t = TenantTable::of(&self.app.deps, &self.merchant);
        let s = mostrador_app::commerce::catalog::get_stock(&t, &self.branch, "7501008491072")
            .await
            .expect("stock");
        (s.available, s.reserved)
    }
}

fn event(id: &str, kind: &str, order: &str, amount: i64) -> SandboxEvent {
    SandboxEvent {
        id: id.into(),
        kind: kind.into(),
        order_id: order.into(),
        amount,
        currency: "MXN".into(),
        method: Method::Card,
    }
}

async fn paying_through_the_checkout_page_marks_the_order_paid(engine: Engine) {
    let s = shop(engine).await;
    let order = s.order("OPAY1").await;
    assert_eq!(s.stock().await, (38, 2));
    let page = s
        .app
        .http
        .get(format!(
            "{}/sandbox/pay/{}?m={}",
            s.app.url, order.id, s.merchant
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(
        html.contains("$91.00") && html.contains("awaiting_payment"),
        "{html}"
    );
    let paid = s
        .app
        .http
        .post(format!(
            "{}/sandbox/pay/{}?m={}&method=card",
            s.app.url, order.id, s.merchant
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(paid.status(), 303, "back to the checkout page");
    let back = paid
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .expect("location")
        .to_owned();
    let page = s
        .app
        .http
        .get(format!("{}{back}", s.app.url))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("Pago recibido") && page.contains(">paid<"),
        "{page}"
    );
    assert_eq!(s.status("OPAY1").await, "paid");
    assert_eq!(s.stock().await, (38, 0), "the reservation is committed");
    // The customer is thanked.
    let thanks = s
        .app
        .deps
        .queues
        .outbound
        .receive(
            10,
            std::time::Duration::from_secs(30),
            std::time::Duration::from_secs(1),
        )
        .await
        .expect("receive");
    let bodies: Vec<Value> = thanks
        .iter()
        .map(|m| serde_json::from_str(&m.body).expect("json"))
        .collect();
    assert!(bodies.iter().any(|b| b["id"] == "OPAY1-paid"), "{bodies:?}");
    // The sale is recorded for the branch's global invoice.
    let day = Utc::now()
        .with_timezone(&chrono_tz::America::Mexico_City)
        .format("%Y-%m-%d")
        .to_string();
    let t = TenantTable::of(&s.app.deps, &s.merchant);
    use mostrador_store::Table;
    let sale = t
        .get(&mostrador_store::Key::new(
            format!("SALES#{}#{day}", s.branch),
            "ORDER#OPAY1",
        ))
        .await
        .expect("get");
    assert_eq!(sale.and_then(|i| i.get_n("total")), Some(9_100));
    s.app.stop().await;
}

async fn forged_stale_and_unsigned_callbacks_change_nothing(engine: Engine) {
    let s = shop(engine).await;
    s.order("OPAY2").await;
    let paid = event("evt_a", "payment.paid", "OPAY2", 9_100);
    assert_eq!(s.callback(&paid, 0, true).await.status(), 401);
    assert_eq!(s.callback(&paid, -400, false).await.status(), 401, "stale");
    let unsigned = s
        .app
        .http
        .post(format!(
            "{}/webhooks/payments/sandbox?m={}",
            s.app.url, s.merchant
        ))
        .body(serde_json::to_vec(&paid).expect("json"))
        .send()
        .await
        .expect("send");
    assert_eq!(unsigned.status(), 401);
    assert_eq!(s.status("OPAY2").await, "awaiting_payment");
    assert_eq!(s.stock().await, (38, 2));
    s.app.stop().await;
}

async fn duplicates_and_late_events_never_regress_the_order(engine: Engine) {
    let s = shop(engine).await;
    s.order("OPAY3").await;
    let paid = event("evt_p", "payment.paid", "OPAY3", 9_100);
    let first: Value = s
        .callback(&paid, 0, false)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(first["result"], "paid");
    let again: Value = s
        .callback(&paid, 0, false)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(again["result"], "duplicate");
    for (id, kind) in [
        ("evt_pending", "payment.pending"),
        ("evt_expired", "payment.expired"),
        ("evt_failed", "payment.failed"),
    ] {
        let r = s.callback(&event(id, kind, "OPAY3", 9_100), 0, false).await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(s.status("OPAY3").await, "paid");
    assert_eq!(s.stock().await, (38, 0), "committed once");
    s.app.stop().await;
}

async fn partial_payments_are_flagged_and_unknown_orders_acknowledged(engine: Engine) {
    let s = shop(engine).await;
    s.order("OPAY4").await;
    let short: Value = s
        .callback(
            &event("evt_short", "payment.paid", "OPAY4", 9_000),
            0,
            false,
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(short["result"], "flagged");
    assert_eq!(
        s.status("OPAY4").await,
        "awaiting_payment",
        "a partial payment is not a payment"
    );
    let unknown = s
        .callback(&event("evt_x", "payment.paid", "NOPE", 100), 0, false)
        .await;
    assert_eq!(unknown.status(), 200, "the provider must stop retrying");
    assert_eq!(
        unknown.json::<Value>().await.expect("json")["result"],
        "unmatched"
    );
    // Both are where the merchant sees them.
    let issues: Value = s
        .app
        .as_merchant(&s.key, Http::GET, "/v1/payments/issues")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let kinds: Vec<(&str, &str)> = issues["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap_or_default(),
                i["event"]["order_id"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [("flagged", "OPAY4"), ("unmatched", "NOPE")],
        "{issues}"
    );
    assert!(
        issues["issues"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("$90.00")),
        "{issues}"
    );
    assert!(
        issues["issues"][0]["resolution"].is_null(),
        "open: {issues}"
    );

    // The owner decides: the short payment is accepted and settles its order, once.
    let resolve = |kind: &str, event_id: &str, action: &str| {
        s.app
            .as_merchant(&s.key, Http::POST, "/v1/payments/issues/resolve")
            .json(
                &serde_json::json!({ "kind": kind, "provider": "sandbox", "event_id": event_id,
                           "action": action, "note": "el cliente completó en efectivo" }),
            )
            .send()
    };
    let r = resolve("flagged", "evt_short", "accept")
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let accepted: Value = r.json().await.expect("json");
    assert_eq!(accepted["resolution"], "accept", "{accepted}");
    assert!(accepted["resolved_at"].is_string(), "{accepted}");
    assert_eq!(s.status("OPAY4").await, "paid");
    assert_eq!(s.stock().await, (38, 0), "the reservation committed");
    let r = resolve("flagged", "evt_short", "refund")
        .await
        .expect("send");
    assert_eq!(r.status(), 409, "resolved once");
    // An unmatched payment has no order to settle: given back or dismissed.
    let r = resolve("unmatched", "evt_x", "accept").await.expect("send");
    assert_eq!(r.status(), 409);
    let why: Value = r.json().await.expect("json");
    assert!(why.to_string().contains("ningún pedido"), "{why}");
    let r = resolve("unmatched", "evt_x", "dismiss")
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let r = resolve("refunded", "evt_x", "dismiss").await.expect("send");
    assert_eq!(r.status(), 422);
    let r = resolve("flagged", "evt_none", "dismiss")
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
    // A payment after the order was cancelled is given back; the order stays cancelled.
    s.order("OPAY6").await;
    let r = s
        .app
        .as_merchant(&s.key, Http::POST, "/v1/orders/OPAY6/cancel")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let late: Value = s
        .callback(&event("evt_late", "payment.paid", "OPAY6", 9_100), 0, false)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(late["result"], "flagged");
    let r = resolve("flagged", "evt_late", "accept")
        .await
        .expect("send");
    assert_eq!(r.status(), 409, "a cancelled order is not charged");
    let r = resolve("flagged", "evt_late", "refund")
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(s.status("OPAY6").await, "cancelled");
    let r = s
        .app
        .http
        .post(format!(
            "{}/webhooks/payments/bitcoin?m={}",
            s.app.url, s.merchant
        ))
        .body("{}")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
    let big = s
        .app
        .http
        .post(format!(
            "{}/webhooks/payments/sandbox?m={}",
            s.app.url, s.merchant
        ))
        .body(vec![b'x'; 1024 * 1024 + 1])
        .send()
        .await
        .expect("send");
    assert_eq!(big.status(), 413);
    let _ = s.key.len();
    let _ = Http::GET;
    s.app.stop().await;
}

/// The sandbox pays only orders whose link it issued, for a merchant that takes sandbox payments,
/// with that merchant's own secret: not an order placed without a sandbox link, not with another
/// merchant's signature, and nothing once the merchant uses a real provider (checkout page included).
async fn the_sandbox_pays_only_its_own_links_for_merchants_that_take_it(engine: Engine) {
    let s = shop(engine).await;
    // An order whose link the sandbox never issued (placed without one).
    let unlinked = s.order_without_link("OFRG1").await;
    let paid = event("evt_f1", "payment.paid", &unlinked.id, 9_100);
    assert_eq!(s.callback(&paid, 0, false).await.status(), 401);
    let page = s.checkout(Http::GET, "OFRG1", "").await;
    assert_eq!(
        page, 404,
        "no checkout page for an order the sandbox did not issue"
    );
    assert_eq!(s.status("OFRG1").await, "awaiting_payment");

    // Another merchant's sandbox signature means nothing here.
    let (other, _) = s.app.merchant("Otra Farmacia").await;
    let other = MerchantId::try_from(other).expect("id");
    s.order("OFRG2").await;
    let body = serde_json::to_vec(&event("evt_f2", "payment.paid", "OFRG2", 9_100)).expect("json");
    let sig = paying::sandbox(&s.app.deps, &other).sign(&body, Utc::now().timestamp());
    let r = s
        .app
        .http
        .post(format!(
            "{}/webhooks/payments/sandbox?m={}",
            s.app.url, s.merchant
        ))
        .header("x-sandbox-signature", sig)
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(
        r.status(),
        401,
        "signed with another merchant's sandbox secret"
    );

    // Once the merchant uses Stripe, the sandbox pays nothing of theirs, not even its own links.
    let r = s
        .app
        .as_merchant(&s.key, Http::PUT, "/v1/settings/payments")
        .json(&serde_json::json!({ "provider": "stripe", "secret_key": "sk_test_51Real", "webhook_secret": "whsec_real" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let paid = event("evt_f3", "payment.paid", "OFRG2", 9_100);
    assert_eq!(s.callback(&paid, 0, false).await.status(), 401);
    assert_eq!(s.checkout(Http::GET, "OFRG2", "").await, 404);
    assert_eq!(s.checkout(Http::POST, "OFRG2", "&method=card").await, 404);
    assert_eq!(s.status("OFRG2").await, "awaiting_payment");
    assert_eq!(s.stock().await, (36, 4), "both reservations still held");
    s.app.stop().await;
}

/// A production stack serves no simulator, no checkout page and no chat reads; a merchant with no
/// provider gets no links and no sandbox payments; one that chooses sandbox mode gets its own secret
/// and pays its own sandbox links with it.
async fn production_mode_takes_sandbox_payments_only_when_the_merchant_chooses_them(
    engine: Engine,
) {
    let app = TestApp::spawn_full(
        engine,
        Arc::new(mostrador_core::SystemClock),
        Options {
            pollers: false,
            scheduler: false,
            ..Default::default()
        },
        &[("MOSTRADOR_MODE", "production")],
    )
    .await;
    for path in [
        "/sandbox/chat",
        "/sandbox/api/branches",
        "/sandbox/api/messages?phone_number_id=100000000000001&wa_id=5215512345678",
        "/sandbox/pay/O1?m=01KAK7Q9ZT5Y0V3M8R2N4P6W1X",
    ] {
        let r = app
            .http
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 404, "{path} is not served in production mode");
    }
    let (id, key) = app.merchant("Farmacia Real").await;
    let merchant = MerchantId::try_from(id.clone()).expect("id");
    let branch = app.branch(&key, "Centro", Some("100000000000009")).await;
    let shown: Value = app
        .as_merchant(&key, Http::GET, "/v1/settings/payments")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(shown["configured"], false);
    assert_eq!(
        shown["provider"],
        Value::Null,
        "no sandbox by default in production"
    );
    let (provider, _) = mostrador_app::commerce::payment_links::issuer(&app.deps, &merchant)
        .await
        .expect("issuer");
    assert_eq!(
        provider.name(),
        "none",
        "no links until a provider is chosen"
    );

    let sign = |secret: &str, body: &[u8]| {
        use hmac::Mac;
        let t = Utc::now().timestamp();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
    };
    let post = |body: Vec<u8>, sig: String| {
        app.http
            .post(format!("{}/webhooks/payments/sandbox?m={id}", app.url))
            .header("x-sandbox-signature", sig)
            .body(body)
            .send()
    };
    let order = |oid: &str| Order {
        id: oid.into(),
        branch_id: branch.clone(),
        wa_id: "525512345678".into(),
        phone_number_id: "100000000000009".into(),
        status: OrderStatus::AwaitingPayment,
        lines: vec![OrderLine {
            discount: Default::default(),
            sku: "SKU-PROD".into(),
            name: "Vitamina C".into(),
            qty: 1,
            unit: Centavos(5_000),
            amounts: line_amounts(Centavos(5_000), 1, TaxTreatment::Iva0, true).expect("amounts"),
        }],
        subtotal: Centavos(5_000),
        iva: Centavos::ZERO,
        total: Centavos(5_000),
        created_at: Utc::now().to_rfc3339(),
        expires_at_ms: Utc::now().timestamp_millis() + 30 * 60_000,
        payment_url: None,
        fulfilment: Default::default(),
        customer_name: None,
        sealed_personal: None,
        refunds: Vec::new(),
        promotions: Vec::new(),
    };
    let product = serde_json::json!({ "sku": "SKU-PROD", "name": "Vitamina C", "price": 5000, "tax": "iva0", "clave_prod_serv": "51191905", "clave_unidad": "H87" });
    let r = app
        .as_merchant(&key, Http::PUT, "/v1/products/SKU-PROD")
        .json(&product)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let r = app
        .as_merchant(&key, Http::PUT, &format!("/v1/branches/{branch}/stock"))
        .json(&serde_json::json!([{ "sku": "SKU-PROD", "quantity": 5 }]))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let placed = mostrador_app::flows::chat::place_order(&app.deps, &merchant, order("OPROD1"))
        .await
        .map_err(|e| format!("{e:?}"))
        .expect("placed");
    let body =
        serde_json::to_vec(&event("evt_p1", "payment.paid", &placed.id, 5_000)).expect("json");
    let guessed = paying::sandbox(&app.deps, &merchant).sign(&body, Utc::now().timestamp());
    assert_eq!(
        post(body, guessed).await.expect("send").status(),
        401,
        "not in sandbox mode"
    );

    let chosen: Value = app
        .as_merchant(&key, Http::PUT, "/v1/settings/payments")
        .json(&serde_json::json!({ "provider": "sandbox" }))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(chosen["provider"], "sandbox");
    let secret = chosen["sandbox_secret"]
        .as_str()
        .expect("the merchant's sandbox secret")
        .to_owned();
    assert_eq!(secret.len(), 64);
    mostrador_e2e::issue_link(&app.deps, &merchant, &placed).await;
    let body =
        serde_json::to_vec(&event("evt_p2", "payment.paid", &placed.id, 5_000)).expect("json");
    let answer = post(body.clone(), sign(&secret, &body))
        .await
        .expect("send");
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.json::<Value>().await.expect("json")["result"],
        "paid"
    );
    app.stop().await;
}

on_both_engines!(
    the_sandbox_pays_only_its_own_links_for_merchants_that_take_it,
    production_mode_takes_sandbox_payments_only_when_the_merchant_chooses_them,
    paying_through_the_checkout_page_marks_the_order_paid,
    forged_stale_and_unsigned_callbacks_change_nothing,
    duplicates_and_late_events_never_regress_the_order,
    partial_payments_are_flagged_and_unknown_orders_acknowledged,
);

fn stripe_header(secret: &str, body: &[u8], t: i64) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

async fn a_merchants_stripe_account_pays_its_orders(engine: Engine) {
    let s = shop(engine).await;
    let bad = s.app.as_merchant(&s.key, Http::PUT, "/v1/settings/payments").json(&serde_json::json!({ "provider": "stripe", "secret_key": "nope", "webhook_secret": "x" })).send().await.expect("send");
    assert_eq!(bad.status(), 422);
    let r = s
        .app
        .as_merchant(&s.key, Http::PUT, "/v1/settings/payments")
        .json(&serde_json::json!({ "provider": "stripe", "secret_key": "sk_test_51Nabc", "webhook_secret": "whsec_test_secret_for_mostrador" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let shown: Value = s
        .app
        .as_merchant(&s.key, Http::GET, "/v1/settings/payments")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        shown,
        serde_json::json!({ "provider": "stripe", "configured": true }),
        "credentials are never returned"
    );
    s.order_without_link("OSTRIPE").await;
    let body = serde_json::to_vec(&serde_json::json!({ "id": "evt_1Q", "object": "event", "type": "checkout.session.completed", "data": { "object": {
        "id": "cs_test_1", "object": "checkout.session", "client_reference_id": "OSTRIPE", "amount_total": 9100, "currency": "mxn",
        "payment_status": "paid", "payment_intent": "pi_1", "metadata": { "order_id": "OSTRIPE" } } } }))
    .expect("json");
    let url = format!("{}/webhooks/payments/stripe?m={}", s.app.url, s.merchant);
    let forged = s
        .app
        .http
        .post(&url)
        .header(
            "stripe-signature",
            stripe_header("whsec_other", &body, Utc::now().timestamp()),
        )
        .body(body.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(forged.status(), 401);
    assert_eq!(s.status("OSTRIPE").await, "awaiting_payment");
    let ok = s
        .app
        .http
        .post(&url)
        .header(
            "stripe-signature",
            stripe_header(
                "whsec_test_secret_for_mostrador",
                &body,
                Utc::now().timestamp(),
            ),
        )
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<Value>().await.expect("json")["result"], "paid");
    assert_eq!(s.status("OSTRIPE").await, "paid");
    // A provider the merchant did not configure cannot be verified.
    let mp = s
        .app
        .http
        .post(format!(
            "{}/webhooks/payments/mercadopago?m={}",
            s.app.url, s.merchant
        ))
        .body("{}")
        .send()
        .await
        .expect("send");
    assert_eq!(mp.status(), 401);
    s.app.stop().await;
}

mod providers {
    use super::*;
    on_both_engines!(a_merchants_stripe_account_pays_its_orders);
}

async fn refunds_return_the_money_the_stock_and_tell_the_customer(engine: Engine) {
    let s = shop(engine).await;
    s.order("OREF").await;
    let cancel_unpaid_ok = s
        .app
        .as_merchant(&s.key, Http::POST, "/v1/orders/OREF/refund")
        .send()
        .await
        .expect("send");
    assert_eq!(
        cancel_unpaid_ok.status(),
        409,
        "nothing to refund before payment"
    );
    let paid: Value = s
        .callback(&event("evt_r", "payment.paid", "OREF", 9_100), 0, false)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(paid["result"], "paid");
    assert_eq!(s.stock().await, (38, 0));
    let cancel = s
        .app
        .as_merchant(&s.key, Http::POST, "/v1/orders/OREF/cancel")
        .send()
        .await
        .expect("send");
    assert_eq!(
        cancel.status(),
        409,
        "a paid order is refunded, not cancelled"
    );
    let r = s
        .app
        .as_merchant(&s.key, Http::POST, "/v1/orders/OREF/refund")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json")["status"], "refunded");
    assert_eq!(
        s.stock().await,
        (40, 0),
        "the goods never left: back on the shelf"
    );
    let again = s
        .app
        .as_merchant(&s.key, Http::POST, "/v1/orders/OREF/refund")
        .send()
        .await
        .expect("send");
    assert_eq!(again.status(), 409, "refunded once");
    let mut ids = Vec::new();
    for m in s
        .app
        .deps
        .queues
        .outbound
        .receive(
            10,
            std::time::Duration::from_secs(30),
            std::time::Duration::from_secs(1),
        )
        .await
        .expect("receive")
    {
        ids.push(
            serde_json::from_str::<Value>(&m.body).expect("json")["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        // Handled, as the sender would: a FIFO group holds later messages while these are out.
        s.app
            .deps
            .queues
            .outbound
            .delete(&m.receipt)
            .await
            .expect("delete");
    }
    assert!(ids.contains(&"OREF-refunded".to_owned()), "{ids:?}");

    // A refund made at the provider's dashboard arrives as a callback: the same follows (stock
    // back, the sale out of the global invoice, the customer told), once however often it comes.
    s.order("OREF2").await;
    let paid: Value = s
        .callback(&event("evt_r2", "payment.paid", "OREF2", 9_100), 0, false)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(paid["result"], "paid");
    for attempt in 0..2 {
        let r = s
            .callback(
                &event("evt_r2_back", "payment.refunded", "OREF2", 9_100),
                0,
                false,
            )
            .await;
        assert_eq!(r.status(), 200, "delivery {attempt}");
    }
    let order: Value = s
        .app
        .as_merchant(&s.key, Http::GET, "/v1/orders/OREF2")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(order["status"], "refunded", "{order}");
    assert_eq!(s.stock().await, (40, 0), "back on the shelf");
    let table = TenantTable::of(&s.app.deps, &s.merchant);
    let refunded = mostrador_app::commerce::orders::get(&table, "OREF2")
        .await
        .expect("get")
        .expect("order");
    let sale = mostrador_app::invoicing::global::find_sale(&table, &refunded)
        .await
        .expect("sale")
        .expect("the paid sale is recorded");
    assert_eq!(
        sale.get("refunded"),
        Some(&mostrador_store::Value::Bool(true)),
        "it leaves the global invoice"
    );
    let mut told = 0;
    loop {
        let batch = s
            .app
            .deps
            .queues
            .outbound
            .receive(
                10,
                std::time::Duration::from_secs(30),
                std::time::Duration::from_secs(1),
            )
            .await
            .expect("receive");
        if batch.is_empty() {
            break;
        }
        for m in batch {
            if serde_json::from_str::<Value>(&m.body).expect("json")["id"] == "OREF2-refunded" {
                told += 1;
            }
            s.app
                .deps
                .queues
                .outbound
                .delete(&m.receipt)
                .await
                .expect("delete");
        }
    }
    assert_eq!(told, 1, "the customer is told once");
    s.app.stop().await;
}

mod refunds {
    use super::*;
    on_both_engines!(refunds_return_the_money_the_stock_and_tell_the_customer);
}
