//! CFDI 4.0 invoicing for merchants: issuer settings and CSD, customers' fiscal data, individual
//! invoices for paid orders, global invoices per branch and period, delivery, cancellation.

pub mod build;
pub mod cancel;
pub mod chat_flow;
pub(crate) mod dialogue;
pub mod documents;
pub mod export;
pub mod fiscal;
pub mod global;
pub mod issue;
pub mod settings;
