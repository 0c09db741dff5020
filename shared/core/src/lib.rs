//! Domain rules of mostrador: pure types and functions, no I/O and no async.

pub mod clock;
pub mod ids;
pub mod phone;

pub use clock::{Clock, FixedClock, SystemClock};
