//! Adapters from Lambda event types to the app's inputs, shared by the function binaries.

use crate::platform::records::{process_batch, QueueRecord, RecordError};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use mostrador_queue::Queue;
use std::future::Future;

/// Runs `handle` over an SQS batch from `queue` and answers with the partial batch failures; a
/// failure that knows when to come back (a rate limit, a deferral) has its visibility set to that.
/// A record without a message id or body is logged and reported as failed, never a crashed invocation.
pub async fn sqs_batch_on<F, Fut>(event: SqsEvent, queue: &dyn Queue, handle: F) -> SqsBatchResponse
where
    F: FnMut(&QueueRecord) -> Fut,
    Fut: Future<Output = Result<(), RecordError>>,
{
    let receipts: std::collections::HashMap<String, String> = event
        .records
        .iter()
        .filter_map(|m| Some((m.message_id.clone()?, m.receipt_handle.clone()?)))
        .collect();
    let bodies: std::collections::HashMap<String, (String, Option<String>)> = event
        .records
        .iter()
        .filter_map(|m| {
            Some((
                m.message_id.clone()?,
                (
                    m.body.clone().unwrap_or_default(),
                    m.attributes.get("MessageGroupId").cloned(),
                ),
            ))
        })
        .collect();
    let (mut response, delays, permanent) = run(event, queue.spec().fifo, handle).await;
    // Input no retry can help goes to the dead-letter queue now instead of five receives later.
    for id in permanent {
        let (Some(receipt), Some((body, group))) = (receipts.get(&id), bodies.get(&id)) else {
            continue;
        };
        match queue.dead_letter(receipt, body, group.as_deref()).await {
            Ok(()) => response
                .batch_item_failures
                .retain(|f| f.item_identifier != id),
            Err(e) => {
                tracing::warn!(message_id = %id, error = %e, "could not dead-letter a rejected record; the queue's redrive applies")
            }
        }
    }
    for (id, delay) in delays {
        if let Some(receipt) = receipts.get(&id) {
            if let Err(e) = queue.change_visibility(receipt, delay).await {
                tracing::warn!(message_id = %id, error = %e, "could not delay the retry; the queue's visibility timeout applies");
            }
        }
    }
    response
}

/// The batch response, the delays of failures that know when to come back, and the ids of records
/// no retry can help.
type Outcome = (
    SqsBatchResponse,
    Vec<(String, std::time::Duration)>,
    Vec<String>,
);

async fn run<F, Fut>(event: SqsEvent, fifo: bool, handle: F) -> Outcome
where
    F: FnMut(&QueueRecord) -> Fut,
    Fut: Future<Output = Result<(), RecordError>>,
{
    let mut response = SqsBatchResponse::default();
    let mut records = Vec::with_capacity(event.records.len());
    let all_ids: Vec<String> = event
        .records
        .iter()
        .filter_map(|m| m.message_id.clone())
        .collect();
    if all_ids.len() != event.records.len() {
        // A record without an id cannot be reported on its own: fail the whole batch so none is lost.
        tracing::error!(
            records = event.records.len(),
            "SQS record without a message id: the whole batch will be retried"
        );
        for id in all_ids {
            response.add_failure(id);
        }
        return (response, Vec::new(), Vec::new());
    }
    for m in event.records {
        let Some(id) = m.message_id else { continue };
        if m.body.is_none() {
            tracing::error!(message_id = %id, "SQS record without a body");
        }
        // An empty body fails the handler's parsing like any malformed record (and blocks its FIFO group).
        records.push(QueueRecord {
            message_id: id,
            body: m.body.unwrap_or_default(),
            group_id: m.attributes.get("MessageGroupId").cloned(),
            receive_count: m
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1),
            receipt: m.receipt_handle,
        });
    }
    let failed = process_batch(&records, fifo, handle).await;
    let mut delays = Vec::new();
    let mut permanent = Vec::new();
    for failure in failed {
        if let Some(d) = failure.retry_after {
            delays.push((failure.message_id.clone(), d));
        }
        if failure.permanent {
            permanent.push(failure.message_id.clone());
        }
        response.add_failure(failure.message_id);
    }
    (response, delays, permanent)
}
