//! The typed model of WhatsApp Cloud API webhook deliveries (`object: "whatsapp_business_account"`).
//!
//! Only the envelope can fail a delivery. Below it every message and status is parsed on its own from its
//! raw JSON text, so one odd element cannot poison the batch (a 4xx makes Meta retry the same body for
//! seven days): an unknown or misshapen message becomes [`MessageKind::Unknown`] with its raw JSON, and
//! only a message without `id`/`from` (or a status without `id`/`status`) is dropped and counted in
//! [`Delivery::skipped`]. Changes other than `messages` are kept raw in [`Delivery::other_changes`].
//!
//! Numbers that may carry money or coordinates (`item_price`, `latitude`, `longitude`) keep their exact
//! decimal text; they never pass through `f64`. Identifiers (`wamid`, `from`, `wa_id`) are kept exactly as
//! sent: normalizing Mexican numbers is `mostrador_core::phone::normalize_wa_id`'s job.
//!
//! Parse the bytes only after [`crate::signature::verify`] accepted them; the signature covers the raw
//! bytes as received, never a re-serialization of this model.

use serde::de::{Deserializer, Error as _};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

/// Meta's documented maximum of updates (messages + statuses) in one POST.
///
/// A larger delivery is still parsed and accepted, only logged: refusing it would make Meta retry the
/// very same body for seven days, and every update in it would be lost anyway.
pub const MAX_UPDATES_PER_DELIVERY: usize = 1_000;

const WHATSAPP_OBJECT: &str = "whatsapp_business_account";

/// Why a webhook body was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The body is not valid JSON (or not UTF-8); the text says where parsing stopped, never the content.
    #[error("webhook body is not valid JSON: {0}")]
    NotJson(String),
    /// Valid JSON, but not a WhatsApp Business Account delivery: `object` is missing or different, or
    /// `entry`/`changes` are not lists of objects.
    #[error("webhook body is not a whatsapp_business_account delivery")]
    NotWhatsApp,
}

/// One POST from Meta, flattened: one [`Change`] per `messages` change of every entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delivery {
    /// `field: "messages"` changes, in the order received.
    pub changes: Vec<Change>,
    /// Changes of other fields (template status, account updates, …) or `messages` changes without
    /// `metadata.phone_number_id`, kept raw.
    pub other_changes: Vec<OtherChange>,
    /// Updates dropped as unusable: messages without `id` or `from`, statuses without `id` or `status`.
    pub skipped: usize,
}

impl Delivery {
    /// Number of usable inbound messages across all changes.
    pub fn message_count(&self) -> usize {
        self.changes.iter().map(|c| c.messages.len()).sum()
    }

    /// Number of usable status updates across all changes.
    pub fn status_count(&self) -> usize {
        self.changes.iter().map(|c| c.statuses.len()).sum()
    }

    /// Messages, statuses and skipped updates: what Meta counts against [`MAX_UPDATES_PER_DELIVERY`].
    pub fn update_count(&self) -> usize {
        self.message_count() + self.status_count() + self.skipped
    }

    /// Every message with the change (business number, contacts) it arrived in.
    pub fn messages(&self) -> impl Iterator<Item = (&Change, &Message)> {
        self.changes
            .iter()
            .flat_map(|c| c.messages.iter().map(move |m| (c, m)))
    }

    /// Every status update with the change it arrived in.
    pub fn statuses(&self) -> impl Iterator<Item = (&Change, &Status)> {
        self.changes
            .iter()
            .flat_map(|c| c.statuses.iter().map(move |s| (c, s)))
    }
}

/// One `messages` change: what happened on one business phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The WhatsApp Business Account id (`entry[].id`); empty if Meta omitted it.
    pub waba_id: String,
    /// The business number's id: routes the change to a merchant.
    pub phone_number_id: String,
    /// The business number as displayed (digits, no `+`); empty if Meta omitted it.
    pub display_phone_number: String,
    /// Senders' profiles (absent for `system` messages).
    pub contacts: Vec<Contact>,
    /// Inbound messages, in the order received.
    pub messages: Vec<Message>,
    /// Status updates of messages the business sent.
    pub statuses: Vec<Status>,
    /// Errors Meta reported for the change as a whole (`value.errors`).
    pub errors: Vec<ApiErrorDetail>,
}

impl Change {
    /// The profile name of the contact whose `wa_id` or `user_id` is exactly `id`.
    pub fn profile_name(&self, id: &str) -> Option<&str> {
        self.contact(id).and_then(|c| c.profile_name.as_deref())
    }

    /// The contact whose `wa_id` or `user_id` (BSUID) is exactly `id`.
    pub fn contact(&self, id: &str) -> Option<&Contact> {
        self.contacts
            .iter()
            .find(|c| c.wa_id.as_deref() == Some(id) || c.user_id.as_deref() == Some(id))
    }
}

