//! The conversation store: a customer's conversation state, the merchant's chat settings, the hand-off
//! marker, and the one way a reply enters the outbound queue and the conversation log.

use crate::parties::messages::{Category, InboundEnvelope, OutboundEnvelope};
use crate::platform::error::AppError;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_core::conversation::{Faq, Input, Reply, State, Texts};
use mostrador_store::{Item, Key, Table, Update};
use mostrador_whatsapp::client::OutgoingMessage as CloudMessage;
use mostrador_whatsapp::webhook::{self, Interactive, MessageKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A merchant's chat settings: texts, questions, prices and how long a reservation holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatSettings {
    pub texts: Texts,
    pub faqs: Vec<Faq>,
    /// Whether shelf prices include IVA.
    pub includes_iva: bool,
    /// Minutes stock stays reserved for an unpaid order.
    pub reservation_minutes: u32,
    /// Words customers use for the same product, one group per line: brands and generics, local
    /// names (`["tylenol", "paracetamol"]`). Product search finds any of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub synonyms: Vec<Vec<String>>,
    /// Answers staff send often from the console's inbox ("Ya va en camino 🛵").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<String>,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self {
            texts: Texts::default(),
            faqs: Vec::new(),
            includes_iva: true,
            reservation_minutes: 30,
            synonyms: Vec::new(),
            quick_replies: Vec::new(),
        }
    }
}

fn settings_key() -> Key {
    crate::platform::schema::settings(crate::platform::schema::Settings::Chat)
}

/// The merchant's chat settings (defaults when never set).
pub(crate) async fn load_settings(table: &TenantTable) -> Result<ChatSettings, AppError> {
    match table.get(&settings_key()).await? {
        Some(item) => serde_json::from_str(item.get_s("doc").unwrap_or("{}"))
            .map_err(|e| AppError::Internal(e.into())),
        None => Ok(ChatSettings::default()),
    }
}

/// Stores the merchant's chat settings.
pub async fn save_settings(table: &TenantTable, settings: &ChatSettings) -> Result<(), AppError> {
    if settings.reservation_minutes == 0 || settings.reservation_minutes > 7 * 24 * 60 {
        return Err(AppError::Validation(vec![
            crate::platform::error::FieldError::new("reservation_minutes", "1 minute to 7 days"),
        ]));
    }
    let doc = serde_json::to_string(settings).map_err(|e| AppError::Internal(e.into()))?;
    table
        .put(Item::new(&settings_key()).with("doc", doc), None)
        .await?;
    Ok(())
}

fn state_key(table: &crate::platform::tenant::TenantTable, wa_id: &str) -> Key {
    crate::platform::schema::conversation_state(&table.customer(wa_id))
}

/// The customer's conversation state.
pub async fn load_state(table: &TenantTable, wa_id: &str) -> Result<State, AppError> {
    Ok(table
        .get(&state_key(table, wa_id))
        .await?
        .and_then(|i| i.get_s("doc").and_then(|d| serde_json::from_str(d).ok()))
        .unwrap_or_default())
}

/// What handling a message starts from: the conversation state and the promotion code the
/// customer gave, both as they were before this message: the saved ones, or — when the saved
/// state is what handling this very message produced (a retry after a crash that came after the
/// save) — the ones the message found, so that a message is never applied twice (a catalog order
/// added to the cart again).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    pub state: State,
    pub code: Option<String>,
}

/// The state and code to handle message `wamid` from.
pub(crate) async fn load_for(
    table: &TenantTable,
    wa_id: &str,
    wamid: &str,
) -> Result<Loaded, AppError> {
    let Some(item) = table.get(&state_key(table, wa_id)).await? else {
        return Ok(Loaded::default());
    };
    let retry = item.get_s("applied_wamid") == Some(wamid);
    let (doc, code) = if retry {
        (item.get_s("prev_doc"), item.get_s("prev_code"))
    } else {
        (item.get_s("doc"), item.get_s("code"))
    };
    Ok(Loaded {
        state: doc
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default(),
        code: code.filter(|c| !c.is_empty()).map(str::to_owned),
    })
}

/// Stores the conversation state of one customer (the code the customer gave stays).
pub async fn save_state(
    deps: &Deps,
    table: &TenantTable,
    wa_id: &str,
    state: &State,
    now: i64,
) -> Result<(), AppError> {
    save(deps, table, wa_id, state, None, now).await
}

/// Stores what handling message `wamid` produced from `prev`: the state and the code.
pub(crate) async fn save_state_after(
    deps: &Deps,
    table: &TenantTable,
    wa_id: &str,
    now: i64,
    wamid: &str,
    prev: &Loaded,
    next: &Loaded,
) -> Result<(), AppError> {
    save(
        deps,
        table,
        wa_id,
        &next.state,
        Some((wamid, prev, next.code.as_deref())),
        now,
    )
    .await
}

