//! Notifications end to end through the merchant API: templates, consent, caps and quiet hours,
//! replies mapped to actions with a signed event to a fintech's endpoint (wiremock), tracked links,
//! scheduled and bulk sends, the funnel report, and the reminder jobs under an injected clock — on
//! both engines. Queues are driven by hand (no pollers) so every step is deterministic.

use chrono::{TimeZone, Utc};
use hmac::{Hmac, Mac};
use mostrador_app::entry::jobs::{self, Job};
use mostrador_app::platform::records::QueueRecord;
use mostrador_app::platform::tenant::{MerchantId, TenantTable};
use mostrador_app::{entry::pipeline, parties::hooks};
use mostrador_core::{Clock, FixedClock};
use mostrador_e2e::{on_both_engines, Engine, TestApp};
use mostrador_local::Options;
use mostrador_store::{Key, Table};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PHONE: &str = "106540352242930";
const CUSTOMER: &str = "5215512345678";
const CUSTOMER_ID: &str = "525512345678";

struct Fintech {
    app: TestApp,
    clock: FixedClock,
    merchant: String,
    key: String,
    branch: String,
    n: std::sync::atomic::AtomicU32,
}

fn noon() -> chrono::DateTime<Utc> {
    chrono_tz::America::Mexico_City
        .with_ymd_and_hms(2026, 11, 20, 12, 0, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc)
}

fn night() -> chrono::DateTime<Utc> {
    chrono_tz::America::Mexico_City
        .with_ymd_and_hms(2026, 11, 20, 23, 30, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc)
}

fn fraud_template() -> Value {
    json!({
        "name": "alerta_fraude", "category": "utility",
        "body": [{ "name": "monto", "type": "currency" }, { "name": "comercio", "type": "text" }, { "name": "fecha", "type": "date" }],
        "buttons": [
            { "type": "quick_reply", "text": "No fui yo", "payload": "NO_FUI_YO", "actions": ["webhook", "human"] },
            { "type": "quick_reply", "text": "Sí fui yo", "payload": "SI_FUI_YO", "actions": ["webhook"], "reply": "¡Gracias por confirmar!" }
        ],
        "keywords": [
            { "keyword": "no fui yo", "actions": ["webhook", "human"] },
            { "keyword": "fraude", "actions": ["webhook", "human"] },
            { "keyword": "detalles", "actions": ["details"] },
            { "keyword": "auto", "actions": ["webhook"], "reply": "Listo, registramos que tú autorizaste el cargo." }
        ]
    })
}

fn fraud_alert(to: &str) -> Value {
    json!({
        "to": to, "template": "alerta_fraude", "kind": "fraud_alert", "campaign": "alertas-nov",
        "parameters": [125000, "OXXO Insurgentes", "2026-11-20"],
        "metadata": { "card": "tarjeta-4821" },
        "details": "Cargo de $1,250.00 en OXXO Insurgentes, 20/11/2026 11:58, tarjeta terminación 4821."
    })
}

async fn fintech(engine: Engine, at: chrono::DateTime<Utc>) -> Fintech {
    fintech_with(engine, at, &[]).await
}

async fn fintech_with(
    engine: Engine,
    at: chrono::DateTime<Utc>,
    extra: &[(&str, &str)],
) -> Fintech {
    let clock = FixedClock::at(at);
    let app = TestApp::spawn_full(
        engine,
        Arc::new(clock.clone()),
        Options {
            pollers: false,
            scheduler: false,
            ..Default::default()
        },
        extra,
    )
    .await;
    let (merchant, key) = app.merchant("Banco Tepeyac").await;
    let branch = app.branch(&key, "Matriz", Some(PHONE)).await;
    let f = Fintech {
        app,
        clock,
        merchant,
        key,
        branch,
        n: std::sync::atomic::AtomicU32::new(0),
    };
    let (status, body) = f
        .call(
            Method::PUT,
            "/v1/settings/notifications",
            json!({ "privacy_notice_url": "https://banco-tepeyac.mx/aviso-de-privacidad" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = f
        .call(Method::POST, "/v1/templates", fraud_template())
        .await;
    assert_eq!(status, 201, "{body}");
    f
}

impl Fintech {
    async fn call(&self, m: Method, path: &str, body: Value) -> (u16, Value) {
        let mut r = self.app.as_merchant(&self.key, m.clone(), path);
        if m != Method::GET {
            r = r.json(&body);
        }
        let r = r.send().await.expect("send");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn consent(&self, to: &str, marketing: bool) {
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/v1/customers/{to}/consent"),
                json!({ "source": "app", "marketing": marketing,
                        "wording": "Acepto recibir avisos de mi cuenta por WhatsApp de Banco Tepeyac." }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }

    fn table(&self) -> TenantTable {
        TenantTable::of(
            &self.app.deps,
            &MerchantId::try_from(self.merchant.clone()).expect("id"),
        )
    }

    /// Runs the message-sender over everything on the outbound queue (hook deliveries included);
    /// returns the bodies handled.
    async fn drain_outbound(&self) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let batch = self
                .app
                .deps
                .queues
                .outbound
                .receive(10, Duration::from_secs(30), Duration::from_millis(300))
                .await
                .expect("receive");
            if batch.is_empty() {
                return seen;
            }
            for m in batch {
                let record = QueueRecord {
                    message_id: m.message_id.clone(),
                    body: m.body.clone(),
                    group_id: m.group_id.clone(),
                    receive_count: 1,
                    receipt: None,
                };
                pipeline::handle_outbound(&self.app.deps, &record)
                    .await
                    .expect("outbound");
                self.app
                    .deps
                    .queues
                    .outbound
                    .delete(&m.receipt)
                    .await
                    .expect("delete");
                seen.push(serde_json::from_str(&m.body).expect("json"));
            }
        }
    }

    /// Counts what waits on the outbound queue without handling it (the messages come back later).
    async fn queued(&self) -> usize {
        let mut n = 0;
        loop {
            let batch = self
                .app
                .deps
                .queues
                .outbound
                .receive(10, Duration::from_secs(30), Duration::from_millis(300))
                .await
                .expect("receive");
            if batch.is_empty() {
                return n;
            }
            n += batch.len();
            for m in batch {
                self.app
                    .deps
                    .queues
                    .outbound
                    .delete(&m.receipt)
                    .await
                    .expect("delete");
            }
        }
    }

    /// The customer sends `message` (type and content, optional context); order-confirm handles it.
    async fn customer_says(&self, message: Value) {
        let n = self.n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut message = message;
        message["from"] = json!(CUSTOMER);
        message["id"] = json!(format!("wamid.in.{}.{n}", self.merchant));
        message["timestamp"] = json!(self.clock.now_secs().to_string());
        let body = serde_json::to_vec(&json!({ "object": "whatsapp_business_account", "entry": [{ "id": "1", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": { "display_phone_number": "5215550000000", "phone_number_id": PHONE },
            "contacts": [{ "profile": { "name": "Mariana López" }, "wa_id": CUSTOMER }],
            "messages": [message] } }] }] }))
        .expect("json");
        assert_eq!(self.app.post_webhook(&body).await.status(), 200);
        let received = self
            .app
            .deps
            .queues
            .inbound
            .receive(10, Duration::from_secs(30), Duration::from_secs(2))
            .await
            .expect("receive");
        assert!(
            !received.is_empty(),
            "the message reached the inbound queue"
        );
        for m in received {
            let record = QueueRecord {
                message_id: m.message_id.clone(),
                body: m.body.clone(),
                group_id: m.group_id.clone(),
                receive_count: 1,
                receipt: None,
            };
            pipeline::handle_inbound(&self.app.deps, &record)
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
    }

    async fn status(&self, id: &str, kind: &str, ts: i64) {
        let body = serde_json::to_vec(&json!({ "object": "whatsapp_business_account", "entry": [{ "id": "1", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": { "display_phone_number": "5215550000000", "phone_number_id": PHONE },
            "statuses": [{ "id": format!("sandbox.{id}"), "status": kind, "timestamp": ts.to_string(), "recipient_id": CUSTOMER, "biz_opaque_callback_data": id }] } }] }] }))
        .expect("json");
        assert_eq!(self.app.post_webhook(&body).await.status(), 200);
    }

    async fn report(&self, query: &str) -> Value {
        let (status, body) = self
            .call(
                Method::GET,
                &format!("/v1/reports/notifications?{query}"),
                Value::Null,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

fn texts(bodies: &[Value]) -> Vec<String> {
    bodies
        .iter()
        .filter_map(|b| b["message"]["text"]["body"].as_str().map(str::to_owned))
        .collect()
}

async fn fraud_alert_answered_no_fui_yo_reaches_the_fintech_signed_and_shows_in_the_report(
    engine: Engine,
) {
    let f = fintech(engine, noon()).await;
    let fintech_api = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/mostrador/events"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&fintech_api)
        .await;
    let m = MerchantId::try_from(f.merchant.clone()).expect("id");
    let endpoint = hooks::configure(
        &f.app.deps,
        &m,
        &format!("{}/mostrador/events", fintech_api.uri()),
    )
    .await
    .expect("webhook endpoint");
    f.consent(CUSTOMER, false).await;

    let (status, accepted) = f
        .call(Method::POST, "/v1/notifications", fraud_alert(CUSTOMER))
        .await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["category"], "security");
    let id = accepted["id"].as_str().expect("id").to_owned();
    let sent = f.drain_outbound().await;
    assert_eq!(sent.len(), 1);
    let params = &sent[0]["message"]["template"]["components"][0]["parameters"];
    assert_eq!(
        params[0]["text"], "$1,250.00",
        "currency parameters are written for people"
    );
    assert_eq!(params[2]["text"], "20/11/2026");
    let t = f.clock.now_secs();
    f.status(&id, "delivered", t + 5).await;
    f.status(&id, "read", t + 95).await;

    // "No fui yo", quoting the alert: the fintech gets a signed event, the customer an asesor.
    f.clock.advance(chrono::Duration::minutes(2));
    f.customer_says(json!({ "type": "text", "text": { "body": "¡No fui yo!" },
        "context": { "from": "5215550000000", "id": format!("sandbox.{id}") } }))
        .await;
    let answers = f.drain_outbound().await;
    assert!(
        texts(&answers).iter().any(|t| t.contains("asesor")),
        "handed to a human: {answers:?}"
    );
    let received = fintech_api.received_requests().await.expect("requests");
    assert_eq!(received.len(), 1, "one event delivered");
    let event = &received[0];
    let header = event
        .headers
        .get("x-mostrador-signature")
        .and_then(|v| v.to_str().ok())
        .expect("signed");
    let (t_part, v1) = header.split_once(",v1=").expect("t=..,v1=..");
    let ts = t_part.strip_prefix("t=").expect("t");
    let mut mac = Hmac::<Sha256>::new_from_slice(endpoint.secret.as_bytes()).expect("key");
    mac.update(format!("{ts}.").as_bytes());
    mac.update(&event.body);
    assert_eq!(
        hex::encode(mac.finalize().into_bytes()),
        v1,
        "HMAC-SHA256(secret, \"{{t}}.{{body}}\")"
    );
    let payload: Value = serde_json::from_slice(&event.body).expect("json");
    assert_eq!(payload["type"], "notification.reply");
    assert_eq!(payload["data"]["notification_id"], id.as_str());
    assert_eq!(payload["data"]["metadata"]["card"], "tarjeta-4821");
    assert_eq!(payload["data"]["reply"]["value"], "no fui yo");
    // The fintech's references are sealed at rest, and opened for its events and its API.
    let record = f
        .table()
        .get(&Key::new(format!("NOTIF#{id}"), "NOTIF"))
        .await
        .expect("get")
        .expect("the notification");
    let raw = serde_json::to_string(&record).expect("json");
    assert!(
        !raw.contains("tarjeta-4821") && record.get("metadata_sealed").is_some(),
        "{raw}"
    );
    let conv = f
        .table()
        .get(&Key::new(
            format!("CUST#{}", f.table().customer(CUSTOMER_ID)),
            "CONV",
        ))
        .await
        .expect("get")
        .expect("conversation");
    assert_eq!(
        conv.get("handed_off"),
        Some(&mostrador_store::Value::Bool(true))
    );

    // "detalles" without quoting: the latest notification answers with its details.
    f.customer_says(json!({ "type": "text", "text": { "body": "Detalles" } }))
        .await;
    let details = f.drain_outbound().await;
    assert!(
        texts(&details)
            .iter()
            .any(|t| t.contains("OXXO Insurgentes")),
        "{details:?}"
    );

    let view = f
        .call(Method::GET, &format!("/v1/notifications/{id}"), Value::Null)
        .await
        .1;
    assert_eq!(view["status"], "read");
    assert!(view["timeline"]["replied_at"].is_string(), "{view}");
    assert_eq!(view["metadata"]["card"], "tarjeta-4821", "{view}");

    let report = f.report("from=2026-11-20&to=2026-11-20").await;
    let row = &report["rows"][0];
    assert_eq!(row["template"], "alerta_fraude");
    assert_eq!(row["day"], "2026-11-20");
    for (counter, n) in [
        ("sent", 1),
        ("delivered", 1),
        ("read", 1),
        ("replied", 1),
        ("failed", 0),
    ] {
        assert_eq!(row[counter], n, "{counter}: {row}");
    }
    assert_eq!(row["reply_rate"], 1.0);
    let median = row["median_seconds_to_read"].as_i64().expect("median");
    assert!((60..=300).contains(&median), "read after 95 s: {median}");
    let by_campaign = f
        .report("from=2026-11-20&to=2026-11-20&group_by=campaign")
        .await;
    assert_eq!(by_campaign["rows"][0]["campaign"], "alertas-nov");
    assert_eq!(by_campaign["rows"][0]["replied"], 1);
    // Who is behind a figure: the customer who replied; nobody failed.
    let (status, replied) = f
        .call(
            Method::GET,
            "/v1/reports/notifications/recipients?template=alerta_fraude&day=2026-11-20&metric=replied",
            Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{replied}");
    let list = replied["recipients"].as_array().expect("recipients");
    assert_eq!(list.len(), 1, "{replied}");
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["to"], CUSTOMER_ID);
    assert_eq!(list[0]["status"], "read");
    let (_, failed) = f
        .call(
            Method::GET,
            "/v1/reports/notifications/recipients?template=alerta_fraude&day=2026-11-20&metric=failed",
            Value::Null,
        )
        .await;
    assert_eq!(failed["recipients"], json!([]), "{failed}");
    let (status, bad) = f
        .call(
            Method::GET,
            "/v1/reports/notifications/recipients?template=alerta_fraude&day=20-11-2026&metric=leido",
            Value::Null,
        )
        .await;
    assert_eq!(status, 422, "{bad}");
    let drill = f
        .app
        .as_merchant(
            &f.key,
            Method::GET,
            "/v1/reports/notifications/recipients?template=alerta_fraude&day=2026-11-20&metric=read&format=csv",
        )
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("csv");
    assert!(
        drill.starts_with("id,to,campaign,status,error,sent_at,delivered_at,read_at"),
        "{drill}"
    );
    assert!(
        drill.contains(&format!("{id},{CUSTOMER_ID},alertas-nov,read,")),
        "{drill}"
    );

    // The bank reports what the alert led to in its own app: counted once, with its value. Its
    // system knows its own reference (the metadata it sent), not our id.
    let by_metadata = |metadata: Value| json!({ "to": CUSTOMER, "metadata": metadata, "name": "tarjeta_reemplazada", "value": 15_000 });
    let (status, none) = f
        .call(
            Method::POST,
            "/v1/notifications/conversions",
            by_metadata(json!({ "card": "tarjeta-0000" })),
        )
        .await;
    assert_eq!(
        status, 404,
        "no notification carries that reference: {none}"
    );
    let (status, first) = f
        .call(
            Method::POST,
            "/v1/notifications/conversions",
            by_metadata(json!({ "card": "tarjeta-4821" })),
        )
        .await;
    assert_eq!(
        (status, first["counted"].as_bool(), first["id"].as_str()),
        (201, Some(true), Some(id.as_str())),
        "{first}"
    );
    let conversion = json!({ "name": "tarjeta_reemplazada", "value": 15_000 });
    let path = format!("/v1/notifications/{id}/conversions");
    let (status, again) = f.call(Method::POST, &path, conversion).await;
    assert_eq!(
        (status, again["counted"].as_bool()),
        (200, Some(false)),
        "{again}"
    );
    let (status, bad) = f
        .call(
            Method::POST,
            &path,
            json!({ "name": "con espacios", "value": -1 }),
        )
        .await;
    assert_eq!(status, 422, "{bad}");
    assert_eq!(
        bad["error"]["fields"].as_array().map(Vec::len),
        Some(2),
        "{bad}"
    );
    let (status, _) = f
        .call(
            Method::POST,
            "/v1/notifications/N000000000000000000000000/conversions",
            json!({ "name": "x" }),
        )
        .await;
    assert_eq!(status, 404);
    let row = &f.report("from=2026-11-20&to=2026-11-20").await["rows"][0];
    assert_eq!(row["converted"], 1, "{row}");
    assert_eq!(row["conversion_value_centavos"], 15_000, "{row}");
    // What it cost: a fraud alert is a utility template, priced at the default rate card.
    assert_eq!(
        row["billable_by_category"],
        json!({ "utility": 1 }),
        "{row}"
    );
    assert_eq!(
        (
            row["estimated_cost"].as_str(),
            row["cost_currency"].as_str()
        ),
        (Some("0.0086"), Some("USD")),
        "{row}"
    );
    let (s, bad) = f
        .call(
            Method::PUT,
            "/v1/settings/notifications",
            json!({ "message_rates": { "currency": "pesos", "utility": "0.15000" } }),
        )
        .await;
    assert_eq!(s, 422, "{bad}");
    assert_eq!(bad["error"]["fields"].as_array().map(Vec::len), Some(2));
    let (s, set) = f
        .call(
            Method::PUT,
            "/v1/settings/notifications",
            json!({ "privacy_notice_url": "https://banco-tepeyac.mx/aviso-de-privacidad",
                "message_rates": { "currency": "MXN", "marketing": "0.6533", "utility": "0.15",
                    "authentication": "0.15", "service": "0" } }),
        )
        .await;
    assert_eq!(s, 200, "{set}");
    let overall = &f.report("from=2026-11-20&to=2026-11-20").await["overall"];
    assert_eq!(
        (
            overall["estimated_cost"].as_str(),
            overall["cost_currency"].as_str()
        ),
        (Some("0.1500"), Some("MXN")),
        "the report prices at the rates in force: {overall}"
    );
    let csv = f
        .app
        .as_merchant(
            &f.key,
            Method::GET,
            "/v1/reports/notifications?from=2026-11-20&to=2026-11-20&format=csv",
        )
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("csv");
    assert!(
        csv.starts_with("day,template,sent,delivered,read,failed"),
        "{csv}"
    );
    assert!(
        csv.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("2026-11-20,alerta_fraude,1,1,1,0")),
        "{csv}"
    );
    f.app.stop().await;
}