/// A change of another webhook field, or a `messages` change that could not be routed, kept raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherChange {
    /// The WhatsApp Business Account id (`entry[].id`); empty if Meta omitted it.
    pub waba_id: String,
    /// The subscribed field, e.g. `message_template_status_update`; empty if Meta omitted it.
    pub field: String,
    /// The change's `value` as received (`Null` if absent).
    pub value: Value,
}

/// A sender's profile from `value.contacts`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    /// Phone number as WhatsApp id, exactly as sent; absent for users who hide it behind a username.
    pub wa_id: Option<String>,
    /// Business-scoped user id (BSUID, e.g. `MX.123…`), sent since 2026.
    pub user_id: Option<String>,
    /// WhatsApp username, if the user adopted one.
    pub username: Option<String>,
    /// Profile name the user chose (not verified).
    pub profile_name: Option<String>,
}

/// One inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Sender's WhatsApp id exactly as sent (Mexico: `521…` or `52…`; normalize elsewhere). For a
    /// user who hides their number behind a username Meta sends no `from`: this is then their
    /// business-scoped user id (`from_user_id`), so every message has a sender to answer.
    pub from: String,
    /// Sender's business-scoped user id, when Meta sends it.
    pub from_user_id: Option<String>,
    /// The message id (`wamid.…`): the deduplication key.
    pub id: String,
    /// Unix seconds when the user sent it; `0` if Meta omitted it or sent something unreadable.
    pub timestamp: i64,
    /// What the message replies to, quotes or forwards.
    pub context: Option<Context>,
    /// Click-to-WhatsApp ad or post that started the conversation, as received.
    pub referral: Option<Value>,
    /// The content.
    pub kind: MessageKind,
}

/// Reply, product-inquiry and forwarding information of a message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Context {
    /// Sender of the message replied to (the business number for replies to its messages).
    pub from: Option<String>,
    /// `wamid` of the message replied to; absent on plain forwards.
    pub id: Option<String>,
    /// The message was forwarded.
    pub forwarded: bool,
    /// The message was forwarded more than five times.
    pub frequently_forwarded: bool,
    /// The catalog product the user asked about ("Message business" on a product).
    pub referred_product: Option<ReferredProduct>,
}

/// A catalog product a message refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferredProduct {
    /// Meta catalog id.
    pub catalog_id: String,
    /// The merchant's SKU for the product (`retailer_id` in the catalog).
    pub product_retailer_id: String,
}

/// The content of an inbound message, by `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    /// `text`.
    Text {
        /// The text, unescaped.
        body: String,
    },
    /// `interactive`: a reply to a button, list or Flow the business sent.
    Interactive(Interactive),
    /// `button`: a quick-reply button of a template was tapped.
    Button {
        /// The payload set when the template was sent.
        payload: String,
        /// The button's label.
        text: String,
    },
    /// `order`: a cart sent from the catalog. Never trust its prices for billing: re-price from the catalog.
    Order {
        /// Meta catalog id.
        catalog_id: String,
        /// Optional note the user typed with the cart.
        text: Option<String>,
        /// The cart's lines.
        items: Vec<OrderItem>,
    },
    /// `image`.
    Image(Media),
    /// `document`.
    Document(Media),
    /// `audio` (voice notes have [`Media::voice`] set).
    Audio(Media),
    /// `video`.
    Video(Media),
    /// `sticker`.
    Sticker(Media),
    /// `location`: a pin the user shared.
    Location {
        /// Latitude, exact decimal text as sent.
        latitude: String,
        /// Longitude, exact decimal text as sent.
        longitude: String,
        /// Place name, for a chosen place.
        name: Option<String>,
        /// Place address, for a chosen place.
        address: Option<String>,
        /// Place URL, for a chosen place.
        url: Option<String>,
    },
    /// `contacts`: vCards as received.
    Contacts(Vec<Value>),
    /// `reaction`: an emoji on an earlier message.
    Reaction {
        /// `wamid` of the message reacted to.
        message_id: String,
        /// The emoji; `None` when the reaction was removed (Meta omits it or sends `""`).
        emoji: Option<String>,
    },
    /// `system`, e.g. `user_changed_number`.
    System {
        /// Human-readable description.
        body: String,
        /// The user's new WhatsApp id (`wa_id`, or `new_wa_id` in newer payloads).
        wa_id: Option<String>,
        /// The system event, e.g. `user_changed_number`.
        kind: String,
    },
    /// `unsupported`: something the Cloud API cannot deliver (poll, edit, …), usually error 131051.
    Unsupported {
        /// Meta's explanation.
        errors: Vec<ApiErrorDetail>,
        /// What the user sent (`unsupported.type`, e.g. `poll_creation`, `edit`), when Meta says.
        kind: Option<String>,
    },
    /// A type this model does not know, or a known type with an unexpected shape: stored, never fatal.
    Unknown {
        /// The message's `type` as sent (empty if absent).
        type_name: String,
        /// The whole message as received.
        raw: Value,
    },
}

