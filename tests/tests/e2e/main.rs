//! The end-to-end tests: whole flows through the local stack on both engines, one test binary (one
//! link of the AWS SDKs instead of one per file). Filter a file's tests with
//! `cargo nextest run -p mostrador-e2e -E 'test(/^pipeline::/)'`.

mod chat_purchase;
mod http_surface;
mod invoicing;
mod moving;
mod notifications;
mod payment_channels;
mod payments;
mod pipeline;
mod privacy;
mod selling;
mod tenant_isolation;
mod whatsapp_channel;
