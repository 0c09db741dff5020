//! The customer answers a notification: a quick-reply tap or a keyword ("no fui yo", "detalles")
//! runs the template's actions — a signed event to the merchant's webhook, the details, a human — and
//! a document sent after a KYC reminder is stored and reported. This runs before the commerce
//! conversation and takes the message only when it belongs to a notification; everything else
//! (including "baja" and "alta") goes on to the chat unchanged.
//!
//! A message belongs to a notification when it quotes it (`context.id` is the wamid we sent) or, for
//! keywords and documents, when a notification went to the customer within the attribution window.

use super::stats::{self, Milestone, Tag};
use super::templates::{self, ReplyAction};
use crate::parties::hooks::{self, HookEvent};
use crate::parties::messages::InboundEnvelope;
use crate::platform::error::AppError;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_store::{Query, Table};
use mostrador_whatsapp::webhook::{self, Interactive, MessageKind};
use serde_json::json;
use sha2::{Digest, Sha256};

/// What the customer did.
enum Trigger {
    Payload(String),
    Keyword(String),
    Document(webhook::Media),
    /// Free text quoting the notification: counted as a reply, answered by the chat.
    Other,
}

/// Handles `msg` when it answers a notification; `Ok(false)` leaves it to the conversation.
pub(crate) async fn intercept(deps: &Deps, msg: &InboundEnvelope) -> Result<bool, AppError> {
    let Some(message) = webhook::parse_message(msg.message.get()) else {
        return Ok(false);
    };
    let trigger = match message.kind {
        MessageKind::Button { payload, .. } => Trigger::Payload(payload),
        MessageKind::Interactive(Interactive::ButtonReply { id, .. }) => Trigger::Payload(id),
        MessageKind::Text { body } => Trigger::Keyword(body),
        MessageKind::Document(m) | MessageKind::Image(m) => Trigger::Document(m),
        _ => Trigger::Other,
    };
    let merchant = MerchantId::try_from(msg.merchant_id.clone()).map_err(AppError::BadRequest)?;
    let table = TenantTable::of(deps, &merchant);
    let quoted = match message.context.as_ref().and_then(|c| c.id.as_deref()) {
        Some(wamid) => quoted_notification(&table, wamid).await?,
        None => None,
    };
    let tag = match quoted {
        Some(t) => Some(t),
        None if matches!(trigger, Trigger::Other) => None,
        // A document answers the latest KYC request, even when other notifications came after it.
        None if matches!(trigger, Trigger::Document(_)) => {
            recent_where(deps, &table, &msg.wa_id, |t| t.kind == KYC_REQUEST).await?
        }
        None => recent_notification(deps, &table, &msg.wa_id).await?,
    };
    let Some(tag) = tag else {
        return Ok(false);
    };
    let quoting = message.context.as_ref().is_some_and(|c| c.id.is_some());
    let template = templates::get(&table, &tag.template).await?;
    let now = deps.clock.now();
    match trigger {
        Trigger::Document(media) => {
            document(deps, &merchant, &table, msg, &tag, media, quoting).await?;
            Ok(true)
        }
        Trigger::Payload(payload) => {
            let found = template
                .as_ref()
                .and_then(|t| t.quick_reply(&payload))
                .map(|(a, r)| (a.to_vec(), r.map(str::to_owned)));
            let Some((actions, reply)) = found else {
                // A payload of no registered button: count it, let the chat answer.
                if quoting {
                    stats::mark(&table, &tag, Milestone::Replied, now, &[]).await?;
                }
                return Ok(false);
            };
            stats::mark(&table, &tag, Milestone::Replied, now, &[]).await?;
            act(
                deps,
                &merchant,
                &table,
                msg,
                &tag,
                template.as_ref(),
                "button",
                &payload,
                &actions,
                reply,
            )
            .await?;
            Ok(true)
        }
        Trigger::Keyword(text) => {
            let found = template
                .as_ref()
                .and_then(|t| t.keyword(&text))
                .map(|k| (k.keyword.clone(), k.actions.clone(), k.reply.clone()));
            let Some((keyword, actions, reply)) = found else {
                if quoting {
                    stats::mark(&table, &tag, Milestone::Replied, now, &[]).await?;
                }
                return Ok(false);
            };
            stats::mark(&table, &tag, Milestone::Replied, now, &[]).await?;
            act(
                deps,
                &merchant,
                &table,
                msg,
                &tag,
                template.as_ref(),
                "keyword",
                &keyword,
                &actions,
                reply,
            )
            .await?;
            Ok(true)
        }
        Trigger::Other => {
            stats::mark(&table, &tag, Milestone::Replied, now, &[]).await?;
            Ok(false)
        }
    }
}