impl MessageKind {
    /// The `type` this content corresponds to (for logs and metrics).
    pub fn type_name(&self) -> &str {
        match self {
            MessageKind::Text { .. } => "text",
            MessageKind::Interactive(_) => "interactive",
            MessageKind::Button { .. } => "button",
            MessageKind::Order { .. } => "order",
            MessageKind::Image(_) => "image",
            MessageKind::Document(_) => "document",
            MessageKind::Audio(_) => "audio",
            MessageKind::Video(_) => "video",
            MessageKind::Sticker(_) => "sticker",
            MessageKind::Location { .. } => "location",
            MessageKind::Contacts(_) => "contacts",
            MessageKind::Reaction { .. } => "reaction",
            MessageKind::System { .. } => "system",
            MessageKind::Unsupported { .. } => "unsupported",
            MessageKind::Unknown { type_name, .. } => type_name,
        }
    }
}

/// A reply to an interactive message the business sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interactive {
    /// A reply button was tapped.
    ButtonReply {
        /// The button id the business set.
        id: String,
        /// The button's title.
        title: String,
    },
    /// A list row was chosen.
    ListReply {
        /// The row id the business set.
        id: String,
        /// The row's title.
        title: String,
        /// The row's description, if it had one.
        description: Option<String>,
    },
    /// A Flow was completed.
    NfmReply {
        /// Usually `flow`; empty if absent.
        name: String,
        /// Usually `Sent`; empty if absent.
        body: String,
        /// The Flow's answers, parsed from the JSON string Meta sends.
        response_json: Value,
    },
}

/// One line of an `order` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    /// The merchant's SKU (`retailer_id` in the catalog).
    pub product_retailer_id: String,
    /// Units ordered.
    pub quantity: u32,
    /// Unit price as the exact decimal text sent (`"12.5"`, `"30"`); may be fractional.
    pub item_price: String,
    /// ISO 4217 code, e.g. `MXN`.
    pub currency: String,
}

/// A media attachment; download it through the media id (its URL lasts minutes and needs the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// Media id for `GET /{media-id}`.
    pub id: String,
    /// MIME type, e.g. `image/jpeg`, `audio/ogg; codecs=opus`.
    pub mime_type: String,
    /// Base64 SHA-256 of the file, to check the download.
    pub sha256: Option<String>,
    /// Caption (image, video, document).
    pub caption: Option<String>,
    /// Original file name (document).
    pub filename: Option<String>,
    /// Download URL, in newer payloads (still needs the token).
    pub url: Option<String>,
    /// A voice note recorded in WhatsApp (audio).
    pub voice: bool,
    /// An animated sticker.
    pub animated: bool,
}

/// A status update of a message the business sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `wamid` of the business's message.
    pub id: String,
    /// What happened.
    pub status: StatusKind,
    /// Unix seconds; `0` if absent or unreadable. Statuses arrive out of order: compare ranks, not arrival.
    pub timestamp: i64,
    /// Recipient's WhatsApp id exactly as sent; absent for username-only users.
    pub recipient_id: Option<String>,
    /// Recipient's business-scoped user id, when Meta sends it.
    pub recipient_user_id: Option<String>,
    /// The opaque string the business attached when sending.
    pub biz_opaque_callback_data: Option<String>,
    /// Why a `failed` message failed.
    pub errors: Vec<ApiErrorDetail>,
    /// How Meta prices the message.
    pub pricing: Option<Pricing>,
    /// Conversation id (`conversation.id`), when Meta sends one.
    pub conversation_id: Option<String>,
}

/// The delivery state a status reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// Accepted by WhatsApp's servers.
    Sent,
    /// Reached the user's device.
    Delivered,
    /// Displayed to the user.
    Read,
    /// Could not be sent or delivered; see [`Status::errors`].
    Failed,
    /// A voice message was played.
    Played,
    /// A status this model does not know, as sent.
    Other(String),
}

impl StatusKind {
    /// Reads Meta's `status` string.
    pub fn from_wire(status: &str) -> Self {
        match status {
            "sent" => StatusKind::Sent,
            "delivered" => StatusKind::Delivered,
            "read" => StatusKind::Read,
            "failed" => StatusKind::Failed,
            "played" => StatusKind::Played,
            other => StatusKind::Other(other.to_owned()),
        }
    }

