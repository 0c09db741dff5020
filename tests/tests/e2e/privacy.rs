//! A customer's rights over their data (LFPDPPP), end to end: after a chat purchase, an invoice, a
//! notification and a staff note, the export holds all of it (JSON and ZIP with the files); the
//! erasure leaves the customer's number, name and words nowhere in the table or the file store but
//! in the retained fiscal records; the requests and reads are on record.

use mostrador_e2e::{eventually, on_both_engines, Engine, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

const CENTRO: &str = "100000000000001";
/// As Meta sends it, and as it is stored (Mexican mobiles lose the 1 after 52).
const RAW: &str = "5215512345678";
const CUSTOMER: &str = "525512345678";
const NAME: &str = "Mariana Quintanilla";
const SECRET_WORDS: &str = "tengo migraña desde el martes";

async fn call(
    app: &TestApp,
    key: &str,
    m: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = app.as_merchant(key, m, path);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.expect("send");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The customer's conversation as the merchant API shows it.
async fn conversation(app: &TestApp, key: &str) -> (u16, Value) {
    call(
        app,
        key,
        Method::GET,
        &format!("/v1/conversations/{CUSTOMER}/messages"),
        None,
    )
    .await
}

async fn say(app: &TestApp, n: &mut u32, message: Value) {
    say_at(app, n, message, chrono::Utc::now().timestamp()).await;
}

/// A message the customer sent at `at` (seconds), delivered now.
async fn say_at(app: &TestApp, n: &mut u32, message: Value, at: i64) {
    *n += 1;
    let mut message = message;
    message["from"] = json!(RAW);
    message["id"] = json!(format!("wamid.arco.{}.{}", std::process::id(), n));
    message["timestamp"] = json!(at.to_string());
    let body = serde_json::to_vec(&json!({ "object": "whatsapp_business_account", "entry": [{ "id": "1", "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": { "display_phone_number": "5215550000001", "phone_number_id": CENTRO },
        "contacts": [{ "wa_id": RAW, "profile": { "name": NAME } }], "messages": [message] } }] }] }))
    .expect("json");
    assert_eq!(app.post_webhook(&body).await.status(), 200);
}

/// Every item of the table (all merchants and the platform) and every stored file, as text.
async fn everything(app: &TestApp) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = app.deps.table.scan("", cursor, 500).await.expect("scan");
        for item in page.items {
            let pk = item.get_s("pk").unwrap_or_default().to_owned();
            out.push((pk, serde_json::to_string(&item).expect("json")));
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    for key in app.deps.blobs.list("").await.expect("list blobs") {
        if let Some(blob) = app.deps.blobs.get(&key).await.expect("blob") {
            out.push((
                format!("blob:{key}"),
                String::from_utf8_lossy(&blob.body).into_owned(),
            ));
        }
    }
    out
}

/// Every stored key (`pk sk`) of a merchant's items.
async fn merchant_keys(app: &TestApp, merchant: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let page = app
            .deps
            .table
            .scan(&format!("M#{merchant}#"), cursor, 500)
            .await
            .expect("scan");
        keys.extend(page.items.iter().map(|i| {
            format!(
                "{} {}",
                i.get_s("pk").unwrap_or(""),
                i.get_s("sk").unwrap_or("")
            )
        }));
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    keys
}

fn names_the_customer(text: &str) -> bool {
    // JSON escapes accents; the name and the words are checked as stored and as escaped.
    let escaped = |s: &str| serde_json::to_string(s).expect("json");
    text.contains(CUSTOMER)
        || text.contains(RAW)
        || text.contains("Quintanilla")
        || text.contains("migra")
        || text.contains(escaped(SECRET_WORDS).trim_matches('"'))
}

