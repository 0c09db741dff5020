//! Domain rules of mostrador: pure types and functions, no I/O and no async.

pub mod accounts;
pub mod backup;
pub mod caps;
pub mod catalog;
pub mod clabe;
pub mod clock;
pub mod conversation;
pub mod experiments;
pub mod ids;
pub mod money;
pub mod net;
pub mod orders;
pub mod phone;
pub mod pricing;
pub mod privacy;
pub mod promotions;
pub mod search;
pub mod sending;
pub mod tax;
pub mod text;

pub use clock::{Clock, FixedClock, SystemClock};