    /// Meta's `status` string.
    pub fn as_str(&self) -> &str {
        match self {
            StatusKind::Sent => "sent",
            StatusKind::Delivered => "delivered",
            StatusKind::Read => "read",
            StatusKind::Failed => "failed",
            StatusKind::Played => "played",
            StatusKind::Other(s) => s,
        }
    }

    /// Order for "never downgrade": apply a status only if its rank is higher than the stored one.
    ///
    /// `sent` 1 < `delivered` 2 < `read` 3 = `played` 3 < `failed` 4. `played` only follows a read voice
    /// note, so it carries no more progress than `read`. `failed` is terminal: once Meta says it failed,
    /// a late `sent` or `delivered` does not resurrect it. Unknown statuses rank 0 so they never
    /// overwrite a known one.
    pub fn rank(&self) -> u8 {
        match self {
            StatusKind::Other(_) => 0,
            StatusKind::Sent => 1,
            StatusKind::Delivered => 2,
            StatusKind::Read | StatusKind::Played => 3,
            StatusKind::Failed => 4,
        }
    }
}

/// Pricing of a sent message (`statuses[].pricing`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pricing {
    /// Whether the message is charged.
    pub billable: Option<bool>,
    /// `PMP` (per message) since July 2025; `CBP` before.
    pub pricing_model: Option<String>,
    /// `marketing`, `utility`, `authentication`, `service`, …
    pub category: Option<String>,
    /// Pricing `type`: `regular`, `free_customer_service`, `free_entry_point`, …
    pub kind: Option<String>,
}

/// An error Meta reports in a webhook (`errors[]` of a status, message or change).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiErrorDetail {
    /// Meta's error code, e.g. 131026 (undeliverable), 131051 (unsupported type); `0` if absent.
    pub code: i64,
    /// Short title; empty if absent.
    pub title: String,
    /// Message; empty if absent.
    pub message: String,
    /// `error_data.details` (or a top-level `details` in older payloads).
    pub details: Option<String>,
}

/// Parses a verified webhook body.
///
/// Fails only when the body is not JSON or not a WhatsApp Business Account envelope; everything below
/// the envelope degrades per element (see the module docs).
pub fn parse(body: &[u8]) -> Result<Delivery, WebhookError> {
    let envelope: WireEnvelope<'_> =
        serde_json::from_slice(body).map_err(|e| match e.classify() {
            // Syntactically valid JSON in another shape (an array, `entry` not a list, …).
            serde_json::error::Category::Data => {
                // Position only: a data error's text can quote a value from the body.
                tracing::warn!(
                    line = e.line(),
                    column = e.column(),
                    "webhook body is JSON but not a WhatsApp delivery envelope"
                );
                WebhookError::NotWhatsApp
            }
            _ => WebhookError::NotJson(e.to_string()),
        })?;
    if envelope.object.as_deref() != Some(WHATSAPP_OBJECT) {
        return Err(WebhookError::NotWhatsApp);
    }

    let mut delivery = Delivery::default();
    for entry in envelope.entry.unwrap_or_default() {
        let waba_id = entry.id.unwrap_or_default();
        for change in entry.changes.unwrap_or_default() {
            let field = change.field.unwrap_or_default();
            let routed = match (field.as_str(), change.value) {
                ("messages", Some(value)) => {
                    parse_messages_change(&waba_id, value, &mut delivery.skipped)
                }
                _ => None,
            };
            match routed {
                Some(c) => delivery.changes.push(c),
                None => {
                    if field == "messages" {
                        tracing::warn!(waba_id = %waba_id, "messages change without metadata.phone_number_id kept raw");
                    }
                    let value = change.value.map_or(Value::Null, raw_to_value);
                    delivery.other_changes.push(OtherChange {
                        waba_id: waba_id.clone(),
                        field,
                        value,
                    });
                }
            }
        }
    }

    if delivery.skipped > 0 {
        tracing::warn!(
            skipped = delivery.skipped,
            "webhook updates without id/from/status skipped"
        );
    }
    let updates = delivery.update_count();
    if updates > MAX_UPDATES_PER_DELIVERY {
        tracing::warn!(
            updates,
            max = MAX_UPDATES_PER_DELIVERY,
            "webhook delivery exceeds Meta's documented batch size"
        );
    }
    Ok(delivery)
}

