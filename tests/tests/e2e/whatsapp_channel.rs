//! The WhatsApp channel end to end: the sender's rules and its exactly-once call against a fake Graph
//! API (wiremock speaking Meta's formats), statuses, the sandbox outbox, and every message type through
//! ingest — on both engines.

use chrono::{TimeZone, Utc};
use mostrador_app::flows::sender;
use mostrador_app::platform::records::{QueueRecord, RecordError};
use mostrador_app::platform::tenant::{MerchantId, TenantTable};
use mostrador_core::{Clock, FixedClock};
use mostrador_e2e::{on_both_engines, text_webhook_at, Engine, TestApp};
use mostrador_local::Options;
use mostrador_store::{Key, Table};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PHONE: &str = "106540352242922";
const CUSTOMER: &str = "5215512345678";
const CUSTOMER_ID: &str = "525512345678";

struct Shop {
    app: TestApp,
    clock: FixedClock,
    graph: MockServer,
    merchant: String,
    key: String,
    branch: String,
}

/// A merchant with one branch on PHONE, a stored access token, and a clock at `at`.
async fn shop(engine: Engine, at: chrono::DateTime<Utc>, with_token: bool) -> Shop {
    let graph = MockServer::start().await;
    let clock = FixedClock::at(at);
    let base = graph.uri();
    let app = TestApp::spawn_full(
        engine,
        Arc::new(clock.clone()),
        Options {
            pollers: false,
            scheduler: false,
            ..Default::default()
        },
        &[("MOSTRADOR_GRAPH_API_BASE", base.as_str())],
    )
    .await;
    let (merchant, key) = app.merchant("Farmacia del Centro").await;
    let branch = app.branch(&key, "Centro", Some(PHONE)).await;
    if with_token {
        let r = app
            .as_merchant(&key, Method::PUT, "/v1/settings/whatsapp")
            .json(&json!({ "access_token": "EAAG-test-token-0123456789abcdef" }))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
    }
    Shop {
        app,
        clock,
        graph,
        merchant,
        key,
        branch,
    }
}

fn night() -> chrono::DateTime<Utc> {
    // 23:30 in Mexico City.
    chrono_tz::America::Mexico_City
        .with_ymd_and_hms(2026, 11, 20, 23, 30, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc)
}

fn noon() -> chrono::DateTime<Utc> {
    chrono_tz::America::Mexico_City
        .with_ymd_and_hms(2026, 11, 20, 12, 0, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc)
}

impl Shop {
    /// The customer writes to us now: opens the 24-hour window.
    async fn customer_writes(&self, wamid: &str) {
        let body = text_webhook_at(PHONE, CUSTOMER, wamid, "hola", self.clock.now_secs());
        assert_eq!(self.app.post_webhook(&body).await.status(), 200);
        // Apply the inbound message as order-confirm would.
        let received = self
            .app
            .deps
            .queues
            .inbound
            .receive(
                10,
                std::time::Duration::from_secs(30),
                std::time::Duration::from_secs(2),
            )
            .await
            .expect("receive");
        for m in received {
            let record = QueueRecord {
                message_id: m.message_id.clone(),
                body: m.body.clone(),
                group_id: m.group_id.clone(),
                receive_count: 1,
                receipt: None,
            };
            mostrador_app::entry::pipeline::handle_inbound(&self.app.deps, &record)
                .await
                .expect("inbound");
            self.app
                .deps
                .queues
                .inbound
                .delete(&m.receipt)
                .await
                .expect("delete");
        }
        // The conversation answered; these tests send their own messages, so drop its replies.
        loop {
            let replies = self
                .app
                .deps
                .queues
                .outbound
                .receive(
                    10,
                    std::time::Duration::from_secs(30),
                    std::time::Duration::from_millis(300),
                )
                .await
                .expect("receive");
            if replies.is_empty() {
                break;
            }
            for r in replies {
                self.app
                    .deps
                    .queues
                    .outbound
                    .delete(&r.receipt)
                    .await
                    .expect("delete");
            }
        }
    }

    fn record(&self, id: &str, category: &str, message: Value) -> QueueRecord {
        let mut message = message;
        message["messaging_product"] = json!("whatsapp");
        message["to"] = json!(CUSTOMER);
        let body = json!({ "id": id, "merchant_id": self.merchant, "phone_number_id": PHONE, "category": category, "message": message }).to_string();
        QueueRecord {
            message_id: format!("m-{id}"),
            body,
            group_id: Some(CUSTOMER_ID.into()),
            receive_count: 1,
            receipt: None,
        }
    }