async fn no_consent_opt_out_and_bad_input_are_refused_with_reasons_and_nothing_queued(
    engine: Engine,
) {
    let f = fintech(engine, noon()).await;
    let refuse = |body: Value, status: u16, code: &'static str| {
        let f = &f;
        async move {
            let (s, answer) = f.call(Method::POST, "/v1/notifications", body).await;
            assert_eq!(s, status, "{answer}");
            assert_eq!(answer["error"]["code"], code, "{answer}");
            answer
        }
    };
    refuse(fraud_alert(CUSTOMER), 422, "consent_required").await;
    f.consent(CUSTOMER, false).await;
    let mut unknown = fraud_alert(CUSTOMER);
    unknown["template"] = json!("no_existe");
    let a = refuse(unknown, 422, "validation_failed").await;
    assert_eq!(a["error"]["fields"][0]["field"], "template");
    let mut count = fraud_alert(CUSTOMER);
    count["parameters"] = json!([125000, "OXXO"]);
    let a = refuse(count, 422, "validation_failed").await;
    assert!(
        a["error"]["fields"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("takes 3 parameters")),
        "{a}"
    );
    let mut kind = fraud_alert(CUSTOMER);
    kind["parameters"] = json!(["$1,250.00", "OXXO", "20/11/2026"]);
    let a = refuse(kind, 422, "validation_failed").await;
    let fields: Vec<&str> = a["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(fields, ["parameters[0] (monto)", "parameters[2] (fecha)"]);
    let mut past = fraud_alert(CUSTOMER);
    past["send_at"] = json!("2026-11-19T10:00:00Z");
    let a = refuse(past, 422, "validation_failed").await;
    assert_eq!(a["error"]["fields"][0]["field"], "send_at");
    let promo_template = json!({ "name": "promo_credito", "category": "marketing", "body": [{ "name": "nombre", "type": "text" }] });
    assert_eq!(
        f.call(Method::POST, "/v1/templates", promo_template)
            .await
            .0,
        201
    );
    refuse(json!({ "to": CUSTOMER, "template": "promo_credito", "parameters": ["Mariana"], "kind": "loan_preapproval" }), 422, "marketing_consent_required").await;
    let oversized: Vec<Value> = (0..10_001)
        .map(|_| json!({ "to": CUSTOMER, "template": "alerta_fraude" }))
        .collect();
    let (s, a) = f
        .call(
            Method::POST,
            "/v1/notifications/bulk",
            json!({ "notifications": oversized }),
        )
        .await;
    assert_eq!(s, 422, "{a}");
    assert!(a["error"]["fields"][0]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("at most 10000")));
    assert_eq!(f.queued().await, 0, "nothing was queued by any refusal");

    // The same idempotency key: the same notification; with another payload: refused.
    let mut keyed = fraud_alert(CUSTOMER);
    keyed["idempotency_key"] = json!("tx-889");
    let (s1, first) = f
        .call(Method::POST, "/v1/notifications", keyed.clone())
        .await;
    let (s2, again) = f
        .call(Method::POST, "/v1/notifications", keyed.clone())
        .await;
    assert_eq!((s1, s2), (202, 200));
    assert_eq!(first["id"], again["id"]);
    keyed["parameters"][0] = json!(999);
    refuse(keyed, 409, "idempotency_key_reused").await;
    assert_eq!(f.queued().await, 1, "one notification for one key");

    // "baja" in the chat opts out: not even a fraud alert is accepted, and the history keeps it.
    f.clock.advance(chrono::Duration::minutes(1));
    f.customer_says(json!({ "type": "text", "text": { "body": "baja" } }))
        .await;
    refuse(fraud_alert(CUSTOMER), 422, "opted_out").await;
    let (_, consent) = f
        .call(
            Method::GET,
            &format!("/v1/customers/{CUSTOMER}/consent"),
            Value::Null,
        )
        .await;
    assert_eq!(consent["opted_out"], true);
    let events: Vec<&str> = consent["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["event"].as_str())
        .collect();
    assert_eq!(events, ["opt_in", "opt_out"]);
    assert_eq!(
        consent["history"][0]["consent"]["privacy_notice_url"],
        "https://banco-tepeyac.mx/aviso-de-privacidad"
    );
    // An opt-in given before the "baja" cannot override it.
    let (s, stale) = f
        .call(Method::POST, &format!("/v1/customers/{CUSTOMER}/consent"),
            json!({ "source": "app", "wording": "Acepto recibir avisos por WhatsApp.", "granted_at": "2026-11-20T10:00:00Z" }))
        .await;
    assert_eq!(s, 409, "{stale}");

    // What was refused at request time is in the report under its reason; notifications without
    // a campaign are under "(sin campaña)"; the overall figures add every campaign up.
    let report = f
        .report("from=2026-11-20&to=2026-11-20&group_by=campaign")
        .await;
    let refused = &report["overall"]["refused_by_reason"];
    assert_eq!(refused["consent_required"], 1, "{report}");
    assert_eq!(refused["marketing_consent_required"], 1, "{report}");
    assert_eq!(refused["opted_out"], 1, "{report}");
    let campaigns: Vec<&str> = report["totals"]
        .as_array()
        .expect("totals")
        .iter()
        .filter_map(|t| t["campaign"].as_str())
        .collect();
    assert!(campaigns.contains(&"alertas-nov"), "{report}");
    assert!(campaigns.contains(&"(sin campaña)"), "{report}");
    f.app.stop().await;
}

