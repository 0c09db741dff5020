//! A purchase driven only by signed webhooks, as a customer would make it in WhatsApp: greeting,
//! browse, a catalog order, confirm — then the outbox messages, the reserved stock and the order
//! through the merchant API. On both engines, with the demo merchant the local stack seeds.

use mostrador_e2e::{eventually, on_both_engines, Engine, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

const CENTRO: &str = "100000000000001";
const CUSTOMER: &str = "5215512345678";

struct Chat<'a> {
    app: &'a TestApp,
    key: String,
    seen: usize,
    n: u32,
    /// The branch number the customer writes to.
    phone: &'static str,
    /// Who writes: a phone number, a business-scoped user id, or both.
    sender: Sender,
}

/// JSON text with every non-ASCII character escaped as `\uXXXX` (pairs beyond the BMP), the way
/// Meta writes its webhooks.
fn meta_escaped(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// How Meta names the customer in a delivery.
#[derive(Clone, Copy)]
struct Sender {
    phone: Option<&'static str>,
    user_id: Option<&'static str>,
}

const BY_PHONE: Sender = Sender {
    phone: Some(CUSTOMER),
    user_id: None,
};

impl Chat<'_> {
    async fn post(&mut self, message: Value) {
        self.n += 1;
        let mut message = message;
        let mut contact = json!({ "profile": { "name": "Mariana López" } });
        if let Some(phone) = self.sender.phone {
            message["from"] = json!(phone);
            contact["wa_id"] = json!(phone);
        }
        if let Some(user) = self.sender.user_id {
            message["from_user_id"] = json!(user);
            contact["user_id"] = json!(user);
        }
        message["id"] = json!(format!("wamid.chat.{}.{}", std::process::id(), self.n));
        message["timestamp"] = json!(chrono::Utc::now().timestamp().to_string());
        let body = serde_json::to_vec(&json!({ "object": "whatsapp_business_account", "entry": [{ "id": "1", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": { "display_phone_number": "5215550000001", "phone_number_id": self.phone },
            "contacts": [contact], "messages": [message] } }] }] }))
        .expect("json");
        let body = meta_escaped(&String::from_utf8(body).expect("utf8"));
        assert_eq!(self.app.post_webhook(body.as_bytes()).await.status(), 200);
    }

    /// Waits for the replies to the last message and returns them (oldest first).
    async fn replies(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        let (app, key, seen) = (self.app, self.key.clone(), self.seen);
        eventually("a reply in the outbox", || {
            let key = key.clone();
            async move {
                let o: Value = app
                    .as_merchant(&key, Method::GET, "/v1/outbox?limit=200")
                    .send()
                    .await
                    .expect("send")
                    .json()
                    .await
                    .expect("json");
                o["messages"].as_array().map_or(0, Vec::len) > seen
            }
        })
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        let o: Value = self
            .app
            .as_merchant(&self.key, Method::GET, "/v1/outbox?limit=200")
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        let all = o["messages"].as_array().cloned().unwrap_or_default();
        for m in all.iter().rev().skip(self.seen) {
            out.push(m["message"].clone());
        }
        self.seen = all.len();
        out
    }
}

fn text_of(m: &Value) -> String {
    m["text"]["body"]
        .as_str()
        .or_else(|| m["interactive"]["body"]["text"].as_str())
        .unwrap_or_default()
        .to_owned()
}

