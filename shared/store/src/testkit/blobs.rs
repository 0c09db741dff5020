//! The Blobs contract: behaviours every engine must show, run unchanged against each of them with
//! [`blobs_contract!`](crate::blobs_contract).

use crate::blobs::{BlobError, Blobs};
use bytes::Bytes;
use std::sync::Arc;

/// An engine under test.
pub struct BlobsFixture {
    /// The engine.
    pub blobs: Arc<dyn Blobs>,
    /// Keeps temporary resources (directories, buckets) alive for the test.
    pub guard: Box<dyn std::any::Any + Send>,
}

/// Expands to one `#[tokio::test]` per behaviour; `$make` is an `async fn() -> BlobsFixture`.
#[macro_export]
macro_rules! blobs_contract {
    ($make:path) => {
        $crate::blobs_contract!(@each $make;
            put_then_get_returns_the_binary_body_and_content_type,
            put_over_an_existing_key_replaces_body_and_content_type,
            get_of_a_missing_key_is_none,
            delete_removes_and_is_idempotent,
            list_returns_keys_under_a_prefix_sorted,
            list_of_an_unused_prefix_is_empty,
            empty_and_large_bodies_roundtrip,
            invalid_keys_are_rejected_by_every_operation,
        );
    };
    (@each $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let fixture = $make().await;
                $crate::testkit::blobs::$name(&fixture).await;
            }
        )*
    };
}

/// A key prefix unique to one test run, so tests sharing a store never see each other's blobs.
fn area(name: &str) -> String {
    format!("t-{}/{name}", uuid::Uuid::new_v4().simple())
}

/// Every byte value, so that no engine gets away with treating bodies as text.
fn binary_body() -> Bytes {
    Bytes::from((0..=255u8).chain((0..=255u8).rev()).collect::<Vec<u8>>())
}

/// Every byte value and the content type come back as stored.
pub async fn put_then_get_returns_the_binary_body_and_content_type(f: &BlobsFixture) {
    let key = format!("{}/invoices/3f2a-01.pdf", area("roundtrip"));
    f.blobs
        .put(&key, binary_body(), "application/pdf")
        .await
        .expect("put");
    let blob = f.blobs.get(&key).await.expect("get").expect("stored blob");
    assert_eq!(blob.body, binary_body());
    assert_eq!(blob.content_type, "application/pdf");
}

/// A second put replaces both the body and the content type.
pub async fn put_over_an_existing_key_replaces_body_and_content_type(f: &BlobsFixture) {
    let key = format!("{}/cfdi.xml", area("overwrite"));
    f.blobs
        .put(
            &key,
            Bytes::from_static(b"first version, longer"),
            "text/plain",
        )
        .await
        .expect("put 1");
    f.blobs
        .put(&key, Bytes::from_static(b"<cfdi/>"), "application/xml")
        .await
        .expect("put 2");
    let blob = f.blobs.get(&key).await.expect("get").expect("stored blob");
    assert_eq!(blob.body, Bytes::from_static(b"<cfdi/>"));
    assert_eq!(blob.content_type, "application/xml");
}

/// Reading a key never stored is `None`, not an error.
pub async fn get_of_a_missing_key_is_none(f: &BlobsFixture) {
    let key = format!("{}/nothing-here.pdf", area("missing"));
    assert_eq!(f.blobs.get(&key).await.expect("get"), None);
}

/// Delete removes only its key, and deleting an absent key succeeds.
pub async fn delete_removes_and_is_idempotent(f: &BlobsFixture) {
    let base = area("delete");
    let key = format!("{base}/media/photo.jpg");
    let kept = format!("{base}/media/other.jpg");
    f.blobs
        .put(&key, Bytes::from_static(b"jpeg"), "image/jpeg")
        .await
        .expect("put");
    f.blobs
        .put(&kept, Bytes::from_static(b"jpeg 2"), "image/jpeg")
        .await
        .expect("put");
    f.blobs.delete(&key).await.expect("delete");
    assert_eq!(f.blobs.get(&key).await.expect("get"), None);
    f.blobs
        .delete(&key)
        .await
        .expect("deleting again is not an error");
    f.blobs
        .delete(&format!("{base}/never/stored.bin"))
        .await
        .expect("deleting a never-stored key");
    assert!(
        f.blobs.get(&kept).await.expect("get").is_some(),
        "delete removed another blob"
    );
    assert_eq!(f.blobs.list(&base).await.expect("list"), vec![kept]);
}

