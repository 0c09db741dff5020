//! Use cases of mostrador, written against the ports only, and the wiring that builds the ports from
//! configuration. The Lambda functions and the local stack call the same functions here.
//!
//! The crate is cut into layers, one folder each; a folder imports only the folders below it
//! (`tests::layers` below reads the sources and fails on an upward import or a cycle). Lowest first:
//!
//! 1. `platform` — configuration, dependencies (ports), errors, telemetry, tenant scoping, the table
//!    schema (the only place a key is spelled), due entries, idempotency records, sealed secrets.
//! 2. `parties` — merchants and customers: settings, consent, the conversation store, merchant
//!    webhooks, media, and the one way to tell a customer something.
//! 3. `commerce` — catalog and stock, orders, fulfilment, payment links, order reminders.
//! 4. `invoicing` | `notifications` — side by side, never importing each other.
//! 5. `flows` — what one inbound event sets in motion: the conversation, payment callbacks, the
//!    sender, webhook ingest, reports.
//! 6. `entry` — transport: queue and job dispatch, HTTP routers, Lambda adapters.
//!
//! Why: a reader starts at the bottom and never meets a name defined above; a use case's effects on
//! other capabilities are visible at its caller (passed in as transaction operations), not hidden.

pub mod commerce;
pub mod entry;
pub mod flows;
pub mod invoicing;
pub mod notifications;
pub mod parties;
pub mod platform;

pub use platform::config::Config;
pub use platform::deps::Deps;

#[cfg(test)]
mod layers;
