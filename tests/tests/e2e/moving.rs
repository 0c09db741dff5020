//! The one box outgrows its machine: everything the embedded engine holds moves to the AWS engine
//! (DynamoDB, S3, KMS and SQS on moto), and the merchant's API answers the same there: orders,
//! invoices and their files, consent, fiscal data and the conversation (sealed texts sealed again
//! with KMS), with the same API key.

use mostrador_app::flows::upkeep::{move_all, MoveError, MoveOptions};
use mostrador_e2e::{eventually, eventually_value, Engine, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

const CENTRO: &str = "100000000000001";
const RAW: &str = "5215598765432";
const CUSTOMER: &str = "525598765432";

async fn get(app: &TestApp, key: &str, path: &str) -> (u16, Vec<u8>) {
    let r = app
        .as_merchant(key, Method::GET, path)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.bytes().await.expect("body").to_vec())
}

async fn get_json(app: &TestApp, key: &str, path: &str) -> Value {
    let (status, body) = get(app, key, path).await;
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).expect("json")
}

async fn say(app: &TestApp, n: &mut u32, message: Value) {
    *n += 1;
    let mut message = message;
    message["from"] = json!(RAW);
    message["id"] = json!(format!("wamid.move.{}.{}", std::process::id(), n));
    message["timestamp"] = json!(chrono::Utc::now().timestamp().to_string());
    let body = serde_json::to_vec(&json!({ "object": "whatsapp_business_account", "entry": [{ "id": "1", "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": { "display_phone_number": "5215550000001", "phone_number_id": CENTRO },
        "contacts": [{ "wa_id": RAW, "profile": { "name": "Rosa Elena Ibarra" } }], "messages": [message] } }] }] }))
    .expect("json");
    assert_eq!(app.post_webhook(&body).await.status(), 200);
}

/// What the merchant reads about the customer, in the order it compares.
async fn what_the_merchant_sees(app: &TestApp, key: &str, order_id: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for path in [
        "/v1/orders".to_owned(),
        format!("/v1/orders/{order_id}"),
        format!("/v1/invoices/{order_id}"),
        "/v1/invoices".to_owned(),
        format!("/v1/customers/{CUSTOMER}/consent"),
        format!("/v1/conversations/{CUSTOMER}/messages?limit=100"),
        format!("/v1/conversations/{CUSTOMER}/notes"),
        "/v1/branches".to_owned(),
        "/v1/settings/invoicing".to_owned(),
    ] {
        out.push((path.clone(), get_json(app, key, &path).await));
    }
    out
}