    async fn send(&self, id: &str, category: &str, message: Value) -> Result<(), RecordError> {
        sender::handle(&self.app.deps, &self.record(id, category, message)).await
    }

    async fn out(&self, id: &str) -> mostrador_store::Item {
        let m = MerchantId::try_from(self.merchant.clone()).expect("id");
        TenantTable::of(&self.app.deps, &m)
            .get(&Key::new(format!("OUT#{id}"), "OUT"))
            .await
            .expect("get")
            .unwrap_or_else(|| panic!("no record for {id}"))
    }

    async fn accept_sends(&self, wamid: &str) {
        Mock::given(method("POST"))
            .and(path(format!("/v25.0/{PHONE}/messages")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "messaging_product": "whatsapp", "contacts": [{ "input": CUSTOMER, "wa_id": CUSTOMER_ID }], "messages": [{ "id": wamid }] })))
            .mount(&self.graph)
            .await;
    }

    async fn calls(&self) -> usize {
        self.graph.received_requests().await.map_or(0, |r| r.len())
    }
}

fn text(body: &str) -> Value {
    json!({ "type": "text", "text": { "body": body } })
}

fn template(name: &str) -> Value {
    json!({ "type": "template", "template": { "name": name, "language": { "code": "es_MX" }, "components": [{ "type": "body", "parameters": [{ "type": "text", "text": "$1,250.00" }] }] } })
}

async fn one_cloud_api_call_per_message_even_when_delivered_twice(engine: Engine) {
    let s = shop(engine, noon(), true).await;
    s.customer_writes("wamid.in1").await;
    s.accept_sends("wamid.OUT1").await;
    s.send("msg1", "service", text("¡Gracias! Tu pedido está listo."))
        .await
        .expect("first");
    s.send("msg1", "service", text("¡Gracias! Tu pedido está listo."))
        .await
        .expect("redelivery is fine");
    assert_eq!(s.calls().await, 1, "exactly one Cloud API call");
    let request = &s.graph.received_requests().await.expect("requests")[0];
    assert_eq!(
        request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer EAAG-test-token-0123456789abcdef")
    );
    let body: Value = serde_json::from_slice(&request.body).expect("json");
    assert_eq!(body["to"], CUSTOMER);
    assert_eq!(
        body["biz_opaque_callback_data"], "msg1",
        "our id travels so statuses find the message"
    );
    let out = s.out("msg1").await;
    assert_eq!(out.get_s("status"), Some("sent"));
    assert_eq!(out.get_s("wamid"), Some("wamid.OUT1"));
    s.app.stop().await;
}

async fn free_form_outside_the_window_is_refused_but_a_template_goes(engine: Engine) {
    let s = shop(engine, noon(), true).await;
    s.accept_sends("wamid.T1").await;
    // Never wrote to us: no window.
    s.send("late", "service", text("¿Sigues ahí?"))
        .await
        .expect("refusal is final");
    assert_eq!(
        s.out("late").await.get_s("reason"),
        Some("outside_24h_window")
    );
    s.send("tpl", "utility", template("pedido_listo"))
        .await
        .expect("template");
    assert_eq!(s.out("tpl").await.get_s("status"), Some("sent"));
    // A window opened 25 hours ago has closed again.
    s.customer_writes("wamid.old").await;
    s.clock.advance(chrono::Duration::hours(25));
    s.send("after", "service", text("hola"))
        .await
        .expect("refusal");
    assert_eq!(
        s.out("after").await.get_s("reason"),
        Some("outside_24h_window")
    );
    assert_eq!(s.calls().await, 1);
    s.app.stop().await;
}

