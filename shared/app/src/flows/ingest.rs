//! Webhook ingestion: a verified Meta delivery becomes inbound queue messages (once per wamid) and
//! status updates of our outbound messages (never downgraded, counted once). Only the table and the
//! inbound queue are touched here.

use crate::parties::merchants::{route_phone, PhoneRoute};
use crate::parties::messages::InboundEnvelope;
use crate::platform::error::AppError;
use crate::platform::telemetry::redact;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use chrono::TimeZone;
use mostrador_core::phone::normalize_wa_id;
use mostrador_queue::OutgoingMessage;
use mostrador_store::idempotency::IdempotencyError;
use mostrador_store::{Condition, StoreError, Table, TxOp, Update};
use mostrador_whatsapp::webhook::{self, Status, StatusKind, WebhookError};
use serde::Serialize;
use serde_json::value::RawValue;
use std::collections::HashMap;

/// What one delivery produced.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// Messages put on the inbound queue.
    pub enqueued: u32,
    /// Messages seen before (Meta's retries, several subscribed apps).
    pub duplicates: u32,
    /// Updates for phone numbers no merchant has registered.
    pub unrouted: u32,
    /// Updates without a usable sender or id.
    pub skipped: u32,
    /// Status updates that moved a message forward.
    pub statuses: u32,
    /// Status updates that were stale or repeated (never a downgrade).
    pub stale_statuses: u32,
    /// Customers' marketing preferences from Meta (`user_preferences`: stop or resume) recorded.
    pub preferences: u32,
    /// Templates whose status, quality or category Meta changed.
    pub templates: u32,
}

/// Meta's `user_preferences` change: customers who stopped or resumed marketing messages in
/// WhatsApp. Returns how many were recorded (unknown numbers and other categories are skipped).
async fn apply_preferences(deps: &Deps, value: &serde_json::Value) -> Result<u32, AppError> {
    let Some(phone) = value["metadata"]["phone_number_id"].as_str() else {
        return Ok(0);
    };
    let Some(route) = route_phone(&*deps.table, phone).await? else {
        return Ok(0);
    };
    let table = TenantTable::of(deps, &route.merchant);
    let mut recorded = 0;
    for pref in value["user_preferences"].as_array().into_iter().flatten() {
        if pref["category"].as_str() != Some("marketing_messages") {
            continue;
        }
        let stopped = match pref["value"].as_str() {
            Some("stop") => true,
            Some("resume") => false,
            _ => continue,
        };
        let Some(wa_id) = pref["wa_id"].as_str().and_then(normalize_wa_id) else {
            continue;
        };
        let at = pref["timestamp"]
            .as_str()
            .and_then(|t| t.parse::<i64>().ok())
            .or_else(|| pref["timestamp"].as_i64())
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .unwrap_or_else(|| deps.clock.now());
        crate::parties::consent::marketing_preference(&table, &wa_id, stopped, at).await?;
        tracing::info!(merchant = %route.merchant, customer = %redact(&wa_id), stopped, "marketing preference from WhatsApp recorded");
        recorded += 1;
    }
    Ok(recorded)
}