#[tokio::test]
async fn the_one_box_moves_to_aws_and_the_merchant_finds_everything_there() {
    let source = TestApp::spawn(Engine::Embedded).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&source.deps, dir.path())
        .await
        .expect("demo");
    let key = demo.api_key.clone();
    let mut n = 0;

    // A message too long for a queue (kept sealed in the file store), a purchase, an invoice,
    // consent and a note.
    say(
        &source,
        &mut n,
        json!({ "type": "text", "text": { "body": "😀".repeat(60_000) } }),
    )
    .await;
    say(&source, &mut n, json!({ "type": "order", "order": { "catalog_id": "123", "product_items": [
        { "product_retailer_id": "7501008491072", "quantity": 3, "item_price": 45.5, "currency": "MXN" } ] } })).await;
    eventually("the cart summary", || async {
        let o = get_json(&source, &key, "/v1/outbox?limit=200").await;
        o.to_string().contains("confirmar")
    })
    .await;
    say(&source, &mut n, json!({ "type": "interactive", "interactive": { "type": "button_reply", "button_reply": { "id": "confirmar", "title": "Confirmar" } } })).await;
    let order: Value = eventually_value("the order placed", || async {
        let o = get_json(&source, &key, "/v1/orders").await;
        o["orders"].as_array().and_then(|l| l.first().cloned())
    })
    .await;
    let order_id = order["id"].as_str().expect("id").to_owned();
    let merchant = mostrador_app::platform::tenant::MerchantId::try_from(demo.merchant_id.clone())
        .expect("id");
    source
        .pay_in_sandbox(
            &merchant,
            &order_id,
            order["total"].as_i64().expect("total"),
            &format!("evt-move-{}", std::process::id()),
        )
        .await;
    let r = source
        .as_merchant(&key, Method::POST, &format!("/v1/orders/{order_id}/invoice"))
        .json(&json!({ "rfc": "CACX7605101P8", "nombre": "Xochilt Casas Chavez", "codigo_postal": "36257", "regimen_fiscal": "626", "uso_cfdi": "G03" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 202);
    eventually("the invoice stamped", || async {
        let (_, body) = get(&source, &key, &format!("/v1/invoices/{order_id}")).await;
        serde_json::from_slice::<Value>(&body).is_ok_and(|v| v["status"] == "stamped")
    })
    .await;
    let r = source
        .as_merchant(
            &key,
            Method::POST,
            &format!("/v1/customers/{CUSTOMER}/consent"),
        )
        .json(&json!({ "source": "whatsapp", "marketing": true,
            "wording": "Acepto recibir avisos y promociones por WhatsApp.",
            "privacy_notice_url": "https://farmacia-sanjuan.mx/aviso-de-privacidad" }))
        .send()
        .await
        .expect("send");
    assert!(r.status().is_success(), "{:?}", r.text().await);
    let r = source
        .as_merchant(
            &key,
            Method::POST,
            &format!("/v1/conversations/{CUSTOMER}/notes"),
        )
        .json(&json!({ "text": "Pide factura cada mes" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    // Quiet: every reply sent before the move.
    eventually("the queues idle", || async {
        let mut busy = 0;
        for q in [
            &source.deps.queues.inbound,
            &source.deps.queues.outbound,
            &source.deps.queues.invoicing,
        ] {
            let d = q.depth().await.expect("depth");
            busy += d.visible + d.in_flight;
        }
        busy == 0
    })
    .await;
    let before = what_the_merchant_sees(&source, &key, &order_id).await;
    let (_, pdf_before) = get(&source, &key, &format!("/v1/invoices/{order_id}/pdf")).await;
    let (_, xml_before) = get(&source, &key, &format!("/v1/invoices/{order_id}/xml")).await;

    let target = TestApp::spawn(Engine::Aws).await;
    let moved = move_all(&source.deps, &target.deps, MoveOptions::default())
        .await
        .expect("move");
    assert_eq!(moved.merchants, std::slice::from_ref(&demo.merchant_id));
    assert_eq!(moved.verified, moved.items);
    assert!(
        moved.resealed >= 4,
        "CSD, receptor, fiscal data, texts: {moved:?}"
    );
    assert_eq!(moved.files_resealed, 1, "the long message: {moved:?}");
    assert!(moved.files >= 3, "{moved:?}");

    // The target's processes start again (they read the deployment's keys as they start: the
    // pseudonym key is now the one the box used).
    let target = target.restart(Default::default()).await;
    // The same key, the same answers, from DynamoDB, S3 and KMS.
    let after = what_the_merchant_sees(&target, &key, &order_id).await;
    for ((path, was), (_, is)) in before.iter().zip(&after) {
        assert_eq!(was, is, "{path} differs after the move");
    }
    let conversation = after[5].1.to_string();
    let notes = after[6].1.to_string();
    assert!(
        conversation.contains("😀😀😀")
            && conversation.contains("Registramos tu pedido")
            && notes.contains("Pide factura cada mes"),
        "texts sealed again with KMS read back: {}",
        conversation.chars().take(400).collect::<String>()
    );
    assert_eq!(
        get(&target, &key, &format!("/v1/invoices/{order_id}/pdf"))
            .await
            .1,
        pdf_before
    );
    assert_eq!(
        get(&target, &key, &format!("/v1/invoices/{order_id}/xml"))
            .await
            .1,
        xml_before
    );
    // No sealed value is the source's envelope any more: the local key opens none of them.
    let mut cursor = None;
    loop {
        let page = target.deps.table.scan("", cursor, 500).await.expect("scan");
        for item in &page.items {
            for value in item.attrs.values() {
                if let mostrador_store::Value::B(b) = value {
                    for context in mostrador_app::platform::sealed::Sealing::candidates(
                        &demo.merchant_id,
                        &[&order_id, CUSTOMER],
                    ) {
                        assert!(source.deps.keys.open(b, &context).await.is_err());
                    }
                }
            }
        }
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    // A second move into the same table is refused.
    let again = move_all(&source.deps, &target.deps, MoveOptions::default()).await;
    assert!(
        matches!(again, Err(MoveError::TargetNotEmpty(_))),
        "{again:?}"
    );
}