async fn opted_out_customers_get_nothing_until_they_opt_in(engine: Engine) {
    let s = shop(engine, noon(), true).await;
    s.accept_sends("wamid.X").await;
    let r = s
        .app
        .as_merchant(
            &s.key,
            Method::POST,
            &format!("/v1/customers/{CUSTOMER}/opt-out"),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    s.send("fraud1", "security", template("alerta_fraude"))
        .await
        .expect("refusal");
    assert_eq!(
        s.out("fraud1").await.get_s("reason"),
        Some("opted_out"),
        "not even security alerts"
    );
    assert_eq!(s.calls().await, 0);
    s.app
        .as_merchant(
            &s.key,
            Method::POST,
            &format!("/v1/customers/{CUSTOMER}/opt-in"),
        )
        .send()
        .await
        .expect("send");
    s.send("fraud2", "security", template("alerta_fraude"))
        .await
        .expect("sent");
    assert_eq!(s.out("fraud2").await.get_s("status"), Some("sent"));
    s.app.stop().await;
}

async fn daily_cap_refuses_the_fourth_business_initiated_message(engine: Engine) {
    let s = shop(engine, noon(), true).await;
    s.accept_sends("wamid.C").await;
    for i in 0..3 {
        s.send(&format!("cap{i}"), "utility", template("recordatorio_pago"))
            .await
            .expect("sent");
        s.clock.advance(chrono::Duration::seconds(7));
    }
    // A redelivery of an already counted message does not count twice.
    s.send("cap2", "utility", template("recordatorio_pago"))
        .await
        .expect("redelivery");
    s.send("cap3", "utility", template("recordatorio_pago"))
        .await
        .expect("refusal");
    assert_eq!(s.out("cap3").await.get_s("reason"), Some("daily_cap"));
    assert_eq!(s.calls().await, 3);
    // The next day (Mexico City) the cap starts over.
    s.clock.advance(chrono::Duration::hours(24));
    s.send("cap4", "utility", template("recordatorio_pago"))
        .await
        .expect("sent");
    assert_eq!(s.out("cap4").await.get_s("status"), Some("sent"));
    s.app.stop().await;
}

async fn marketing_waits_for_the_morning_but_fraud_alerts_do_not(engine: Engine) {
    let s = shop(engine, night(), true).await;
    s.accept_sends("wamid.N").await;
    s.send("promo", "marketing", template("buen_fin"))
        .await
        .expect("deferred");
    let out = s.out("promo").await;
    assert_eq!(out.get_s("status"), Some("deferred"));
    assert!(
        out.get_s("deferred_until")
            .is_some_and(|u| u.starts_with("2026-11-21T15:00:00")),
        "09:00 Mexico City is 15:00 UTC: {:?}",
        out.get_s("deferred_until")
    );
    s.send("fraud", "security", template("alerta_fraude"))
        .await
        .expect("sent");
    assert_eq!(s.out("fraud").await.get_s("status"), Some("sent"));
    assert_eq!(s.calls().await, 1);
    // In the morning the due job puts the promotion back on the queue and it goes out.
    s.clock.advance(chrono::Duration::hours(10));
    let report = mostrador_app::entry::jobs::run(
        &s.app.deps,
        mostrador_app::entry::jobs::Job::DueNotifications,
        s.clock.now_ms() + 60_000,
    )
    .await
    .expect("job");
    assert_eq!(report.processed, 1);
    let again = s
        .app
        .deps
        .queues
        .outbound
        .receive(
            10,
            std::time::Duration::from_secs(30),
            std::time::Duration::from_secs(2),
        )
        .await
        .expect("receive");
    assert_eq!(again.len(), 1);
    let record = QueueRecord {
        message_id: again[0].message_id.clone(),
        body: again[0].body.clone(),
        group_id: again[0].group_id.clone(),
        receive_count: 1,
        receipt: None,
    };
    sender::handle(&s.app.deps, &record)
        .await
        .expect("sent in the morning");
    assert_eq!(s.out("promo").await.get_s("status"), Some("sent"));
    assert_eq!(s.calls().await, 2);
    s.app.stop().await;
}

async fn error_codes_are_retried_or_recorded_as_meta_intends(engine: Engine) {
    let s = shop(engine, noon(), true).await;
    s.customer_writes("wamid.in").await;
    let error = |code: i64, status: u16| {
        ResponseTemplate::new(status).set_body_json(json!({ "error": { "message": format!("(#{code}) error"), "type": "OAuthException", "code": code, "error_data": { "messaging_product": "whatsapp", "details": "detalle" }, "fbtrace_id": "AbC" } }))
    };
    // 131026 undeliverable: recorded as failed, not retried.
    Mock::given(method("POST"))
        .respond_with(error(131_026, 400))
        .up_to_n_times(1)
        .mount(&s.graph)
        .await;
    s.send("undeliverable", "service", text("hola"))
        .await
        .expect("permanent failure is final");
    let out = s.out("undeliverable").await;
    assert_eq!(
        (out.get_s("status"), out.get_n("error_code")),
        (Some("failed"), Some(131_026))
    );
    s.send("undeliverable", "service", text("hola"))
        .await
        .expect("not retried");
    assert_eq!(s.calls().await, 1);
    // 130429 throughput, then success: retried later, never lost, one success.
    s.clock.advance(chrono::Duration::seconds(7));
    Mock::given(method("POST"))
        .respond_with(error(130_429, 400))
        .up_to_n_times(1)
        .mount(&s.graph)
        .await;
    let first = s.send("busy", "service", text("hola")).await;
    assert!(
        matches!(first, Err(RecordError::RetryAfter(..))),
        "{first:?}"
    );
    s.accept_sends("wamid.OK").await;
    s.clock.advance(chrono::Duration::seconds(7));
    s.send("busy", "service", text("hola"))
        .await
        .expect("retry succeeds");
    assert_eq!(s.out("busy").await.get_s("status"), Some("sent"));
    assert_eq!(s.calls().await, 3);
    s.app.stop().await;
}

async fn window_closed_answer_and_invalid_token_are_handled(engine: Engine) {
    let s = shop(engine, noon(), true).await;
    s.customer_writes("wamid.in").await;
    let error = |code: i64, status: u16| {
        ResponseTemplate::new(status).set_body_json(json!({ "error": { "message": "x", "type": "OAuthException", "code": code, "fbtrace_id": "A" } }))
    };
    Mock::given(method("POST"))
        .respond_with(error(131_047, 400))
        .up_to_n_times(1)
        .mount(&s.graph)
        .await;
    s.send("w", "service", text("hola")).await.expect("refusal");
    assert_eq!(s.out("w").await.get_s("reason"), Some("outside_24h_window"));
    Mock::given(method("POST"))
        .respond_with(error(190, 401))
        .mount(&s.graph)
        .await;
    s.clock.advance(chrono::Duration::seconds(7));
    // An invalid token waits for the merchant to store a new one: deferred to a due entry every 15
    // minutes, never a failed receive (five of those would dead-letter a message that only waits).
    s.send("t", "service", text("hola"))
        .await
        .expect("a token error defers the message");
    let out = s.out("t").await;
    assert_eq!(out.get_s("status"), Some("deferred"));
    let until = s.clock.now() + chrono::Duration::minutes(15);
    assert_eq!(
        out.get_s("deferred_until"),
        Some(until.to_rfc3339().as_str())
    );
    let due = mostrador_app::entry::jobs::Job::DueNotifications;
    s.clock.advance(chrono::Duration::minutes(14));
    let early = mostrador_app::entry::jobs::run(&s.app.deps, due, s.clock.now_ms() + 60_000)
        .await
        .expect("job");
    assert_eq!(early.processed, 0, "not yet");
    s.clock.advance(chrono::Duration::minutes(2));
    let back = mostrador_app::entry::jobs::run(&s.app.deps, due, s.clock.now_ms() + 60_000)
        .await
        .expect("job");
    assert_eq!(
        back.processed, 1,
        "back on the outbound queue after 15 minutes"
    );
    s.app.stop().await;
}

async fn pair_rate_limit_spaces_messages_to_one_customer(engine: Engine) {
    let s = shop(engine, noon(), true).await;
    s.customer_writes("wamid.in").await;
    s.accept_sends("wamid.P").await;
    for i in 0..5 {
        s.send(&format!("burst{i}"), "service", text("parte"))
            .await
            .expect("burst");
    }
    let sixth = s.send("burst5", "service", text("parte")).await;
    match sixth {
        Err(RecordError::RetryAfter(d, _)) => assert_eq!(d.as_secs(), 6),
        other => panic!("expected a 6 s wait, got {other:?}"),
    }
    s.clock.advance(chrono::Duration::seconds(6));
    s.send("burst5", "service", text("parte"))
        .await
        .expect("after the wait");
    assert_eq!(s.calls().await, 6);
    s.app.stop().await;
}

async fn statuses_never_downgrade_and_count_once(engine: Engine) {
    let s = shop(engine, noon(), true).await;
    s.customer_writes("wamid.in").await;
    s.accept_sends("wamid.S1").await;
    s.send("st", "service", text("tu pedido va en camino"))
        .await
        .expect("sent");
    let status = |kind: &str, ts: i64| {
        serde_json::to_vec(&json!({ "object": "whatsapp_business_account", "entry": [{ "id": "1", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": { "display_phone_number": "5215550000000", "phone_number_id": PHONE },
            "statuses": [{ "id": "wamid.S1", "status": kind, "timestamp": ts.to_string(), "recipient_id": CUSTOMER, "biz_opaque_callback_data": "st" }] } }] }] }))
        .expect("json")
    };
    let t = s.clock.now_secs();
    for (kind, ts) in [
        ("read", t + 3),
        ("delivered", t + 2),
        ("sent", t + 1),
        ("read", t + 3),
    ] {
        assert_eq!(s.app.post_webhook(&status(kind, ts)).await.status(), 200);
    }
    let out = s.out("st").await;
    assert_eq!(out.get_s("delivery_status"), Some("read"));
    let m = MerchantId::try_from(s.merchant.clone()).expect("id");
    let day = chrono_tz::America::Mexico_City
        .timestamp_opt(t, 0)
        .single()
        .expect("t")
        .format("%Y-%m-%d")
        .to_string();
    let stats = TenantTable::of(&s.app.deps, &m)
        .get(&Key::new("STATS#delivery", day))
        .await
        .expect("get")
        .expect("stats");
    assert_eq!(
        (stats.get_n("delivered"), stats.get_n("read")),
        (Some(1), Some(1)),
        "read implies delivered; repeats count once"
    );
    // A status for a message we never recorded (another tool on the number): counted, no record.
    let foreign = serde_json::to_vec(&json!({ "object": "whatsapp_business_account", "entry": [{ "id": "1", "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": { "display_phone_number": "5215550000000", "phone_number_id": PHONE },
        "statuses": [{ "id": "wamid.FOREIGN", "status": "delivered", "timestamp": t.to_string(), "recipient_id": CUSTOMER }] } }] }] }))
    .expect("json");
    assert_eq!(s.app.post_webhook(&foreign).await.status(), 200);
    let table = TenantTable::of(&s.app.deps, &m);
    assert!(
        table
            .get(&Key::new("OUT#wamid:wamid.FOREIGN", "OUT"))
            .await
            .expect("get")
            .is_none(),
        "no record is made up for it"
    );
    let day = chrono_tz::America::Mexico_City
        .timestamp_opt(t, 0)
        .single()
        .expect("t")
        .format("%Y-%m-%d")
        .to_string();
    let stats = table
        .get(&Key::new("STATS#delivery", day))
        .await
        .expect("get")
        .expect("stats");
    assert_eq!(stats.get_n("unmatched_statuses"), Some(1));
    assert_eq!(
        stats.get_n("delivered"),
        Some(1),
        "not counted as one of ours"
    );
    s.app.stop().await;
}

