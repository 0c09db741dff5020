//! The Queue port of mostrador and its engines: SQS, and a durable queue in the embedded SQLite file.

pub mod port;
/// The durable queues in the SQLite file (feature `embedded`; Lambda binaries use SQS only).
#[cfg(feature = "embedded")]
pub mod sqlite;
pub mod sqs;
/// The queue contract as async checks, for the engines' contract tests (feature `testkit`).
#[cfg(feature = "testkit")]
pub mod testkit;

pub use port::{
    OutgoingMessage, Queue, QueueDepth, QueueError, QueueSpec, ReceivedMessage, MAX_RECEIVES,
};
