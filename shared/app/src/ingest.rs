//! Webhook ingestion: signed Meta deliveries become inbound queue messages, once per wamid.

use crate::error::ApiError;
use crate::merchants::route_phone;
use crate::messages::InboundEnvelope;
use crate::telemetry::redact;
use crate::Deps;
use mostrador_core::phone::normalize_wa_id;
use mostrador_queue::OutgoingMessage;
use mostrador_store::idempotency::IdempotencyError;
use mostrador_store::{Key, Update};
use serde::Serialize;
use serde_json::Value;

/// What one delivery produced.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// Messages put on the inbound queue.
    pub enqueued: u32,
    /// Messages seen before (Meta's retries, several subscribed apps).
    pub duplicates: u32,
    /// Messages to phone numbers no merchant has registered.
    pub unrouted: u32,
    /// Messages without a usable sender or id.
    pub skipped: u32,
    /// Delivery status updates received.
    pub statuses: u32,
}

/// Parses a verified delivery and enqueues each message for its merchant.
pub async fn ingest(deps: &Deps, body: &[u8]) -> Result<IngestReport, ApiError> {
    let root: Value = serde_json::from_slice(body).map_err(|e| {
        tracing::warn!(error = %e, bytes = body.len(), "signed webhook body is not JSON");
        ApiError::BadRequest("body is not valid JSON".into())
    })?;
    if root.get("object").and_then(Value::as_str) != Some("whatsapp_business_account") {
        return Err(ApiError::BadRequest("object must be whatsapp_business_account".into()));
    }
    let mut report = IngestReport::default();
    let changes = root
        .get("entry")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|e| e.get("changes").and_then(Value::as_array).into_iter().flatten());
    for change in changes {
        let Some(value) = change.get("value") else { continue };
        report.statuses += value.get("statuses").and_then(Value::as_array).map_or(0, |s| s.len() as u32);
        let Some(messages) = value.get("messages").and_then(Value::as_array) else { continue };
        let Some(phone) = value.pointer("/metadata/phone_number_id").and_then(Value::as_str) else {
            report.skipped += messages.len() as u32;
            continue;
        };
        let Some(route) = route_phone(&*deps.table, phone).await? else {
            tracing::warn!(phone_number_id = %phone, messages = messages.len(), "webhook for an unregistered number");
            count_unrouted(deps, phone, messages.len() as i64).await;
            report.unrouted += messages.len() as u32;
            continue;
        };
        for message in messages {
            let (Some(wamid), Some(wa_id)) = (
                message.get("id").and_then(Value::as_str),
                message.get("from").and_then(Value::as_str).and_then(normalize_wa_id),
            ) else {
                report.skipped += 1;
                continue;
            };
            let profile_name = value
                .get("contacts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|c| c.get("wa_id").and_then(Value::as_str).and_then(normalize_wa_id).as_deref() == Some(wa_id.as_str()))
                .and_then(|c| c.pointer("/profile/name").and_then(Value::as_str))
                .map(str::to_owned);
            let envelope = InboundEnvelope {
                merchant_id: route.merchant.to_string(),
                branch_id: route.branch_id.clone(),
                phone_number_id: phone.to_owned(),
                wa_id: wa_id.clone(),
                wamid: wamid.to_owned(),
                timestamp: message.get("timestamp").and_then(Value::as_str).and_then(|t| t.parse().ok()).unwrap_or(0),
                profile_name,
                message: message.clone(),
            };
            let body = serde_json::to_string(&envelope).map_err(|e| ApiError::Internal(e.into()))?;
            let outgoing = OutgoingMessage::new(body).group(format!("{phone}:{wa_id}")).dedup(dedup_id(wamid));
            let deadline = deps.clock.now_ms() + 10_000;
            // SQS forgets dedup ids after five minutes; Meta retries for seven days.
            let sent = deps
                .idempotency
                .run("wamid", wamid, wamid.as_bytes(), deadline, || async {
                    deps.queues.inbound.send(outgoing).await.map(|_| true)
                })
                .await;
            match sent {
                Ok(outcome) if outcome.is_replay() => report.duplicates += 1,
                Ok(_) => {
                    tracing::info!(merchant = %route.merchant, customer = %redact(&wa_id), wamid, "message enqueued");
                    report.enqueued += 1;
                }
                Err(IdempotencyError::InProgress) => report.duplicates += 1,
                Err(IdempotencyError::Effect(e)) => return Err(e.into()),
                Err(IdempotencyError::Store(e)) => return Err(e.into()),
                Err(e) => return Err(ApiError::Internal(anyhow::anyhow!(e.to_string()))),
            }
        }
    }
    Ok(report)
}

/// SQS dedup ids are at most 128 characters; wamids are shorter, but hash anything longer.
fn dedup_id(wamid: &str) -> String {
    if wamid.len() <= 128 && wamid.chars().all(|c| c.is_ascii_graphic()) {
        wamid.to_owned()
    } else {
        mostrador_store::idempotency::payload_hash(wamid.as_bytes())
    }
}

async fn count_unrouted(deps: &Deps, phone: &str, n: i64) {
    let day = deps.clock.now().format("%Y-%m-%d").to_string();
    let key = Key::new("STATS#unrouted", format!("{day}#{phone}"));
    if let Err(e) = deps.table.update(&key, Update::new().add("messages", n), None).await {
        tracing::warn!(error = %e, "could not count unrouted messages");
    }
}
