//! Adapters from Lambda event types to the app's inputs, shared by the function binaries.

use crate::records::{process_batch, QueueRecord, RecordError};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use std::future::Future;

/// Runs `handle` over an SQS batch and answers with the partial batch failures. A record without a
/// message id or body is logged and reported as failed, never a crashed invocation.
pub async fn sqs_batch<F, Fut>(event: SqsEvent, fifo: bool, handle: F) -> SqsBatchResponse
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
            }),
            (Some(id), None) => {
                tracing::error!(message_id = %id, "SQS record without a body");
                malformed.push(id);
            }
            (None, _) => tracing::error!(index = i, "SQS record without a message id cannot be reported"),
        }
    }
    let mut failed = process_batch(&records, fifo, handle).await;
    failed.extend(malformed);
    for id in failed {
        response.add_failure(id);
    }
    response
}
