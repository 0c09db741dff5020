//! SQS fixtures as the Lambda runtime hands them to a queue consumer, for the `tests/events.rs` of
//! the SQS functions (`#[path = "../../testkit/sqs.rs"] mod sqs;`, next to `mod fixtures;`).

// Each test file uses a different part of this module.
#![allow(dead_code)]

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Context, LambdaEvent};

/// The batch of a fixture, with an empty invocation context.
pub fn event(name: &str) -> LambdaEvent<SqsEvent> {
    let batch = serde_json::from_str(&crate::fixtures::fixture(name)).expect("an SQS event");
    LambdaEvent::new(batch, Context::default())
}

/// The message ids of a fixture's records, in order.
pub fn message_ids(name: &str) -> Vec<String> {
    event(name)
        .payload
        .records
        .into_iter()
        .map(|r| r.message_id.expect("a message id"))
        .collect()
}

/// The bodies of a fixture's records, in order.
pub fn bodies(name: &str) -> Vec<String> {
    event(name)
        .payload
        .records
        .into_iter()
        .map(|r| r.body.expect("a body"))
        .collect()
}

/// The message group ids of a fixture's records, in order (`None` on a standard queue).
pub fn group_ids(name: &str) -> Vec<Option<String>> {
    event(name)
        .payload
        .records
        .into_iter()
        .map(|r| r.attributes.get("MessageGroupId").cloned())
        .collect()
}

/// The message ids the consumer reported as failed.
pub fn failed(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}
