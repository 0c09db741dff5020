//! Use cases of mostrador, written against the ports only, and the wiring that builds the ports from
//! configuration. The Lambda functions and the local stack call the same functions here.

pub mod catalog;
pub mod chat;
pub mod config;
pub mod customers;
pub mod deps;
pub mod error;
pub mod fulfilment;
pub mod hooks;
pub mod http;
pub mod ingest;
pub mod invoicing;
pub mod jobs;
pub mod lambda;
pub mod media;
pub mod merchants;
pub mod messages;
pub mod notifications;
pub mod orders;
pub mod paying;
pub mod payment_links;
pub mod payment_settings;
pub mod pipeline;
pub mod records;
pub mod reports;
pub mod sealed;
pub mod sender;
pub mod settings;
pub mod telemetry;
pub mod tenant;
pub mod throttle;

pub use config::Config;
pub use deps::Deps;