/// Parses a verified delivery, enqueues each message for its merchant and applies statuses.
pub async fn ingest(deps: &Deps, body: &[u8]) -> Result<IngestReport, AppError> {
    let delivery = webhook::parse(body).map_err(|e| {
        tracing::warn!(error = %e, bytes = body.len(), "signed webhook body refused");
        match e {
            WebhookError::NotJson(_) => AppError::BadRequest("body is not valid JSON".into()),
            WebhookError::NotWhatsApp => {
                AppError::BadRequest("object must be whatsapp_business_account".into())
            }
        }
    })?;
    let mut report = IngestReport {
        skipped: delivery.skipped as u32,
        ..IngestReport::default()
    };
    for change in &delivery.other_changes {
        match change.field.as_str() {
            "user_preferences" => {
                report.preferences += apply_preferences(deps, &change.value).await?;
            }
            "message_template_status_update"
            | "message_template_quality_update"
            | "template_category_update" => {
                let changed = crate::notifications::meta::apply_webhook(
                    deps,
                    &change.waba_id,
                    &change.field,
                    &change.value,
                )
                .await?;
                report.templates += u32::from(changed);
            }
            _ => {}
        }
    }
    if delivery.message_count() == 0 && delivery.status_count() == 0 {
        return Ok(report);
    }
    // The queue carries each message as Meta sent it; the consumer parses it again.
    let raw = raw_messages(body);
    let mut routes: HashMap<String, Option<PhoneRoute>> = HashMap::new();
    for change in &delivery.changes {
        if !routes.contains_key(&change.phone_number_id) {
            let route = route_phone(&*deps.table, &change.phone_number_id).await?;
            routes.insert(change.phone_number_id.clone(), route);
        }
        let Some(route) = routes.get(&change.phone_number_id).cloned().flatten() else {
            let n = change.messages.len() + change.statuses.len();
            tracing::warn!(phone_number_id = %change.phone_number_id, updates = n, "webhook for an unregistered number");
            count_unrouted(deps, &change.phone_number_id, n as i64).await;
            report.unrouted += n as u32;
            continue;
        };
        let table = TenantTable::of(deps, &route.merchant);
        for message in &change.messages {
            let phone = normalize_wa_id(&message.from);
            let Some(wa_id) = crate::parties::customers::sender_id(
                &table,
                phone.clone(),
                message.from_user_id.as_deref(),
            )
            .await?
            else {
                report.skipped += 1;
                continue;
            };
            let contact = change.contact(&message.from);
            let envelope = InboundEnvelope {
                merchant_id: route.merchant.to_string(),
                branch_id: route.branch_id.clone(),
                phone_number_id: change.phone_number_id.clone(),
                wa_id: wa_id.clone(),
                wamid: message.id.clone(),
                timestamp: message.timestamp,
                profile_name: contact.and_then(|c| c.profile_name.clone()),
                // What the customer id does not already say: their number once a username
                // customer shows it, their username.
                phone: phone.filter(|p| *p != wa_id),
                username: contact.and_then(|c| c.username.clone()),
                message: raw.get(message.id.as_str()).cloned().unwrap_or_else(null),
            };
            match enqueue(deps, &envelope).await? {
                true => {
                    tracing::info!(merchant = %route.merchant, customer = %redact(&wa_id), wamid = %message.id, kind = message.kind.type_name(), "message enqueued");
                    report.enqueued += 1;
                }
                false => report.duplicates += 1,
            }
        }
        for status in &change.statuses {
            match apply_status(&table, status).await? {
                true => report.statuses += 1,
                false => report.stale_statuses += 1,
            }
        }
    }
    Ok(report)
}

#[derive(serde::Deserialize)]
struct RawDelivery<'a> {
    #[serde(borrow, default)]
    entry: Vec<RawEntry<'a>>,
}

#[derive(serde::Deserialize)]
struct RawEntry<'a> {
    #[serde(borrow, default)]
    changes: Vec<RawChange<'a>>,
}

#[derive(serde::Deserialize)]
struct RawChange<'a> {
    #[serde(borrow, default)]
    value: Option<RawChangeValue<'a>>,
}

#[derive(serde::Deserialize)]
struct RawChangeValue<'a> {
    #[serde(borrow, default)]
    messages: Vec<&'a RawValue>,
}

#[derive(serde::Deserialize)]
struct IdOnly {
    id: String,
}

/// Each message's raw JSON text by wamid, untouched (no float round trip for prices).
fn raw_messages(body: &[u8]) -> HashMap<String, Box<RawValue>> {
    let Ok(root) = serde_json::from_slice::<RawDelivery<'_>>(body) else {
        return HashMap::new();
    };
    let mut out = HashMap::new();
    for change in root.entry.iter().flat_map(|e| e.changes.iter()) {
        for raw in change.value.iter().flat_map(|v| v.messages.iter()) {
            if let Ok(IdOnly { id }) = serde_json::from_str(raw.get()) {
                out.insert(id, (*raw).to_owned());
            }
        }
    }
    out
}

fn null() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).unwrap_or_else(|_| Box::<RawValue>::default())
}