async fn sandbox_outbox_holds_messages_without_a_token(engine: Engine) {
    let s = shop(engine, noon(), false).await;
    s.customer_writes("wamid.in").await;
    let r = s
        .app
        .as_merchant(&s.key, Method::POST, "/v1/messages")
        .json(&json!({ "branch_id": s.branch, "to": CUSTOMER, "message": { "type": "text", "text": { "body": "Hola Mariana 👋, ¿en qué te ayudo?" } } }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let received = s
        .app
        .deps
        .queues
        .outbound
        .receive(
            10,
            std::time::Duration::from_secs(30),
            std::time::Duration::from_secs(2),
        )
        .await
        .expect("receive");
    assert_eq!(received.len(), 1);
    let record = QueueRecord {
        message_id: received[0].message_id.clone(),
        body: received[0].body.clone(),
        group_id: received[0].group_id.clone(),
        receive_count: 1,
        receipt: None,
    };
    sender::handle(&s.app.deps, &record).await.expect("sandbox");
    let outbox: Value = s
        .app
        .as_merchant(&s.key, Method::GET, "/v1/outbox")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(outbox["messages"][0]["id"], id.as_str());
    assert_eq!(
        outbox["messages"][0]["message"]["text"]["body"],
        "Hola Mariana 👋, ¿en qué te ayudo?"
    );
    let status: Value = s
        .app
        .as_merchant(&s.key, Method::GET, &format!("/v1/messages/{id}"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(status["status"], "sandbox");
    assert_eq!(s.calls().await, 0, "sandbox mode never calls Meta");
    // Invalid sends are refused up front with reasons, nothing queued.
    let bad = s
        .app
        .as_merchant(&s.key, Method::POST, "/v1/messages")
        .json(&json!({ "branch_id": s.branch, "to": "abc", "message": { "type": "text", "text": { "body": "x" } } }))
        .send()
        .await
        .expect("send");
    assert_eq!(bad.status(), 422);
    let promo = s
        .app
        .as_merchant(&s.key, Method::POST, "/v1/messages")
        .json(&json!({ "branch_id": s.branch, "to": CUSTOMER, "category": "marketing", "message": { "type": "text", "text": { "body": "50% off" } } }))
        .send()
        .await
        .expect("send");
    assert_eq!(
        promo.status(),
        422,
        "business-initiated free-form is refused"
    );
    assert_eq!(
        s.app
            .deps
            .queues
            .outbound
            .depth()
            .await
            .expect("depth")
            .visible,
        0
    );
    s.app.stop().await;
}

async fn every_message_type_goes_through_ingest(engine: Engine) {
    let s = shop(engine, noon(), false).await;
    // The fixtures' business number.
    s.app
        .branch(&s.key, "Fixtures", Some("109876543210987"))
        .await;
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/whatsapp/tests/fixtures"
    );
    let mut enqueued = 0;
    let mut files = 0;
    for entry in std::fs::read_dir(dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        let body = std::fs::read(&path).expect("read");
        let r = s.app.post_webhook(&body).await;
        assert_eq!(r.status(), 200, "{}", path.display());
        let report: Value = r.json().await.expect("json");
        enqueued += report["enqueued"].as_u64().unwrap_or(0);
        files += 1;
    }
    assert!(files >= 20);
    assert!(
        enqueued >= 18,
        "every message type reaches the inbound queue, got {enqueued}"
    );
    // Each enqueued message reads back with its type.
    let mut kinds = std::collections::BTreeSet::new();
    loop {
        let batch = s
            .app
            .deps
            .queues
            .inbound
            .receive(
                10,
                std::time::Duration::from_secs(60),
                std::time::Duration::from_millis(500),
            )
            .await
            .expect("receive");
        if batch.is_empty() {
            break;
        }
        for m in batch {
            let envelope: mostrador_app::parties::messages::InboundEnvelope =
                serde_json::from_str(&m.body).expect("envelope");
            let message = mostrador_whatsapp::webhook::parse_message(envelope.message.get())
                .expect("message");
            kinds.insert(message.kind.type_name().to_owned());
            s.app
                .deps
                .queues
                .inbound
                .delete(&m.receipt)
                .await
                .expect("delete");
        }
    }
    for kind in [
        "text",
        "interactive",
        "button",
        "order",
        "image",
        "document",
        "audio",
        "video",
        "sticker",
        "location",
        "contacts",
        "reaction",
        "system",
        "unsupported",
        "poll",
    ] {
        assert!(kinds.contains(kind), "{kind} missing from {kinds:?}");
    }
    s.app.stop().await;
}

/// A crash between the Cloud API call and the recorded outcome leaves the send in doubt: the
/// redelivery waits for Meta's status instead of sending again, records the send when the status
/// arrives (no second call), and sends again only if no status came within two minutes.
async fn a_send_in_doubt_after_a_crash_is_reconciled_with_metas_status(engine: Engine) {
    let s = shop(engine, noon(), true).await;
    s.customer_writes("wamid.in").await;
    s.accept_sends("wamid.DOUBT2").await;
    let m = MerchantId::try_from(s.merchant.clone()).expect("id");
    let table = TenantTable::of(&s.app.deps, &m);
    // What the dead attempts left: the API was (maybe) called, no outcome recorded.
    for id in ["doubt1", "doubt2"] {
        table
            .update(
                &Key::new(format!("OUT#{id}"), "OUT"),
                mostrador_store::Update::new().set("sending_at", s.clock.now_ms()),
                None,
            )
            .await
            .expect("mark");
    }
    let waiting = s
        .send("doubt1", "service", text("tu pedido está listo"))
        .await;
    assert!(
        matches!(waiting, Err(RecordError::RetryAfter(d, _)) if d.as_secs() > 60),
        "waits for Meta's status: {waiting:?}"
    );
    assert_eq!(s.calls().await, 0, "not sent again while in doubt");
    // Meta's status for our id proves the first attempt's send.
    let status = serde_json::to_vec(&json!({ "object": "whatsapp_business_account", "entry": [{ "id": "1", "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": { "display_phone_number": "5215550000000", "phone_number_id": PHONE },
        "statuses": [{ "id": "wamid.DOUBT1", "status": "sent", "timestamp": s.clock.now_secs().to_string(), "recipient_id": CUSTOMER, "biz_opaque_callback_data": "doubt1" }] } }] }] }))
    .expect("json");
    assert_eq!(s.app.post_webhook(&status).await.status(), 200);
    s.send("doubt1", "service", text("tu pedido está listo"))
        .await
        .expect("reconciled");
    let out = s.out("doubt1").await;
    assert_eq!(out.get_s("status"), Some("sent"));
    assert_eq!(out.get_s("wamid"), Some("wamid.DOUBT1"));
    assert_eq!(
        s.calls().await,
        0,
        "recorded from Meta's status, never sent twice"
    );
    // No status within two minutes: sent again (at least once, never lost).
    s.clock.advance(chrono::Duration::seconds(121));
    s.send("doubt2", "service", text("tu pedido está listo"))
        .await
        .expect("sent again");
    assert_eq!(s.out("doubt2").await.get_s("status"), Some("sent"));
    assert_eq!(s.calls().await, 1);
    s.app.stop().await;
}

