//! What travels on the queues: one typed envelope per queue.

use serde::{Deserialize, Serialize};

/// A customer's WhatsApp message on the inbound queue (group `{phone_number_id}:{wa_id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundEnvelope {
    pub merchant_id: String,
    pub branch_id: String,
    pub phone_number_id: String,
    /// Normalized customer WhatsApp id.
    pub wa_id: String,
    pub wamid: String,
    /// Unix seconds, from Meta.
    pub timestamp: i64,
    pub profile_name: Option<String>,
    /// The message as Meta sent it.
    pub message: serde_json::Value,
}

/// A message to send on the outbound queue (group = recipient).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundEnvelope {
    /// Our id of this outbound message; the send happens at most once per id.
    pub id: String,
    pub merchant_id: String,
    pub phone_number_id: String,
    pub to: String,
    /// The Cloud API message object (`type` and its payload).
    pub message: serde_json::Value,
}

/// An invoice to build and stamp on the invoicing queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceRequest {
    pub merchant_id: String,
    pub order_id: String,
}