/// Enqueues a message unless its wamid was seen before (remembered beyond SQS's five-minute window,
/// since Meta retries for seven days). Returns whether it was enqueued now.
async fn enqueue(deps: &Deps, envelope: &InboundEnvelope) -> Result<bool, AppError> {
    let mut body = serde_json::to_string(envelope).map_err(|e| AppError::Internal(e.into()))?;
    if body.len() > QUEUE_BUDGET_BYTES {
        body = serde_json::to_string(&shorten(deps, envelope).await?)
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    let outgoing = OutgoingMessage::new(body)
        // FIFO per customer and number; the group names the customer by pseudonym.
        .group(format!(
            "{}:{}",
            envelope.phone_number_id,
            deps.pseudonyms.of(&envelope.wa_id)
        ))
        .dedup(dedup_id(&envelope.wamid));
    let deadline = deps.clock.now_ms() + 10_000;
    let wamid = envelope.wamid.as_str();
    let sent = deps
        .idempotency
        .run("wamid", wamid, wamid.as_bytes(), deadline, || async {
            deps.queues.inbound.send(outgoing).await.map(|_| true)
        })
        .await;
    match sent {
        Ok(outcome) => Ok(!outcome.is_replay()),
        // Another delivery of this wamid is being stored, or one was claimed by a process that died
        // before the message reached the queue: not yet safe to call it a duplicate. A 5xx makes
        // Meta deliver it again; once the claim expires (10 s) a retry stores it.
        Err(IdempotencyError::InProgress) => Err(AppError::Unavailable(
            "this message is being stored; deliver it again".into(),
        )),
        Err(IdempotencyError::Effect(e)) => Err(e.into()),
        Err(IdempotencyError::Store(e)) => Err(e.into()),
        Err(e) => Err(AppError::Internal(anyhow::anyhow!(e.to_string()))),
    }
}

/// Past this size an envelope would not fit a queue message (256 KiB with its attributes).
const QUEUE_BUDGET_BYTES: usize = 200 * 1024;

/// How much of an over-long text rides the queue and reaches the conversation.
const SHORTENED_TEXT_CHARS: usize = 4_096;

/// A message too large for the queue (WhatsApp lets a customer send 65,536 characters, which
/// escaped as Meta escapes them can pass 256 KiB): the whole message is kept sealed in the
/// document store, and the queue carries it with its text cut to [`SHORTENED_TEXT_CHARS`] and a
/// `mostrador_shortened` note naming the stored copy. Stored before queueing under a name derived
/// from the wamid, so a retried delivery writes the same copy.
async fn shorten(deps: &Deps, envelope: &InboundEnvelope) -> Result<InboundEnvelope, AppError> {
    let raw = envelope.message.get();
    let digest = mostrador_store::idempotency::payload_hash(envelope.wamid.as_bytes());
    let blob_key = crate::platform::schema::inbound_copy(&envelope.merchant_id, &digest);
    let context = crate::platform::sealed::Sealing::Inbound.context(&envelope.merchant_id);
    let sealed = deps
        .keys
        .seal(raw.as_bytes(), &context)
        .await
        .map_err(|e| AppError::Unavailable(format!("sealing a long message: {e}")))?;
    deps.blobs
        .put(&blob_key, sealed.into(), "application/octet-stream")
        .await
        .map_err(|e| AppError::Unavailable(format!("storing a long message: {e}")))?;
    // Kept as long as the conversation keeps its messages, then deleted (scheduled after the copy
    // exists; a retried delivery schedules the same entry again).
    if let Ok(merchant) = MerchantId::try_from(envelope.merchant_id.clone()) {
        let table = TenantTable::of(deps, &merchant);
        let days = crate::parties::privacy::load_settings(&table)
            .await?
            .message_retention_days;
        let due_at = deps.clock.now_ms() + i64::from(days) * 86_400_000;
        crate::platform::due::schedule(
            deps,
            &merchant,
            crate::platform::due::Job::DueNotifications,
            &format!("forget-inbound-{digest}"),
            due_at,
            &crate::platform::due::DueAction::ForgetBlob {
                merchant_id: merchant.to_string(),
                blob_key: blob_key.clone(),
            },
        )
        .await?;
    }
    let full: serde_json::Value = serde_json::from_str(raw).unwrap_or_default();
    let mut short = serde_json::json!({
        "id": full["id"],
        "from": full["from"],
        "timestamp": full["timestamp"],
        "type": full["type"],
        "mostrador_shortened": { "bytes": raw.len(), "stored_as": blob_key },
    });
    if let Some(user) = full.get("from_user_id") {
        short["from_user_id"] = user.clone();
    }
    if let Some(context) = full.get("context") {
        short["context"] = context.clone();
    }
    if let Some(text) = full["text"]["body"].as_str() {
        let kept: String = text.chars().take(SHORTENED_TEXT_CHARS).collect();
        short["text"] = serde_json::json!({ "body": kept });
        short["mostrador_shortened"]["chars"] = text.chars().count().into();
    }
    tracing::warn!(merchant = %envelope.merchant_id, wamid = %envelope.wamid, bytes = raw.len(), "an over-long message was kept in the document store and queued shortened");
    let message =
        RawValue::from_string(short.to_string()).map_err(|e| AppError::Internal(e.into()))?;
    Ok(InboundEnvelope {
        message,
        ..envelope.clone()
    })
}

/// SQS dedup ids are at most 128 printable characters; wamids are shorter, but hash anything else.
fn dedup_id(wamid: &str) -> String {
    if wamid.len() <= 128 && wamid.chars().all(|c| c.is_ascii_graphic()) {
        wamid.to_owned()
    } else {
        mostrador_store::idempotency::payload_hash(wamid.as_bytes())
    }
}

/// The category a delivered notification is billed in, if it is billed: Meta's `pricing` when
/// given (`billable: false` is free: a utility template inside the customer-service window), else
/// the billing category of the template it was sent as.
fn billed_category<'a>(
    status: &'a Status,
    tag: Option<&'a crate::notifications::stats::Tag>,
) -> Option<&'a str> {
    let category = match &status.pricing {
        Some(p) if p.billable == Some(false) => return None,
        Some(mostrador_whatsapp::webhook::Pricing {
            category: Some(c), ..
        }) => c.as_str(),
        _ => mostrador_core::pricing::billing_category(&tag?.category),
    };
    mostrador_core::pricing::CATEGORIES
        .contains(&category)
        .then_some(category)
}

