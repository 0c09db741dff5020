//! Contract test suites shared by every engine of the storage ports.
pub mod blobs;
pub mod keys;
pub mod table;
