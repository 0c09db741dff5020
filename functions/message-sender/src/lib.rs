//! message-sender: consumes the outbound FIFO queue (one message group per recipient). Each message
//! passes the send rules (opt-out, 24-hour window, quiet hours, daily cap, throughput), then goes out
//! in one Cloud API call, or to the merchant's outbox while the merchant has no access token (sandbox).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use mostrador_app::entry::lambda::sqs_batch_on;
use mostrador_app::{entry::pipeline, Deps};

/// Handles one batch and reports the records to retry as batch item failures: on this FIFO queue,
/// a failure holds back every later record of its message group (the recipient); a rate limit or a
/// deferral brings the record back after its delay.
pub async fn handler(deps: &Deps, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let queue = &*deps.queues.outbound;
    let response = sqs_batch_on(event.payload, queue, |record| {
        // The future may not borrow the callback's argument, so it owns a copy of the record.
        let record = record.clone();
        async move { pipeline::handle_outbound(deps, &record).await }
    })
    .await;
    Ok(response)
}
