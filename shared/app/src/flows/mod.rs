//! What one inbound event sets in motion across capabilities: the conversation (order-confirm),
//! payment callbacks and refunds, the sender, webhook ingest, and the report counters.

pub mod chat;
pub mod ingest;
pub mod paying;
pub mod privacy;
pub mod reports;
pub mod sender;
pub mod upkeep;