on_both_engines!(
    a_send_in_doubt_after_a_crash_is_reconciled_with_metas_status,
    one_cloud_api_call_per_message_even_when_delivered_twice,
    free_form_outside_the_window_is_refused_but_a_template_goes,
    opted_out_customers_get_nothing_until_they_opt_in,
    daily_cap_refuses_the_fourth_business_initiated_message,
    marketing_waits_for_the_morning_but_fraud_alerts_do_not,
    error_codes_are_retried_or_recorded_as_meta_intends,
    window_closed_answer_and_invalid_token_are_handled,
    pair_rate_limit_spaces_messages_to_one_customer,
    statuses_never_downgrade_and_count_once,
    sandbox_outbox_holds_messages_without_a_token,
    every_message_type_goes_through_ingest,
);

async fn inbound_media_is_fetched_once_into_blobs(engine: Engine) {
    let s = shop(engine, noon(), true).await;
    let file = b"%PDF-1.4 comprobante de domicilio".to_vec();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&file))
    };
    let media_url = format!("{}/whatsapp_business/attachments/?mid=1234", s.graph.uri());
    Mock::given(method("GET"))
        .and(path("/v25.0/1234567890"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "messaging_product": "whatsapp", "url": media_url, "mime_type": "application/pdf", "sha256": sha, "file_size": file.len(), "id": "1234567890" })))
        .expect(1)
        .mount(&s.graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/whatsapp_business/attachments/"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(file.clone()))
        .expect(1)
        .mount(&s.graph)
        .await;
    let merchant = MerchantId::try_from(s.merchant.clone()).expect("id");
    let stored =
        mostrador_app::parties::media::fetch_into_blobs(&s.app.deps, &merchant, "1234567890")
            .await
            .expect("fetch");
    assert_eq!(stored.mime_type, "application/pdf");
    let again =
        mostrador_app::parties::media::fetch_into_blobs(&s.app.deps, &merchant, "1234567890")
            .await
            .expect("stored copy");
    assert_eq!(again, stored);
    let blob = s
        .app
        .deps
        .blobs
        .get(&stored.blob_key)
        .await
        .expect("get")
        .expect("blob");
    assert_eq!(blob.body.as_ref(), file.as_slice());
    s.app.stop().await;
}