/// The notification a quoted wamid belongs to.
async fn quoted_notification(table: &TenantTable, wamid: &str) -> Result<Option<Tag>, AppError> {
    if wamid.is_empty() || wamid.len() > 200 {
        return Ok(None);
    }
    let Some(pointer) = table.get(&crate::platform::schema::wamid(wamid)).await? else {
        return Ok(None);
    };
    match pointer.get_s("id") {
        Some(id) if super::is_notification(id) => Ok(stats::tag(table, id).await?),
        _ => Ok(None),
    }
}

/// The kind of notification a document answers when it quotes none.
pub const KYC_REQUEST: &str = "kyc_reminder";

/// The latest notification sent to the customer within the attribution window.
pub(crate) async fn recent_notification(
    deps: &Deps,
    table: &TenantTable,
    wa_id: &str,
) -> Result<Option<Tag>, AppError> {
    recent_where(deps, table, wa_id, |_| true).await
}

/// The latest notification sent to the customer within the attribution window that `fits`.
pub(crate) async fn recent_where(
    deps: &Deps,
    table: &TenantTable,
    wa_id: &str,
    fits: impl Fn(&Tag) -> bool,
) -> Result<Option<Tag>, AppError> {
    let settings = crate::parties::notification_settings::load(table).await?;
    let now_ms = deps.clock.now_ms();
    let since = now_ms - settings.attribution_secs() * 1000;
    let page = table
        .query(
            Query::partition(crate::platform::schema::customer_pk(&table.customer(wa_id)))
                .sort({
                    let (from, to) =
                        crate::platform::schema::customer_notifications_between(since, now_ms);
                    mostrador_store::SortKey::Between(from, to)
                })
                .backward()
                .limit(25),
        )
        .await?;
    for pointer in &page.items {
        let Some(id) = pointer.get_s("id") else {
            continue;
        };
        if let Some(mut tag) = stats::tag(table, id).await? {
            tag.metadata = tag.metadata_of(deps, table.merchant()).await;
            // Only notifications that went out (a scheduled or refused one was never seen).
            if tag.sent_at.is_some() && fits(&tag) {
                return Ok(Some(tag));
            }
        }
    }
    Ok(None)
}

/// Outbound ids of our answers: derived from the customer's wamid, so a redelivery sends nothing new.
fn answer_id(wamid: &str, n: u32) -> String {
    let digest = hex::encode(Sha256::digest(wamid.as_bytes()));
    format!("nr{}-{n}", &digest[..32])
}

