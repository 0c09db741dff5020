//! invoice-stamp: consumes the invoicing queue (standard) and records each invoice request against
//! its order, once.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use mostrador_app::entry::lambda::sqs_batch_on;
use mostrador_app::{entry::pipeline, Deps};

/// Handles one batch and reports the records to retry as batch item failures; on this standard
/// queue a failed record holds back no other.
pub async fn handler(deps: &Deps, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let queue = &*deps.queues.invoicing;
    let response = sqs_batch_on(event.payload, queue, |record| {
        // The future may not borrow the callback's argument, so it owns a copy of the record.
        let record = record.clone();
        async move { pipeline::handle_invoice_request(deps, &record).await }
    })
    .await;
    Ok(response)
}
