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

mod parse;
mod wire;

pub use parse::{parse, parse_message};
use serde_json::Value;

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

#[cfg(test)]
mod tests {
    use super::parse::is_plain_decimal;
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
