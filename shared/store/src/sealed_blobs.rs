//! Blobs sealed at rest: every document (CFDI XML and PDF, KYC documents, inbound media, data
//! exports) is sealed through the Keys port before it reaches the engine — the local key file on
//! the one box, KMS on AWS — so the blob directory or the bucket alone reveals nothing of a
//! customer. This wraps any [`Blobs`] engine.
//!
//! A sealed body is `"MSB1" | envelope`; the context is the key's first two segments
//! (`{kind}/{merchant}`), so one data key serves a merchant's files of a kind for a while and a
//! merchant's file never opens under another merchant's context. Bodies written before sealing
//! (without the mark) are read as they are; [`SealedBlobs::seal_in_place`] seals them once.

use crate::blobs::{validate_key, Blob, BlobError, Blobs};
use crate::keys::{Keys, KeysError};
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;

const MARK: &[u8; 4] = b"MSB1";

/// A [`Blobs`] engine whose bodies are sealed through [`Keys`].
pub struct SealedBlobs {
    inner: Arc<dyn Blobs>,
    keys: Arc<dyn Keys>,
}

/// The context a blob is sealed under: `blobs:{kind}/{owner}` for keys of three or more segments
/// (every key mostrador writes), `blobs` otherwise.
pub fn context_of(key: &str) -> String {
    let mut parts = key.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(kind), Some(owner), Some(_)) => format!("blobs:{kind}/{owner}"),
        _ => "blobs".to_owned(),
    }
}

/// Whether a stored body carries the seal's mark.
pub fn is_sealed(body: &[u8]) -> bool {
    body.starts_with(MARK)
}

fn keys_error(e: KeysError) -> BlobError {
    match e {
        KeysError::Unavailable(why) => BlobError::Unavailable(why),
        other => BlobError::Internal(other.to_string()),
    }
}

impl SealedBlobs {
    pub fn new(inner: Arc<dyn Blobs>, keys: Arc<dyn Keys>) -> Self {
        Self { inner, keys }
    }

    /// The engine underneath, which holds the sealed bodies.
    pub fn inner(&self) -> &Arc<dyn Blobs> {
        &self.inner
    }

    /// Seals the body stored under `key` if it was written in clear (before bodies were sealed).
    /// Returns whether it sealed it; a second run seals nothing.
    pub async fn seal_in_place(&self, key: &str) -> Result<bool, BlobError> {
        let Some(blob) = self.inner.get(key).await? else {
            return Ok(false);
        };
        if is_sealed(&blob.body) {
            return Ok(false);
        }
        self.put(key, blob.body, &blob.content_type).await?;
        Ok(true)
    }
}

#[async_trait]
impl Blobs for SealedBlobs {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> Result<(), BlobError> {
        validate_key(key)?;
        let sealed = self
            .keys
            .seal(&body, &context_of(key))
            .await
            .map_err(keys_error)?;
        let mut out = Vec::with_capacity(MARK.len() + sealed.len());
        out.extend_from_slice(MARK);
        out.extend_from_slice(&sealed);
        self.inner.put(key, out.into(), content_type).await
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        let Some(blob) = self.inner.get(key).await? else {
            return Ok(None);
        };
        if !is_sealed(&blob.body) {
            return Ok(Some(blob));
        }
        let plain = self
            .keys
            .open(&blob.body[MARK.len()..], &context_of(key))
            .await
            .map_err(keys_error)?;
        Ok(Some(Blob {
            body: plain.into(),
            content_type: blob.content_type,
        }))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.inner.delete(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        self.inner.list(prefix).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DirBlobs, LocalKeys};

    fn sealed(dir: &std::path::Path) -> (SealedBlobs, Arc<dyn Blobs>) {
        let inner: Arc<dyn Blobs> = Arc::new(DirBlobs::open(dir.join("blobs")).expect("dir"));
        let keys: Arc<dyn Keys> = Arc::new(LocalKeys::open(dir.join("master.key")).expect("key"));
        (SealedBlobs::new(inner.clone(), keys), inner)
    }