/// Listing matches a string prefix and returns full keys, sorted.
pub async fn list_returns_keys_under_a_prefix_sorted(f: &BlobsFixture) {
    let base = area("list");
    let keys = [
        "merchants/M2/invoices/b.xml",
        "merchants/M1/invoices/b.xml",
        "merchants/M1/invoices/a.pdf",
        "merchants/M1/invoices/a.xml",
        "merchants/M1/media/z.jpg",
        "merchants/M10/invoices/c.xml",
    ];
    for k in keys {
        f.blobs
            .put(
                &format!("{base}/{k}"),
                Bytes::from(k.as_bytes().to_vec()),
                "text/plain",
            )
            .await
            .expect("put");
    }
    let strip = |listed: Vec<String>| -> Vec<String> {
        listed
            .into_iter()
            .map(|k| k.trim_start_matches(&format!("{base}/")).to_owned())
            .collect()
    };
    let invoices = f
        .blobs
        .list(&format!("{base}/merchants/M1/invoices/"))
        .await
        .expect("list");
    assert_eq!(
        strip(invoices),
        [
            "merchants/M1/invoices/a.pdf",
            "merchants/M1/invoices/a.xml",
            "merchants/M1/invoices/b.xml"
        ]
    );
    // A prefix is a string prefix, not a directory: M1 also matches M10.
    let m1 = f
        .blobs
        .list(&format!("{base}/merchants/M1"))
        .await
        .expect("list");
    assert_eq!(
        strip(m1),
        [
            "merchants/M1/invoices/a.pdf",
            "merchants/M1/invoices/a.xml",
            "merchants/M1/invoices/b.xml",
            "merchants/M1/media/z.jpg",
            "merchants/M10/invoices/c.xml",
        ]
    );
    let all = f.blobs.list(&base).await.expect("list");
    let mut expected: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    expected.sort();
    assert_eq!(strip(all), expected);
}

/// Listing a prefix with nothing under it is empty, not an error.
pub async fn list_of_an_unused_prefix_is_empty(f: &BlobsFixture) {
    let listed = f
        .blobs
        .list(&format!("{}/", area("unused")))
        .await
        .expect("list");
    assert!(listed.is_empty(), "{listed:?}");
}

/// Empty and multi-megabyte bodies roundtrip unchanged.
pub async fn empty_and_large_bodies_roundtrip(f: &BlobsFixture) {
    let base = area("sizes");
    let empty = format!("{base}/empty.txt");
    f.blobs
        .put(&empty, Bytes::new(), "text/plain")
        .await
        .expect("put empty");
    let blob = f
        .blobs
        .get(&empty)
        .await
        .expect("get")
        .expect("stored empty blob");
    assert!(blob.body.is_empty());
    // Larger than the default buffers and multipart thresholds of common clients.
    let large: Bytes = (0..(6 * 1024 * 1024u32))
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    let big = format!("{base}/statement.pdf");
    f.blobs
        .put(&big, large.clone(), "application/pdf")
        .await
        .expect("put large");
    let blob = f
        .blobs
        .get(&big)
        .await
        .expect("get")
        .expect("stored large blob");
    assert_eq!(blob.body.len(), large.len());
    assert!(blob.body == large, "large body changed on the way");
}

/// Traversal, absolute, empty, odd and overlong keys are refused by put, get and delete.
pub async fn invalid_keys_are_rejected_by_every_operation(f: &BlobsFixture) {
    let body = || Bytes::from_static(b"x");
    for key in [
        "../x",
        "a/../../etc/passwd",
        "/abs",
        "",
        "a//b",
        "a/",
        "./a",
        "con tab\t",
        "ñ.pdf",
        "a\\b",
    ] {
        let put = f.blobs.put(key, body(), "text/plain").await;
        assert!(
            matches!(put, Err(BlobError::InvalidKey(_))),
            "put {key:?}: {put:?}"
        );
        let get = f.blobs.get(key).await;
        assert!(
            matches!(get, Err(BlobError::InvalidKey(_))),
            "get {key:?}: {get:?}"
        );
        let delete = f.blobs.delete(key).await;
        assert!(
            matches!(delete, Err(BlobError::InvalidKey(_))),
            "delete {key:?}: {delete:?}"
        );
    }
    let too_long = format!("{}/{}", area("long"), "k".repeat(1100));
    let put = f.blobs.put(&too_long, body(), "text/plain").await;
    assert!(
        matches!(put, Err(BlobError::InvalidKey(_))),
        "put of a 1 KB+ key: {put:?}"
    );
}
