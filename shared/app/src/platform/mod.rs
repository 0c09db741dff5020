//! The floor every use case stands on: configuration, the ports, errors, telemetry, tenant scoping,
//! the table schema, due entries, idempotency records and sealed secrets. Imports no other layer.

pub mod aws_operations;
pub mod config;
pub mod deps;
pub mod due;
pub mod error;
pub mod files;
pub mod records;
pub mod schema;
pub mod sealed;
pub mod telemetry;
pub mod tenant;
pub mod throttle;
pub mod urls;

pub use deps::Deps;
