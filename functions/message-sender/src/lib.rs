//! message-sender: consumes the outbound FIFO queue (one message group per recipient); without a
//! WhatsApp token (sandbox mode) each message goes to the merchant's outbox.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use mostrador_app::lambda::sqs_batch;
use mostrador_app::{pipeline, Deps};

/// Handles one batch and reports the records to retry as batch item failures: on this FIFO queue,
/// the first failure and every record after it, so that no message overtakes an earlier one.
pub async fn handler(deps: &Deps, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let response = sqs_batch(event.payload, true, |record| {
        // The future may not borrow the callback's argument, so it owns a copy of the record.
        let record = record.clone();
        async move { pipeline::handle_outbound(deps, &record).await }
    })
    .await;
    Ok(response)
}