/// Moves an outbound message's delivery status forward (never back) and counts each level it
/// crosses once. Returns whether anything changed.
async fn apply_status(table: &TenantTable, status: &Status) -> Result<bool, AppError> {
    let rank = i64::from(status.status.rank());
    if rank == 0 {
        tracing::debug!(status = status.status.as_str(), "unknown status ignored");
        return Ok(false);
    }
    // Our id comes back as biz_opaque_callback_data; otherwise the wamid pointer written at send time.
    let id = match status
        .biz_opaque_callback_data
        .as_deref()
        .filter(|d| !d.is_empty() && d.len() <= 100 && !d.contains('#'))
    {
        Some(id) => id.to_owned(),
        None => match table
            .get(&crate::platform::schema::wamid(&status.id))
            .await?
        {
            Some(p) => p.get_s("id").unwrap_or_default().to_owned(),
            None => format!("wamid:{}", status.id),
        },
    };
    let key = crate::platform::schema::outbound(&id);
    // A notification also counts in its template's and campaign's funnel, in the same transaction.
    let tag = if crate::notifications::is_notification(&id) {
        crate::notifications::stats::tag(table, &id).await?
    } else {
        None
    };
    let day = chrono_tz::America::Mexico_City
        .timestamp_opt(status.timestamp, 0)
        .single()
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "unknown".into());
    for _ in 0..5 {
        let current = table.get(&key).await?;
        if current.is_none() {
            // A status for a message we have no record of (sent by another tool on the same
            // number, or long expired): counted, never turned into a record of our own.
            table
                .update(
                    &crate::platform::schema::delivery_stats(&day),
                    Update::new().add("unmatched_statuses", 1),
                    None,
                )
                .await?;
            tracing::debug!(
                status = status.status.as_str(),
                "status for a message we did not record; counted only"
            );
            return Ok(false);
        }
        let old = current
            .as_ref()
            .and_then(|i| i.get_n("status_rank"))
            .unwrap_or(0);
        if old >= rank {
            return Ok(false);
        }
        let mut update = Update::new()
            .set("status_rank", rank)
            .set("delivery_status", status.status.as_str())
            .set(format!("{}_at", status.status.as_str()), status.timestamp)
            .set_if_absent("wamid", status.id.as_str());
        let mut counters = Update::new();
        if old < 2 && rank >= 2 && status.status != StatusKind::Failed {
            counters = counters.add("delivered", 1);
            // What it costs: Meta's own word (`pricing`) when the status carries it, else a
            // template is taken as billed in its category. Counted once, with the delivery.
            if let Some(category) = billed_category(status, tag.as_ref()) {
                counters = counters.add(format!("billable_{category}"), 1);
            }
        }
        if old < 3 && rank >= 3 && status.status != StatusKind::Failed {
            counters = counters.add("read", 1);
        }
        if status.status == StatusKind::Failed {
            let error = status.errors.first();
            let code = error.map_or(0, |e| e.code);
            update = update.set("error_code", code).set(
                "error_title",
                error.map(|e| e.title.as_str()).unwrap_or_default(),
            );
            counters = counters.add("failed", 1).add(format!("failed_{code}"), 1);
        }
        let unchanged = match current {
            Some(_) if old > 0 => Condition::Eq("status_rank".into(), old.into()),
            Some(_) => Condition::AttrNotExists("status_rank".into()),
            None => Condition::NotExists,
        };
        let mut ops = vec![TxOp::Update {
            key: key.clone(),
            update,
            condition: Some(unchanged),
        }];
        if let Some(tag) = &tag {
            let newly_read = old < 3 && rank >= 3 && status.status != StatusKind::Failed;
            ops.extend(crate::notifications::stats::status_ops(
                tag,
                &counters,
                newly_read.then_some(status.timestamp),
            ));
        }
        if !counters.add.is_empty() {
            ops.push(TxOp::Update {
                key: crate::platform::schema::delivery_stats(&day),
                update: counters,
                condition: None,
            });
        }
        match table.transact(ops).await {
            Ok(()) => return Ok(true),
            Err(e) if e.is_condition_failed() => continue,
            Err(StoreError::TransactionCanceled { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Unavailable(
        "status update kept conflicting".into(),
    ))
}

async fn count_unrouted(deps: &Deps, phone: &str, n: i64) {
    let day = deps.clock.now().format("%Y-%m-%d").to_string();
    let key = crate::platform::schema::unrouted_stats(&day, phone);
    if let Err(e) = deps
        .table
        .update(&key, Update::new().add("messages", n), None)
        .await
    {
        tracing::warn!(error = %e, "could not count unrouted updates");
    }
}

#[cfg(test)]
mod billing_tests {
    use super::billed_category;
    use mostrador_store::Item;
    use mostrador_whatsapp::webhook::{Pricing, Status, StatusKind};

    fn status(pricing: Option<Pricing>) -> Status {
        Status {
            id: "wamid.X".into(),
            status: StatusKind::Delivered,
            timestamp: 1,
            recipient_id: None,
            recipient_user_id: None,
            biz_opaque_callback_data: None,
            errors: Vec::new(),
            pricing,
            conversation_id: None,
        }
    }

    #[test]
    fn metas_pricing_decides_and_a_template_is_billed_in_its_category_otherwise() {
        let item =
            Item::new(&crate::platform::schema::notification("ntf1")).with("category", "security");
        let tag = crate::notifications::stats::tag_from("ntf1", &item);
        assert_eq!(billed_category(&status(None), Some(&tag)), Some("utility"));
        let free = Pricing {
            billable: Some(false),
            category: Some("utility".into()),
            ..Pricing::default()
        };
        assert_eq!(billed_category(&status(Some(free)), Some(&tag)), None);
        let marketing = Pricing {
            billable: Some(true),
            category: Some("marketing".into()),
            ..Pricing::default()
        };
        assert_eq!(
            billed_category(&status(Some(marketing)), Some(&tag)),
            Some("marketing")
        );
        let unknown = Pricing {
            billable: Some(true),
            category: Some("referral_conversion".into()),
            ..Pricing::default()
        };
        assert_eq!(billed_category(&status(Some(unknown)), Some(&tag)), None);
        assert_eq!(billed_category(&status(None), None), None);
    }
}