mod media {
    use super::*;
    on_both_engines!(inbound_media_is_fetched_once_into_blobs);
}

/// A media URL comes in Meta's answer and the download carries the merchant's access token: it is
/// refused before any request when it names a private, loopback or metadata address.
async fn media_downloads_reach_public_addresses_only(engine: Engine) {
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
    for url in [
        "https://169.254.169.254/latest/meta-data/iam/",
        "http://127.0.0.1:9/media",
        "https://[::ffff:10.0.0.1]/media",
        "https://localhost/media",
    ] {
        let refused = app.deps.cloud.download(url, "EAAG-token", None).await;
        assert!(
            matches!(&refused, Err(e) if e.to_string().contains("refused")),
            "{url}: {refused:?}"
        );
    }
    app.stop().await;
}

mod media_guard {
    use super::*;
    on_both_engines!(media_downloads_reach_public_addresses_only);
}

/// The Meta catalog follows the products and stock: a change schedules one push 30 s later
/// (items_batch with UPDATE per product, bearer token, shelf price and availability), the same
/// content is not pushed twice, and a 5xx is retried on the next run.
async fn the_meta_catalog_follows_products_and_stock(engine: Engine) {
    let shop = shop(engine, Utc::now(), true).await;
    let app = &shop.app;
    let r = app
        .as_merchant(&shop.key, Method::PUT, "/v1/settings/whatsapp")
        .json(&json!({ "catalog_id": "998877665544" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let pushed = Mock::given(method("POST"))
        .and(path("/v25.0/998877665544/items_batch"))
        .and(wiremock::matchers::header(
            "authorization",
            "Bearer EAAG-test-token-0123456789abcdef",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "handles": ["AcX1"] })))
        .named("items_batch")
        .mount_as_scoped(&shop.graph)
        .await;
    let r = app
        .as_merchant(&shop.key, Method::PUT, "/v1/products/PARA-500")
        .json(
            &json!({ "sku": "PARA-500", "name": "Paracetamol 500 mg", "price": 4550, "tax": "iva0",
            "clave_prod_serv": "51142001", "clave_unidad": "XBX" }),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let run = |clock: &FixedClock| {
        let deadline = clock.now_ms() + 60_000;
        mostrador_app::entry::jobs::run(
            &app.deps,
            mostrador_app::platform::due::Job::CatalogSync,
            deadline,
        )
    };
    let early = run(&shop.clock).await.expect("run");
    assert_eq!(early.processed, 0, "debounced: nothing before 30 s");
    shop.clock.advance(chrono::Duration::seconds(31));
    let first = run(&shop.clock).await.expect("run");
    assert_eq!(first.processed, 1);
    let requests = pushed.received_requests().await;
    assert_eq!(requests.len(), 1);
    let body: Value = serde_json::from_slice(&requests[0].body).expect("json");
    assert_eq!(body["item_type"], "PRODUCT_ITEM");
    let item = &body["requests"][0];
    assert_eq!(item["method"], "UPDATE");
    assert_eq!(item["data"]["id"], "PARA-500");
    assert_eq!(item["data"]["price"], "45.50 MXN");
    assert_eq!(item["data"]["availability"], "out of stock", "no stock yet");
    drop(pushed);

    // Stock arrives: pushed again as in stock; Meta fails once (503) and the next run retries.
    let failing = Mock::given(method("POST"))
        .and(path("/v25.0/998877665544/items_batch"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_json(json!({ "error": { "message": "try later", "code": 2 } })),
        )
        .up_to_n_times(1)
        .named("items_batch 503")
        .mount_as_scoped(&shop.graph)
        .await;
    let r = app
        .as_merchant(
            &shop.key,
            Method::PUT,
            &format!("/v1/branches/{}/stock", shop.branch),
        )
        .json(&json!([{ "sku": "PARA-500", "quantity": 12 }]))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    shop.clock.advance(chrono::Duration::seconds(31));
    let failed = run(&shop.clock).await.expect("run");
    assert_eq!(failed.failed, 1, "{failed:?}");
    drop(failing);
    let ok = Mock::given(method("POST"))
        .and(path("/v25.0/998877665544/items_batch"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "handles": ["AcX2"] })))
        .named("items_batch again")
        .mount_as_scoped(&shop.graph)
        .await;
    // The lease of the failed attempt runs out, then the entry is taken again.
    shop.clock.advance(chrono::Duration::minutes(10));
    let retried = run(&shop.clock).await.expect("run");
    assert_eq!(retried.processed, 1, "{retried:?}");
    let requests = ok.received_requests().await;
    let body: Value = serde_json::from_slice(&requests[0].body).expect("json");
    assert_eq!(body["requests"][0]["data"]["availability"], "in stock");
    assert_eq!(body["requests"][0]["data"]["inventory"], 12);

    // Nothing changed since: a new schedule pushes nothing.
    mostrador_app::commerce::catalog_sync::schedule(
        &app.deps,
        &MerchantId::try_from(shop.merchant.clone()).expect("id"),
    )
    .await
    .expect("schedule");
    shop.clock.advance(chrono::Duration::seconds(31));
    let same = run(&shop.clock).await.expect("run");
    assert_eq!(same.processed, 1);
    assert_eq!(
        ok.received_requests().await.len(),
        1,
        "the same content is not pushed twice"
    );
    drop(ok);
    shop.app.stop().await;
}

mod catalog_sync {
    use super::*;
    on_both_engines!(the_meta_catalog_follows_products_and_stock);
}