async fn daily_cap_refuses_the_fourth_but_fraud_alerts_have_their_own(engine: Engine) {
    let f = fintech(engine, noon()).await;
    f.consent(CUSTOMER, false).await;
    let statement = json!({ "name": "estado_cuenta", "category": "utility", "header": "document",
        "body": [{ "name": "periodo", "type": "text" }, { "name": "saldo", "type": "currency" }] });
    assert_eq!(
        f.call(Method::POST, "/v1/templates", statement).await.0,
        201
    );
    let send = |n: i64, kind: &str| {
        json!({ "to": CUSTOMER, "template": "estado_cuenta", "kind": kind,
        "parameters": { "periodo": format!("octubre {n}"), "saldo": 1_523_050 },
        "header": { "document": { "link": "https://banco-tepeyac.mx/estados/oct.pdf", "filename": "estado-octubre.pdf" } } })
    };
    // Three unclassified notices reach the general cap of 3 ...
    for n in 0..3 {
        let (s, a) = f
            .call(Method::POST, "/v1/notifications", send(n, "other"))
            .await;
        assert_eq!(s, 202, "{a}");
        let sent = f.drain_outbound().await;
        assert_eq!(
            sent[0]["message"]["template"]["components"][0]["type"],
            "header"
        );
        f.clock.advance(chrono::Duration::seconds(7));
    }
    let (s, a) = f
        .call(Method::POST, "/v1/notifications", send(3, "other"))
        .await;
    assert_eq!(s, 429, "{a}");
    assert_eq!(a["error"]["code"], "daily_cap");
    assert_eq!(f.queued().await, 0);
    // ... but a bank's statements and transaction alerts are outside it: the customer still hears
    // about their money.
    for n in 4..8 {
        let (s, a) = f
            .call(
                Method::POST,
                "/v1/notifications",
                send(n, "account_statement"),
            )
            .await;
        assert_eq!(s, 202, "a statement past the general cap: {a}");
        let id = a["id"].as_str().expect("id").to_owned();
        f.drain_outbound().await;
        let view = f
            .call(Method::GET, &format!("/v1/notifications/{id}"), Value::Null)
            .await
            .1;
        assert_eq!(view["status"], "sent", "{view}");
        f.clock.advance(chrono::Duration::seconds(7));
    }
    let (s, a) = f
        .call(Method::POST, "/v1/notifications", fraud_alert(CUSTOMER))
        .await;
    assert_eq!(
        s, 202,
        "a fraud alert is not crowded out by statements: {a}"
    );
    let id = a["id"].as_str().expect("id").to_owned();
    f.drain_outbound().await;
    let view = f
        .call(Method::GET, &format!("/v1/notifications/{id}"), Value::Null)
        .await
        .1;
    assert_eq!(view["status"], "sent", "{view}");
    // Each bucket's own ceiling refuses too.
    let (s, _) = f.call(Method::PUT, "/v1/settings/notifications",
        json!({ "privacy_notice_url": "https://banco-tepeyac.mx/aviso", "category_caps": { "security": 1, "transactional": 4 } })).await;
    assert_eq!(s, 200);
    let (s, a) = f
        .call(Method::POST, "/v1/notifications", fraud_alert(CUSTOMER))
        .await;
    assert_eq!(
        (s, a["error"]["code"].as_str()),
        (429, Some("category_cap"))
    );
    let (s, a) = f
        .call(
            Method::POST,
            "/v1/notifications",
            send(9, "account_statement"),
        )
        .await;
    assert_eq!(
        (s, a["error"]["code"].as_str()),
        (429, Some("category_cap")),
        "the fifth statement past a ceiling of 4: {a}"
    );
    f.app.stop().await;
}

async fn quiet_hours_hold_marketing_until_morning_but_not_fraud_alerts(engine: Engine) {
    let f = fintech(engine, night()).await;
    f.consent(CUSTOMER, true).await;
    let promo = json!({ "name": "preaprobado", "category": "marketing", "body": [{ "name": "monto", "type": "currency" }],
        "buttons": [{ "type": "url", "text": "Ver oferta" }] });
    assert_eq!(f.call(Method::POST, "/v1/templates", promo).await.0, 201);
    let (s, a) = f.call(Method::POST, "/v1/notifications", json!({ "to": CUSTOMER, "template": "preaprobado",
        "kind": "loan_preapproval", "parameters": [5_000_000], "button_urls": ["https://banco-tepeyac.mx/credito/oferta-77"] })).await;
    assert_eq!(s, 202, "{a}");
    let promo_id = a["id"].as_str().expect("id").to_owned();
    let (s, a) = f
        .call(Method::POST, "/v1/notifications", fraud_alert(CUSTOMER))
        .await;
    assert_eq!(s, 202, "{a}");
    let fraud_id = a["id"].as_str().expect("id").to_owned();
    f.drain_outbound().await;
    let status = |id: String| {
        let f = &f;
        async move {
            f.call(Method::GET, &format!("/v1/notifications/{id}"), Value::Null)
                .await
                .1["status"]
                .clone()
        }
    };
    assert_eq!(
        status(promo_id.clone()).await,
        "deferred",
        "marketing waits for 09:00"
    );
    assert_eq!(
        status(fraud_id.clone()).await,
        "sent",
        "a fraud alert does not wait"
    );
    f.clock.advance(chrono::Duration::hours(10));
    let run = jobs::run(
        &f.app.deps,
        Job::DueNotifications,
        f.clock.now_ms() + 60_000,
    )
    .await
    .expect("job");
    assert_eq!(run.processed, 1);
    f.drain_outbound().await;
    assert_eq!(status(promo_id).await, "sent", "sent in the morning");
    f.app.stop().await;
}

async fn tracked_link_counts_one_click_per_recipient_and_ignores_previews(engine: Engine) {
    let f = fintech(engine, noon()).await;
    f.consent(CUSTOMER, false).await;
    let kyc = json!({ "name": "kyc_pendiente", "category": "utility", "body": [{ "name": "nombre", "type": "text" }, { "name": "liga", "type": "url" }] });
    assert_eq!(f.call(Method::POST, "/v1/templates", kyc).await.0, 201);
    let (s, a) = f
        .call(
            Method::POST,
            "/v1/notifications",
            json!({ "to": CUSTOMER, "template": "kyc_pendiente",
        "kind": "kyc_reminder", "parameters": ["Mariana", "https://banco-tepeyac.mx/kyc/abc"] }),
        )
        .await;
    assert_eq!(s, 202, "{a}");
    let id = a["id"].as_str().expect("id").to_owned();
    let sent = f.drain_outbound().await;
    let sent_link = sent[0]["message"]["template"]["components"][0]["parameters"][1]["text"]
        .as_str()
        .expect("link")
        .to_owned();
    let code = sent_link.rsplit_once("/l/").expect("a tracked link").1;
    let link = format!("{}/l/{code}", f.app.url);
    let visit = |agent: &'static str, head: bool| {
        let f = &f;
        let link = link.clone();
        async move {
            let m = if head { Method::HEAD } else { Method::GET };
            let r = f
                .app
                .http
                .request(m, link)
                .header("user-agent", agent)
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), 302);
            assert_eq!(r.headers()["location"], "https://banco-tepeyac.mx/kyc/abc");
        }
    };
    visit("WhatsApp/2.23.20.0 A", false).await;
    visit(
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        false,
    )
    .await;
    visit("Twitterbot/1.0", false).await;
    visit(
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        false,
    )
    .await;
    visit(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
        true,
    )
    .await;
    let row = |r: Value| r["rows"][0].clone();
    assert_eq!(
        row(f.report("from=2026-11-20&to=2026-11-20").await)["clicked"],
        0,
        "previews are not people"
    );
    visit(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
        false,
    )
    .await;
    visit(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
        false,
    )
    .await;
    let r = row(f.report("from=2026-11-20&to=2026-11-20").await);
    assert_eq!(
        (r["clicked"].clone(), r["link_clicks"].clone()),
        (json!(1), json!(1)),
        "{r}"
    );
    assert_eq!(r["click_rate"], 1.0);
    let unknown = f
        .app
        .http
        .get(format!("{}/l/0000000000", f.app.url))
        .send()
        .await
        .expect("send");
    assert_eq!(unknown.status(), 404);
    let view = f
        .call(Method::GET, &format!("/v1/notifications/{id}"), Value::Null)
        .await
        .1;
    assert!(view["timeline"]["clicked_at"].is_string(), "{view}");
    f.app.stop().await;
}

