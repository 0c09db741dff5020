//! Scheduled jobs (EventBridge Scheduler input `{"job": "..."}`; the local stack fires the same):
//! each job acts on the due entries of its kind (`platform::due`).

pub use crate::platform::due::{schedule, DueAction, Job, JobInput};
use crate::platform::tenant::MerchantId;
use crate::platform::Deps;
use mostrador_queue::OutgoingMessage;
use mostrador_store::{Condition, Item, Query, SortKey, StoreError, Update};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobReport {
    pub job: String,
    pub processed: u32,
    /// Entries another run holds.
    pub skipped: u32,
    pub failed: u32,
    /// True when the run stopped at its deadline with work left for the next run.
    pub more: bool,
}

const LEASE_MS: i64 = 120_000;
const PAGE: u32 = 25;
/// Stop this long before the deadline so the last entry can finish.
const MARGIN_MS: i64 = 3_000;

/// Runs one job until nothing is due or `deadline_ms` is near.
pub async fn run(deps: &Deps, job: Job, deadline_ms: i64) -> Result<JobReport, StoreError> {
    use tracing::Instrument;
    let span = tracing::info_span!("job", job = job.name());
    run_inner(deps, job, deadline_ms).instrument(span).await
}

async fn run_inner(deps: &Deps, job: Job, deadline_ms: i64) -> Result<JobReport, StoreError> {
    let mut report = JobReport {
        job: job.name().to_owned(),
        ..JobReport::default()
    };
    // Stop early enough for the last entry to finish, but never so early that a short run does nothing.
    let margin = MARGIN_MS
        .min((deadline_ms - deps.clock.now_ms()) / 4)
        .max(0);
    let mut cursor = None;
    loop {
        let now = deps.clock.now_ms();
        if now + margin >= deadline_ms {
            report.more = true;
            break;
        }
        let due = Query::gsi1(crate::platform::schema::due_index(job))
            .sort(SortKey::Le(format!("{now:013}~")))
            .limit(PAGE)
            .after(cursor.take());
        let page = deps.table.query(due).await?;
        for entry in &page.items {
            if deps.clock.now_ms() + margin >= deadline_ms {
                report.more = true;
                return Ok(report);
            }
            match process(deps, entry).await {
                Ok(true) => report.processed += 1,
                Ok(false) => report.skipped += 1,
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(error = %e, "due entry failed; it stays for the next run");
                }
            }
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    tracing::info!(
        processed = report.processed,
        skipped = report.skipped,
        failed = report.failed,
        more = report.more,
        "job run finished"
    );
    Ok(report)
}

/// Puts a due message on the queue it names.
async fn enqueue(
    deps: &Deps,
    queue: &str,
    body: String,
    group_id: Option<String>,
    dedup_id: Option<String>,
) -> anyhow::Result<()> {
    let q = deps
        .queues
        .by_name(queue)
        .ok_or_else(|| anyhow::anyhow!("unknown queue {queue}"))?;
    let mut message = OutgoingMessage::new(body);
    message.group_id = group_id;
    message.dedup_id = dedup_id;
    q.send(message).await?;
    Ok(())
}

/// Leases, performs and deletes one entry; `Ok(false)` when another run holds it.
async fn process(deps: &Deps, entry: &Item) -> Result<bool, anyhow::Error> {
    let key = entry
        .key()
        .ok_or_else(|| anyhow::anyhow!("due entry without key"))?;
    let now = deps.clock.now_ms();
    let lease = now + LEASE_MS;
    let free = Condition::Exists.and(
        Condition::AttrNotExists("lease_until".into()).or(Condition::Lt("lease_until".into(), now)),
    );
    match deps
        .table
        .update(&key, Update::new().set("lease_until", lease), Some(free))
        .await
    {
        Ok(_) => {}
        Err(StoreError::ConditionFailed { .. }) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    let action: DueAction = serde_json::from_str(entry.get_s("action").unwrap_or("null"))?;
    match action {
        DueAction::Enqueue {
            queue,
            body,
            group_id,
            dedup_id,
        } => enqueue(deps, &queue, body, group_id, dedup_id).await?,
        DueAction::EnqueueSealed {
            merchant_id,
            queue,
            group_id,
            dedup_id,
        } => {
            let merchant = MerchantId::try_from(merchant_id).map_err(|e| anyhow::anyhow!(e))?;
            let body = crate::platform::due::open_enqueued(deps, &merchant, entry).await?;
            enqueue(deps, &queue, body, group_id, dedup_id).await?
        }
        DueAction::ExpireOrder {
            merchant_id,
            order_id,
        } => {
            let merchant = MerchantId::try_from(merchant_id).map_err(|e| anyhow::anyhow!(e))?;
            crate::commerce::fulfilment::expire(deps, &merchant, &order_id)
                .await
                .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        }
        DueAction::PaymentReminder {
            merchant_id,
            order_id,
        } => {
            let merchant = MerchantId::try_from(merchant_id).map_err(|e| anyhow::anyhow!(e))?;
            crate::commerce::reminders::payment_reminder(deps, &merchant, &order_id)
                .await
                .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        }
        DueAction::AbandonedCart {
            merchant_id,
            wa_id,
            phone_number_id,
        } => {
            let merchant = MerchantId::try_from(merchant_id).map_err(|e| anyhow::anyhow!(e))?;
            crate::commerce::reminders::abandoned_cart(deps, &merchant, &wa_id, &phone_number_id)
                .await
                .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        }
        DueAction::NotificationBatch {
            merchant_id,
            bulk_id,
            chunk,
        } => {
            let merchant = MerchantId::try_from(merchant_id).map_err(|e| anyhow::anyhow!(e))?;
            crate::notifications::bulk::process_chunk(deps, &merchant, &bulk_id, chunk)
                .await
                .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        }
        DueAction::SyncCatalog { merchant_id } => {
            let merchant = MerchantId::try_from(merchant_id).map_err(|e| anyhow::anyhow!(e))?;
            crate::commerce::catalog_sync::push(deps, &merchant)
                .await
                .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        }
        DueAction::ForgetDocument {
            merchant_id,
            document_id,
        } => {
            let merchant = MerchantId::try_from(merchant_id).map_err(|e| anyhow::anyhow!(e))?;
            crate::notifications::documents::forget(deps, &merchant, &document_id)
                .await
                .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        }
        DueAction::ForgetBlob {
            merchant_id,
            blob_key,
        } => {
            // Only what this merchant's ingest or exports stored: a due entry deletes nothing else.
            if crate::platform::schema::forgettable_blob(&merchant_id, &blob_key) {
                deps.blobs
                    .delete(&blob_key)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.to_string()))?;
            } else {
                tracing::warn!(merchant = %merchant_id, "a ForgetBlob entry names another key; ignored");
            }
        }
        DueAction::RetryPaymentLink {
            merchant_id,
            order_id,
            attempt,
        } => {
            let merchant = MerchantId::try_from(merchant_id).map_err(|e| anyhow::anyhow!(e))?;
            crate::commerce::payment_links::retry(deps, &merchant, &order_id, attempt)
                .await
                .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        }
    }
    // Only the holder of this lease deletes the entry.
    deps.table
        .delete(
            &key,
            Some(Condition::Eq("lease_until".into(), lease.into())),
        )
        .await?;
    Ok(true)
}

/// The deadline of a run given its timeout.
pub fn deadline_after(deps: &Deps, timeout: Duration) -> i64 {
    deps.clock.now_ms() + i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX / 4)
}