async fn save(
    deps: &Deps,
    table: &TenantTable,
    wa_id: &str,
    state: &State,
    applied: Option<(&str, &Loaded, Option<&str>)>,
    now: i64,
) -> Result<(), AppError> {
    let doc = serde_json::to_string(state).map_err(|e| AppError::Internal(e.into()))?;
    let handed_off = matches!(state, State::HandedOff);
    let mut update = Update::new()
        .set("doc", doc)
        .set("handed_off", handed_off)
        .set("updated_at", now);
    match applied {
        Some((wamid, prev, code)) => {
            let prev_doc =
                serde_json::to_string(&prev.state).map_err(|e| AppError::Internal(e.into()))?;
            update = update
                .set("applied_wamid", wamid)
                .set("prev_doc", prev_doc)
                // An empty string stands for "no code" so a retry restores exactly that.
                .set("prev_code", prev.code.clone().unwrap_or_default())
                .set("code", code.unwrap_or_default());
        }
        None => {
            update = update
                .remove("applied_wamid")
                .remove("prev_doc")
                .remove("prev_code");
        }
    }
    table.update(&state_key(table, wa_id), update, None).await?;
    // The merchant's list of conversations waiting for a human.
    let marker = crate::platform::schema::handoff(&table.customer(wa_id));
    if handed_off {
        // Who is waiting, sealed like the profile's id (the key names a pseudonym).
        let sealed = seal_text(deps, table.merchant(), wa_id).await?;
        table
            .put(
                Item::new(&marker)
                    .with(
                        format!("{}_sealed", crate::parties::customers::PROFILE_WA_ID),
                        mostrador_store::Value::B(sealed),
                    )
                    .with("since", now),
                None,
            )
            .await?;
    } else {
        table.delete(&marker, None).await?;
    }
    Ok(())
}

/// Hands the customer's conversation to a human agent, as asking for an asesor does.
pub(crate) async fn hand_off(
    deps: &Deps,
    table: &TenantTable,
    wa_id: &str,
    now: i64,
) -> Result<(), AppError> {
    save_state(deps, table, wa_id, &State::HandedOff, now).await
}

/// What the customer sent, as the machine understands it; `None` for messages that need no answer.
pub(crate) fn input_of(raw: &str) -> Option<Input> {
    let message = webhook::parse_message(raw)?;
    Some(match message.kind {
        MessageKind::Text { body } => Input::Text(body),
        MessageKind::Interactive(Interactive::ButtonReply { id, title }) => {
            Input::ButtonReply { id, title }
        }
        MessageKind::Interactive(Interactive::ListReply { id, title, .. }) => {
            Input::ListReply { id, title }
        }
        MessageKind::Button { payload, text } => Input::ButtonReply {
            id: payload,
            title: text,
        },
        MessageKind::Order { items, .. } => Input::CatalogOrder {
            items: items
                .into_iter()
                .map(|i| (i.product_retailer_id, i.quantity))
                .collect(),
        },
        MessageKind::Audio(_) => Input::Voice,
        MessageKind::Image(_) => Input::Image,
        MessageKind::Sticker(_) => Input::Sticker,
        MessageKind::Location {
            latitude,
            longitude,
            address,
            ..
        } => Input::Location {
            latitude,
            longitude,
            address,
        },
        MessageKind::Document(_) | MessageKind::Video(_) => Input::Media,
        // Reactions and number changes are not requests: no answer.
        MessageKind::Reaction { .. } | MessageKind::System { .. } => return None,
        _ => Input::Unsupported,
    })
}

/// Outbound ids are at most 100 characters without `#`: derived from the wamid by hashing.
pub(crate) fn reply_id(wamid: &str) -> String {
    let digest = hex::encode(Sha256::digest(wamid.as_bytes()));
    format!("re{}", &digest[..32])
}