/// Parses one element of `value.messages` from its JSON text (e.g. a message forwarded through a queue).
///
/// `None` when the message is unusable: no non-empty string `id`, and neither `from` nor
/// `from_user_id` (a username user's BSUID, which then stands in for `from`). Any other oddity yields
/// [`MessageKind::Unknown`] holding the raw message.
pub fn parse_message(json: &str) -> Option<Message> {
    let wire: WireMessage<'_> = match serde_json::from_str(json) {
        Ok(w) => w,
        Err(_) => return parse_opaque_message(json),
    };
    let id = wire.id.and_then(non_empty_string)?;
    let from_user_id = wire.from_user_id.and_then(non_empty_string);
    let from = wire
        .from
        .and_then(non_empty_string)
        .or_else(|| from_user_id.clone())?;
    let type_name = wire.kind.and_then(non_empty_string).unwrap_or_default();
    let kind = match parse_kind(&type_name, &wire) {
        Some(kind) => kind,
        None => {
            if KNOWN_TYPES.contains(&type_name.as_str()) {
                tracing::warn!(wamid = %id, type_name = %type_name, "message of a known type with an unexpected shape kept raw");
            } else {
                tracing::info!(wamid = %id, type_name = %type_name, "message of an unknown type kept raw");
            }
            MessageKind::Unknown {
                type_name,
                raw: str_to_value(json),
            }
        }
    };
    Some(Message {
        from,
        from_user_id,
        id,
        timestamp: wire.timestamp.and_then(integer).unwrap_or(0),
        context: typed::<WireContext>(wire.context).map(WireContext::into_context),
        referral: typed::<Value>(wire.referral),
        kind,
    })
}

const KNOWN_TYPES: &[&str] = &[
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
    "unknown",
];

fn parse_messages_change(waba_id: &str, value: &RawValue, skipped: &mut usize) -> Option<Change> {
    let wire: WireValue<'_> = serde_json::from_str(value.get()).ok()?;
    let metadata = wire.metadata?;
    let mut messages = Vec::with_capacity(wire.messages.as_ref().map_or(0, Vec::len));
    for raw in wire.messages.unwrap_or_default() {
        match parse_message(raw.get()) {
            Some(m) => messages.push(m),
            None => *skipped += 1,
        }
    }
    let mut statuses = Vec::with_capacity(wire.statuses.as_ref().map_or(0, Vec::len));
    for raw in wire.statuses.unwrap_or_default() {
        match parse_status(raw.get()) {
            Some(s) => statuses.push(s),
            None => *skipped += 1,
        }
    }
    Some(Change {
        waba_id: waba_id.to_owned(),
        phone_number_id: metadata.phone_number_id,
        display_phone_number: metadata.display_phone_number.unwrap_or_default(),
        contacts: wire
            .contacts
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| typed::<WireContact>(Some(c)))
            .map(WireContact::into_contact)
            .collect(),
        messages,
        statuses,
        errors: parse_errors(wire.errors),
    })
}

