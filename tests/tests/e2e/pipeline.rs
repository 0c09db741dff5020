//! Whole flows through the local stack: signed webhook → inbound queue → consumer → table; jobs;
//! dead letters and replay; restarts.

use chrono::Utc;
use mostrador_app::entry::jobs::{self, DueAction, Job};
use mostrador_app::platform::tenant::{MerchantId, TenantTable};
use mostrador_core::{Clock, FixedClock};
use mostrador_e2e::{
    eventually, on_both_engines, test_config, text_webhook, text_webhook_at, Engine, TestApp,
};
use mostrador_local::Options;
use mostrador_queue::OutgoingMessage;
use mostrador_store::{Query, Table};
use serde_json::{json, Value};
use std::sync::Arc;

async fn stored_messages(app: &TestApp, merchant: &str, wa_id: &str) -> usize {
    let id = MerchantId::try_from(merchant.to_owned()).expect("id");
    let t = TenantTable::of(&app.deps, &id);
    // The conversation log holds the bot's replies too; count what the customer sent.
    t.query(Query::partition(format!("CUST#{}", t.customer(wa_id))).prefix("MSG#"))
        .await
        .expect("query")
        .items
        .iter()
        .filter(|i| i.get_s("direction") == Some("in"))
        .count()
}

async fn signed_message_is_stored_once_however_often_meta_delivers_it(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (merchant, key) = app.merchant("Tortas Doña Mary").await;
    app.branch(&key, "Roma", Some("106540352242922")).await;
    // Accents, emoji, "/", "@" and escaped unicode, as Meta sends them.
    let body = text_webhook_at(
        "106540352242922",
        "5215512345678",
        "wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFjNFQjBDNzE2",
        "Quiero 2 tortas de cochinita 🌮 y un jugo https://x.mx/a @tienda",
        1_763_726_400,
    );
    let body = String::from_utf8(body)
        .expect("utf8")
        .replace("ñ", "\\u00f1")
        .replace('/', "\\/");
    for attempt in 0..3 {
        let r = app.post_webhook(body.as_bytes()).await;
        assert_eq!(r.status(), 200);
        let report: Value = r.json().await.expect("json");
        if attempt == 0 {
            assert_eq!(report["enqueued"], 1);
        } else {
            assert_eq!(report["duplicates"], 1, "delivery {attempt}");
            assert_eq!(report["enqueued"], 0);
        }
    }
    // 521... and 52... are one customer.
    eventually("the message is stored", || async {
        stored_messages(&app, &merchant, "525512345678").await == 1
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(stored_messages(&app, &merchant, "525512345678").await, 1);
    let id = MerchantId::try_from(merchant.clone()).expect("id");
    let tenant = TenantTable::of(&app.deps, &id);
    let profile = tenant
        .get(&mostrador_store::Key::new(
            format!("CUST#{}", tenant.customer("525512345678")),
            "PROFILE",
        ))
        .await
        .expect("get")
        .expect("customer profile");
    // The name is sealed at rest, and opens for the merchant.
    assert_eq!(profile.get_s("profile_name"), None);
    assert!(profile.get("profile_name_sealed").is_some());
    assert_eq!(
        mostrador_app::parties::customers::name_in(&app.deps, &tenant, &profile)
            .await
            .as_deref(),
        Some("Mariana López")
    );
    assert_eq!(profile.get_n("last_inbound_at"), Some(1_763_726_400));
    app.stop().await;
}

async fn unsigned_or_forged_webhooks_store_nothing(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (merchant, key) = app.merchant("Abarrotes Lupe").await;
    app.branch(&key, "Centro", Some("1111")).await;
    let body = text_webhook("1111", "5215500000001", "wamid.forged", "hola");
    let none = app
        .http
        .post(format!("{}/webhooks/whatsapp", app.url))
        .body(body.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(none.status(), 401);
    let forged = app
        .http
        .post(format!("{}/webhooks/whatsapp", app.url))
        .header(
            "x-hub-signature-256",
            mostrador_whatsapp::signature::sign(b"not-the-secret", &body),
        )
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(forged.status(), 401);
    let not_json = app.post_webhook(b"{\"object\": ").await;
    assert_eq!(not_json.status(), 400);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(stored_messages(&app, &merchant, "525500000001").await, 0);
    assert_eq!(
        app.deps
            .queues
            .inbound
            .depth()
            .await
            .expect("depth")
            .visible,
        0
    );
    app.stop().await;
}

async fn unregistered_number_is_acknowledged_and_counted(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let r = app
        .post_webhook(&text_webhook(
            "999999",
            "5215500000002",
            "wamid.lost",
            "hola",
        ))
        .await;
    assert_eq!(r.status(), 200, "Meta must not retry for 7 days");
    assert_eq!(r.json::<Value>().await.expect("json")["unrouted"], 1);
    let day = Utc::now().format("%Y-%m-%d").to_string();
    let stat = app
        .deps
        .table
        .get(&mostrador_store::Key::new(
            "STATS#unrouted",
            format!("{day}#999999"),
        ))
        .await
        .expect("get");
    assert_eq!(stat.and_then(|s| s.get_n("messages")), Some(1));
    app.stop().await;
}

async fn acknowledged_messages_survive_a_restart(engine: Engine) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = test_config(engine, dir.path());
    let secret = config.whatsapp_app_secret.expose().to_owned();
    // First run: no pollers, so the message is only on the queue when the process stops.
    let deps = mostrador_app::Deps::build(config.clone())
        .await
        .expect("deps");
    let merchant = mostrador_app::parties::merchants::create_merchant(
        &deps,
        serde_json::from_value(json!({ "name": "Farmacia" })).expect("input"),
    )
    .await
    .expect("merchant");
    let issued =
        mostrador_app::parties::merchants::issue_key(&deps, &merchant.id, Default::default())
            .await
            .expect("key");
    let caller = mostrador_app::parties::merchants::resolve_key(&deps, &issued.api_key)
        .await
        .expect("caller");
    let branch = serde_json::from_value(
        json!({ "name": "Centro", "postal_code": "06700", "phone_number_id": "2222" }),
    )
    .expect("branch");
    mostrador_app::parties::merchants::create_branch(&deps, &caller, branch)
        .await
        .expect("branch");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let running = mostrador_local::start(
        deps.clone(),
        listener,
        Options {
            pollers: false,
            scheduler: false,
            ..Default::default()
        },
    )
    .await
    .expect("start");
    let body = text_webhook(
        "2222",
        "5215500000003",
        "wamid.restart",
        "¿tienen paracetamol?",
    );
    let r = reqwest::Client::new()
        .post(format!("http://{}/webhooks/whatsapp", running.addr))
        .header(
            "x-hub-signature-256",
            mostrador_whatsapp::signature::sign(secret.as_bytes(), &body),
        )
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    running.stop().await;
    // The same deployment again: its resources as the first run made them (the same KMS key).
    let config = (*deps.config).clone();
    drop(deps);
    // Second run on the same data: the poller picks the message up.
    let deps = mostrador_app::Deps::build(config)
        .await
        .expect("deps again");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let running = mostrador_local::start(deps.clone(), listener, Options::default())
        .await
        .expect("start");
    let t = TenantTable::of(&deps, &merchant.id);
    eventually("the message is processed after the restart", || async {
        t.query(Query::partition(format!("CUST#{}", t.customer("525500000003"))).prefix("MSG#"))
            .await
            .expect("query")
            .items
            .iter()
            .filter(|i| i.get_s("direction") == Some("in"))
            .count()
            == 1
    })
    .await;
    running.stop().await;
}

async fn due_jobs_run_once_and_resume_after_a_cut(engine: Engine) {
    let start = Utc::now();
    let clock = FixedClock::at(start);
    let app = TestApp::spawn_with(
        engine,
        Arc::new(clock.clone()),
        Options {
            pollers: false,
            scheduler: false,
            ..Default::default()
        },
    )
    .await;
    let merchant = MerchantId::try_from("M1".to_owned()).expect("id");
    for i in 0..5 {
        let action = DueAction::Enqueue {
            queue: "invoicing".into(),
            body: json!({ "merchant_id": "M1", "order_id": format!("order-{i}") }).to_string(),
            group_id: None,
            dedup_id: None,
        };
        jobs::schedule(
            &app.deps,
            &merchant,
            Job::GlobalInvoices,
            &format!("e{i}"),
            start.timestamp_millis() + 60_000 + i,
            &action,
        )
        .await
        .expect("schedule");
    }
    let far = |c: &FixedClock| c.now_ms() + 300_000;
    let early = jobs::run(&app.deps, Job::GlobalInvoices, far(&clock))
        .await
        .expect("run");
    assert_eq!(early.processed, 0, "nothing is due yet");
    clock.advance(chrono::Duration::minutes(2));
    // A run whose deadline has come does nothing and says there is more.
    let cut = jobs::run(&app.deps, Job::GlobalInvoices, clock.now_ms())
        .await
        .expect("run");
    assert_eq!((cut.processed, cut.more), (0, true));
    let run = jobs::run(&app.deps, Job::GlobalInvoices, far(&clock))
        .await
        .expect("run");
    assert_eq!(run.processed, 5);
    let again = jobs::run(&app.deps, Job::GlobalInvoices, far(&clock))
        .await
        .expect("run");
    assert_eq!(again.processed, 0, "a double firing does nothing twice");
    // Other jobs' entries are not touched.
    let other = jobs::run(&app.deps, Job::ExpireOrders, far(&clock))
        .await
        .expect("run");
    assert_eq!(other.processed, 0);
    let mut bodies = Vec::new();
    for _ in 0..5 {
        for m in app
            .deps
            .queues
            .invoicing
            .receive(
                10,
                std::time::Duration::from_secs(30),
                std::time::Duration::from_secs(1),
            )
            .await
            .expect("receive")
        {
            bodies.push(m.body);
        }
        if bodies.len() >= 5 {
            break;
        }
    }
    assert_eq!(bodies.len(), 5);
    app.stop().await;
}

/// A process that claimed a wamid and died before the message reached the queue: Meta's retry is
/// answered 503 (not "duplicate", which would make Meta stop retrying and lose the message) until the
/// claim expires, and then stored and queued once.
async fn a_claim_left_by_a_crash_is_not_taken_for_a_duplicate(engine: Engine) {
    let clock = FixedClock::at(Utc::now());
    let app = TestApp::spawn_with(
        engine,
        Arc::new(clock.clone()),
        Options {
            pollers: false,
            scheduler: false,
            ..Default::default()
        },
    )
    .await;
    let (_, key) = app.merchant("Farmacia").await;
    app.branch(&key, "Centro", Some("300000000000001")).await;
    let wamid = "wamid.crash.1";
    // What the dead process left: the wamid claimed, nothing sent.
    let claim = app
        .deps
        .idempotency
        .claim::<bool>("wamid", wamid, wamid.as_bytes(), clock.now_ms() + 10_000)
        .await
        .expect("claim");
    assert!(matches!(
        claim,
        mostrador_store::idempotency::Claim::Acquired
    ));
    let body = text_webhook_at(
        "300000000000001",
        "5215511112222",
        wamid,
        "Hola",
        clock.now_secs(),
    );
    let retry = app.post_webhook(&body).await;
    assert_eq!(retry.status(), 503, "Meta must deliver it again");
    let queued = app
        .deps
        .queues
        .inbound
        .receive(
            10,
            std::time::Duration::from_secs(1),
            std::time::Duration::ZERO,
        )
        .await
        .expect("receive");
    assert!(queued.is_empty(), "nothing queued while the claim is held");
    clock.advance(chrono::Duration::seconds(11));
    let later = app.post_webhook(&body).await;
    assert_eq!(later.status(), 200);
    assert_eq!(later.json::<Value>().await.expect("json")["enqueued"], 1);
    let again = app.post_webhook(&body).await;
    assert_eq!(again.json::<Value>().await.expect("json")["duplicates"], 1);
    app.stop().await;
}

/// Meta may deliver an older message after a newer one: the customer's window, number and name
/// follow the newest message, and the first one seen is the oldest.
async fn a_late_older_message_never_moves_the_window_back(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (merchant, key) = app.merchant("Farmacia").await;
    app.branch(&key, "Centro", Some("300000000000002")).await;
    let now = Utc::now().timestamp();
    for (wamid, at) in [("wamid.late.new", now), ("wamid.late.old", now - 3_600)] {
        let body = text_webhook_at("300000000000002", "5215533334444", wamid, "hola", at);
        assert_eq!(app.post_webhook(&body).await.status(), 200);
        let (a, m) = (&app, merchant.as_str());
        let want = if at == now { 1 } else { 2 };
        eventually("the message stored", || async move {
            stored_messages(a, m, "525533334444").await >= want
        })
        .await;
    }
    let id = MerchantId::try_from(merchant).expect("id");
    let t = TenantTable::of(&app.deps, &id);
    let key = mostrador_app::platform::schema::customer_profile(&t.customer("525533334444"));
    // The log entry is written before the profile: wait until the older message reached it.
    let (table, k) = (&t, &key);
    eventually("the older message applied to the profile", || async move {
        table
            .get(k)
            .await
            .ok()
            .flatten()
            .and_then(|p| p.get_n("first_seen_at"))
            == Some(now - 3_600)
    })
    .await;
    let profile = t.get(&key).await.expect("get").expect("profile");
    assert_eq!(
        profile.get_n("last_inbound_at"),
        Some(now),
        "the newest message decides the window"
    );
    app.stop().await;
}

on_both_engines!(
    a_late_older_message_never_moves_the_window_back,
    a_claim_left_by_a_crash_is_not_taken_for_a_duplicate,
    signed_message_is_stored_once_however_often_meta_delivers_it,
    unsigned_or_forged_webhooks_store_nothing,
    unregistered_number_is_acknowledged_and_counted,
    acknowledged_messages_survive_a_restart,
    due_jobs_run_once_and_resume_after_a_cut,
);

/// Embedded only: the backoff between receives is driven by the injected clock (SQS uses real time;
/// the SQS contract suite covers its redrive).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_record_lands_in_the_dead_letter_queue_and_replays() {
    let clock = FixedClock::at(Utc::now());
    let app = TestApp::spawn_with(
        Engine::Embedded,
        Arc::new(clock.clone()),
        Options {
            pollers: true,
            scheduler: false,
            ..Default::default()
        },
    )
    .await;
    app.deps
        .queues
        .invoicing
        .send(OutgoingMessage::new(
            "{\"this is\": \"not an invoice request\"}",
        ))
        .await
        .expect("send");
    for _ in 0..40 {
        clock.advance(chrono::Duration::minutes(20));
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        if app.deps.queues.invoicing.depth().await.expect("depth").dead == 1 {
            break;
        }
    }
    let queues: Value = app
        .admin(reqwest::Method::GET, "/v1/admin/queues")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(queues["queues"]["invoicing"]["dead"], 1, "{queues}");
    let letters: Value = app
        .admin(
            reqwest::Method::GET,
            "/v1/admin/queues/invoicing/dead-letters",
        )
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    // No retry can help a malformed record: it is dead-lettered on its first receive.
    assert_eq!(letters["dead_letters"][0]["receive_count"], 1);
    let replayed: Value = app
        .admin(reqwest::Method::POST, "/v1/admin/queues/invoicing/replay")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(replayed["replayed"], 1);
    // Back on its queue, the record is received afresh and, still malformed, dead-lettered again on
    // that first receive: replayed once, never retried.
    let mut depth = app.deps.queues.invoicing.depth().await.expect("depth");
    for _ in 0..40 {
        if depth.dead == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        depth = app.deps.queues.invoicing.depth().await.expect("depth");
    }
    assert_eq!(depth.dead, 1, "{depth:?}");
    assert_eq!(depth.visible + depth.in_flight, 0, "{depth:?}");
    let again = app
        .deps
        .queues
        .invoicing
        .dead_letters(10)
        .await
        .expect("dead");
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].receive_count, 1,
        "dead-lettered on its first receive after the replay"
    );
    app.stop().await;
}