/// The Cloud API message for a reply.
pub(crate) fn cloud_message(to: &str, reply: &Reply) -> Result<CloudMessage, AppError> {
    use serde_json::json;
    let body = match reply {
        Reply::Text(text) => {
            json!({ "type": "text", "text": { "body": text, "preview_url": text.contains("http") } })
        }
        Reply::Buttons { body, buttons } => {
            json!({ "type": "interactive", "interactive": { "type": "button", "body": { "text": body },
            "action": { "buttons": buttons.iter().map(|b| json!({ "type": "reply", "reply": { "id": b.id, "title": b.title } })).collect::<Vec<_>>() } } })
        }
        Reply::List {
            body,
            button_label,
            sections,
        } => {
            json!({ "type": "interactive", "interactive": { "type": "list", "body": { "text": body },
            "action": { "button": button_label, "sections": sections.iter().map(|s| json!({ "title": s.title,
                "rows": s.rows.iter().map(|r| if r.description.is_empty() { json!({ "id": r.id, "title": r.title }) } else { json!({ "id": r.id, "title": r.title, "description": r.description }) }).collect::<Vec<_>>() })).collect::<Vec<_>>() } } })
        }
        Reply::ProductList {
            catalog_id,
            header,
            body,
            sections,
        } => json!({ "type": "interactive", "interactive": { "type": "product_list",
            "header": { "type": "text", "text": header }, "body": { "text": body },
            "action": { "catalog_id": catalog_id, "sections": sections.iter().map(|(title, skus)| json!({ "title": title,
                "product_items": skus.iter().map(|s| json!({ "product_retailer_id": s })).collect::<Vec<_>>() })).collect::<Vec<_>>() } } }),
    };
    let mut wire = body;
    wire["messaging_product"] = json!("whatsapp");
    wire["to"] = json!(to);
    serde_json::from_value(wire).map_err(|e| {
        AppError::Internal(anyhow::anyhow!(
            "reply does not map to a Cloud API message: {e}"
        ))
    })
}

/// Queues a reply to the customer and logs it in the conversation.
pub(crate) async fn send_reply(
    deps: &Deps,
    merchant: &MerchantId,
    msg: &InboundEnvelope,
    id: &str,
    reply: &Reply,
) -> Result<(), AppError> {
    send_reply_as(deps, merchant, msg, id, reply, None).await
}

/// The kind of the one reply that confirms a change of consent: it reaches the customer even
/// though they just asked for no more messages (they are told what stops and how to resume).
pub const CONSENT_CONFIRMATION: &str = "consent_confirmation";

/// [`send_reply`] with a kind ([`CONSENT_CONFIRMATION`]).
pub(crate) async fn send_reply_as(
    deps: &Deps,
    merchant: &MerchantId,
    msg: &InboundEnvelope,
    id: &str,
    reply: &Reply,
    kind: Option<&str>,
) -> Result<(), AppError> {
    let message = cloud_message(&msg.wa_id, reply)?;
    let envelope = OutboundEnvelope {
        id: id.to_owned(),
        merchant_id: merchant.to_string(),
        phone_number_id: msg.phone_number_id.clone(),
        category: Category::Service,
        kind: kind.map(str::to_owned),
        message,
    };
    envelope.queue(deps).await?;
    let table = TenantTable::of(deps, merchant);
    let message =
        serde_json::to_string(&envelope.message).map_err(|e| AppError::Internal(e.into()))?;
    log_message(
        deps,
        &table,
        &LogEntry {
            wa_id: &msg.wa_id,
            at_secs: deps.clock.now_secs(),
            logged_ms: deps.clock.now_ms(),
            id,
            direction: "out",
            phone_number_id: &msg.phone_number_id,
            branch_id: Some(&msg.branch_id),
        },
        &message,
    )
    .await?;
    Ok(())
}

/// One message of a customer's conversation log.
pub struct LogEntry<'a> {
    pub wa_id: &'a str,
    pub at_secs: i64,
    /// The wamid of an inbound message, our id of an outbound one.
    pub id: &'a str,
    /// `in` or `out`.
    pub direction: &'a str,
    /// The business number it travelled on: a branch-limited key sees only its number's messages.
    pub phone_number_id: &'a str,
    pub branch_id: Option<&'a str>,
    /// When it was logged (epoch ms): orders the messages of one second, whose keys cannot.
    pub logged_ms: i64,
}

/// The sealing context of a merchant's conversation texts (messages, staff notes): one data key serves the merchant's
/// messages for a while (see the Keys adapters), never another merchant's.
fn message_context(merchant: &MerchantId) -> String {
    crate::platform::sealed::Sealing::Conversation.context(merchant)
}