fn button_ids(m: &Value) -> Vec<String> {
    m["interactive"]["action"]["buttons"]
        .as_array()
        .map(|b| {
            b.iter()
                .filter_map(|b| b["reply"]["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn purchase_through_signed_webhooks_only(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let centro = demo
        .branches
        .iter()
        .find(|b| b.phone_number_id == CENTRO)
        .expect("centro")
        .id
        .clone();
    let mut chat = Chat {
        app: &app,
        key: demo.api_key.clone(),
        seen: 0,
        n: 0,
        phone: CENTRO,
        sender: BY_PHONE,
    };

    // Greeting: a menu with buttons.
    chat.post(json!({ "type": "text", "text": { "body": "Hola" } }))
        .await;
    let greeting = chat.replies().await;
    assert!(
        greeting.iter().any(|m| text_of(m).contains("Mariana")),
        "{greeting:?}"
    );
    let menu = greeting
        .iter()
        .find(|m| !button_ids(m).is_empty())
        .expect("a menu with buttons");
    assert!(button_ids(menu).contains(&"catalogo".to_owned()));

    // Browse: the catalog's categories as a list.
    chat.post(json!({ "type": "interactive", "interactive": { "type": "button_reply", "button_reply": { "id": "catalogo", "title": "Ver catálogo" } } })).await;
    let browse = chat.replies().await;
    let list = browse
        .iter()
        .find(|m| m["interactive"]["type"] == "list")
        .expect("a list of categories");
    let rows: Vec<&str> = list["interactive"]["action"]["sections"][0]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["title"].as_str())
        .collect();
    assert!(
        rows.iter().any(|r| r.starts_with("Analgésicos")),
        "{rows:?}"
    );

    // A catalog order: item_price from the client is ignored; our price is used.
    chat.post(json!({ "type": "order", "order": { "catalog_id": "123", "product_items": [
        { "product_retailer_id": "7501008491072", "quantity": 3, "item_price": 0.01, "currency": "MXN" },
        { "product_retailer_id": "7501035911208", "quantity": 2, "item_price": 0.01, "currency": "MXN" } ] } })).await;
    let summary = chat.replies().await;
    let with_buttons = summary
        .iter()
        .find(|m| button_ids(m).contains(&"confirmar".to_owned()))
        .expect("a summary with Confirmar");
    let text = text_of(with_buttons);
    // 3 × $45.50 (IVA 0 %) + 2 × $32.00 (IVA 16 %, included) = $200.50
    assert!(text.contains("$200.50"), "{text}");
    assert!(text.contains("IVA"), "{text}");

    // Confirm: stock reserved, the payment link sent.
    chat.post(json!({ "type": "interactive", "interactive": { "type": "button_reply", "button_reply": { "id": "confirmar", "title": "Confirmar" } } })).await;
    let placed = chat.replies().await;
    assert!(
        placed.iter().any(|m| text_of(m).contains("/sandbox/pay/")),
        "{placed:?}"
    );
    let stock: Value = app
        .as_merchant(
            &demo.api_key,
            Method::GET,
            &format!("/v1/branches/{centro}/stock"),
        )
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let para = stock["stock"]
        .as_array()
        .expect("stock")
        .iter()
        .find(|s| s["sku"] == "7501008491072")
        .expect("sku")
        .clone();
    assert_eq!(
        (para["available"].as_i64(), para["reserved"].as_i64()),
        (Some(37), Some(3))
    );
    let orders: Value = app
        .as_merchant(&demo.api_key, Method::GET, "/v1/orders")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(orders["orders"].as_array().map(Vec::len), Some(1));
    let order = &orders["orders"][0];
    assert_eq!(
        (
            order["status"].as_str(),
            order["total"].as_i64(),
            order["wa_id"].as_str()
        ),
        (Some("awaiting_payment"), Some(20_050), Some("525512345678"))
    );

    // Confirming again (a second tap) never creates a second order.
    chat.post(json!({ "type": "interactive", "interactive": { "type": "button_reply", "button_reply": { "id": "confirmar", "title": "Confirmar" } } })).await;
    let _ = chat.replies().await;
    let orders: Value = app
        .as_merchant(&demo.api_key, Method::GET, "/v1/orders")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(orders["orders"].as_array().map(Vec::len), Some(1));
    app.stop().await;
}

on_both_engines!(purchase_through_signed_webhooks_only);

/// A customer who writes the way customers write: products and quantities in words, a brand name,
/// cart edits, questions about the store and the payment, a cancellation, a voice note.
async fn a_customer_who_writes_as_people_write(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let centro = demo
        .branches
        .iter()
        .find(|b| b.phone_number_id == CENTRO)
        .expect("centro")
        .id
        .clone();
    let mut chat = Chat {
        app: &app,
        key: demo.api_key.clone(),
        seen: 0,
        n: 0,
        phone: CENTRO,
        sender: BY_PHONE,
    };
    let say = async |chat: &mut Chat<'_>, text: &str| -> String {
        chat.post(json!({ "type": "text", "text": { "body": text } }))
            .await;
        chat.replies()
            .await
            .iter()
            .map(text_of)
            .collect::<Vec<_>>()
            .join("\n")
    };

    let cart = say(&mut chat, "me vende 2 cajas de paracetamol porfa").await;
    assert!(cart.contains("2 × Paracetamol 500 mg"), "{cart}");
    // "advil" is the demo pharmacy's synonym of ibuprofeno.
    let cart = say(&mut chat, "tmb quiero un advil").await;
    assert!(
        cart.contains("2 × Paracetamol") && cart.contains("1 × Ibuprofeno"),
        "{cart}"
    );
    let cart = say(&mut chat, "quita el paracetamol").await;
    assert!(
        cart.contains("Quité *Paracetamol") && !cart.contains("× Paracetamol"),
        "{cart}"
    );
    let placed = say(&mut chat, "es todo").await;
    assert!(placed.contains("/sandbox/pay/"), "{placed}");

    let hours = say(&mut chat, "a qué hora abren?").await;
    assert!(hours.contains("Lun a sáb 8:00–22:00"), "{hours}");
    let place = say(&mut chat, "dónde están ubicados?").await;
    assert!(
        place.contains("Av. 5 de Mayo 32") && place.contains("google.com/maps"),
        "{place}"
    );
    let paid = say(&mut chat, "ya pagué").await;
    assert!(paid.contains("Todavía no vemos el pago"), "{paid}");

    let cancelled = say(&mut chat, "quiero cancelar mi pedido").await;
    assert!(cancelled.contains("cancelé tu pedido"), "{cancelled}");
    let orders: Value = app
        .as_merchant(&demo.api_key, Method::GET, "/v1/orders")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(orders["orders"][0]["status"], "cancelled", "{orders}");
    let stock: Value = app
        .as_merchant(
            &demo.api_key,
            Method::GET,
            &format!("/v1/branches/{centro}/stock"),
        )
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let ibuprofeno = stock["stock"]
        .as_array()
        .expect("stock")
        .iter()
        .find(|s| s["sku"] == "7501008400166")
        .expect("sku")
        .clone();
    assert_eq!(
        (
            ibuprofeno["available"].as_i64(),
            ibuprofeno["reserved"].as_i64()
        ),
        (Some(30), Some(0)),
        "the cancelled order's stock is released"
    );

    let missing = say(&mut chat, "tienen amoxicilina?").await;
    assert!(missing.contains("No manejamos *amoxicilina*"), "{missing}");

    chat.post(json!({ "type": "audio", "audio": { "id": "9001", "mime_type": "audio/ogg; codecs=opus", "voice": true } })).await;
    let voice = chat.replies().await;
    assert!(
        voice
            .iter()
            .any(|m| text_of(m).contains("nota de voz")
                && button_ids(m).contains(&"asesor".to_owned())),
        "{voice:?}"
    );
    app.stop().await;
}

/// Polanco delivers: the customer chooses delivery, gives an address outside the zone, then one
/// inside; the order carries the address and the fee as a line (no stock for it), and its total
/// includes the fee.
async fn delivery_with_an_address_and_a_fee(engine: Engine) {
    const POLANCO: &str = "100000000000002";
    let app = TestApp::spawn(engine).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let polanco = demo
        .branches
        .iter()
        .find(|b| b.phone_number_id == POLANCO)
        .expect("polanco")
        .id
        .clone();
    let mut chat = Chat {
        app: &app,
        key: demo.api_key.clone(),
        seen: 0,
        n: 0,
        phone: CENTRO,
        sender: BY_PHONE,
    };
    chat.phone = POLANCO;
    let say = async |chat: &mut Chat<'_>, text: &str| -> String {
        chat.post(json!({ "type": "text", "text": { "body": text } }))
            .await;
        chat.replies()
            .await
            .iter()
            .map(text_of)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let cart = say(&mut chat, "quiero 2 paracetamol").await;
    assert!(cart.contains("2 × Paracetamol"), "{cart}");
    let how = say(&mut chat, "es todo").await;
    assert!(how.contains("Envío a domicilio: $45.00"), "{how}");
    let ask = say(&mut chat, "a domicilio porfa").await;
    assert!(ask.contains("escribe tu dirección"), "{ask}");
    let outside = say(&mut chat, "Calle Durango 10, Roma, 06700").await;
    assert!(
        outside.contains("no llegamos al código postal 06700"),
        "{outside}"
    );
    let placed = say(&mut chat, "Av. Presidente Masaryk 200, Polanco, 11560").await;
    assert!(
        placed.contains("/sandbox/pay/")
            && placed.contains("Lo enviamos a: Av. Presidente Masaryk 200"),
        "{placed}"
    );
    let orders: Value = app
        .as_merchant(&demo.api_key, Method::GET, "/v1/orders")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let order = &orders["orders"][0];
    assert_eq!(order["fulfilment"]["kind"], "delivery", "{order}");
    assert_eq!(
        order["fulfilment"]["address"],
        "Av. Presidente Masaryk 200, Polanco, 11560"
    );
    assert_eq!(order["customer_name"], "Mariana López");
    assert_eq!(order["total"].as_i64(), Some(2 * 4_550 + 4_500), "{order}");
    let fee = order["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["sku"] == "ENVIO")
        .expect("the fee line")
        .clone();
    assert_eq!(fee["amounts"]["total"].as_i64(), Some(4_500));
    let stock: Value = app
        .as_merchant(
            &demo.api_key,
            Method::GET,
            &format!("/v1/branches/{polanco}/stock"),
        )
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let rows = stock["stock"].as_array().expect("stock");
    assert!(
        rows.iter().all(|s| s["sku"] != "ENVIO"),
        "no stock for delivery"
    );
    let para = rows
        .iter()
        .find(|s| s["sku"] == "7501008491072")
        .expect("sku");
    assert_eq!(para["reserved"].as_i64(), Some(2));
    app.stop().await;
}

/// Users who adopt a WhatsApp username may hide their number: Meta then names them only by a
/// business-scoped user id. They are served like anyone, and stay one customer when their number
/// shows up later next to that id.
async fn a_customer_known_by_username_is_served_and_stays_one_customer(engine: Engine) {
    const LUPITA: &str = "MX.1502576394655843";
    let app = TestApp::spawn(engine).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let mut chat = Chat {
        app: &app,
        key: demo.api_key.clone(),
        seen: 0,
        n: 0,
        phone: CENTRO,
        sender: Sender {
            phone: None,
            user_id: Some(LUPITA),
        },
    };
    chat.post(
        json!({ "type": "text", "text": { "body": "me vende 2 cajas de paracetamol porfa" } }),
    )
    .await;
    let replies = chat.replies().await;
    let cart: String = replies.iter().map(text_of).collect();
    assert!(cart.contains("2 × Paracetamol 500 mg"), "{cart}");
    let outbox: Value = app
        .as_merchant(&demo.api_key, Method::GET, "/v1/outbox?limit=5")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(outbox["messages"][0]["to"], LUPITA, "{outbox}");

    // Later Meta sends the number too: same customer, same cart.
    chat.sender = Sender {
        phone: Some(CUSTOMER),
        user_id: Some(LUPITA),
    };
    chat.post(json!({ "type": "text", "text": { "body": "tmb quiero un advil" } }))
        .await;
    let cart: String = chat.replies().await.iter().map(text_of).collect();
    assert!(
        cart.contains("2 × Paracetamol") && cart.contains("1 × Ibuprofeno"),
        "one cart across both names: {cart}"
    );
    let conversation: Value = app
        .as_merchant(
            &demo.api_key,
            Method::GET,
            &format!("/v1/conversations/{LUPITA}/messages"),
        )
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let inbound = conversation["messages"]
        .as_array()
        .map_or(0, |m| m.iter().filter(|m| m["direction"] == "in").count());
    assert_eq!(inbound, 2, "{conversation}");
    let profile = app
        .deps
        .table
        .get(&mostrador_store::Key::new(
            format!(
                "M#{}#CUST#{}",
                demo.merchant_id,
                app.deps.customer_key(LUPITA)
            ),
            "PROFILE",
        ))
        .await
        .expect("get")
        .expect("profile");
    // The number the username writes from, kept sealed like the rest of the profile.
    assert_eq!(profile.get_s("phone"), None);
    let merchant = mostrador_app::platform::tenant::MerchantId::try_from(demo.merchant_id.clone())
        .expect("merchant");
    let tenant = mostrador_app::platform::tenant::TenantTable::of(&app.deps, &merchant);
    assert_eq!(
        mostrador_app::parties::conversation::text_of(&app.deps, &tenant, &profile, "phone")
            .await
            .as_deref(),
        Some("525512345678")
    );
    app.stop().await;
}

/// WhatsApp lets a customer send 65,536 characters; escaped as Meta escapes them that can pass
/// what a queue message holds. The delivery is still acknowledged, the whole text kept, and the
/// customer answered.
async fn an_over_long_text_is_kept_and_answered(engine: Engine) {
    use mostrador_core::Clock;
    let clock = mostrador_core::FixedClock::at(chrono::Utc::now());
    let app = TestApp::spawn_with(
        engine,
        std::sync::Arc::new(clock.clone()),
        mostrador_local::Options::default(),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let mut chat = Chat {
        app: &app,
        key: demo.api_key.clone(),
        seen: 0,
        n: 0,
        phone: CENTRO,
        sender: BY_PHONE,
    };
    let long = format!("hola, tienen paracetamol? {}", "ñ".repeat(65_000));
    // Meta escapes non-ASCII as \uXXXX: 6 bytes per ñ, about 390 KB in all.
    chat.post(json!({ "type": "text", "text": { "body": long } }))
        .await;
    let replies: String = chat.replies().await.iter().map(text_of).collect();
    assert!(replies.contains("Paracetamol"), "{replies}");
    let stored = app
        .deps
        .blobs
        .list(&format!("merchants/{}/inbound/", demo.merchant_id))
        .await
        .expect("list");
    assert_eq!(stored.len(), 1, "{stored:?}");
    // The stored copy goes when the merchant's message retention (180 days by default) ends, as
    // the conversation's messages do; not a day before.
    use mostrador_app::entry::jobs::{self, Job};
    let prefix = format!("merchants/{}/inbound/", demo.merchant_id);
    clock.advance(chrono::Duration::days(179));
    jobs::run(&app.deps, Job::DueNotifications, clock.now_ms() + 60_000)
        .await
        .expect("run");
    assert_eq!(app.deps.blobs.list(&prefix).await.expect("list").len(), 1);
    clock.advance(chrono::Duration::days(2));
    jobs::run(&app.deps, Job::DueNotifications, clock.now_ms() + 60_000)
        .await
        .expect("run");
    assert!(app.deps.blobs.list(&prefix).await.expect("list").is_empty());
    app.stop().await;
}

mod username {
    use super::*;
    on_both_engines!(a_customer_known_by_username_is_served_and_stays_one_customer);
}

mod long_text {
    use super::*;
    on_both_engines!(an_over_long_text_is_kept_and_answered);
}

mod delivery {
    use super::*;
    on_both_engines!(delivery_with_an_address_and_a_fee);
}

mod people_write {
    use super::*;
    on_both_engines!(a_customer_who_writes_as_people_write);
}

async fn agent_takes_over_and_gives_the_conversation_back(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let centro = demo
        .branches
        .iter()
        .find(|b| b.phone_number_id == CENTRO)
        .expect("centro")
        .id
        .clone();
    // The merchant's own questions answer by keyword.
    let faqs = json!({ "faqs": [{ "question": "¿Cuál es el horario?", "answer": "Abrimos de 8:00 a 22:00, todos los días.", "keywords": ["horario", "abren"] }] });
    let r = app
        .as_merchant(&demo.api_key, Method::PUT, "/v1/settings/chat")
        .json(&faqs)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let mut chat = Chat {
        app: &app,
        key: demo.api_key.clone(),
        seen: 0,
        n: 0,
        phone: CENTRO,
        sender: BY_PHONE,
    };
    chat.post(json!({ "type": "text", "text": { "body": "¿A qué hora abren?" } }))
        .await;
    assert!(chat
        .replies()
        .await
        .iter()
        .any(|m| text_of(m).contains("8:00 a 22:00")));

    chat.post(json!({ "type": "text", "text": { "body": "asesor" } }))
        .await;
    let handoff = chat.replies().await;
    assert!(
        !handoff.is_empty(),
        "the customer is told an agent will answer"
    );
    // The reply is queued before the conversation's state is stored: the waiting list may lag the
    // outbox by a moment.
    eventually("the conversation waits for a person", || async {
        let waiting: Value = app
            .as_merchant(&demo.api_key, Method::GET, "/v1/conversations")
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        waiting["conversations"][0]["wa_id"] == "525512345678"
    })
    .await;
    // While the agent has it, the assistant stays silent.
    chat.post(json!({ "type": "text", "text": { "body": "¿sigues ahí?" } }))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let outbox: Value = app
        .as_merchant(&demo.api_key, Method::GET, "/v1/outbox?limit=200")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        outbox["messages"].as_array().map_or(0, Vec::len),
        chat.seen,
        "no automatic reply during the hand-off"
    );
    // The agent answers inside the 24-hour window and reads the conversation.
    let r = app
        .as_merchant(&demo.api_key, Method::POST, "/v1/messages")
        .json(&json!({ "branch_id": centro, "to": CUSTOMER, "message": { "type": "text", "text": { "body": "Hola Mariana, soy Paco de la farmacia. ¿En qué te ayudo?" } } }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 202);
    let log: Value = app
        .as_merchant(
            &demo.api_key,
            Method::GET,
            &format!("/v1/conversations/{CUSTOMER}/messages"),
        )
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(log["handed_off"], true);
    assert!(log["messages"].as_array().map_or(0, Vec::len) >= 4);
    // Released: the assistant is back.
    let r = app
        .as_merchant(
            &demo.api_key,
            Method::POST,
            &format!("/v1/conversations/{CUSTOMER}/release"),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let again = app
        .as_merchant(
            &demo.api_key,
            Method::POST,
            &format!("/v1/conversations/{CUSTOMER}/release"),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(again.status(), 409);
    let waiting: Value = app
        .as_merchant(&demo.api_key, Method::GET, "/v1/conversations")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(waiting["conversations"], json!([]));
    chat.post(json!({ "type": "text", "text": { "body": "hola" } }))
        .await;
    assert!(
        !chat.replies().await.is_empty(),
        "the assistant answers again"
    );
    app.stop().await;
}

mod handoff {
    use super::*;
    on_both_engines!(agent_takes_over_and_gives_the_conversation_back);
}

/// "Confirmar" redelivered after the first attempt placed the order and died before saving the
/// conversation: the retry reaches the same order (its reservation is the customer's own) instead
/// of telling the customer the last units sold out.
async fn a_confirmation_retried_after_a_crash_reaches_the_same_order(engine: Engine) {
    use mostrador_app::parties::conversation;
    use mostrador_app::parties::messages::InboundEnvelope;
    use mostrador_app::platform::tenant::{MerchantId, TenantTable};
    let app = TestApp::spawn_with(
        engine,
        std::sync::Arc::new(mostrador_core::SystemClock),
        mostrador_local::Options {
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
    let centro = demo
        .branches
        .iter()
        .find(|b| b.phone_number_id == CENTRO)
        .expect("centro")
        .id
        .clone();
    let merchant = MerchantId::try_from(demo.merchant_id.clone()).expect("id");
    // Exactly the two units the customer will order.
    let r = app
        .as_merchant(
            &demo.api_key,
            Method::PUT,
            &format!("/v1/branches/{centro}/stock"),
        )
        .json(&json!([{ "sku": "7501008491072", "quantity": 2 }]))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let envelope = |wamid: &str, message: Value| InboundEnvelope {
        merchant_id: demo.merchant_id.clone(),
        branch_id: centro.clone(),
        phone_number_id: CENTRO.into(),
        wa_id: "525512345678".into(),
        wamid: wamid.into(),
        timestamp: chrono::Utc::now().timestamp(),
        profile_name: Some("Mariana López".into()),
        phone: None,
        username: None,
        message: serde_json::value::RawValue::from_string(message.to_string()).expect("raw"),
    };
    let order = json!({ "from": CUSTOMER, "id": "wamid.crash.order", "timestamp": "1", "type": "order", "order": { "catalog_id": "123", "product_items": [
        { "product_retailer_id": "7501008491072", "quantity": 2, "item_price": 45.5, "currency": "MXN" } ] } });
    mostrador_app::flows::chat::converse(&app.deps, &envelope("wamid.crash.order", order.clone()))
        .await
        .expect("summary");
    let table = TenantTable::of(&app.deps, &merchant);
    let cart = conversation::load_state(&table, "525512345678")
        .await
        .expect("state");
    // A crash after the cart was saved, before the message was marked done: the retry (a second
    // later, as a redelivery comes) finds the cart this very message produced and does not add
    // the two boxes again.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    mostrador_app::flows::chat::converse(&app.deps, &envelope("wamid.crash.order", order))
        .await
        .expect("summary again");
    assert_eq!(
        conversation::load_state(&table, "525512345678")
            .await
            .expect("state"),
        cart,
        "the order message is applied once"
    );
    let confirm = json!({ "from": CUSTOMER, "id": "wamid.crash.confirm", "timestamp": "2", "type": "interactive", "interactive": { "type": "button_reply", "button_reply": { "id": "confirmar", "title": "Confirmar" } } });
    mostrador_app::flows::chat::converse(
        &app.deps,
        &envelope("wamid.crash.confirm", confirm.clone()),
    )
    .await
    .expect("placed");
    // The crash: the order is placed, the conversation was not saved.
    conversation::save_state(
        &app.deps,
        &table,
        "525512345678",
        &cart,
        chrono::Utc::now().timestamp(),
    )
    .await
    .expect("reset");
    mostrador_app::flows::chat::converse(&app.deps, &envelope("wamid.crash.confirm", confirm))
        .await
        .expect("retried");

    let orders: Value = app
        .as_merchant(&demo.api_key, Method::GET, "/v1/orders")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        orders["orders"].as_array().map(Vec::len),
        Some(1),
        "{orders}"
    );
    let stock: Value = app
        .as_merchant(
            &demo.api_key,
            Method::GET,
            &format!("/v1/branches/{centro}/stock"),
        )
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let row = stock["stock"]
        .as_array()
        .expect("stock")
        .iter()
        .find(|s| s["sku"] == "7501008491072")
        .expect("sku")
        .clone();
    assert_eq!(
        (row["available"].as_i64(), row["reserved"].as_i64()),
        (Some(0), Some(2))
    );
    let state = conversation::load_state(&table, "525512345678")
        .await
        .expect("state");
    assert!(
        matches!(
            state,
            mostrador_core::conversation::State::AwaitingPayment { .. }
        ),
        "{state:?}"
    );
    let sent = app
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
    assert!(
        sent.iter().all(|m| !m.body.contains("agotado")),
        "nobody is told the order sold out: {:?}",
        sent.iter().map(|m| &m.body).collect::<Vec<_>>()
    );
    // The conversation the staff read holds each reply once, though each message was handled
    // twice.
    let log: Value = app
        .as_merchant(
            &demo.api_key,
            Method::GET,
            "/v1/conversations/525512345678/messages?limit=50",
        )
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let summaries = log["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["direction"] == "out" && m["message"].to_string().contains("\"confirmar\""))
        .count();
    assert_eq!(summaries, 1, "the cart summary is logged once: {log}");
    app.stop().await;
}

mod crash {
    use super::*;
    on_both_engines!(a_confirmation_retried_after_a_crash_reaches_the_same_order);
}

/// Promotions from the merchant API to the chat and back: bad and contradictory rules refused
/// field by field, a 2×1 and a code shown in the summary and charged, the order keeping what it
/// got, a limit of one use reached (the next customer pays full price) and given back when the
/// order is cancelled, the report and pausing.
async fn promotions_from_the_api_to_the_chat(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let key = demo.api_key.clone();
    let call = async |method: Method, path: &str, body: Option<Value>| -> (u16, Value) {
        let mut r = app.as_merchant(&key, method, path);
        if let Some(body) = body {
            r = r.json(&body);
        }
        let r = r.send().await.expect("send");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    };
    const PARACETAMOL: &str = "7501008491072";
    let (status, refused) = call(
        Method::POST,
        "/v1/promotions",
        Some(
            json!({ "name": "Todo gratis", "benefit": { "kind": "percent_off", "percent": 100 },
            "applies_to": { "scope": "order" }, "code": "BIEN VENIDA" }),
        ),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    let fields: Vec<&str> = refused["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(fields, ["benefit.percent", "code"], "{refused}");
    let (status, refused) = call(
        Method::POST,
        "/v1/promotions",
        Some(
            json!({ "name": "2x1", "benefit": { "kind": "take_pay", "take": 2, "pay": 1 },
            "applies_to": { "scope": "products", "skus": ["0000"] } }),
        ),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    let two_for_one = json!({ "name": "2x1 en paracetamol", "benefit": { "kind": "take_pay", "take": 2, "pay": 1 },
        "applies_to": { "scope": "products", "skus": [PARACETAMOL] }, "limits": { "total_uses": 1 } });
    let (status, created) = call(Method::POST, "/v1/promotions", Some(two_for_one.clone())).await;
    assert_eq!(status, 201, "{created}");
    let promo_id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["status"], "running");
    let (status, refused) = call(Method::POST, "/v1/promotions", Some(two_for_one)).await;
    assert_eq!(status, 422, "contradicts the running one: {refused}");
    let (status, welcome) = call(
        Method::POST,
        "/v1/promotions",
        Some(
            json!({ "name": "Bienvenida 10 %", "benefit": { "kind": "percent_off", "percent": 10 },
            "applies_to": { "scope": "order" }, "code": "bienvenida" }),
        ),
    )
    .await;
    assert_eq!(status, 201, "{welcome}");
    assert_eq!(welcome["code"], "BIENVENIDA");

    let mut chat = Chat {
        app: &app,
        key: key.clone(),
        seen: 0,
        n: 0,
        phone: CENTRO,
        sender: BY_PHONE,
    };
    let say = async |chat: &mut Chat<'_>, text: &str| -> String {
        chat.post(json!({ "type": "text", "text": { "body": text } }))
            .await;
        chat.replies()
            .await
            .iter()
            .map(text_of)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let cart = say(&mut chat, "me vende 2 cajas de paracetamol porfa").await;
    assert!(cart.contains("🏷️ 2x1 en paracetamol: -$"), "{cart}");
    let cart = say(&mut chat, "tengo el código bienvenida").await;
    assert!(cart.contains("Apliqué el código *BIENVENIDA*"), "{cart}");
    assert!(cart.contains("🏷️ Bienvenida 10 %: -$"), "{cart}");
    let placed = say(&mut chat, "es todo").await;
    assert!(placed.contains("/sandbox/pay/"), "{placed}");

    let (_, orders) = call(Method::GET, "/v1/orders", None).await;
    let order = orders["orders"][0].clone();
    let line = &order["lines"][0];
    let unit = line["unit"].as_i64().expect("unit");
    // 2 boxes, one free, then 10 % off the rest (half up).
    let after_two_for_one = unit;
    let ten_percent = (after_two_for_one * 10 + 50) / 100;
    assert_eq!(
        line["discount"].as_i64(),
        Some(unit + ten_percent),
        "{order}"
    );
    assert_eq!(order["total"].as_i64(), Some(unit - ten_percent), "{order}");
    let got: Vec<(&str, i64)> = order["promotions"]
        .as_array()
        .expect("promotions")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or(""),
                p["discount"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("2x1 en paracetamol", unit),
            ("Bienvenida 10 %", ten_percent)
        ]
    );
    let (_, report) = call(Method::GET, "/v1/promotions/report", None).await;
    let row = report["promotions"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["id"] == promo_id.as_str())
        .cloned()
        .expect("row");
    assert_eq!(row["uses"], 1, "{report}");

    // Its one use is taken: the next customer pays full price.
    let mut other = Chat {
        app: &app,
        key: key.clone(),
        seen: chat.seen,
        n: 100,
        phone: CENTRO,
        sender: Sender {
            phone: Some("5215587654321"),
            user_id: None,
        },
    };
    let cart = say(&mut other, "quiero 2 paracetamol").await;
    assert!(
        cart.contains("2 × Paracetamol") && !cart.contains("🏷️"),
        "{cart}"
    );
    let (_, codes) = call(Method::GET, "/v1/promotions?status=running", None).await;
    assert_eq!(codes["promotions"].as_array().map(Vec::len), Some(2));

    // A price for a customer group: the merchant puts this customer in "Mayoreo".
    let (status, group_promo) = call(
        Method::POST,
        "/v1/promotions",
        Some(
            json!({ "name": "Mayoreo 15 %", "benefit": { "kind": "percent_off", "percent": 15 },
            "applies_to": { "scope": "order" }, "customer_groups": ["mayoreo"] }),
        ),
    )
    .await;
    assert_eq!(status, 201, "{group_promo}");
    let (status, refused) = call(
        Method::PUT,
        "/v1/customers/5215587654321/groups",
        Some(json!({ "groups": ["x".repeat(41)] })),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    let (status, grouped) = call(
        Method::PUT,
        "/v1/customers/5215587654321/groups",
        Some(json!({ "groups": ["Mayoreo", "mayoreo "] })),
    )
    .await;
    assert_eq!(status, 200, "{grouped}");
    assert_eq!(
        grouped["groups"],
        json!(["Mayoreo"]),
        "one group, as first written"
    );
    let cart = say(&mut other, "ver carrito").await;
    assert!(cart.contains("🏷️ Mayoreo 15 %: -$"), "{cart}");
    chat.seen = other.seen;
    let listed = say(&mut chat, "hay promociones?").await;
    assert!(
        !listed.contains("Mayoreo"),
        "not for this customer: {listed}"
    );

    // Cancelled unpaid, the order gives its use back.
    let id = order["id"].as_str().expect("id");
    let (status, _) = call(Method::POST, &format!("/v1/orders/{id}/cancel"), None).await;
    assert_eq!(status, 200);
    let (_, again) = call(Method::GET, &format!("/v1/promotions/{promo_id}"), None).await;
    assert_eq!(again["uses"], 0, "{again}");
    let (status, paused) = call(
        Method::POST,
        &format!("/v1/promotions/{promo_id}/pause"),
        None,
    )
    .await;
    assert_eq!((status, paused["status"].as_str()), (200, Some("paused")));
    let (status, csv) = {
        let r = app
            .as_merchant(&key, Method::GET, "/v1/promotions/report?format=csv")
            .send()
            .await
            .expect("send");
        (r.status().as_u16(), r.text().await.expect("text"))
    };
    assert_eq!(status, 200);
    assert!(
        csv.starts_with("id,nombre,codigo,estado,usos,pedidos_pagados,ventas,descuento_otorgado"),
        "{csv}"
    );
    assert!(csv.contains(",BIENVENIDA,running,"), "{csv}");
    app.stop().await;
}

mod promotions {
    use super::*;
    on_both_engines!(promotions_from_the_api_to_the_chat);
}
