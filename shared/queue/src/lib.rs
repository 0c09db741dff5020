//! The Queue port of mostrador and its engines: SQS, and a durable queue in the embedded SQLite file.

pub mod port;
pub mod sqlite;
pub mod sqs;
pub mod testkit;

pub use port::{
    OutgoingMessage, Queue, QueueDepth, QueueError, QueueSpec, ReceivedMessage, MAX_RECEIVES,
};