async fn scheduled_and_bulk_notifications_go_out_once_when_the_job_runs(engine: Engine) {
    let f = fintech(engine, noon()).await;
    f.consent(CUSTOMER, false).await;
    let mut later = fraud_alert(CUSTOMER);
    later["kind"] = json!("transaction_alert");
    later["send_at"] = json!((f.clock.now() + chrono::Duration::hours(2)).to_rfc3339());
    let (s, a) = f.call(Method::POST, "/v1/notifications", later).await;
    assert_eq!((s, a["status"].as_str()), (202, Some("scheduled")), "{a}");
    assert_eq!(f.queued().await, 0, "nothing before send_at");
    // What the customer will be told is sealed at rest, in the record and in the due entry.
    {
        use mostrador_store::Table;
        let m = MerchantId::try_from(f.merchant.clone()).expect("id");
        let tenant = mostrador_app::platform::tenant::TenantTable::of(&f.app.deps, &m);
        let id = a["id"].as_str().expect("id");
        let record = tenant
            .get(&mostrador_app::platform::schema::notification(id))
            .await
            .expect("get")
            .expect("the record");
        assert!(record.get("body").is_none() && record.get("body_sealed").is_some());
        assert!(record.get("details").is_none() && record.get("details_sealed").is_some());
        let entry = tenant
            .get(&mostrador_app::platform::schema::due(
                Job::DueNotifications,
                id,
            ))
            .await
            .expect("get")
            .expect("the due entry");
        assert!(!entry.get_s("action").unwrap_or_default().contains("OXXO"));
        assert!(entry.get("body_sealed").is_some());
    }

    // A bulk of 130: 129 customers with consent, one without.
    let mut items = Vec::new();
    for i in 0..130 {
        let to = format!("52155{:08}", 10_000_000 + i);
        if i != 7 {
            f.consent(&to, false).await;
        }
        let mut n = fraud_alert(&to);
        n["kind"] = json!("transaction_alert");
        n["campaign"] = Value::Null;
        items.push(n);
    }
    let (s, job) = f
        .call(
            Method::POST,
            "/v1/notifications/bulk",
            json!({ "campaign": "avisos-nov", "notifications": items }),
        )
        .await;
    assert_eq!(s, 202, "{job}");
    let job_id = job["id"].as_str().expect("id").to_owned();
    assert_eq!(job["chunks"], 2);
    let progress = || {
        let f = &f;
        let path = format!("/v1/notifications/bulk/{job_id}");
        async move { f.call(Method::GET, &path, Value::Null).await.1 }
    };
    assert_eq!(progress().await["status"], "processing");
    let run = jobs::run(
        &f.app.deps,
        Job::DueNotifications,
        f.clock.now_ms() + 120_000,
    )
    .await
    .expect("job");
    assert_eq!(run.processed, 2, "two chunks; the scheduled one is not due");
    let p = progress().await;
    assert_eq!(
        (
            p["status"].as_str(),
            p["accepted"].as_i64(),
            p["rejected"].as_i64()
        ),
        (Some("done"), Some(129), Some(1)),
        "{p}"
    );
    assert_eq!(p["rejected_by_reason"]["consent_required"], 1);
    assert_eq!(p["rejections"][0]["index"], 7);
    let again = jobs::run(
        &f.app.deps,
        Job::DueNotifications,
        f.clock.now_ms() + 120_000,
    )
    .await
    .expect("job");
    assert_eq!(again.processed, 0, "a second firing does nothing");
    assert_eq!(f.queued().await, 129);

    f.clock.advance(chrono::Duration::hours(2));
    for _ in 0..2 {
        jobs::run(
            &f.app.deps,
            Job::DueNotifications,
            f.clock.now_ms() + 60_000,
        )
        .await
        .expect("job");
    }
    assert_eq!(f.queued().await, 1, "the scheduled alert, once");
    f.app.stop().await;
}

async fn payment_reminders_and_abandoned_carts_run_under_the_injected_clock(engine: Engine) {
    let f = fintech(engine, noon()).await;
    f.app
        .as_merchant(&f.key, Method::POST, "/v1/products/import")
        .body("sku,name,description,price,tax,clave_prod_serv,clave_unidad,image_url,categories,active\n7501008491072,Paracetamol 500 mg 10 tabletas,Analgésico,45.50,iva0,51142001,XBX,,Analgésicos,true\n")
        .send()
        .await
        .expect("send");
    f.app
        .as_merchant(
            &f.key,
            Method::PUT,
            &format!("/v1/branches/{}/stock", f.branch),
        )
        .json(&json!([{ "sku": "7501008491072", "quantity": 10 }]))
        .send()
        .await
        .expect("send");
    f.consent(CUSTOMER, true).await;
    // The customer puts two boxes in the cart from the catalog and goes quiet.
    f.customer_says(json!({ "type": "order", "order": { "catalog_id": "1", "product_items": [
        { "product_retailer_id": "7501008491072", "quantity": 2, "item_price": 45.5, "currency": "MXN" } ] } }))
        .await;
    f.drain_outbound().await;
    f.clock.advance(chrono::Duration::minutes(30));
    let early = jobs::run(&f.app.deps, Job::AbandonedCarts, f.clock.now_ms() + 60_000)
        .await
        .expect("job");
    assert_eq!(early.processed, 0, "not yet an hour");
    f.clock.advance(chrono::Duration::minutes(31));
    for n in [1, 0] {
        let run = jobs::run(&f.app.deps, Job::AbandonedCarts, f.clock.now_ms() + 60_000)
            .await
            .expect("job");
        assert_eq!(run.processed, n, "once, however often it fires");
    }
    let reminded = f.drain_outbound().await;
    assert_eq!(reminded.len(), 1);
    assert_eq!(reminded[0]["category"], "marketing");
    assert!(texts(&reminded)[0].contains("carrito"), "{reminded:?}");

    // An order awaiting payment placed a day later (window closed): reminded by template, once.
    f.clock.advance(chrono::Duration::hours(26));
    let m = MerchantId::try_from(f.merchant.clone()).expect("id");
    let amounts = mostrador_core::tax::line_amounts(
        mostrador_core::money::Centavos(4550),
        2,
        mostrador_core::tax::TaxTreatment::Iva0,
        true,
    )
    .expect("amounts");
    let (subtotal, iva) = (amounts.base, amounts.iva);
    let order = mostrador_app::commerce::orders::Order {
        id: "ordREM1".into(),
        branch_id: f.branch.clone(),
        wa_id: CUSTOMER_ID.into(),
        phone_number_id: PHONE.into(),
        status: mostrador_app::commerce::orders::OrderStatus::AwaitingPayment,
        lines: vec![mostrador_app::commerce::orders::OrderLine {
            discount: Default::default(),
            sku: "7501008491072".into(),
            name: "Paracetamol".into(),
            qty: 2,
            unit: mostrador_core::money::Centavos(4550),
            amounts,
        }],
        subtotal,
        iva,
        total: mostrador_core::money::Centavos(9100),
        created_at: f.clock.now().to_rfc3339(),
        expires_at_ms: f.clock.now_ms() + 30 * 60_000,
        payment_url: Some("https://pagos.example/ordREM1".into()),
        fulfilment: Default::default(),
        customer_name: None,
        sealed_personal: None,
        refunds: Vec::new(),
        promotions: Vec::new(),
    };
    mostrador_app::flows::chat::place_order(&f.app.deps, &m, order)
        .await
        .map_err(|_| "place")
        .expect("placed");
    f.clock.advance(chrono::Duration::minutes(15));
    let early = jobs::run(
        &f.app.deps,
        Job::PaymentReminders,
        f.clock.now_ms() + 60_000,
    )
    .await
    .expect("job");
    assert_eq!(early.processed, 0, "ten minutes before expiry by default");
    f.clock.advance(chrono::Duration::minutes(6));
    for n in [1, 0] {
        let run = jobs::run(
            &f.app.deps,
            Job::PaymentReminders,
            f.clock.now_ms() + 60_000,
        )
        .await
        .expect("job");
        assert_eq!(run.processed, n);
    }
    let reminder = f.drain_outbound().await;
    assert_eq!(reminder.len(), 1);
    assert_eq!(
        reminder[0]["message"]["template"]["name"],
        "mostrador_recordatorio_pago"
    );
    assert_eq!(reminder[0]["id"], "ordREM1-payment-reminder");
    f.app.stop().await;
}