    #[tokio::test]
    async fn bodies_are_sealed_at_rest_and_read_back_whole() {
        let dir = tempfile::tempdir().expect("tmp");
        let (blobs, raw) = sealed(dir.path());
        let xml = "<cfdi:Receptor Nombre=\"MARIA QUINTANILLA\" Rfc=\"QUMA800101AB1\"/>";
        blobs
            .put("invoices/m1/F-1.xml", Bytes::from(xml), "application/xml")
            .await
            .expect("put");
        let stored = raw
            .get("invoices/m1/F-1.xml")
            .await
            .expect("get")
            .expect("there");
        assert!(is_sealed(&stored.body));
        let text = String::from_utf8_lossy(&stored.body);
        assert!(!text.contains("QUINTANILLA") && !text.contains("QUMA800101AB1"));
        // Nothing in the directory holds it in clear either.
        for entry in walk(&dir.path().join("blobs")) {
            let bytes = std::fs::read(&entry).expect("read");
            assert!(
                !String::from_utf8_lossy(&bytes).contains("QUINTANILLA"),
                "{entry:?}"
            );
        }
        let back = blobs
            .get("invoices/m1/F-1.xml")
            .await
            .expect("get")
            .expect("there");
        assert_eq!(back.body, Bytes::from(xml));
        assert_eq!(back.content_type, "application/xml");
        assert_eq!(
            blobs.list("invoices/m1/").await.expect("list"),
            ["invoices/m1/F-1.xml"]
        );
        blobs.delete("invoices/m1/F-1.xml").await.expect("delete");
        assert!(blobs
            .get("invoices/m1/F-1.xml")
            .await
            .expect("get")
            .is_none());
    }

    #[tokio::test]
    async fn a_merchants_file_does_not_open_under_another_merchants_key() {
        let dir = tempfile::tempdir().expect("tmp");
        let (blobs, raw) = sealed(dir.path());
        blobs
            .put(
                "merchants/m1/media/1",
                Bytes::from_static(b"foto"),
                "image/jpeg",
            )
            .await
            .expect("put");
        let stored = raw
            .get("merchants/m1/media/1")
            .await
            .expect("get")
            .expect("there");
        raw.put("merchants/m2/media/1", stored.body, "image/jpeg")
            .await
            .expect("copy");
        assert!(matches!(
            blobs.get("merchants/m2/media/1").await,
            Err(BlobError::Internal(_))
        ));
    }

    #[tokio::test]
    async fn files_written_in_clear_are_read_and_sealed_once() {
        let dir = tempfile::tempdir().expect("tmp");
        let (blobs, raw) = sealed(dir.path());
        raw.put(
            "exports/m1/old.csv",
            Bytes::from_static(b"nombre\nAna"),
            "text/csv",
        )
        .await
        .expect("put");
        let read = blobs
            .get("exports/m1/old.csv")
            .await
            .expect("get")
            .expect("there");
        assert_eq!(read.body, Bytes::from_static(b"nombre\nAna"));
        assert!(blobs
            .seal_in_place("exports/m1/old.csv")
            .await
            .expect("seal"));
        assert!(!blobs
            .seal_in_place("exports/m1/old.csv")
            .await
            .expect("again"));
        assert!(!blobs
            .seal_in_place("exports/m1/none.csv")
            .await
            .expect("absent"));
        let stored = raw
            .get("exports/m1/old.csv")
            .await
            .expect("get")
            .expect("there");
        assert!(is_sealed(&stored.body));
        let read = blobs
            .get("exports/m1/old.csv")
            .await
            .expect("get")
            .expect("there");
        assert_eq!(read.body, Bytes::from_static(b"nombre\nAna"));
        assert_eq!(read.content_type, "text/csv");
    }

    #[test]
    fn contexts_name_the_kind_and_the_merchant() {
        assert_eq!(context_of("invoices/m1/F-1.xml"), "blobs:invoices/m1");
        assert_eq!(context_of("merchants/m1/media/9"), "blobs:merchants/m1");
        assert_eq!(context_of("exports/m1/arco/x.zip"), "blobs:exports/m1");
        assert_eq!(context_of("loose"), "blobs");
        assert_eq!(context_of("a/b"), "blobs");
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }
}