/// A message whose top level is not a plain object of known field types: keep it if it has `id`/`from`.
fn parse_opaque_message(json: &str) -> Option<Message> {
    let raw = str_to_value(json);
    let text = |key: &str| {
        raw.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let id = text("id")?;
    let from = text("from").or_else(|| text("from_user_id"))?;
    let type_name = text("type").unwrap_or_default();
    tracing::warn!(wamid = %id, type_name = %type_name, "message with an unexpected shape kept raw");
    Some(Message {
        from,
        from_user_id: text("from_user_id"),
        id,
        timestamp: raw
            .get("timestamp")
            .and_then(|t| {
                t.as_str()
                    .and_then(|s| s.parse().ok())
                    .or_else(|| t.as_i64())
            })
            .unwrap_or(0),
        context: None,
        referral: None,
        kind: MessageKind::Unknown { type_name, raw },
    })
}

/// The typed content for `type_name`, or `None` when the type is unknown or its object is misshapen.
fn parse_kind(type_name: &str, w: &WireMessage<'_>) -> Option<MessageKind> {
    let kind = match type_name {
        "text" => MessageKind::Text {
            body: typed::<WireText>(w.text)?.body,
        },
        "interactive" => MessageKind::Interactive(parse_interactive(w.interactive)?),
        "button" => {
            let b = typed::<WireButton>(w.button)?;
            MessageKind::Button {
                payload: b.payload,
                text: b.text,
            }
        }
        "order" => {
            let o = typed::<WireOrder>(w.order)?;
            let items = o
                .product_items
                .into_iter()
                .map(|i| OrderItem {
                    product_retailer_id: i.product_retailer_id,
                    quantity: i.quantity,
                    item_price: i.item_price,
                    currency: i.currency,
                })
                .collect();
            MessageKind::Order {
                catalog_id: o.catalog_id,
                text: o.text,
                items,
            }
        }
        "image" => MessageKind::Image(typed::<WireMedia>(w.image)?.into_media()),
        "document" => MessageKind::Document(typed::<WireMedia>(w.document)?.into_media()),
        "audio" => MessageKind::Audio(typed::<WireMedia>(w.audio)?.into_media()),
        "video" => MessageKind::Video(typed::<WireMedia>(w.video)?.into_media()),
        "sticker" => MessageKind::Sticker(typed::<WireMedia>(w.sticker)?.into_media()),
        "location" => {
            let l = typed::<WireLocation>(w.location)?;
            MessageKind::Location {
                latitude: l.latitude,
                longitude: l.longitude,
                name: l.name,
                address: l.address,
                url: l.url,
            }
        }
        "contacts" => MessageKind::Contacts(typed::<Vec<Value>>(w.contacts)?),
        "reaction" => {
            let r = typed::<WireReaction>(w.reaction)?;
            MessageKind::Reaction {
                message_id: r.message_id,
                emoji: r.emoji.filter(|e| !e.is_empty()),
            }
        }
        "system" => {
            let s = typed::<WireSystem>(w.system)?;
            MessageKind::System {
                body: s.body,
                wa_id: s.wa_id.or(s.new_wa_id),
                kind: s.kind,
            }
        }
        // `unknown` is what older API versions sent for the same case.
        "unsupported" | "unknown" => MessageKind::Unsupported {
            errors: parse_errors(w.errors),
            kind: typed::<WireUnsupported>(w.unsupported).and_then(|u| u.kind),
        },
        _ => return None,
    };
    Some(kind)
}

fn parse_interactive(raw: Option<&RawValue>) -> Option<Interactive> {
    let i = typed::<WireInteractive<'_>>(raw)?;
    let reply = match i.kind.as_str() {
        "button_reply" => {
            let b = typed::<WireReply>(i.button_reply)?;
            Interactive::ButtonReply {
                id: b.id,
                title: b.title,
            }
        }
        "list_reply" => {
            let l = typed::<WireReply>(i.list_reply)?;
            Interactive::ListReply {
                id: l.id,
                title: l.title,
                description: l.description,
            }
        }
        "nfm_reply" => {
            let n = typed::<WireNfmReply>(i.nfm_reply)?;
            let response_json = serde_json::from_str(&n.response_json).ok()?;
            Interactive::NfmReply {
                name: n.name.unwrap_or_default(),
                body: n.body.unwrap_or_default(),
                response_json,
            }
        }
        _ => return None,
    };
    Some(reply)
}

fn parse_status(json: &str) -> Option<Status> {
    let w: WireStatus<'_> = serde_json::from_str(json).ok()?;
    let id = w.id.and_then(non_empty_string)?;
    let status = w.status.and_then(non_empty_string)?;
    Some(Status {
        id,
        status: StatusKind::from_wire(&status),
        timestamp: w.timestamp.and_then(integer).unwrap_or(0),
        recipient_id: w.recipient_id.and_then(non_empty_string),
        recipient_user_id: w.recipient_user_id.and_then(non_empty_string),
        biz_opaque_callback_data: w.biz_opaque_callback_data.and_then(non_empty_string),
        errors: parse_errors(w.errors),
        pricing: typed::<WirePricing>(w.pricing).map(|p| Pricing {
            billable: p.billable,
            pricing_model: p.pricing_model,
            category: p.category,
            kind: p.kind,
        }),
        conversation_id: typed::<WireConversation>(w.conversation).and_then(|c| c.id),
    })
}

/// Each element of an `errors` list that is an object; the others are dropped.
fn parse_errors(raw: Option<&RawValue>) -> Vec<ApiErrorDetail> {
    typed::<Vec<&RawValue>>(raw)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| typed::<WireError<'_>>(Some(e)))
        .map(|e| {
            let data_details = typed::<WireErrorData>(e.error_data).and_then(|d| d.details);
            ApiErrorDetail {
                code: e.code.and_then(integer).unwrap_or(0),
                title: e.title.and_then(non_empty_string).unwrap_or_default(),
                message: e.message.and_then(non_empty_string).unwrap_or_default(),
                details: data_details.or_else(|| e.details.and_then(non_empty_string)),
            }
        })
        .collect()
}

// ---- reading raw JSON values ----

/// Deserializes `raw` (borrowing from it) as `T`; `None` if absent or of another shape.
fn typed<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Option<T> {
    serde_json::from_str(raw?.get()).ok()
}

/// A JSON string's decoded text; `None` for other JSON types and for `""`.
fn non_empty_string(raw: &RawValue) -> Option<String> {
    serde_json::from_str::<String>(raw.get())
        .ok()
        .filter(|s| !s.is_empty())
}

/// An integer sent as a JSON number or as a string of digits (Meta sends timestamps as strings).
fn integer(raw: &RawValue) -> Option<i64> {
    let text = raw.get().trim();
    if text.starts_with('"') {
        serde_json::from_str::<String>(text)
            .ok()?
            .trim()
            .parse()
            .ok()
    } else {
        text.parse().ok()
    }
}

fn raw_to_value(raw: &RawValue) -> Value {
    str_to_value(raw.get())
}

/// `raw` was validated as JSON when it was split off, so `Null` is unreachable in practice.
fn str_to_value(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or(Value::Null)
}

/// The exact text of a JSON number (or of a string holding one), kept off `f64`.
fn number_text<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'de, str>, D::Error> {
    let raw = <&'de RawValue>::deserialize(d)?;
    let text = raw.get().trim();
    if text.starts_with('"') {
        let s = serde_json::from_str::<String>(text).map_err(D::Error::custom)?;
        Ok(Cow::Owned(s.trim().to_owned()))
    } else {
        Ok(Cow::Borrowed(text))
    }
}