/// The abandoned-cart reminder carries a code of the customer's own when the merchant chose a
/// promotion with issued codes: the code gives its discount in the chat, serves one order, and
/// is refused the second time; a promotion without issued codes cannot be chosen.
async fn an_abandoned_cart_carries_a_code_of_the_customers_own(engine: Engine) {
    let f = fintech(engine, noon()).await;
    f.app
        .as_merchant(&f.key, Method::POST, "/v1/products/import")
        .body("sku,name,description,price,tax,clave_prod_serv,clave_unidad,image_url,categories,active\n7501008491072,Paracetamol 500 mg 10 tabletas,Analgésico,45.50,iva0,51142001,XBX,,Analgésicos,true\n")
        .send()
        .await
        .expect("send");
    let (status, _) = f
        .call(
            Method::PUT,
            &format!("/v1/branches/{}/stock", f.branch),
            json!([{ "sku": "7501008491072", "quantity": 10 }]),
        )
        .await;
    assert_eq!(status, 200);
    let (status, shared) = f
        .call(
            Method::POST,
            "/v1/promotions",
            json!({ "name": "Verano", "benefit": { "kind": "percent_off", "percent": 5 },
                "applies_to": { "scope": "order" }, "code": "VERANO" }),
        )
        .await;
    assert_eq!(status, 201, "{shared}");
    let (status, back) = f
        .call(
            Method::POST,
            "/v1/promotions",
            json!({ "name": "Vuelve 20 %", "benefit": { "kind": "percent_off", "percent": 20 },
                "applies_to": { "scope": "order" }, "issued_codes": true }),
        )
        .await;
    assert_eq!(status, 201, "{back}");
    let settings = |promotion: &Value| {
        json!({ "privacy_notice_url": "https://banco-tepeyac.mx/aviso-de-privacidad",
                "abandoned_cart_promotion": promotion["id"] })
    };
    let (status, refused) = f
        .call(Method::PUT, "/v1/settings/notifications", settings(&shared))
        .await;
    assert_eq!(status, 422, "a shared code cannot be issued: {refused}");
    let (status, saved) = f
        .call(Method::PUT, "/v1/settings/notifications", settings(&back))
        .await;
    assert_eq!(status, 200, "{saved}");
    f.consent(CUSTOMER, true).await;
    f.customer_says(json!({ "type": "order", "order": { "catalog_id": "1", "product_items": [
        { "product_retailer_id": "7501008491072", "quantity": 2, "item_price": 45.5, "currency": "MXN" } ] } }))
        .await;
    f.drain_outbound().await;
    f.clock.advance(chrono::Duration::minutes(61));
    let run = jobs::run(&f.app.deps, Job::AbandonedCarts, f.clock.now_ms() + 60_000)
        .await
        .expect("job");
    assert_eq!(run.processed, 1);
    let reminded = texts(&f.drain_outbound().await).join("\n");
    let code = reminded
        .split('*')
        .find(|w| w.starts_with("VUELVE-"))
        .unwrap_or_else(|| panic!("a code in {reminded}"))
        .to_owned();
    assert!(
        reminded.contains("20 % de descuento en tu pedido"),
        "{reminded}"
    );

    let said = |bodies: Vec<Value>| {
        bodies
            .iter()
            .filter_map(|b| {
                b["message"]["text"]["body"]
                    .as_str()
                    .or_else(|| b["message"]["interactive"]["body"]["text"].as_str())
                    .map(str::to_owned)
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    f.customer_says(json!({ "type": "text", "text": { "body": code.to_lowercase() } }))
        .await;
    let cart = said(f.drain_outbound().await);
    assert!(
        cart.contains(&format!("Apliqué el código *{code}*")),
        "{cart}"
    );
    assert!(cart.contains("*Total: $72.80*"), "{cart}");
    f.customer_says(json!({ "type": "text", "text": { "body": "confirmar" } }))
        .await;
    let placed = said(f.drain_outbound().await);
    assert!(placed.contains("$72.80"), "{placed}");
    let (_, orders) = f.call(Method::GET, "/v1/orders", Value::Null).await;
    let order = &orders["orders"][0];
    assert_eq!(order["total"], 7_280, "{order}");
    assert_eq!(order["promotions"][0]["code"], code.as_str(), "{order}");

    // The code served its order: refused now, with why.
    f.customer_says(json!({ "type": "text", "text": { "body": code.clone() } }))
        .await;
    let again = said(f.drain_outbound().await);
    assert!(
        again.contains(&format!("El código *{code}* ya lo usaste")),
        "{again} after {order}"
    );
    f.app.stop().await;
}

/// "baja promociones" stops promotions only and says so; "alta promociones" brings them back in
/// the customer's words; "baja" stops everything, is confirmed (even to a customer who just opted
/// out), and security alerts follow the merchant's explicit policy.
async fn opting_out_confirms_what_stops_and_security_alerts_follow_the_policy(engine: Engine) {
    let f = fintech(engine, noon()).await;
    f.consent(CUSTOMER, true).await;
    let promo_template = json!({ "name": "promo_credito", "category": "marketing", "body": [{ "name": "nombre", "type": "text" }] });
    assert_eq!(
        f.call(Method::POST, "/v1/templates", promo_template)
            .await
            .0,
        201
    );
    let promo = json!({ "to": CUSTOMER, "template": "promo_credito", "parameters": ["Mariana"], "kind": "loan_preapproval" });
    let outbox_texts = || async {
        let (_, o) = f
            .call(Method::GET, "/v1/outbox?limit=200", Value::Null)
            .await;
        o["messages"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            // Newest first in the outbox; oldest first here.
            .rev()
            .map(|m| {
                m["message"]["text"]["body"]
                    .as_str()
                    .or_else(|| m["message"]["interactive"]["body"]["text"].as_str())
                    .or_else(|| m["message"]["template"]["name"].as_str())
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect::<Vec<_>>()
    };

    f.clock.advance(chrono::Duration::minutes(1));
    f.customer_says(json!({ "type": "text", "text": { "body": "ya no quiero promociones" } }))
        .await;
    f.drain_outbound().await;
    let said = outbox_texts().await.join("\n");
    assert!(said.contains("ya no te enviaremos promociones"), "{said}");
    assert!(said.contains("*alta promociones*"), "how to resume: {said}");
    let (status, refused) = f
        .call(Method::POST, "/v1/notifications", promo.clone())
        .await;
    assert_eq!(status, 422, "{refused}");
    let (status, alert) = f
        .call(Method::POST, "/v1/notifications", fraud_alert(CUSTOMER))
        .await;
    assert_eq!(status, 202, "account alerts go on: {alert}");
    f.drain_outbound().await;

    f.clock.advance(chrono::Duration::minutes(1));
    f.customer_says(json!({ "type": "text", "text": { "body": "alta promociones" } }))
        .await;
    f.drain_outbound().await;
    let (_, consent) = f
        .call(
            Method::GET,
            &format!("/v1/customers/{CUSTOMER}/consent"),
            Value::Null,
        )
        .await;
    assert_eq!(consent["consent"]["marketing"], true, "{consent}");
    let events: Vec<&str> = consent["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["event"].as_str())
        .collect();
    assert_eq!(
        events,
        ["opt_in", "marketing_stop", "marketing_resume"],
        "{consent}"
    );
    let (status, sent) = f
        .call(Method::POST, "/v1/notifications", promo.clone())
        .await;
    assert_eq!(status, 202, "{sent}");
    f.drain_outbound().await;

    // The bank keeps security alerts after a "baja", and says so.
    let (status, policy) = f
        .call(
            Method::PUT,
            "/v1/settings/notifications",
            json!({ "privacy_notice_url": "https://banco-tepeyac.mx/aviso-de-privacidad",
                    "security_alerts_after_opt_out": true }),
        )
        .await;
    assert_eq!(status, 200, "{policy}");
    f.clock.advance(chrono::Duration::minutes(1));
    let before = outbox_texts().await.len();
    f.customer_says(json!({ "type": "text", "text": { "body": "BAJA" } }))
        .await;
    f.drain_outbound().await;
    let confirmation = outbox_texts().await[before..].join("\n");
    assert!(
        confirmation.contains("ya no te enviaremos mensajes"),
        "confirmed after the opt-out: {confirmation}"
    );
    assert!(
        confirmation.contains("alertas de seguridad"),
        "{confirmation}"
    );
    let (status, refused) = f.call(Method::POST, "/v1/notifications", promo).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (422, Some("opted_out")),
        "{refused}"
    );
    let (status, alert) = f
        .call(Method::POST, "/v1/notifications", fraud_alert(CUSTOMER))
        .await;
    assert_eq!(status, 202, "{alert}");
    let alerts = |texts: Vec<String>| texts.iter().filter(|t| *t == "alerta_fraude").count();
    let before = alerts(outbox_texts().await);
    f.drain_outbound().await;
    assert_eq!(
        alerts(outbox_texts().await),
        before + 1,
        "the fraud alert was delivered after the baja"
    );
    f.app.stop().await;
}

on_both_engines!(
    opting_out_confirms_what_stops_and_security_alerts_follow_the_policy,
    an_abandoned_cart_carries_a_code_of_the_customers_own,
    fraud_alert_answered_no_fui_yo_reaches_the_fintech_signed_and_shows_in_the_report,
    no_consent_opt_out_and_bad_input_are_refused_with_reasons_and_nothing_queued,
    daily_cap_refuses_the_fourth_but_fraud_alerts_have_their_own,
    quiet_hours_hold_marketing_until_morning_but_not_fraud_alerts,
    tracked_link_counts_one_click_per_recipient_and_ignores_previews,
    scheduled_and_bulk_notifications_go_out_once_when_the_job_runs,
    payment_reminders_and_abandoned_carts_run_under_the_injected_clock,
);

/// The customer taps "Stop" on marketing in WhatsApp: Meta's user_preferences webhook withdraws the
/// marketing part of the opt-in at once and is kept in the consent history; "resume" is recorded
/// without granting marketing back (that needs the merchant's own opt-in).
async fn whatsapp_stop_for_marketing_withdraws_marketing_consent(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (_, key) = app.merchant("Banco Tepeyac").await;
    app.branch(&key, "Matriz", Some("500000000000001")).await;
    let r = app
        .as_merchant(&key, Method::POST, "/v1/customers/5215512340000/consent")
        .json(&json!({ "source": "app", "marketing": true,
            "wording": "Acepto recibir avisos y promociones por WhatsApp de Banco Tepeyac.",
            "privacy_notice_url": "https://banco.mx/aviso-de-privacidad" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let preference = |value: &str, ts: i64| {
        serde_json::to_vec(&json!({ "object": "whatsapp_business_account", "entry": [{ "id": "1", "changes": [{ "field": "user_preferences", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "5215550000000", "phone_number_id": "500000000000001" },
            "contacts": [{ "profile": { "name": "Cliente" }, "wa_id": "5215512340000" }],
            "user_preferences": [{ "wa_id": "5215512340000", "detail": "User requested to stop marketing messages",
                "category": "marketing_messages", "value": value, "timestamp": ts }] } }] }] }))
        .expect("json")
    };
    let now = chrono::Utc::now().timestamp();
    let r = app.post_webhook(&preference("stop", now + 1)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json")["preferences"], 1);
    let shown: Value = app
        .as_merchant(&key, Method::GET, "/v1/customers/525512340000/consent")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(shown["consent"]["marketing"], false, "{shown}");
    let events: Vec<&str> = shown["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["event"].as_str())
        .collect();
    assert_eq!(events, ["opt_in", "marketing_stop"], "{shown}");
    let r = app.post_webhook(&preference("resume", now + 60)).await;
    assert_eq!(r.status(), 200);
    let shown: Value = app
        .as_merchant(&key, Method::GET, "/v1/customers/525512340000/consent")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        shown["consent"]["marketing"], false,
        "a resume is not a new opt-in: {shown}"
    );
    app.stop().await;
}

mod preferences {
    use super::*;
    on_both_engines!(whatsapp_stop_for_marketing_withdraws_marketing_consent);
}

/// A bank's links go out on its own subdomain (`link_host`, a CNAME to mostrador), never on ours;
/// that host is the bank's alone: another sender's codes are not served on it and no one else can
/// claim it until the bank lets it go.
async fn links_go_out_on_the_fintechs_own_domain_and_serve_only_its_codes(engine: Engine) {
    let f = fintech(engine, noon()).await;
    f.consent(CUSTOMER, false).await;
    let settings = |link_host: Value| json!({ "privacy_notice_url": "https://banco-tepeyac.mx/aviso-de-privacidad", "link_host": link_host });
    for bad in [
        "http://go.banco-tepeyac.mx",
        "https://go.banco-tepeyac.mx/l",
        "https://10.0.0.1",
        "https://localhost",
    ] {
        let (s, body) = f
            .call(
                Method::PUT,
                "/v1/settings/notifications",
                settings(json!(bad)),
            )
            .await;
        assert_eq!(s, 422, "{bad}: {body}");
        assert!(body.to_string().contains("link_host"), "{body}");
    }
    let (s, saved) = f
        .call(
            Method::PUT,
            "/v1/settings/notifications",
            settings(json!("https://Go.Banco-Tepeyac.mx/")),
        )
        .await;
    assert_eq!(s, 200, "{saved}");
    assert_eq!(saved["link_host"], "https://go.banco-tepeyac.mx");
    let kyc = json!({ "name": "kyc_pendiente", "category": "utility", "body": [{ "name": "nombre", "type": "text" }, { "name": "liga", "type": "url" }] });
    assert_eq!(f.call(Method::POST, "/v1/templates", kyc).await.0, 201);
    let (s, a) = f
        .call(
            Method::POST,
            "/v1/notifications",
            json!({ "to": CUSTOMER, "template": "kyc_pendiente",
                "kind": "kyc_reminder", "parameters": ["Mariana", "https://banco-tepeyac.mx/kyc/abc"] }),
        )
        .await;
    assert_eq!(s, 202, "{a}");
    let sent = f.drain_outbound().await;
    let sent_link = sent[0]["message"]["template"]["components"][0]["parameters"][1]["text"]
        .as_str()
        .expect("link")
        .to_owned();
    let code = sent_link
        .strip_prefix("https://go.banco-tepeyac.mx/l/")
        .unwrap_or_else(|| panic!("the link is on the bank's domain: {sent_link}"))
        .to_owned();
    // The subdomain points at this deployment: the request arrives with the bank's Host.
    let visit = |host: &'static str| {
        let f = &f;
        let url = format!("{}/l/{code}", f.app.url);
        async move {
            f.app
                .http
                .get(url)
                .header("host", host)
                .header("user-agent", "Mozilla/5.0 (iPhone)")
                .send()
                .await
                .expect("send")
        }
    };
    let r = visit("go.banco-tepeyac.mx").await;
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "https://banco-tepeyac.mx/kyc/abc");
    // Another sender's link host serves none of the bank's codes.
    let (_, other) = f.app.merchant("Tienda Otra").await;
    let put_other = |link_host: &'static str| {
        let f = &f;
        let other = other.clone();
        async move {
            let r = f
                .app
                .as_merchant(&other, Method::PUT, "/v1/settings/notifications")
                .json(&json!({ "link_host": link_host }))
                .send()
                .await
                .expect("send");
            let status = r.status().as_u16();
            (status, r.text().await.expect("body"))
        }
    };
    assert_eq!(put_other("https://pagos.tienda-otra.mx").await.0, 200);
    assert_eq!(visit("pagos.tienda-otra.mx").await.status(), 404);
    assert_eq!(visit("Go.Banco-Tepeyac.MX:443").await.status(), 302);
    // Nobody else may claim the bank's host while it is the bank's.
    let (s, body) = put_other("https://go.banco-tepeyac.mx").await;
    assert_eq!(s, 422, "{body}");
    assert!(body.contains("another account"), "{body}");
    // The bank moves to another subdomain: the old one is free again.
    let (s, body) = f
        .call(
            Method::PUT,
            "/v1/settings/notifications",
            settings(json!("https://links.banco-tepeyac.mx")),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(put_other("https://go.banco-tepeyac.mx").await.0, 200);
    assert_eq!(visit("go.banco-tepeyac.mx").await.status(), 404);
    f.app.stop().await;
}

mod link_host {
    use super::*;
    on_both_engines!(links_go_out_on_the_fintechs_own_domain_and_serve_only_its_codes);
}

/// A bank's own bot answers "saldo": with `bot_bridge` on, a message no notification takes reaches
/// the bank as a signed `message.received` event instead of the shop assistant, and the bank
/// answers with `POST /v1/messages` (an idempotency key makes its retry the same message). Consent
/// changes and a conversation a person has taken stay with mostrador.
async fn the_fintechs_own_bot_answers_through_the_bridge(engine: Engine) {
    let f = fintech(engine, noon()).await;
    f.consent(CUSTOMER, false).await;
    let bridge = json!({ "privacy_notice_url": "https://banco-tepeyac.mx/aviso-de-privacidad", "bot_bridge": true });
    let (s, body) = f
        .call(Method::PUT, "/v1/settings/notifications", bridge.clone())
        .await;
    assert_eq!(s, 422, "no webhook yet: {body}");
    assert!(body.to_string().contains("webhook"), "{body}");
    let bank = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/bot"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&bank)
        .await;
    let m = MerchantId::try_from(f.merchant.clone()).expect("id");
    let endpoint = hooks::configure(&f.app.deps, &m, &format!("{}/bot", bank.uri()))
        .await
        .expect("webhook endpoint");
    let (s, body) = f
        .call(Method::PUT, "/v1/settings/notifications", bridge)
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["bot_bridge"], true);
    let events = || async {
        let mut out = Vec::new();
        for r in bank.received_requests().await.expect("requests") {
            let header = r
                .headers
                .get("x-mostrador-signature")
                .and_then(|v| v.to_str().ok())
                .expect("signed")
                .to_owned();
            assert!(
                hooks::verify(&endpoint.secret, &header, &r.body, f.clock.now_secs()),
                "a signature the bank can check"
            );
            out.push(serde_json::from_slice::<Value>(&r.body).expect("json"));
        }
        out
    };

    f.customer_says(json!({ "type": "text", "text": { "body": "saldo" } }))
        .await;
    let sent = f.drain_outbound().await;
    assert!(
        texts(&sent).is_empty(),
        "the shop assistant says nothing: {sent:?}"
    );
    let got = events().await;
    assert_eq!(got.len(), 1, "{got:?}");
    let event = &got[0];
    assert_eq!(event["type"], "message.received");
    assert_eq!(event["data"]["text"], "saldo");
    assert_eq!(event["data"]["type"], "text");
    assert_eq!(event["data"]["wa_id"], CUSTOMER_ID);
    assert_eq!(event["data"]["branch_id"], f.branch.as_str());
    assert_eq!(event["data"]["profile_name"], "Mariana López");
    assert_eq!(event["data"]["message"]["text"]["body"], "saldo");
    assert_eq!(
        event["data"]["window_closes_at"],
        f.clock.now_secs() + 24 * 3600
    );

    // The bank answers inside the window; its retry is the same message, sent once.
    let answer = json!({ "branch_id": f.branch, "to": CUSTOMER_ID, "idempotency_key": "saldo-1",
        "message": { "type": "text", "text": { "body": "Tu saldo disponible es $12,480.50" } } });
    let (s, first) = f.call(Method::POST, "/v1/messages", answer.clone()).await;
    assert_eq!(s, 202, "{first}");
    let (s, again) = f.call(Method::POST, "/v1/messages", answer.clone()).await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["replayed"], true);
    let mut other = answer.clone();
    other["message"]["text"]["body"] = json!("Otro texto");
    let (s, body) = f.call(Method::POST, "/v1/messages", other).await;
    assert_eq!(s, 409, "{body}");
    let sent = f.drain_outbound().await;
    assert_eq!(
        texts(&sent),
        vec!["Tu saldo disponible es $12,480.50".to_owned()]
    );

    // A person takes the chat (the fraud alert's "no fui yo"): what follows stays with them.
    let (s, alert) = f
        .call(Method::POST, "/v1/notifications", fraud_alert(CUSTOMER))
        .await;
    assert_eq!(s, 202, "{alert}");
    let id = alert["id"].as_str().expect("id").to_owned();
    f.drain_outbound().await;
    f.customer_says(json!({ "type": "text", "text": { "body": "no fui yo" },
        "context": { "from": "5215550000000", "id": format!("sandbox.{id}") } }))
        .await;
    f.drain_outbound().await;
    f.customer_says(json!({ "type": "text", "text": { "body": "sigo esperando" } }))
        .await;
    f.drain_outbound().await;
    let kinds: Vec<String> = events()
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        kinds,
        vec!["message.received", "notification.reply"],
        "nothing forwarded while a person has the chat"
    );
    // "baja" is recorded and confirmed here, never left to the bank's bot.
    let release = f
        .app
        .as_merchant(
            &f.key,
            Method::POST,
            &format!("/v1/conversations/{CUSTOMER_ID}/release"),
        )
        .send()
        .await
        .expect("send");
    assert!(release.status().is_success(), "{:?}", release.text().await);
    f.drain_outbound().await;
    f.customer_says(json!({ "type": "text", "text": { "body": "BAJA" } }))
        .await;
    let sent = f.drain_outbound().await;
    assert!(
        texts(&sent).iter().any(|t| t.contains("alta")),
        "the opt-out is confirmed with how to undo it: {sent:?}"
    );
    assert_eq!(events().await.len(), 2, "the opt-out is not forwarded");
    f.app.stop().await;
}

/// README's saldo bot (`examples/saldo_bot.py`, standard-library Python) run as a bank would run
/// it: it checks the event's signature and answers from its own data through `POST /v1/messages`
/// (keyed by the event id, whose replay the test above shows is sent once).
async fn the_readme_saldo_bot_answers_a_customer(engine: Engine) {
    // The bot checks signatures against its own clock: the stack runs at the real time.
    let f = fintech(engine, Utc::now()).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let m = MerchantId::try_from(f.merchant.clone()).expect("id");
    let endpoint = hooks::configure(&f.app.deps, &m, &format!("http://127.0.0.1:{port}/"))
        .await
        .expect("webhook endpoint");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/saldo_bot.py");
    let mut bot = std::process::Command::new("python3")
        .arg(script)
        .args(["--port", &port.to_string(), "--api", &f.app.url])
        .args(["--key", &f.key, "--secret", &endpoint.secret])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs the bot");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut out = std::io::BufReader::new(bot.stdout.take().expect("stdout"));
    let bot = Kill(bot);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).expect("the bot starts");
    assert!(line.contains("saldo bot on"), "{line}");
    let (s, body) = f
        .call(
            Method::PUT,
            "/v1/settings/notifications",
            json!({ "bot_bridge": true }),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    f.customer_says(json!({ "type": "text", "text": { "body": "Saldo porfa" } }))
        .await;
    // The event goes out; the bot answers while it is delivered, and its answer follows.
    let sent = f.drain_outbound().await;
    assert_eq!(
        texts(&sent),
        vec!["Tu saldo disponible es $12,480.50.".to_owned()],
        "{sent:?}"
    );
    f.customer_says(json!({ "type": "text", "text": { "body": "y mis movimientos?" } }))
        .await;
    let sent = f.drain_outbound().await;
    let answers = texts(&sent);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert!(
        answers[0].starts_with("Tus últimos movimientos:") && answers[0].contains("-$125.00"),
        "{answers:?}"
    );
    drop(bot);
    f.app.stop().await;
}

mod bridge {
    use super::*;
    on_both_engines!(
        the_fintechs_own_bot_answers_through_the_bridge,
        the_readme_saldo_bot_answers_a_customer
    );
}

/// A KYC document sent without quoting is matched to the latest KYC request, even when a fraud
/// alert came after it; it is stored, fetched through a signed link that expires, and deleted
/// with its file when the merchant's retention ends.
async fn a_kyc_document_is_matched_stored_and_fetched_through_a_short_lived_link(engine: Engine) {
    use sha2::Digest;
    let graph = MockServer::start().await;
    let base = graph.uri();
    let f = fintech_with(
        engine,
        noon(),
        &[("MOSTRADOR_GRAPH_API_BASE", base.as_str())],
    )
    .await;
    let r = f
        .app
        .as_merchant(&f.key, Method::PUT, "/v1/settings/whatsapp")
        .json(&json!({ "access_token": "EAAG-test-token-0123456789abcdef" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    for (n, wamid) in [
        (1, "wamid.out.kyc"),
        (2, "wamid.out.alert"),
        (99, "wamid.out.x"),
    ] {
        Mock::given(method("POST"))
            .and(wiremock::matchers::path_regex(r"/messages$"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "messaging_product": "whatsapp", "contacts": [{ "input": CUSTOMER, "wa_id": CUSTOMER_ID }],
                "messages": [{ "id": wamid }] })))
            .up_to_n_times(if n == 99 { 100 } else { 1 })
            .mount(&graph)
            .await;
    }
    let photo: Vec<u8> = b"\xff\xd8\xff\xe0 INE frente".to_vec();
    let digest = hex::encode(sha2::Sha256::digest(&photo));
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(r"^/v[0-9.]+/MEDIA777$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp", "url": format!("{base}/download/MEDIA777"),
            "mime_type": "image/jpeg", "sha256": digest, "file_size": photo.len(), "id": "MEDIA777" })))
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/download/MEDIA777"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(photo.clone()))
        .mount(&graph)
        .await;
    let bank = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&bank)
        .await;
    let m = MerchantId::try_from(f.merchant.clone()).expect("id");
    hooks::configure(&f.app.deps, &m, &format!("{}/events", bank.uri()))
        .await
        .expect("webhook");
    f.consent(CUSTOMER, false).await;
    let kyc = json!({ "name": "kyc_pendiente", "category": "utility", "body": [{ "name": "nombre", "type": "text" }] });
    assert_eq!(f.call(Method::POST, "/v1/templates", kyc).await.0, 201);
    let (s, request) = f
        .call(
            Method::POST,
            "/v1/notifications",
            json!({ "to": CUSTOMER, "template": "kyc_pendiente", "kind": "kyc_reminder", "parameters": ["Mariana"] }),
        )
        .await;
    assert_eq!(s, 202, "{request}");
    let kyc_id = request["id"].as_str().expect("id").to_owned();
    f.drain_outbound().await;
    f.clock.advance(chrono::Duration::minutes(5));
    let (s, alert) = f
        .call(Method::POST, "/v1/notifications", fraud_alert(CUSTOMER))
        .await;
    assert_eq!(s, 202, "{alert}");
    f.drain_outbound().await;

    // The photo comes without quoting anything, after the fraud alert.
    f.clock.advance(chrono::Duration::minutes(5));
    f.customer_says(json!({ "type": "image", "image": {
        "id": "MEDIA777", "mime_type": "image/jpeg", "sha256": digest, "caption": "INE" } }))
        .await;
    f.drain_outbound().await;
    let events: Vec<Value> = bank
        .received_requests()
        .await
        .expect("requests")
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("json"))
        .filter(|e: &Value| e["type"] == "notification.document")
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["data"]["notification_id"], kyc_id.as_str());
    assert_eq!(events[0]["data"]["matched_by"], "latest");
    let doc_id = events[0]["data"]["document_id"]
        .as_str()
        .expect("document id")
        .to_owned();

    let (s, doc) = f
        .call(Method::GET, &format!("/v1/documents/{doc_id}"), Value::Null)
        .await;
    assert_eq!(s, 200, "{doc}");
    assert_eq!(doc["notification_id"], kyc_id.as_str());
    assert_eq!(doc["customer"], CUSTOMER_ID);
    assert_eq!(doc["mime_type"], "image/jpeg");
    assert!(doc.get("blob_key").is_none(), "storage keys stay inside");
    let url = doc["url"].as_str().expect("a link").to_owned();
    let local = format!(
        "{}{}",
        f.app.url,
        &url[url.find("/files/").expect("a file link")..]
    );
    let file = f.app.http.get(&local).send().await.expect("send");
    assert_eq!(file.status(), 200);
    assert_eq!(file.headers()["content-type"], "image/jpeg");
    assert_eq!(file.headers()["x-content-type-options"], "nosniff");
    assert_eq!(file.bytes().await.expect("bytes").to_vec(), photo);
    f.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(
        f.app.http.get(&local).send().await.expect("send").status(),
        404,
        "the link expires"
    );
    assert_eq!(
        f.call(Method::GET, "/v1/documents/doc_0000", Value::Null)
            .await
            .0,
        404
    );

    // The customer's data export carries the document and its file.
    let (s, export) = f
        .call(
            Method::GET,
            &format!("/v1/customers/{CUSTOMER_ID}/data"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 200, "{export}");
    assert!(
        export["documents"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["bytes"] == photo.len())),
        "{export}"
    );
    // The merchant's retention (180 days by default) ends: record and file are deleted.
    let expires = doc["expires_at"].as_i64().expect("expiry");
    assert!(expires >= f.clock.now_secs() + 179 * 86_400, "{doc}");
    f.clock
        .advance(chrono::Duration::seconds(expires - f.clock.now_secs() + 1));
    let run = jobs::run(
        &f.app.deps,
        Job::DueNotifications,
        f.clock.now_ms() + 60_000,
    )
    .await
    .expect("job");
    assert_eq!(run.processed, 1, "{run:?}");
    assert_eq!(
        f.call(Method::GET, &format!("/v1/documents/{doc_id}"), Value::Null)
            .await
            .0,
        404
    );
    let blob = format!("merchants/{}/media/MEDIA777", f.merchant);
    assert!(
        f.app.deps.blobs.get(&blob).await.expect("blobs").is_none(),
        "the file is gone too"
    );
    f.app.stop().await;
}

