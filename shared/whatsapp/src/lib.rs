//! WhatsApp Cloud API: webhook signature checks (and, as the channel grows, the webhook model and the
//! Cloud API client).

pub mod signature;