async fn a_customer_gets_their_data_and_has_it_erased(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let key = demo.api_key.clone();
    let merchant = demo.merchant_id.clone();
    let mut n = 0;

    // A chat purchase: words that are nobody's business, an order, Confirmar.
    say(
        &app,
        &mut n,
        json!({ "type": "text", "text": { "body": SECRET_WORDS } }),
    )
    .await;
    say(&app, &mut n, json!({ "type": "order", "order": { "catalog_id": "123", "product_items": [
        { "product_retailer_id": "7501008491072", "quantity": 2, "item_price": 45.5, "currency": "MXN" } ] } })).await;
    eventually("the cart summary", || async {
        let (_, o) = call(&app, &key, Method::GET, "/v1/outbox?limit=200", None).await;
        o["messages"].as_array().is_some_and(|m| {
            m.iter().any(|m| {
                m["message"]["interactive"]["action"]["buttons"]
                    .to_string()
                    .contains("confirmar")
            })
        })
    })
    .await;
    say(&app, &mut n, json!({ "type": "interactive", "interactive": { "type": "button_reply", "button_reply": { "id": "confirmar", "title": "Confirmar" } } })).await;
    let order: Value = mostrador_e2e::eventually_value("the order placed", || async {
        let (_, o) = call(&app, &key, Method::GET, "/v1/orders", None).await;
        o["orders"].as_array().and_then(|l| l.first().cloned())
    })
    .await;
    let order_id = order["id"].as_str().expect("id").to_owned();
    assert_eq!(order["wa_id"], CUSTOMER);
    // The order's name is sealed at rest, apart from its document; the merchant reads it.
    assert_eq!(order["customer_name"], NAME, "{order}");
    {
        use mostrador_store::Table;
        let tenant = mostrador_app::platform::tenant::TenantTable::of(
            &app.deps,
            &mostrador_app::platform::tenant::MerchantId::try_from(merchant.clone()).expect("id"),
        );
        let stored = tenant
            .get(&mostrador_app::platform::schema::order(&order_id))
            .await
            .expect("get")
            .expect("the order");
        assert!(!stored
            .get_s("doc")
            .unwrap_or_default()
            .contains("Quintanilla"));
        assert!(stored.get("personal_sealed").is_some());
    }

    // Paid through the sandbox provider's signed callback, then delivered.
    let m = mostrador_app::platform::tenant::MerchantId::try_from(merchant.clone()).expect("id");
    app.pay_in_sandbox(
        &m,
        &order_id,
        order["total"].as_i64().expect("total"),
        &format!("evt-arco-{}", std::process::id()),
    )
    .await;
    let (status, body) = call(
        &app,
        &key,
        Method::POST,
        &format!("/v1/orders/{order_id}/status"),
        Some(json!({ "status": "delivered" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // The merchant's customer list finds them by name (accents and case aside) or by number, with
    // what they spent.
    for q in ["quintanilla", "Mariana QUINTANILLA", "5512345678"] {
        let (status, found) = call(
            &app,
            &key,
            Method::GET,
            &format!("/v1/customers?q={}", q.replace(' ', "%20")),
            None,
        )
        .await;
        assert_eq!(status, 200, "{found}");
        let list = found["customers"].as_array().expect("customers");
        assert_eq!(list.len(), 1, "{q}: {found}");
        assert_eq!(list[0]["wa_id"], CUSTOMER);
        assert_eq!(list[0]["name"], NAME);
        assert_eq!(list[0]["orders_paid"], 1, "{found}");
        assert_eq!(list[0]["spent"], order["total"], "{found}");
        assert!(list[0]["branch"].is_string(), "{found}");
    }
    let (status, profile) = call(
        &app,
        &key,
        Method::GET,
        &format!("/v1/customers/{CUSTOMER}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["orders"][0]["id"], order_id.as_str(), "{profile}");
    assert_eq!(profile["name"], NAME);
    let (_, none) = call(&app, &key, Method::GET, "/v1/customers?q=zacarias", None).await;
    assert_eq!(none["customers"], json!([]), "{none}");

    // An invoice with the customer's fiscal data, a staff note, a notification.
    let (status, body) = call(
        &app,
        &key,
        Method::POST,
        &format!("/v1/orders/{order_id}/invoice"),
        Some(json!({ "rfc": "CACX7605101P8", "nombre": "Xochilt Casas Chavez", "codigo_postal": "36257", "regimen_fiscal": "626", "uso_cfdi": "G03" })),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    eventually("the invoice stamped", || async {
        let (_, inv) = call(
            &app,
            &key,
            Method::GET,
            &format!("/v1/invoices/{order_id}"),
            None,
        )
        .await;
        inv["status"] == "stamped"
    })
    .await;
    let (status, body) = call(
        &app,
        &key,
        Method::POST,
        &format!("/v1/conversations/{CUSTOMER}/notes"),
        Some(json!({ "text": "Quintanilla pide factura cada mes" })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = call(
        &app,
        &key,
        Method::PUT,
        "/v1/settings/notifications",
        Some(json!({ "privacy_notice_url": "https://farmacia-sanjuan.mx/aviso-de-privacidad" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        &app,
        &key,
        Method::POST,
        "/v1/templates",
        Some(json!({
        "name": "pedido_listo", "category": "utility",
        "body": [{ "name": "cliente", "type": "text" }] })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = call(
        &app,
        &key,
        Method::POST,
        &format!("/v1/customers/{CUSTOMER}/consent"),
        Some(json!({
        "source": "whatsapp", "marketing": false,
        "wording": "Acepto recibir avisos de mis pedidos por WhatsApp." })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, notification) = call(
        &app,
        &key,
        Method::POST,
        "/v1/notifications",
        Some(json!({
        "to": CUSTOMER, "template": "pedido_listo", "kind": "other", "parameters": [NAME] })),
    )
    .await;
    assert_eq!(status, 202, "{notification}");

    // On either engine, the records of the customer themselves (profile, conversation, the
    // outbox and the record of each message sent, the notification) name them only sealed.
    let in_clear: Vec<(String, String)> = everything(&app)
        .await
        .into_iter()
        .filter(|(pk, text)| {
            (pk.contains("#CUST#")
                || pk.contains("#OUT#")
                || pk.ends_with("#OUTBOX")
                || pk.contains("#NOTIF#")
                || pk.ends_with("#HANDOFFS"))
                && (names_the_customer(text) || text.contains("5512345678"))
        })
        .collect();
    assert!(in_clear.is_empty(), "in clear: {in_clear:#?}");

    // On the one box the files themselves reveal nothing: the database, its write-ahead log and
    // the blob directory hold the customer's number, name and words nowhere in clear.
    if engine == Engine::Embedded {
        let mut files = vec![app.deps.config.data_dir.clone()];
        let mut read = 0;
        while let Some(path) = files.pop() {
            if path.is_dir() {
                for entry in std::fs::read_dir(&path).expect("dir") {
                    files.push(entry.expect("entry").path());
                }
                continue;
            }
            let bytes = std::fs::read(&path).expect("file");
            read += bytes.len();
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !names_the_customer(&text) && !text.contains("5512345678"),
                "{} reveals the customer",
                path.display()
            );
        }
        assert!(
            read > 100_000,
            "the database and the files were read ({read} bytes)"
        );
    }

    // A key for one branch cannot read or erase a customer's data.
    let r = app
        .admin(
            Method::POST,
            &format!("/v1/admin/merchants/{merchant}/api-keys"),
        )
        .json(&json!({ "label": "mostrador Centro", "branch_id": demo.branches[0].id }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    let limited: Value = r.json().await.expect("json");
    let limited = limited["api_key"].as_str().expect("key").to_owned();
    for (m, path) in [
        (Method::GET, format!("/v1/customers/{CUSTOMER}/data")),
        (Method::DELETE, format!("/v1/customers/{CUSTOMER}")),
        (Method::GET, "/v1/privacy/audit".to_owned()),
    ] {
        let (status, _) = call(&app, &limited, m.clone(), &path, None).await;
        assert_eq!(status, 403, "{m} {path} with a branch key");
    }

    // Access: everything, in JSON.
    let (status, data) = call(
        &app,
        &key,
        Method::GET,
        &format!("/v1/customers/{RAW}/data"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{data}");
    assert_eq!(data["wa_id"], CUSTOMER);
    assert_eq!(data["profile"]["profile_name"], NAME);
    assert!(
        data["conversation"].to_string().contains("migra"),
        "{}",
        data["conversation"]
    );
    assert!(
        data["conversation"]
            .as_array()
            .is_some_and(|c| c.iter().any(|m| m["direction"] == "out")),
        "the replies too"
    );
    assert_eq!(data["orders"][0]["id"], order_id.as_str());
    assert_eq!(
        data["orders"][0]["customer_name"], NAME,
        "the export opens it"
    );
    assert_eq!(data["orders"][0]["status"], "delivered");
    assert_eq!(data["invoices"][0]["status"], "stamped");
    assert_eq!(
        data["invoices"][0]["files"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(data["fiscal_data"]["rfc"], "CACX7605101P8");
    assert_eq!(data["notes"].as_array().map(Vec::len), Some(1));
    assert!(
        data["notifications"].to_string().contains("pedido_listo"),
        "{}",
        data["notifications"]
    );
    assert!(
        data["consent"]["consent"].is_object(),
        "{}",
        data["consent"]
    );
    // And as a ZIP with the invoice's XML and PDF.
    let r = app
        .as_merchant(
            &key,
            Method::GET,
            &format!("/v1/customers/{CUSTOMER}/data?format=zip"),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    let bytes = r.bytes().await.expect("zip");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip");
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    assert!(names.contains(&"datos.json".to_owned()), "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("facturas/") && n.ends_with(".xml")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("facturas/") && n.ends_with(".pdf")),
        "{names:?}"
    );
    let mut json = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("datos.json").expect("datos.json"),
        &mut json,
    )
    .expect("read");
    assert!(json.contains(&order_id));
    let (_, bad) = call(
        &app,
        &key,
        Method::GET,
        &format!("/v1/customers/{CUSTOMER}/data?format=pdf"),
        None,
    )
    .await;
    assert_eq!(bad["error"]["code"], "validation_failed", "{bad}");

    // The invoice's PDF and XML have reached the customer (the sender paces messages to one
    // customer, so this may take a while).
    let mut delivered = false;
    for _ in 0..600 {
        let (_, o) = call(&app, &key, Method::GET, "/v1/outbox?limit=200", None).await;
        let documents = o["messages"].as_array().map_or(0, |m| {
            m.iter()
                .filter(|m| m["message"]["type"] == "document")
                .count()
        });
        if documents >= 2 {
            delivered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(delivered, "the invoice was never delivered");
    // The notification has gone out (nothing for this customer is in flight when they ask); the
    // sender paces messages to one customer, so this may take a while.
    let id = notification["id"]
        .as_str()
        .expect("notification id")
        .to_owned();
    let mut sent = false;
    for _ in 0..600 {
        let (_, n) = call(
            &app,
            &key,
            Method::GET,
            &format!("/v1/notifications/{id}"),
            None,
        )
        .await;
        if !matches!(
            n["status"].as_str(),
            Some("queued" | "accepting" | "accepted" | "scheduled")
        ) {
            sent = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(sent, "the notification was never sent");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    // The customer's words are sealed at rest: not in clear anywhere, even before the erasure.
    assert!(
        !everything(&app)
            .await
            .iter()
            .any(|(_, t)| t.contains("migra")),
        "message bodies are sealed"
    );
    // Before: the customer is all over the store.
    assert!(everything(&app)
        .await
        .iter()
        .any(|(_, t)| names_the_customer(t)));
    // No key names the number: the customer's partition is their keyed hash.
    let hashed = app.deps.customer_key(CUSTOMER).to_string();
    let stored = everything(&app).await;
    assert!(stored.iter().any(|(pk, _)| pk.contains(&hashed)));
    let keyed: Vec<&String> = stored
        .iter()
        .map(|(pk, _)| pk)
        .filter(|pk| pk.contains(CUSTOMER) || pk.contains(RAW))
        .collect();
    assert!(keyed.is_empty(), "keys naming the number: {keyed:?}");

    // Cancellation.
    let (status, erased) = call(
        &app,
        &key,
        Method::DELETE,
        &format!("/v1/customers/{CUSTOMER}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{erased}");
    let pseudonym = erased["pseudonym"].as_str().expect("pseudonym").to_owned();
    assert!(erased["deleted"].as_u64().unwrap_or(0) > 5, "{erased}");
    assert_eq!(erased["anonymized"], 1, "the sale: {erased}");
    assert!(
        erased["kept"].to_string().contains("Código Fiscal"),
        "says what is kept and why: {erased}"
    );
    assert_eq!(erased["request"]["right"], "cancelacion");
    assert_eq!(erased["request"]["status"], "atendida");

    // After: the number, the name and the words are nowhere but in the retained fiscal records.
    let leftovers: Vec<(String, String)> = everything(&app)
        .await
        .into_iter()
        .filter(|(where_, text)| {
            (names_the_customer(text) || text.contains(&hashed))
                && !where_.ends_with("#INVOICES")
                && !where_.starts_with(&format!("blob:invoices/{merchant}/"))
        })
        .collect();
    assert!(
        leftovers.is_empty(),
        "still naming the customer: {leftovers:#?}"
    );
    // The sale stays for the accounting, under the pseudonym.
    let (_, kept) = call(
        &app,
        &key,
        Method::GET,
        &format!("/v1/orders/{order_id}"),
        None,
    )
    .await;
    assert_eq!(kept["wa_id"], pseudonym.as_str(), "{kept}");
    assert_eq!(kept["total"], order["total"]);
    assert!(
        kept.get("customer_name").is_none_or(Value::is_null),
        "{kept}"
    );
    let (_, inv) = call(
        &app,
        &key,
        Method::GET,
        &format!("/v1/invoices/{order_id}"),
        None,
    )
    .await;
    assert_eq!(inv["status"], "stamped", "the CFDI is kept: {inv}");

    // `mostrador check` finds nothing broken after the erasure, and finds a lost CFDI file and a
    // file no invoice owns.
    let report = mostrador_app::flows::upkeep::check(&app.deps)
        .await
        .expect("check");
    assert!(!report.has_errors(), "{:#?}", report.findings);
    assert!(report.invoices_with_files >= 1, "{report:?}");
    let invoice_id = inv["id"].as_str().expect("invoice id").to_owned();
    let pdf = mostrador_app::invoicing::issue::blob_key(&m, &invoice_id, "cfdi.pdf");
    let stray = format!("invoices/{merchant}/NOEXISTE/cfdi.xml");
    let kept_pdf = app
        .deps
        .blobs
        .get(&pdf)
        .await
        .expect("get")
        .expect("the PDF");
    app.deps.blobs.delete(&pdf).await.expect("delete");
    app.deps
        .blobs
        .put(&stray, kept_pdf.body.clone(), "application/xml")
        .await
        .expect("put");
    let report = mostrador_app::flows::upkeep::check(&app.deps)
        .await
        .expect("check");
    assert!(report.has_errors());
    let finding = |name: &str| {
        report
            .findings
            .iter()
            .find(|f| f.check == name)
            .map(|f| f.detail.clone())
            .unwrap_or_default()
    };
    let missing = finding("cfdi_file_missing");
    assert!(
        missing.contains(&invoice_id)
            && missing.contains("cfdi.pdf")
            && !missing.contains("cfdi.xml"),
        "{missing}"
    );
    assert!(
        finding("orphan_file").contains("NOEXISTE"),
        "{:#?}",
        report.findings
    );
    app.deps
        .blobs
        .put(&pdf, kept_pdf.body, &kept_pdf.content_type)
        .await
        .expect("put back");
    app.deps.blobs.delete(&stray).await.expect("delete");
    let (status, _) = call(
        &app,
        &key,
        Method::GET,
        &format!("/v1/customers/{CUSTOMER}/data"),
        None,
    )
    .await;
    assert_eq!(status, 404, "nothing is held any more");
    let (status, _) = call(
        &app,
        &key,
        Method::GET,
        &format!("/v1/customers/{CUSTOMER}"),
        None,
    )
    .await;
    assert_eq!(status, 404, "no profile any more");
    let (_, listed) = call(&app, &key, Method::GET, "/v1/customers", None).await;
    assert!(
        !listed.to_string().contains(CUSTOMER),
        "no longer among the customers: {listed}"
    );

    // A message the customer sent before the erasure, delivered after it (Meta retries; a queue
    // held it), is part of what was erased: not stored. One they send afterwards starts anew.
    let before = chrono::Utc::now().timestamp() - 30;
    say_at(
        &app,
        &mut n,
        json!({ "type": "text", "text": { "body": "un mensaje de antes del borrado" } }),
        before,
    )
    .await;
    say(
        &app,
        &mut n,
        json!({ "type": "text", "text": { "body": "hola otra vez" } }),
    )
    .await;
    let history: Value = mostrador_e2e::eventually_value("the new message stored", || async {
        let (status, h) = conversation(&app, &key).await;
        (status == 200 && h.to_string().contains("hola otra vez")).then_some(h)
    })
    .await;
    assert!(
        !history.to_string().contains("antes del borrado"),
        "the earlier message was stored again: {history}"
    );

    // On record: the access and the cancellation, answered, and who read the data.
    let (_, requests) = call(&app, &key, Method::GET, "/v1/privacy/requests", None).await;
    let rights: Vec<&str> = requests["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|r| r["status"] == "atendida")
        .filter_map(|r| r["right"].as_str())
        .collect();
    assert!(
        rights.contains(&"acceso") && rights.contains(&"cancelacion"),
        "{requests}"
    );
    assert_eq!(requests["overdue"], 0);
    let (_, audit) = call(&app, &key, Method::GET, "/v1/privacy/audit", None).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"export") && actions.contains(&"erase"),
        "{audit}"
    );

    // A request that came by mail waits with its answer day; bad input is named.
    let (status, pending) = call(
        &app,
        &key,
        Method::POST,
        "/v1/privacy/requests",
        Some(json!({
        "wa_id": "5215599990000", "right": "acceso", "channel": "correo",
        "received_at": "2026-11-02T10:00:00-06:00" })),
    )
    .await;
    assert_eq!(status, 201, "{pending}");
    assert_eq!(
        pending["due_by"], "2026-12-01",
        "20 business days, 16 November a holiday"
    );
    let (status, bad) = call(
        &app,
        &key,
        Method::POST,
        "/v1/privacy/requests",
        Some(json!({
        "wa_id": "x", "right": "borrar" })),
    )
    .await;
    assert_eq!(status, 422, "{bad}");
    let (_, requests) = call(
        &app,
        &key,
        Method::GET,
        "/v1/privacy/requests?wa_id=5215599990000",
        None,
    )
    .await;
    assert_eq!(requests["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        requests["items"][0]["overdue"], true,
        "received in November, still pending"
    );
    app.stop().await;
}

async fn messages_expire_after_the_merchant_retention(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (_, key) = app.merchant("Farmacia Retención").await;
    app.branch(&key, "Centro", Some("106540352240001")).await;
    let (status, settings) = call(&app, &key, Method::GET, "/v1/settings/privacy", None).await;
    assert_eq!(
        (status, settings["message_retention_days"].as_u64()),
        (200, Some(180))
    );
    for days in [0, 6, 1_826] {
        let (status, body) = call(
            &app,
            &key,
            Method::PUT,
            "/v1/settings/privacy",
            Some(json!({ "message_retention_days": days })),
        )
        .await;
        assert_eq!(status, 422, "{days}: {body}");
    }
    let (status, _) = call(
        &app,
        &key,
        Method::PUT,
        "/v1/settings/privacy",
        Some(json!({ "retention": 30 })),
    )
    .await;
    assert_eq!(status, 422, "unknown fields are named");
    let (status, body) = call(
        &app,
        &key,
        Method::PUT,
        "/v1/settings/privacy",
        Some(json!({ "message_retention_days": 30 })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let webhook = mostrador_e2e::text_webhook("106540352240001", RAW, "wamid.retention.1", "hola");
    assert_eq!(app.post_webhook(&webhook).await.status(), 200);
    let item = mostrador_e2e::eventually_value("the message logged", || async {
        let page = app.deps.table.scan("", None, 1_000).await.expect("scan");
        page.items.into_iter().find(|i| {
            i.get_s("sk")
                .is_some_and(|sk| sk.ends_with("#wamid.retention.1"))
        })
    })
    .await;
    let ttl = item.ttl().expect("a logged message expires");
    let now = chrono::Utc::now().timestamp();
    assert!(
        (ttl - now - 30 * 86_400).abs() < 120,
        "30 days from now, got {} days",
        (ttl - now) / 86_400
    );
    app.stop().await;
}

/// Texts logged in clear before an upgrade are sealed by the operator's one-off call, and still read.
async fn older_conversation_texts_are_sealed_once(engine: Engine) {
    use mostrador_app::platform::schema;
    use mostrador_app::platform::tenant::{MerchantId, TenantTable};
    use mostrador_store::{Item, Table};
    let app = TestApp::spawn(engine).await;
    let (merchant, key) = app.merchant("Farmacia Antigua").await;
    app.branch(&key, "Centro", Some("106540352240002")).await;
    let table = TenantTable::of(
        &app.deps,
        &MerchantId::try_from(merchant.clone()).expect("id"),
    );
    let at = chrono::Utc::now().timestamp() - 60;
    // An earlier version keyed the customer's partition, alias and hand-off by the number itself.
    let customer = table.customer(CUSTOMER);
    let legacy = |k: mostrador_store::Key| {
        mostrador_store::Key::new(format!("CUST#{CUSTOMER}"), k.sk.clone())
    };
    let message = schema::conversation_message(&customer, at, "wamid.old.1");
    let words = r#"{"type":"text","text":{"body":"me duele la muela"}}"#;
    table
        .put(
            Item::new(&legacy(schema::customer_profile(&customer)))
                .with("phone_number_id", "106540352240002")
                .with("opted_out", true)
                .with("last_inbound_at", at)
                .with("profile_name", "Rosa Quintanilla"),
            None,
        )
        .await
        .expect("profile");
    // An order an earlier version stored with the name and address in its document.
    let old_order = schema::order("o-old");
    let old_doc = json!({
        "id": "o-old", "branch_id": "B1", "wa_id": CUSTOMER, "phone_number_id": "106540352240002",
        "status": "delivered", "lines": [], "subtotal": 100, "iva": 16, "total": 116,
        "created_at": "2026-12-01T10:00:00Z", "expires_at_ms": 0, "payment_url": null,
        "fulfilment": {"kind": "delivery", "address": "Calle 5 #10, Roma"},
        "customer_name": "Rosa Quintanilla"
    });
    table
        .put(
            Item::new(&old_order)
                .with("doc", old_doc.to_string())
                .with("status", "delivered")
                .with("branch_id", "B1"),
            None,
        )
        .await
        .expect("an old order");
    // A file an earlier version stored in clear, straight into the engine under the seal.
    let file = format!("merchants/{merchant}/media/old-photo");
    app.deps
        .sealed_blobs
        .inner()
        .put(&file, b"receta de Rosa".to_vec().into(), "image/jpeg")
        .await
        .expect("an old file");
    table
        .put(
            Item::new(&legacy(message.clone()))
                .with("direction", "in")
                .with("logged_ms", at * 1000)
                .with("phone_number_id", "106540352240002")
                .with("message", words),
            None,
        )
        .await
        .expect("an old message");
    let note = schema::conversation_note(&customer, at * 1000, "n1");
    table
        .put(
            Item::new(&legacy(note.clone()))
                .with("id", "n1")
                .with("text", "alérgica a la penicilina")
                .with("author", "Ana")
                .with("at", at),
            None,
        )
        .await
        .expect("an old note");
    for old in [
        Item::new(&mostrador_store::Key::new(
            "HANDOFFS",
            format!("CUST#{CUSTOMER}"),
        ))
        .with("since", at),
        Item::new(&mostrador_store::Key::new(
            "ALIAS#MX.5512345678",
            "CUSTOMER",
        ))
        .with("customer", CUSTOMER),
    ] {
        table.put(old, None).await.expect("an old marker");
    }
    // The customer wrote again after the upgrade, before the operator's call: a new profile under
    // the pseudonym, which keeps what the old one said (the opt-out).
    table
        .put(
            Item::new(&schema::customer_profile(&customer))
                .with("wa_id", CUSTOMER)
                .with("last_inbound_at", at + 10),
            None,
        )
        .await
        .expect("a new profile");
    // A notification an earlier version stored with the fintech's metadata and details in clear.
    table
        .put(
            Item::new(&schema::notification("ntfold1"))
                .with("to", CUSTOMER)
                .with("template", "movimiento")
                .with("status", "sent")
                .with("metadata", r#"{"cuenta":"CTA-99812"}"#)
                .with("details", "Cargo de $80 en Farmacia"),
            None,
        )
        .await
        .expect("an old notification");
    let seal = || {
        app.admin(
            Method::POST,
            &format!("/v1/admin/merchants/{merchant}/seal-conversations"),
        )
        .send()
    };
    let first: Value = seal().await.expect("send").json().await.expect("json");
    assert_eq!(
        first["sealed"], 5,
        "message, note, profile name, order and notification: {first}"
    );
    let old_notification = table
        .get(&schema::notification("ntfold1"))
        .await
        .expect("get")
        .expect("kept");
    let raw = serde_json::to_string(&old_notification).expect("json");
    assert!(
        !raw.contains("CTA-99812") && !raw.contains("Cargo de $80") && !raw.contains(CUSTOMER),
        "{raw}"
    );
    let (_, view) = call(&app, &key, Method::GET, "/v1/notifications/ntfold1", None).await;
    assert_eq!(view["metadata"]["cuenta"], "CTA-99812", "{view}");
    assert!(
        view["to"].as_str().is_some_and(|t| t.ends_with("5678")),
        "the recipient opened and shortened: {view}"
    );
    assert_eq!(first["files_sealed"], 1, "{first}");
    assert_eq!(
        first["keys_moved"], 5,
        "profile, message, note, hand-off and alias: {first}"
    );
    let again: Value = seal().await.expect("send").json().await.expect("json");
    assert_eq!(again["keys_moved"], 0, "{again}");
    assert_eq!(again["sealed"], 0, "{again}");
    // No key of the merchant names the customer's number any more.
    let keys = merchant_keys(&app, &merchant).await;
    assert!(!keys.iter().any(|k| k.contains("5512345678")), "{keys:?}");
    let (_, waiting) = call(&app, &key, Method::GET, "/v1/conversations", None).await;
    assert_eq!(waiting["conversations"][0]["wa_id"], CUSTOMER, "{waiting}");
    assert_eq!(again["files_sealed"], 0, "{again}");
    let profile = table
        .get(&schema::customer_profile(&customer))
        .await
        .expect("get")
        .expect("kept");
    // Who the profile is, sealed like its name.
    assert_eq!(profile.get_s("wa_id"), None);
    assert_eq!(
        mostrador_app::parties::conversation::text_of(&app.deps, &table, &profile, "wa_id")
            .await
            .as_deref(),
        Some(CUSTOMER)
    );
    assert_eq!(
        profile.get_n("last_inbound_at"),
        Some(at + 10),
        "the newer kept"
    );
    assert_eq!(
        profile.get("opted_out"),
        Some(&mostrador_store::Value::Bool(true)),
        "the older's opt-out kept"
    );
    assert!(
        profile.get_s("profile_name").is_none() && profile.get("profile_name_sealed").is_some()
    );
    let raw = app
        .deps
        .sealed_blobs
        .inner()
        .get(&file)
        .await
        .expect("get")
        .expect("kept");
    assert!(
        !String::from_utf8_lossy(&raw.body).contains("Rosa"),
        "sealed at rest"
    );
    let opened = app.deps.blobs.get(&file).await.expect("get").expect("kept");
    assert_eq!(&opened.body[..], b"receta de Rosa");
    let (_, profile) = call(
        &app,
        &key,
        Method::GET,
        &format!("/v1/customers/{CUSTOMER}"),
        None,
    )
    .await;
    assert_eq!(profile["name"], "Rosa Quintanilla", "{profile}");
    let stored_order = table.get(&old_order).await.expect("get").expect("kept");
    let doc = stored_order.get_s("doc").unwrap_or_default();
    assert!(!doc.contains("Rosa") && !doc.contains("Roma"), "{doc}");
    assert!(stored_order.get("personal_sealed").is_some());
    let (_, order) = call(&app, &key, Method::GET, "/v1/orders/o-old", None).await;
    assert_eq!(order["customer_name"], "Rosa Quintanilla", "{order}");
    assert_eq!(
        order["fulfilment"]["address"], "Calle 5 #10, Roma",
        "{order}"
    );
    let stored = table.get(&message).await.expect("get").expect("kept");
    assert!(stored.get_s("message").is_none() && stored.get("message_sealed").is_some());
    assert!(stored.ttl().is_some_and(|t| t > at), "given the retention");
    let stored_note = table.get(&note).await.expect("get").expect("kept");
    assert!(stored_note.get_s("text").is_none());
    let (_, conv) = conversation(&app, &key).await;
    assert_eq!(
        conv["messages"][0]["message"]["text"]["body"], "me duele la muela",
        "{conv}"
    );
    let (_, notes) = call(
        &app,
        &key,
        Method::GET,
        &format!("/v1/conversations/{CUSTOMER}/notes"),
        None,
    )
    .await;
    assert_eq!(
        notes["notes"][0]["text"], "alérgica a la penicilina",
        "{notes}"
    );
    let r = app
        .admin(
            Method::POST,
            "/v1/admin/merchants/nobody/seal-conversations",
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
    app.stop().await;
}

/// An export too large to answer in the response (Lambda answers at most 6 MB; the limit is lowered
/// here) is a 303 to a signed link to a stored copy, deleted when the link expires.
async fn a_large_export_is_a_link_that_expires(engine: Engine) {
    use mostrador_core::Clock;
    let clock = mostrador_core::FixedClock::at(chrono::Utc::now());
    let app = TestApp::spawn_full(
        engine,
        std::sync::Arc::new(clock.clone()),
        mostrador_local::Options::default(),
        &[("MOSTRADOR_EXPORT_INLINE_MAX_BYTES", "64")],
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let mut n = 0;
    say(
        &app,
        &mut n,
        json!({ "type": "text", "text": { "body": "hola" } }),
    )
    .await;
    let r = eventually_ready(&app, &demo.api_key).await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["url"], location.as_str());
    assert!(body["bytes"].as_u64().unwrap_or(0) > 64, "{body}");
    let token = location.split("/files/").nth(1).expect("a /files link");
    let file = app
        .http
        .get(format!("{}/files/{token}", app.url))
        .send()
        .await
        .expect("send");
    assert_eq!(file.status(), 200);
    let bytes = file.bytes().await.expect("zip");
    let zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip");
    assert!(zip.file_names().any(|n| n == "datos.json"));
    // The copy is deleted once its link has expired (an hour), and the link answers no more.
    let prefix = format!("exports/{}/arco/", demo.merchant_id);
    assert_eq!(app.deps.blobs.list(&prefix).await.expect("list").len(), 1);
    clock.advance(chrono::Duration::hours(2));
    mostrador_app::entry::jobs::run(
        &app.deps,
        mostrador_app::entry::jobs::Job::DueNotifications,
        clock.now_ms() + 60_000,
    )
    .await
    .expect("run");
    assert!(app.deps.blobs.list(&prefix).await.expect("list").is_empty());
    let gone = app
        .http
        .get(format!("{}/files/{token}", app.url))
        .send()
        .await
        .expect("send");
    assert_eq!(gone.status(), 404);
    app.stop().await;
}

/// The customer's export once their first message is in.
async fn eventually_ready(app: &TestApp, key: &str) -> reqwest::Response {
    for _ in 0..200 {
        let r = app
            .as_merchant(
                key,
                Method::GET,
                &format!("/v1/customers/{CUSTOMER}/data?format=zip"),
            )
            .send()
            .await
            .expect("send");
        if r.status() != 404 {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the customer never appeared");
}

on_both_engines!(
    a_large_export_is_a_link_that_expires,
    a_customer_gets_their_data_and_has_it_erased,
    messages_expire_after_the_merchant_retention,
    older_conversation_texts_are_sealed_once,
);

/// A box upgraded in place: what the earlier version keyed by the customer's number (their
/// partition, with fiscal data sealed for the number) is moved under the pseudonym as the stack
/// starts, before anything reads it, and reads back through the API.
#[tokio::test]
async fn an_upgraded_box_moves_customers_keys_as_it_starts() {
    use mostrador_store::{Item, Key};
    let app = TestApp::spawn(Engine::Embedded).await;
    let (merchant, key) = app.merchant("Farmacia Antigua").await;
    app.branch(&key, "Centro", Some("106540352240002")).await;
    let physical = |pk: String, sk: &str| Key::new(format!("M#{merchant}#{pk}"), sk);
    let at = chrono::Utc::now().timestamp() - 60;
    // What the earlier version wrote: a profile, a message and saved fiscal data under the number.
    let fiscal = json!({ "rfc": "QUIR850101AB1", "nombre": "ROSA QUINTANILLA", "codigo_postal": "06700",
        "regimen_fiscal": "612", "uso_cfdi": "G03" });
    let sealed = app
        .deps
        .keys
        .seal(
            fiscal.to_string().as_bytes(),
            &format!("merchant:{merchant}:fiscal:{CUSTOMER}"),
        )
        .await
        .expect("seal");
    for item in [
        Item::new(&physical(format!("CUST#{CUSTOMER}"), "PROFILE"))
            .with("phone_number_id", "106540352240002")
            .with("last_inbound_at", at)
            .with("opted_out", true)
            .with("gsi1pk", format!("M#{merchant}#CUSTOMERS"))
            .with("gsi1sk", format!("{at:012}")),
        Item::new(&physical(format!("CUST#{CUSTOMER}"), "FISCAL"))
            .with("sealed", mostrador_store::Value::B(sealed)),
    ] {
        app.deps.table.put(item, None).await.expect("an old item");
    }
    // The earlier version had no pseudonyms: nothing recorded that they were moved.
    app.deps
        .table
        .delete(&Key::new("DEPLOYMENT#MIGRATIONS", "PSEUDONYMS"), None)
        .await
        .expect("unmark");
    let app = app.restart(Default::default()).await;
    let keys = merchant_keys(&app, &merchant).await;
    assert!(
        !keys.iter().any(|k| k.contains("5512345678")),
        "moved as it started: {keys:?}"
    );
    let (status, customer) = call(
        &app,
        &key,
        Method::GET,
        &format!("/v1/customers/{CUSTOMER}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{customer}");
    assert_eq!(customer["opted_out"], true, "{customer}");
    let (_, listed) = call(&app, &key, Method::GET, "/v1/customers", None).await;
    assert!(
        listed.to_string().contains(CUSTOMER),
        "listed by number: {listed}"
    );
    // The fiscal data was sealed again for the pseudonym, and opens.
    let saved = mostrador_app::invoicing::fiscal::load(
        &app.deps,
        &mostrador_app::platform::tenant::MerchantId::try_from(merchant.clone()).expect("id"),
        CUSTOMER,
    )
    .await
    .expect("load")
    .expect("kept");
    assert_eq!(saved.rfc, "QUIR850101AB1");
    app.stop().await;
}