#[allow(clippy::too_many_arguments)]
async fn act(
    deps: &Deps,
    merchant: &MerchantId,
    table: &TenantTable,
    msg: &InboundEnvelope,
    tag: &Tag,
    template: Option<&templates::TemplateDef>,
    trigger: &str,
    value: &str,
    actions: &[ReplyAction],
    reply: Option<String>,
) -> Result<(), AppError> {
    tracing::info!(merchant = %merchant, notification = %tag.id, trigger, actions = ?actions, "customer answered a notification");
    let mut n = 0;
    if let Some(text) = reply {
        n += 1;
        send_text(deps, merchant, msg, &answer_id(&msg.wamid, n), text).await?;
    }
    for action in actions {
        match action {
            ReplyAction::Webhook => {
                let event = HookEvent {
                    id: format!("notification.reply:{}", msg.wamid),
                    kind: "notification.reply".into(),
                    data: json!({
                        "notification_id": tag.id,
                        "template": tag.template,
                        "kind": tag.kind,
                        "campaign": tag.campaign,
                        "metadata": tag.metadata_of(deps, merchant).await,
                        "customer": tag.to_of(deps, merchant).await,
                        "reply": { "type": trigger, "value": value },
                        "actions": actions,
                        "received_at": msg.timestamp,
                    }),
                };
                hooks::emit(deps, merchant, event).await?;
            }
            ReplyAction::Details => {
                let sealed = match tag.details.clone() {
                    Some(clear) => Some(clear),
                    None => match table.get(&super::key(&tag.id)).await? {
                        Some(record) => {
                            crate::parties::conversation::text_of(deps, table, &record, "details")
                                .await
                        }
                        None => None,
                    },
                };
                let text = sealed
                    .or_else(|| template.and_then(|t| t.details.clone()))
                    .unwrap_or_else(|| {
                        "No tenemos más detalles de este aviso por aquí. Un asesor puede ayudarte: escribe *asesor*.".into()
                    });
                n += 1;
                send_text(deps, merchant, msg, &answer_id(&msg.wamid, n), text).await?;
            }
            ReplyAction::Human => {
                crate::parties::conversation::hand_off(
                    deps,
                    table,
                    &msg.wa_id,
                    deps.clock.now_secs(),
                )
                .await?;
                n += 1;
                send_text(
                    deps,
                    merchant,
                    msg,
                    &answer_id(&msg.wamid, n),
                    "Te comunicamos con un asesor; en breve te atiende por aquí.".into(),
                )
                .await?;
            }
        }
    }
    Ok(())
}

async fn document(
    deps: &Deps,
    merchant: &MerchantId,
    table: &TenantTable,
    msg: &InboundEnvelope,
    tag: &Tag,
    media: webhook::Media,
    quoted: bool,
) -> Result<(), AppError> {
    // Meta's download URL lives five minutes: store the file now. In sandbox mode (no token) there
    // is nothing to download; the upload is still recorded and reported.
    let stored = match crate::parties::media::fetch_into_blobs(deps, merchant, &media.id).await {
        Ok(s) => Some(s),
        Err(AppError::Conflict(why)) | Err(AppError::BadRequest(why)) => {
            tracing::warn!(merchant = %merchant, notification = %tag.id, %why, "document not downloaded");
            None
        }
        Err(e) => return Err(e),
    };
    let doc = super::documents::record(
        deps,
        table,
        tag,
        super::documents::Received {
            wamid: &msg.wamid,
            phone_number_id: &msg.phone_number_id,
            media: &media,
            stored: stored.as_ref(),
            quoted,
            received_at: msg.timestamp,
        },
    )
    .await?;
    let now = deps.clock.now();
    stats::mark(table, tag, Milestone::Replied, now, &[]).await?;
    let first = stats::mark(table, tag, Milestone::Documented, now, &[]).await?;
    stats::mark(table, tag, Milestone::Converted, now, &[]).await?;
    let event = HookEvent {
        id: format!("notification.document:{}", msg.wamid),
        kind: "notification.document".into(),
        data: json!({
            "document_id": doc.id,
            "matched_by": doc.matched_by,
            "notification_id": tag.id,
            "template": tag.template,
            "kind": tag.kind,
            "metadata": tag.metadata_of(deps, merchant).await,
            "customer": tag.to_of(deps, merchant).await,
            "media_id": media.id,
            "mime_type": media.mime_type,
            "filename": media.filename,
            "blob_key": stored.as_ref().map(|s| s.blob_key.clone()),
            "bytes": stored.as_ref().map(|s| s.bytes),
            "received_at": msg.timestamp,
        }),
    };
    hooks::emit(deps, merchant, event).await?;
    tracing::info!(merchant = %merchant, notification = %tag.id, first, stored = stored.is_some(), "document received for a notification");
    send_text(
        deps,
        merchant,
        msg,
        &answer_id(&msg.wamid, 1),
        "Recibimos tu documento ✅ Gracias, lo revisaremos y te avisamos por aquí.".into(),
    )
    .await
}

/// Queues a text answer inside the customer's window and logs it in the conversation.
async fn send_text(
    deps: &Deps,
    merchant: &MerchantId,
    msg: &InboundEnvelope,
    id: &str,
    text: String,
) -> Result<(), AppError> {
    crate::parties::conversation::send_reply(
        deps,
        merchant,
        msg,
        id,
        &mostrador_core::conversation::Reply::Text(text),
    )
    .await
}
