//! Meta's wire shapes of a webhook delivery, as serde reads them; private to the parser (the
//! public model in `webhook` is what callers see).

use super::parse::{decimal_text, quantity};
use super::{Contact, Context, Media, ReferredProduct};
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
pub(super) struct WireEnvelope<'a> {
    pub(super) object: Option<String>,
    #[serde(borrow)]
    pub(super) entry: Option<Vec<WireEntry<'a>>>,
}

#[derive(Deserialize)]
pub(super) struct WireEntry<'a> {
    pub(super) id: Option<String>,
    #[serde(borrow)]
    pub(super) changes: Option<Vec<WireChange<'a>>>,
}

#[derive(Deserialize)]
pub(super) struct WireChange<'a> {
    pub(super) field: Option<String>,
    #[serde(borrow)]
    pub(super) value: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub(super) struct WireValue<'a> {
    pub(super) metadata: Option<WireMetadata>,
    #[serde(borrow)]
    pub(super) contacts: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    pub(super) messages: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    pub(super) statuses: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    pub(super) errors: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub(super) struct WireMetadata {
    pub(super) phone_number_id: String,
    pub(super) display_phone_number: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WireContact {
    pub(super) wa_id: Option<String>,
    pub(super) user_id: Option<String>,
    pub(super) username: Option<String>,
    pub(super) profile: Option<WireProfile>,
}

#[derive(Deserialize)]
pub(super) struct WireProfile {
    pub(super) name: Option<String>,
    pub(super) username: Option<String>,
}

impl WireContact {
    pub(super) fn into_contact(self) -> Contact {
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
pub(super) struct WireMessage<'a> {
    #[serde(borrow)]
    pub(super) from: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) from_user_id: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) id: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) timestamp: Option<&'a RawValue>,
    #[serde(borrow, rename = "type")]
    pub(super) kind: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) context: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) referral: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) errors: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) text: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) interactive: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) button: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) order: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) image: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) document: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) audio: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) video: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) sticker: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) location: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) contacts: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) reaction: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) system: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) unsupported: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub(super) struct WireContext {
    pub(super) from: Option<String>,
    pub(super) id: Option<String>,
    #[serde(default)]
    pub(super) forwarded: bool,
    #[serde(default)]
    pub(super) frequently_forwarded: bool,
    pub(super) referred_product: Option<WireReferredProduct>,
}

impl WireContext {
    pub(super) fn into_context(self) -> Context {
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
pub(super) struct WireReferredProduct {
    pub(super) catalog_id: String,
    pub(super) product_retailer_id: String,
}

#[derive(Deserialize)]
pub(super) struct WireText {
    pub(super) body: String,
}

#[derive(Deserialize)]
pub(super) struct WireInteractive<'a> {
    #[serde(rename = "type")]
    pub(super) kind: String,
    #[serde(borrow)]
    pub(super) button_reply: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) list_reply: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) nfm_reply: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub(super) struct WireReply {
    pub(super) id: String,
    pub(super) title: String,
    pub(super) description: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WireNfmReply {
    pub(super) name: Option<String>,
    pub(super) body: Option<String>,
    pub(super) response_json: String,
}

#[derive(Deserialize)]
pub(super) struct WireButton {
    pub(super) payload: String,
    pub(super) text: String,
}

#[derive(Deserialize)]
pub(super) struct WireOrder {
    pub(super) catalog_id: String,
    pub(super) text: Option<String>,
    pub(super) product_items: Vec<WireOrderItem>,
}

#[derive(Deserialize)]
pub(super) struct WireOrderItem {
    pub(super) product_retailer_id: String,
    #[serde(deserialize_with = "quantity")]
    pub(super) quantity: u32,
    #[serde(deserialize_with = "decimal_text")]
    pub(super) item_price: String,
    pub(super) currency: String,
}

#[derive(Deserialize)]
pub(super) struct WireMedia {
    pub(super) id: String,
    pub(super) mime_type: String,
    pub(super) sha256: Option<String>,
    pub(super) caption: Option<String>,
    pub(super) filename: Option<String>,
    pub(super) url: Option<String>,
    pub(super) voice: Option<bool>,
    pub(super) animated: Option<bool>,
}

impl WireMedia {
    pub(super) fn into_media(self) -> Media {
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
pub(super) struct WireLocation {
    #[serde(deserialize_with = "decimal_text")]
    pub(super) latitude: String,
    #[serde(deserialize_with = "decimal_text")]
    pub(super) longitude: String,
    pub(super) name: Option<String>,
    pub(super) address: Option<String>,
    pub(super) url: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WireReaction {
    pub(super) message_id: String,
    pub(super) emoji: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WireSystem {
    pub(super) body: String,
    pub(super) wa_id: Option<String>,
    pub(super) new_wa_id: Option<String>,
    #[serde(rename = "type")]
    pub(super) kind: String,
}

#[derive(Deserialize)]
pub(super) struct WireUnsupported {
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WireStatus<'a> {
    #[serde(borrow)]
    pub(super) id: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) status: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) recipient_id: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) recipient_user_id: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) biz_opaque_callback_data: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) errors: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) pricing: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) conversation: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub(super) struct WirePricing {
    pub(super) billable: Option<bool>,
    pub(super) pricing_model: Option<String>,
    pub(super) category: Option<String>,
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WireConversation {
    pub(super) id: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WireError<'a> {
    #[serde(borrow)]
    pub(super) code: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) title: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) message: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) details: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) error_data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub(super) struct WireErrorData {
    pub(super) details: Option<String>,
}