/// Logs one message of a customer's conversation (what the merchant API shows), in order. Its body
/// (what the customer wrote: symptoms, an address) is sealed through Keys; only the merchant's API
/// opens it.
pub(crate) async fn log_message(
    deps: &Deps,
    table: &TenantTable,
    entry: &LogEntry<'_>,
    message_json: &str,
) -> Result<(), mostrador_store::StoreError> {
    let sealed = seal_text(deps, table.merchant(), message_json).await?;
    let mut item = Item::new(&crate::platform::schema::conversation_message(
        &table.customer(entry.wa_id),
        entry.at_secs,
        entry.id,
    ))
    .with("direction", entry.direction)
    .with("logged_ms", entry.logged_ms)
    .with("phone_number_id", entry.phone_number_id)
    .with("message_sealed", mostrador_store::Value::B(sealed));
    if let Some(branch) = entry.branch_id {
        item = item.with("branch_id", branch);
    }
    // The message expires after the merchant's retention period (LFPDPPP: kept no longer than
    // needed), counted from when it was written; the table's TTL removes it.
    let retention =
        crate::parties::privacy::message_retention_secs(table, entry.logged_ms / 1000).await?;
    let ttl = entry.at_secs.max(entry.logged_ms / 1000) + retention;
    item = item.with("ttl", ttl);
    if entry.direction != "out" {
        // An inbound message's key is Meta's timestamp and its id: writing it again is the same item.
        return table.put(item, None).await;
    }
    // Ours are logged at the time they are written: a reply written again (the message that
    // caused it handled again after a crash or a restore) would be a second entry. The mark makes
    // the log once per id.
    let mark = Item::new(&crate::platform::schema::conversation_logged(
        &table.customer(entry.wa_id),
        entry.id,
    ))
    .with("ttl", ttl);
    match table
        .transact(vec![
            mostrador_store::TxOp::Put {
                item: mark,
                condition: Some(mostrador_store::Condition::NotExists),
            },
            mostrador_store::TxOp::Put {
                item,
                condition: None,
            },
        ])
        .await
    {
        Ok(()) => Ok(()),
        Err(mostrador_store::StoreError::TransactionCanceled { reasons })
            if reasons.first() == Some(&mostrador_store::CancelReason::ConditionFailed) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Seals a text of a customer's conversation (a message, a staff note) for the merchant.
pub(crate) async fn seal_text(
    deps: &Deps,
    merchant: &MerchantId,
    text: &str,
) -> Result<Vec<u8>, mostrador_store::StoreError> {
    deps.keys
        .seal(text.as_bytes(), &message_context(merchant))
        .await
        .map_err(|e| match e {
            mostrador_store::KeysError::Unavailable(why) => {
                mostrador_store::StoreError::Unavailable(why)
            }
            other => mostrador_store::StoreError::Internal(other.to_string()),
        })
}

/// The text a conversation item keeps under `name`: sealed as `{name}_sealed`, or in clear for
/// items written before texts were sealed. `None` when absent or unreadable (logged).
pub async fn text_of(deps: &Deps, table: &TenantTable, item: &Item, name: &str) -> Option<String> {
    match item.get(&format!("{name}_sealed")) {
        Some(mostrador_store::Value::B(sealed)) => open_text(deps, table.merchant(), sealed).await,
        _ => item.get_s(name).map(str::to_owned),
    }
}

/// Opens what [`seal_text`] sealed for the merchant; `None` when it cannot be read (logged).
pub async fn open_text(deps: &Deps, merchant: &MerchantId, sealed: &[u8]) -> Option<String> {
    match deps.keys.open(sealed, &message_context(merchant)).await {
        Ok(plain) => String::from_utf8(plain).ok(),
        Err(e) => {
            tracing::warn!(merchant = %merchant, error = %e, "a conversation text cannot be opened");
            None
        }
    }
}

/// The message a conversation log item holds, opened; `Null` when it cannot be read.
pub async fn message_of(deps: &Deps, table: &TenantTable, item: &Item) -> serde_json::Value {
    text_of(deps, table, item, "message")
        .await
        .and_then(|m| serde_json::from_str(&m).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// The attribute of an order holding the customer's name and delivery address (sealed as
/// `personal_sealed`, a JSON object of the order document's fields).
pub const ORDER_PERSONAL: &str = "personal";

/// A copy of an item with its sealed texts opened, for reading in memory only: conversation texts,
/// the profile's name, and an order's name and address put back into its document.
pub async fn opened(deps: &Deps, table: &TenantTable, item: &Item) -> Item {
    let mut out = item.clone();
    for name in [
        "message",
        "text",
        "body",
        "details",
        "metadata",
        crate::parties::customers::PROFILE_NAME,
        crate::parties::customers::PROFILE_WA_ID,
        crate::parties::customers::PROFILE_PHONE,
        "to",
    ] {
        if item.get(&format!("{name}_sealed")).is_some() {
            if let Some(text) = text_of(deps, table, item, name).await {
                out.set(name, text);
            }
        }
    }
    if item.get(&format!("{ORDER_PERSONAL}_sealed")).is_some() {
        let personal = text_of(deps, table, item, ORDER_PERSONAL)
            .await
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
        let doc = item
            .get_s("doc")
            .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok());
        if let (
            Some(serde_json::Value::Object(personal)),
            Some(serde_json::Value::Object(mut doc)),
        ) = (personal, doc)
        {
            doc.extend(personal);
            out.set("doc", serde_json::Value::Object(doc).to_string());
        }
    }
    out
}