mod documents {
    use super::*;
    on_both_engines!(a_kyc_document_is_matched_stored_and_fetched_through_a_short_lived_link);
}

/// An A/B test of a loan pre-approval: two templates that take the same parameters, a 50/50 split
/// that gives each customer one variant every time, a funnel per variant, and the variant that
/// converts better named the winner when the difference is significant.
async fn an_experiment_splits_customers_and_names_the_variant_that_converts(engine: Engine) {
    let f = fintech(engine, noon()).await;
    let promo = |name: &str, text: &str| {
        json!({ "name": name, "category": "marketing", "body": [{ "name": "nombre", "type": "text" }],
            "details": text })
    };
    for (name, text) in [
        ("prestamo_a", "Tienes un préstamo preaprobado."),
        ("prestamo_b", "¡Tu préstamo ya está listo!"),
    ] {
        assert_eq!(
            f.call(Method::POST, "/v1/templates", promo(name, text))
                .await
                .0,
            201
        );
    }
    let other = json!({ "name": "otra_forma", "category": "marketing", "body": [{ "name": "monto", "type": "currency" }] });
    assert_eq!(f.call(Method::POST, "/v1/templates", other).await.0, 201);
    let experiment = |variants: Value| json!({ "name": "prestamo-dic", "metric": "converted", "variants": variants });
    let (s, bad) = f
        .call(
            Method::POST,
            "/v1/experiments",
            experiment(
                json!([{ "name": "a", "template": "prestamo_a", "weight": 50 },
                { "name": "b", "template": "otra_forma", "weight": 40 }]),
            ),
        )
        .await;
    assert_eq!(s, 422, "{bad}");
    let reasons = bad.to_string();
    assert!(
        reasons.contains("add up to 100") && reasons.contains("same request"),
        "{bad}"
    );
    let (s, created) = f
        .call(
            Method::POST,
            "/v1/experiments",
            experiment(
                json!([{ "name": "a", "template": "prestamo_a", "weight": 50 },
                { "name": "b", "template": "prestamo_b", "weight": 50 }]),
            ),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let (s, _) = f
        .call(
            Method::POST,
            "/v1/experiments",
            experiment(
                json!([{ "name": "a", "template": "prestamo_a", "weight": 50 },
                { "name": "b", "template": "prestamo_b", "weight": 50 }]),
            ),
        )
        .await;
    assert_eq!(s, 409, "the name is taken");

    let customers: Vec<String> = (0..60).map(|n| format!("52155100{n:05}")).collect();
    let mut by_variant: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut first_of_customer0 = String::new();
    for to in &customers {
        f.consent(to, true).await;
        let ask = json!({ "to": to, "experiment": "prestamo-dic", "kind": "loan_preapproval",
            "parameters": ["Mariana"], "campaign": "prestamos-dic" });
        let (s, a) = f.call(Method::POST, "/v1/notifications", ask).await;
        assert_eq!(s, 202, "{a}");
        let id = a["id"].as_str().expect("id").to_owned();
        if first_of_customer0.is_empty() {
            first_of_customer0 = id.clone();
        }
        let (_, view) = f
            .call(Method::GET, &format!("/v1/notifications/{id}"), Value::Null)
            .await;
        by_variant
            .entry(view["template"].as_str().expect("template").to_owned())
            .or_default()
            .push(id);
    }
    let (a_ids, b_ids) = (&by_variant["prestamo_a"], &by_variant["prestamo_b"]);
    assert!(
        a_ids.len() >= 15 && b_ids.len() >= 15,
        "a 50/50 split: {} and {}",
        a_ids.len(),
        b_ids.len()
    );
    f.drain_outbound().await;
    // The same customer asked again gets the same variant.
    let template_of = |id: String| {
        let f = &f;
        async move {
            let (_, view) = f
                .call(Method::GET, &format!("/v1/notifications/{id}"), Value::Null)
                .await;
            view["template"].as_str().unwrap_or_default().to_owned()
        }
    };
    let (s, again) = f
        .call(
            Method::POST,
            "/v1/notifications",
            json!({ "to": customers[0], "experiment": "prestamo-dic", "kind": "loan_preapproval",
                "parameters": ["Mariana"], "idempotency_key": "otra-vez" }),
        )
        .await;
    assert_eq!(s, 202, "{again}");
    assert_eq!(
        template_of(again["id"].as_str().unwrap_or_default().to_owned()).await,
        template_of(first_of_customer0.clone()).await
    );
    f.queued().await;
    // Variant b converts 4 in 5, variant a 1 in 5.
    let convert = |ids: &[String], share: usize| {
        let ids: Vec<String> = ids.iter().take(ids.len() * share / 5).cloned().collect();
        let f = &f;
        async move {
            for id in ids {
                let (s, body) = f
                    .call(
                        Method::POST,
                        &format!("/v1/notifications/{id}/conversions"),
                        json!({ "name": "prestamo_solicitado", "value": 2_000_000 }),
                    )
                    .await;
                assert_eq!(s, 201, "{body}");
            }
        }
    };
    convert(a_ids, 1).await;
    convert(b_ids, 4).await;
    let (s, report) = f
        .call(
            Method::GET,
            "/v1/experiments/prestamo-dic/report?from=2026-11-20&to=2026-11-20",
            Value::Null,
        )
        .await;
    assert_eq!(s, 200, "{report}");
    let variants = report["variants"].as_array().expect("variants");
    assert_eq!(variants.len(), 2, "{report}");
    assert_eq!(variants[0]["sent"], a_ids.len(), "{report}");
    assert_eq!(variants[1]["sent"], b_ids.len(), "{report}");
    assert_eq!(variants[1]["converted"], b_ids.len() * 4 / 5, "{report}");
    let comparison = &report["comparisons"][0];
    assert_eq!(comparison["significant"], true, "{report}");
    assert!(
        comparison["p_value"].as_f64().is_some_and(|p| p < 0.001),
        "{report}"
    );
    assert_eq!(report["winner"], "b", "{report}");

    // Ended: no more notifications under it; the report stays.
    let (s, _) = f
        .call(
            Method::POST,
            "/v1/experiments/prestamo-dic/end",
            Value::Null,
        )
        .await;
    assert_eq!(s, 200);
    let (s, refused) = f
        .call(
            Method::POST,
            "/v1/notifications",
            json!({ "to": customers[1], "experiment": "prestamo-dic", "parameters": ["Mariana"] }),
        )
        .await;
    assert_eq!(s, 422, "{refused}");
    assert!(refused.to_string().contains("ended"), "{refused}");
    let (s, unknown) = f
        .call(
            Method::POST,
            "/v1/notifications",
            json!({ "to": customers[1], "experiment": "no-existe", "parameters": ["Mariana"] }),
        )
        .await;
    assert_eq!(s, 422, "{unknown}");
    f.app.stop().await;
}

mod experiments {
    use super::*;
    on_both_engines!(an_experiment_splits_customers_and_names_the_variant_that_converts);
}

/// A template's life in Meta, against a fake of the Graph API speaking its formats: created and
/// submitted in two languages, refused while pending, approved / rejected / paused / recategorized
/// by webhooks, and the account's existing templates imported with their statuses.
async fn templates_go_through_metas_review_and_only_approved_ones_are_sent(engine: Engine) {
    use wiremock::matchers::{body_partial_json, query_param, query_param_is_missing};
    const WABA: &str = "102290129340398";
    let graph = MockServer::start().await;
    let base = graph.uri();
    let f = fintech_with(
        engine,
        noon(),
        &[("MOSTRADOR_GRAPH_API_BASE", base.as_str())],
    )
    .await;
    f.consent(CUSTOMER, false).await;
    let kyc = json!({ "name": "kyc_pendiente", "category": "utility",
        "body": [{ "name": "nombre", "type": "text" }],
        "text": "Hola {{1}}, te falta subir tu INE para terminar tu registro.",
        "examples": ["Mariana"], "footer": "Banco Tepeyac",
        "buttons": [{ "type": "quick_reply", "text": "Ya la subí", "payload": "LISTO" }],
        "translations": [{ "language": "en_US", "text": "Hi {{1}}, please upload your ID to finish signing up.",
            "button_texts": ["Done"] }] });
    assert_eq!(f.call(Method::POST, "/v1/templates", kyc).await.0, 201);
    // Without the account and token, nothing can be submitted.
    let (s, body) = f
        .call(
            Method::POST,
            "/v1/templates/kyc_pendiente/submit",
            Value::Null,
        )
        .await;
    assert_eq!(s, 422, "{body}");
    assert!(body.to_string().contains("business_account_id"), "{body}");
    let (s, body) = f
        .call(
            Method::PUT,
            "/v1/settings/whatsapp",
            json!({ "access_token": "EAAG-test-token-0123456789abcdef", "business_account_id": WABA }),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    for (language, id) in [("es_MX", "594425479261596"), ("en_US", "594425479261597")] {
        Mock::given(method("POST"))
            .and(path(format!("/v25.0/{WABA}/message_templates")))
            .and(body_partial_json(json!({ "language": language })))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({ "id": id, "status": "PENDING", "category": "UTILITY" })),
            )
            .expect(1)
            .mount(&graph)
            .await;
    }
    let (s, submitted) = f
        .call(
            Method::POST,
            "/v1/templates/kyc_pendiente/submit",
            Value::Null,
        )
        .await;
    assert_eq!(s, 202, "{submitted}");
    assert_eq!(submitted["meta"]["es_MX"]["status"], "pending");
    assert_eq!(submitted["meta"]["en_US"]["id"], "594425479261597");
    let sent: Vec<Value> = graph
        .received_requests()
        .await
        .expect("requests")
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("json"))
        .collect();
    let es = sent
        .iter()
        .find(|b| b["language"] == "es_MX")
        .expect("es_MX submitted");
    assert_eq!(es["category"], "UTILITY");
    assert_eq!(
        es["components"][0],
        json!({ "type": "BODY", "text": "Hola {{1}}, te falta subir tu INE para terminar tu registro.",
            "example": { "body_text": [["Mariana"]] } })
    );
    assert_eq!(
        es["components"][2],
        json!({ "type": "BUTTONS", "buttons": [{ "type": "QUICK_REPLY", "text": "Ya la subí" }] })
    );
    let (s, again) = f
        .call(
            Method::POST,
            "/v1/templates/kyc_pendiente/submit",
            Value::Null,
        )
        .await;
    assert_eq!(s, 409, "already in Meta: {again}");

    let notify = |language: &str| {
        json!({ "to": CUSTOMER, "template": "kyc_pendiente", "kind": "kyc_reminder",
            "parameters": ["Mariana"], "language": language })
    };
    let (s, refused) = f
        .call(Method::POST, "/v1/notifications", notify("es_MX"))
        .await;
    assert_eq!(s, 422, "{refused}");
    assert_eq!(
        refused["error"]["code"], "template_not_approved",
        "{refused}"
    );
    assert!(f.queued().await == 0);

    let hook = |field: &str, value: Value| {
        let f = &f;
        let body = serde_json::to_vec(&json!({ "object": "whatsapp_business_account",
            "entry": [{ "id": WABA, "time": 1763650000, "changes": [{ "field": field, "value": value }] }] }))
        .expect("json");
        async move { assert_eq!(f.app.post_webhook(&body).await.status(), 200) }
    };
    let status = |event: &str, language: &str, reason: &str| {
        json!({ "event": event, "message_template_id": 594425479261596u64,
            "message_template_name": "kyc_pendiente", "message_template_language": language,
            "reason": reason, "message_template_category": "UTILITY" })
    };
    hook(
        "message_template_status_update",
        status("APPROVED", "es_MX", "NONE"),
    )
    .await;
    hook(
        "message_template_status_update",
        status("REJECTED", "en_US", "INVALID_FORMAT"),
    )
    .await;
    let (s, a) = f
        .call(Method::POST, "/v1/notifications", notify("es_MX"))
        .await;
    assert_eq!(s, 202, "approved: {a}");
    let (s, refused) = f
        .call(Method::POST, "/v1/notifications", notify("en_US"))
        .await;
    assert_eq!(s, 422, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("rejected in Meta (INVALID_FORMAT)")),
        "{refused}"
    );
    let (s, refused) = f
        .call(Method::POST, "/v1/notifications", notify("fr_FR"))
        .await;
    assert_eq!(s, 422, "no such language: {refused}");

    // Meta pauses it for low quality, then lets it go again; the console sees the rating.
    hook(
        "message_template_quality_update",
        json!({ "previous_quality_score": "GREEN", "new_quality_score": "RED",
            "message_template_id": 594425479261596u64, "message_template_name": "kyc_pendiente",
            "message_template_language": "es_MX" }),
    )
    .await;
    hook(
        "message_template_status_update",
        status("PAUSED", "es_MX", "NONE"),
    )
    .await;
    let (s, refused) = f
        .call(Method::POST, "/v1/notifications", notify("es_MX"))
        .await;
    assert_eq!(
        (s, refused["error"]["code"].as_str()),
        (422, Some("template_not_approved"))
    );
    let (_, shown) = f
        .call(Method::GET, "/v1/templates/kyc_pendiente", Value::Null)
        .await;
    assert_eq!(shown["meta"]["es_MX"]["status"], "paused", "{shown}");
    assert_eq!(shown["meta"]["es_MX"]["quality"], "RED", "{shown}");
    assert_eq!(
        shown["meta"]["en_US"]["reason"], "INVALID_FORMAT",
        "{shown}"
    );
    hook(
        "message_template_status_update",
        status("APPROVED", "es_MX", "NONE"),
    )
    .await;
    // Meta moves it to marketing: from then on it needs a marketing opt-in.
    hook(
        "template_category_update",
        json!({ "message_template_id": 594425479261596u64, "message_template_name": "kyc_pendiente",
            "message_template_language": "es_MX", "previous_category": "UTILITY", "new_category": "MARKETING" }),
    )
    .await;
    let (s, refused) = f
        .call(Method::POST, "/v1/notifications", notify("es_MX"))
        .await;
    assert_eq!(
        (s, refused["error"]["code"].as_str()),
        (422, Some("marketing_consent_required")),
        "{refused}"
    );

    // The account's existing templates come in with their languages and statuses, page by page.
    let page = |data: Value, after: Option<&str>| {
        let mut body = json!({ "data": data, "paging": { "cursors": { "before": "b", "after": after.unwrap_or("z") } } });
        if after.is_some() {
            body["paging"]["next"] =
                json!(format!("{base}/v25.0/{WABA}/message_templates?after=c1"));
        }
        ResponseTemplate::new(200).set_body_json(body)
    };
    Mock::given(method("GET"))
        .and(path(format!("/v25.0/{WABA}/message_templates")))
        .and(query_param_is_missing("after"))
        .respond_with(page(
            json!([
                { "id": "701", "name": "promo_credito", "language": "es_MX", "status": "APPROVED", "category": "MARKETING",
                  "components": [{ "type": "BODY", "text": "{{1}}, tienes {{2}} preaprobados",
                      "example": { "body_text": [["Ana", "$20,000"]] } },
                    { "type": "BUTTONS", "buttons": [{ "type": "URL", "text": "Ver oferta", "url": "https://go.banco.mx/l/{{1}}" }] }] },
                { "id": "702", "name": "promo_credito", "language": "en_US", "status": "PENDING", "category": "MARKETING",
                  "components": [{ "type": "BODY", "text": "{{1}}, you have {{2}} pre-approved" },
                    { "type": "BUTTONS", "buttons": [{ "type": "URL", "text": "See offer", "url": "https://go.banco.mx/l/{{1}}" }] }] }
            ]),
            Some("c1"),
        ))
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v25.0/{WABA}/message_templates")))
        .and(query_param("after", "c1"))
        .respond_with(page(
            json!([
                { "id": "703", "name": "codigo_acceso", "language": "es_MX", "status": "APPROVED", "category": "AUTHENTICATION",
                  "components": [{ "type": "BODY", "text": "*{{1}}* es tu código." },
                    { "type": "BUTTONS", "buttons": [{ "type": "OTP", "otp_type": "COPY_CODE", "text": "Copiar" }] }] },
                { "id": "704", "name": "alerta_saldo", "language": "es_MX", "status": "REJECTED", "category": "UTILITY",
                  "rejected_reason": "INCORRECT_CATEGORY",
                  "components": [{ "type": "BODY", "text": "Tu saldo es {{1}}", "example": { "body_text": [["$1,000"]] } }] }
            ]),
            None,
        ))
        .mount(&graph)
        .await;
    let (s, imported) = f
        .call(Method::POST, "/v1/templates/import", Value::Null)
        .await;
    assert_eq!(s, 200, "{imported}");
    assert_eq!(
        imported["created"],
        json!(["alerta_saldo", "promo_credito"]),
        "{imported}"
    );
    assert_eq!(
        imported["skipped"][0]["name"], "codigo_acceso",
        "{imported}"
    );
    let (_, promo) = f
        .call(Method::GET, "/v1/templates/promo_credito", Value::Null)
        .await;
    assert_eq!(promo["category"], "marketing", "{promo}");
    assert_eq!(promo["translations"][0]["language"], "en_US", "{promo}");
    assert_eq!(promo["meta"]["es_MX"]["status"], "approved", "{promo}");
    assert_eq!(promo["meta"]["en_US"]["status"], "pending", "{promo}");
    assert_eq!(promo["buttons"][0]["type"], "url", "{promo}");
    f.consent(CUSTOMER, true).await;
    let (s, a) = f
        .call(
            Method::POST,
            "/v1/notifications",
            json!({ "to": CUSTOMER, "template": "promo_credito", "kind": "loan_preapproval",
                "parameters": ["Mariana", "$25,000"], "button_urls": ["https://banco-tepeyac.mx/prestamo"] }),
        )
        .await;
    assert_eq!(s, 202, "an imported, approved template is sent: {a}");
    let (s, refused) = f
        .call(
            Method::POST,
            "/v1/notifications",
            json!({ "to": CUSTOMER, "template": "alerta_saldo", "parameters": ["$1,000"] }),
        )
        .await;
    assert_eq!(
        (s, refused["error"]["code"].as_str()),
        (422, Some("template_not_approved"))
    );
    f.app.stop().await;
}

mod meta_templates {
    use super::*;
    on_both_engines!(templates_go_through_metas_review_and_only_approved_ones_are_sent);
}
