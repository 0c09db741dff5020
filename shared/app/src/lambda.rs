//! Adapters from Lambda event types to the app's inputs, shared by the function binaries.

use crate::records::{process_batch, QueueRecord, RecordError};
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
    let (response, delays) = run(event, queue.spec().fifo, handle).await;
    for (id, delay) in delays {
        if let Some(receipt) = receipts.get(&id) {
            if let Err(e) = queue.change_visibility(receipt, delay).await {
                tracing::warn!(message_id = %id, error = %e, "could not delay the retry; the queue's visibility timeout applies");
            }
        }
    }
    response
}

/// Like [`sqs_batch_on`] without visibility changes: failures come back after the queue's timeout.
pub async fn sqs_batch<F, Fut>(event: SqsEvent, fifo: bool, handle: F) -> SqsBatchResponse
where
    F: FnMut(&QueueRecord) -> Fut,
    Fut: Future<Output = Result<(), RecordError>>,
{
    run(event, fifo, handle).await.0
}

async fn run<F, Fut>(event: SqsEvent, fifo: bool, handle: F) -> (SqsBatchResponse, Vec<(String, std::time::Duration)>)
where
    F: FnMut(&QueueRecord) -> Fut,
    Fut: Future<Output = Result<(), RecordError>>,
{
    let mut response = SqsBatchResponse::default();
    let mut records = Vec::with_capacity(event.records.len());
    let mut malformed = Vec::new();
    for (i, m) in event.records.into_iter().enumerate() {
        match (m.message_id, m.body) {
            (Some(id), Some(body)) => records.push(QueueRecord {
                message_id: id,
                body,
                group_id: m.attributes.get("MessageGroupId").cloned(),
                receive_count: m.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1),
                receipt: m.receipt_handle,
            }),
            (Some(id), None) => {
                tracing::error!(message_id = %id, "SQS record without a body");
                malformed.push(id);
            }
            (None, _) => tracing::error!(index = i, "SQS record without a message id cannot be reported"),
        }
    }
    let failed = process_batch(&records, fifo, handle).await;
    let mut delays = Vec::new();
    for failure in failed {
        if let Some(d) = failure.retry_after {
            delays.push((failure.message_id.clone(), d));
        }
        response.add_failure(failure.message_id);
    }
    for id in malformed {
        response.add_failure(id);
    }
    (response, delays)
}