/// A plain decimal (`-?digits[.digits]`) as exact text: what `rust_decimal` and friends parse losslessly.
fn decimal_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = number_text(d)?;
    if is_plain_decimal(&text) {
        Ok(text.into_owned())
    } else {
        Err(D::Error::custom("expected a plain decimal number"))
    }
}

fn quantity<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let text = number_text(d)?;
    text.parse()
        .map_err(|_| D::Error::custom("expected a whole, non-negative quantity"))
}

fn is_plain_decimal(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    all_digits(int) && frac.is_none_or(all_digits)
}

// ---- wire shapes (private: the public model above is what callers see) ----

#[derive(Deserialize)]
struct WireEnvelope<'a> {
    object: Option<String>,
    #[serde(borrow)]
    entry: Option<Vec<WireEntry<'a>>>,
}

#[derive(Deserialize)]
struct WireEntry<'a> {
    id: Option<String>,
    #[serde(borrow)]
    changes: Option<Vec<WireChange<'a>>>,
}

#[derive(Deserialize)]
struct WireChange<'a> {
    field: Option<String>,
    #[serde(borrow)]
    value: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireValue<'a> {
    metadata: Option<WireMetadata>,
    #[serde(borrow)]
    contacts: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    messages: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    statuses: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    errors: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireMetadata {
    phone_number_id: String,
    display_phone_number: Option<String>,
}

#[derive(Deserialize)]
struct WireContact {
    wa_id: Option<String>,
    user_id: Option<String>,
    username: Option<String>,
    profile: Option<WireProfile>,
}

#[derive(Deserialize)]
struct WireProfile {
    name: Option<String>,
    username: Option<String>,
}

impl WireContact {
    fn into_contact(self) -> Contact {
        let (profile_name, profile_username) =
            self.profile.map_or((None, None), |p| (p.name, p.username));
        Contact {
            wa_id: self.wa_id,
            user_id: self.user_id,
            username: self.username.or(profile_username),
            profile_name,
        }
    }
}

/// Every field raw, so that no field's shape can fail the message as a whole.
#[derive(Deserialize)]
struct WireMessage<'a> {
    #[serde(borrow)]
    from: Option<&'a RawValue>,
    #[serde(borrow)]
    from_user_id: Option<&'a RawValue>,
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow, rename = "type")]
    kind: Option<&'a RawValue>,
    #[serde(borrow)]
    context: Option<&'a RawValue>,
    #[serde(borrow)]
    referral: Option<&'a RawValue>,
    #[serde(borrow)]
    errors: Option<&'a RawValue>,
    #[serde(borrow)]
    text: Option<&'a RawValue>,
    #[serde(borrow)]
    interactive: Option<&'a RawValue>,
    #[serde(borrow)]
    button: Option<&'a RawValue>,
    #[serde(borrow)]
    order: Option<&'a RawValue>,
    #[serde(borrow)]
    image: Option<&'a RawValue>,
    #[serde(borrow)]
    document: Option<&'a RawValue>,
    #[serde(borrow)]
    audio: Option<&'a RawValue>,
    #[serde(borrow)]
    video: Option<&'a RawValue>,
    #[serde(borrow)]
    sticker: Option<&'a RawValue>,
    #[serde(borrow)]
    location: Option<&'a RawValue>,
    #[serde(borrow)]
    contacts: Option<&'a RawValue>,
    #[serde(borrow)]
    reaction: Option<&'a RawValue>,
    #[serde(borrow)]
    system: Option<&'a RawValue>,
    #[serde(borrow)]
    unsupported: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireContext {
    from: Option<String>,
    id: Option<String>,
    #[serde(default)]
    forwarded: bool,
    #[serde(default)]
    frequently_forwarded: bool,
    referred_product: Option<WireReferredProduct>,
}

