//! WhatsApp Cloud API: the webhook model, signature checks and the Cloud API client.

pub mod client;
pub mod signature;
pub mod webhook;
