//! Storage ports of mostrador and their engines: the Table (DynamoDB semantics), Blobs and Keys, and
//! idempotency records kept on the Table.

pub mod aws;
#[cfg(feature = "embedded")]
pub mod backup;
pub mod blobs;
pub mod dynamodb;
pub mod idempotency;
pub mod keys;
pub mod kms;
pub mod private_fs;
pub mod s3;
pub mod sealed_blobs;
/// The embedded engine (SQLite), feature `embedded`: the local stack has it, Lambda binaries do not.
#[cfg(feature = "embedded")]
pub mod sqlite;
pub mod table;
/// The storage contracts as async checks, for the engines' contract tests (feature `testkit`).
#[cfg(feature = "testkit")]
pub mod testkit;

pub use blobs::{Blob, BlobError, Blobs, DirBlobs};
pub use dynamodb::DynamoTable;
pub use keys::{Keys, KeysError, LocalKeys, Pseudonyms};
pub use kms::KmsKeys;
pub use s3::S3Blobs;
pub use sealed_blobs::SealedBlobs;
pub use table::{
    CancelReason, Condition, Index, Item, Key, Page, Query, SortKey, StoreError, Table, TxOp,
    Update, Value,
};