impl WireContext {
    fn into_context(self) -> Context {
        Context {
            from: self.from,
            id: self.id,
            forwarded: self.forwarded,
            frequently_forwarded: self.frequently_forwarded,
            referred_product: self.referred_product.map(|p| ReferredProduct {
                catalog_id: p.catalog_id,
                product_retailer_id: p.product_retailer_id,
            }),
        }
    }
}

#[derive(Deserialize)]
struct WireReferredProduct {
    catalog_id: String,
    product_retailer_id: String,
}

#[derive(Deserialize)]
struct WireText {
    body: String,
}

#[derive(Deserialize)]
struct WireInteractive<'a> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(borrow)]
    button_reply: Option<&'a RawValue>,
    #[serde(borrow)]
    list_reply: Option<&'a RawValue>,
    #[serde(borrow)]
    nfm_reply: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireReply {
    id: String,
    title: String,
    description: Option<String>,
}

#[derive(Deserialize)]
struct WireNfmReply {
    name: Option<String>,
    body: Option<String>,
    response_json: String,
}

#[derive(Deserialize)]
struct WireButton {
    payload: String,
    text: String,
}

#[derive(Deserialize)]
struct WireOrder {
    catalog_id: String,
    text: Option<String>,
    product_items: Vec<WireOrderItem>,
}

#[derive(Deserialize)]
struct WireOrderItem {
    product_retailer_id: String,
    #[serde(deserialize_with = "quantity")]
    quantity: u32,
    #[serde(deserialize_with = "decimal_text")]
    item_price: String,
    currency: String,
}

#[derive(Deserialize)]
struct WireMedia {
    id: String,
    mime_type: String,
    sha256: Option<String>,
    caption: Option<String>,
    filename: Option<String>,
    url: Option<String>,
    voice: Option<bool>,
    animated: Option<bool>,
}

impl WireMedia {
    fn into_media(self) -> Media {
        Media {
            id: self.id,
            mime_type: self.mime_type,
            sha256: self.sha256,
            caption: self.caption,
            filename: self.filename,
            url: self.url,
            voice: self.voice.unwrap_or(false),
            animated: self.animated.unwrap_or(false),
        }
    }
}

#[derive(Deserialize)]
struct WireLocation {
    #[serde(deserialize_with = "decimal_text")]
    latitude: String,
    #[serde(deserialize_with = "decimal_text")]
    longitude: String,
    name: Option<String>,
    address: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
struct WireReaction {
    message_id: String,
    emoji: Option<String>,
}

#[derive(Deserialize)]
struct WireSystem {
    body: String,
    wa_id: Option<String>,
    new_wa_id: Option<String>,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct WireUnsupported {
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct WireStatus<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    status: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    recipient_id: Option<&'a RawValue>,
    #[serde(borrow)]
    recipient_user_id: Option<&'a RawValue>,
    #[serde(borrow)]
    biz_opaque_callback_data: Option<&'a RawValue>,
    #[serde(borrow)]
    errors: Option<&'a RawValue>,
    #[serde(borrow)]
    pricing: Option<&'a RawValue>,
    #[serde(borrow)]
    conversation: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WirePricing {
    billable: Option<bool>,
    pricing_model: Option<String>,
    category: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct WireConversation {
    id: Option<String>,
}

#[derive(Deserialize)]
struct WireError<'a> {
    #[serde(borrow)]
    code: Option<&'a RawValue>,
    #[serde(borrow)]
    title: Option<&'a RawValue>,
    #[serde(borrow)]
    message: Option<&'a RawValue>,
    #[serde(borrow)]
    details: Option<&'a RawValue>,
    #[serde(borrow)]
    error_data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireErrorData {
    details: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_decimals_are_recognized() {
        for ok in ["0", "30", "12.5", "149.99", "-99.1332", "19.4326077"] {
            assert!(is_plain_decimal(ok), "{ok}");
        }
        for bad in [
            "", "-", ".5", "5.", "1e3", "1.2.3", "+1", "12,5", " 1", "NaN",
        ] {
            assert!(!is_plain_decimal(bad), "{bad}");
        }
    }

    #[test]
    fn status_ranks_never_downgrade() {
        let order = [
            StatusKind::Sent,
            StatusKind::Delivered,
            StatusKind::Read,
            StatusKind::Failed,
        ];
        assert!(order.windows(2).all(|w| w[0].rank() < w[1].rank()));
        assert_eq!(StatusKind::Played.rank(), StatusKind::Read.rank());
        assert!(StatusKind::Other("deleted".into()).rank() < StatusKind::Sent.rank());
        assert_eq!(
            StatusKind::from_wire("warning"),
            StatusKind::Other("warning".into())
        );
        assert_eq!(StatusKind::from_wire("played").as_str(), "played");
    }
}
