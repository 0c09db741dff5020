//! order-confirm: consumes the inbound FIFO queue (one message group per customer of a WhatsApp
//! number) and records each message in the customer's conversation.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use mostrador_app::entry::lambda::sqs_batch_on;
use mostrador_app::{entry::pipeline, Deps};

/// Handles one batch and reports the records to retry as batch item failures: on this FIFO queue,
/// a failure holds back every later record of its message group, so that no message of a customer
/// overtakes an earlier one; a failure that knows its delay comes back after it.
pub async fn handler(deps: &Deps, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let queue = &*deps.queues.inbound;
    let response = sqs_batch_on(event.payload, queue, |record| {
        // The future may not borrow the callback's argument, so it owns a copy of the record.
        let record = record.clone();
        async move { pipeline::handle_inbound(deps, &record).await }
    })
    .await;
    Ok(response)
}