async fn outbox_fills_through_the_running_stack(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (_, key) = app.merchant("Cocina Económica Lulú").await;
    let branch = app.branch(&key, "Narvarte", Some("3333")).await;
    let r = app
        .post_webhook(&text_webhook(
            "3333",
            "5215511112222",
            "wamid.outbox",
            "¿tienen comida corrida?",
        ))
        .await;
    assert_eq!(r.status(), 200);
    // The customer's message opens the window once order-confirm has recorded it.
    let mut queued = None;
    for _ in 0..100 {
        let r = app
            .as_merchant(&key, reqwest::Method::POST, "/v1/messages")
            .json(&json!({ "branch_id": branch, "to": "5215511112222", "message": { "type": "text", "text": { "body": "Sí, hoy hay mole 🍗" } } }))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 202);
        let id = r.json::<Value>().await.expect("json")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let mut status = Value::Null;
        for _ in 0..40 {
            status = app
                .as_merchant(&key, reqwest::Method::GET, &format!("/v1/messages/{id}"))
                .send()
                .await
                .expect("send")
                .json()
                .await
                .expect("json");
            if status["status"].is_string() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        if status["status"] == "sandbox" {
            queued = Some(id);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let id = queued.expect("a message reaches the outbox through the pollers");
    let outbox: Value = app
        .as_merchant(&key, reqwest::Method::GET, "/v1/outbox")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let ours = outbox["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["id"] == id.as_str())
        .expect("our message is in the outbox, beside the conversation's replies")
        .clone();
    assert_eq!(ours["message"]["text"]["body"], "Sí, hoy hay mole 🍗");
    app.stop().await;
}

mod through_the_stack {
    use super::*;
    on_both_engines!(outbox_fills_through_the_running_stack);
}
