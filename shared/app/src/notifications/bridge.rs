//! The bridge to a merchant's own bot (`bot_bridge` in the notification settings): a bank's
//! customer who writes "saldo" is answered by the bank's system, not by the shop assistant.
//!
//! A message no notification took (see [`super::replies`]) is sent to the merchant's webhook as a
//! signed `message.received` event — id `message.received:{wamid}`, so a redelivered message is one
//! event for the receiver — with Meta's message object as it came and its text read out. The
//! merchant answers with `POST /v1/messages` inside the 24-hour window (`window_closes_at`).
//!
//! What stays here whatever the merchant's bot does: consent changes ("baja", "alta", "baja
//! promociones") are recorded and confirmed by mostrador (the LFPDPPP opt-out cannot depend on a
//! third system), and a conversation a person has taken in the console stays with that person.
//! Without a configured webhook the shop assistant answers, so no customer is left unheard.

use crate::parties::conversation;
use crate::parties::hooks::{self, HookEvent};
use crate::parties::messages::InboundEnvelope;
use crate::parties::notification_settings;
use crate::platform::error::AppError;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_core::conversation::{changes_consent, State};
use mostrador_whatsapp::webhook::{self, Interactive, MessageKind};
use serde_json::{json, Value};

/// The kind of the event a forwarded message makes.
pub const MESSAGE_RECEIVED: &str = "message.received";

/// How long after the customer's message the merchant may answer with free text (Meta's customer
/// service window).
const WINDOW_SECS: i64 = 24 * 3600;

/// Forwards `msg` to the merchant's bot when the merchant has the bridge on; `Ok(false)` leaves it
/// to the conversation (bridge off, no webhook, a consent change, a person has the chat).
pub async fn forward(deps: &Deps, msg: &InboundEnvelope) -> Result<bool, AppError> {
    let merchant = MerchantId::try_from(msg.merchant_id.clone()).map_err(AppError::BadRequest)?;
    let table = TenantTable::of(deps, &merchant);
    if !notification_settings::load(&table).await?.bot_bridge {
        return Ok(false);
    }
    let Some(message) = webhook::parse_message(msg.message.get()) else {
        return Ok(false);
    };
    let text = text_of(&message.kind);
    if text.as_deref().is_some_and(changes_consent) {
        return Ok(false);
    }
    if matches!(
        conversation::load_state(&table, &msg.wa_id).await?,
        State::HandedOff
    ) {
        return Ok(false);
    }
    if hooks::configured_url(deps, &merchant).await?.is_none() {
        return Ok(false);
    }
    let raw: Value = serde_json::from_str(msg.message.get()).unwrap_or(Value::Null);
    let kind = raw
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    let data = json!({
        "wa_id": msg.wa_id,
        "message_id": msg.wamid,
        "branch_id": msg.branch_id,
        "phone_number_id": msg.phone_number_id,
        "profile_name": msg.profile_name,
        "timestamp": msg.timestamp,
        "type": kind,
        "text": text,
        "quoted_message_id": message.context.as_ref().and_then(|c| c.id.clone()),
        "window_closes_at": msg.timestamp + WINDOW_SECS,
        "message": raw,
    });
    hooks::emit(
        deps,
        &merchant,
        HookEvent {
            id: format!("{MESSAGE_RECEIVED}:{}", msg.wamid),
            kind: MESSAGE_RECEIVED.into(),
            data,
        },
    )
    .await?;
    tracing::info!(merchant = %merchant, "customer message forwarded to the merchant's bot");
    Ok(true)
}

/// What the customer wrote or chose, as text.
fn text_of(kind: &MessageKind) -> Option<String> {
    match kind {
        MessageKind::Text { body } => Some(body.clone()),
        MessageKind::Button { text, .. } => Some(text.clone()),
        MessageKind::Interactive(
            Interactive::ButtonReply { title, .. } | Interactive::ListReply { title, .. },
        ) => Some(title.clone()),
        MessageKind::Image(m) | MessageKind::Document(m) | MessageKind::Video(m) => {
            m.caption.clone()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(raw: Value) -> MessageKind {
        webhook::parse_message(&raw.to_string())
            .expect("a message Meta sends")
            .kind
    }

    #[test]
    fn the_text_read_out_is_what_the_customer_wrote_or_chose() {
        let base = json!({ "from": "5215512345678", "id": "wamid.X", "timestamp": "1763650000" });
        let with = |extra: Value| {
            let mut m = base.clone();
            for (k, v) in extra.as_object().expect("object") {
                m[k] = v.clone();
            }
            m
        };
        assert_eq!(
            text_of(&kind(with(
                json!({ "type": "text", "text": { "body": "saldo" } })
            ))),
            Some("saldo".into())
        );
        assert_eq!(
            text_of(&kind(with(json!({ "type": "interactive", "interactive": {
                "type": "button_reply", "button_reply": { "id": "SALDO", "title": "Ver saldo" } } })))),
            Some("Ver saldo".into())
        );
        assert_eq!(
            text_of(&kind(with(json!({ "type": "image", "image": {
                "id": "1", "mime_type": "image/jpeg", "caption": "mi INE" } })))),
            Some("mi INE".into())
        );
        assert_eq!(
            text_of(&kind(with(json!({ "type": "location", "location": {
                "latitude": 19.43, "longitude": -99.13 } })))),
            None
        );
    }
}
