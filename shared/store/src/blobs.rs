//! The Blobs port: documents (CFDI XML and PDF, statements, inbound media) by key.

use async_trait::async_trait;
use bytes::Bytes;
use std::path::{Path, PathBuf};

/// A stored document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub body: Bytes,
    pub content_type: String,
}

/// Errors of the Blobs port.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The key is not acceptable (empty, absolute, `..`, odd characters).
    #[error("invalid blob key: {0}")]
    InvalidKey(String),
    /// The engine is unreachable or throttling.
    #[error("blob store unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("blob store error: {0}")]
    Internal(String),
}

/// The Blobs port.
#[async_trait]
pub trait Blobs: Send + Sync {
    /// Stores (or replaces) a document.
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> Result<(), BlobError>;
    /// The document, if present.
    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError>;
    /// Removes a document; removing an absent one is not an error.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
    /// Keys under a prefix, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError>;
}

/// Accepts keys like `merchants/M1/invoices/UUID.xml`: relative, no `..`, safe characters only.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let ok_chars = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.' | '='));
    let bad_segment = key
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..");
    if key.is_empty() || key.len() > 1024 || !ok_chars || bad_segment {
        return Err(BlobError::InvalidKey(key.chars().take(80).collect()));
    }
    Ok(())
}

/// Blobs in a directory on disk; the content type sits beside each file.
#[derive(Debug, Clone)]
pub struct DirBlobs {
    root: PathBuf,
}

const META_SUFFIX: &str = ".content-type";

impl DirBlobs {
    /// Blobs under `root` (created when missing).
    pub fn open(root: impl AsRef<Path>) -> Result<Self, BlobError> {
        let root = root.as_ref().to_path_buf();
        crate::private_fs::create_dir(&root)
            .map_err(|e| BlobError::Internal(format!("creating {}: {e}", root.display())))?;
        Ok(Self { root })
    }

    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        validate_key(key)?;
        if key.ends_with(META_SUFFIX) {
            return Err(BlobError::InvalidKey(key.into()));
        }
        Ok(self.root.join(key))
    }
}

fn io(e: std::io::Error) -> BlobError {
    BlobError::Internal(e.to_string())
}

/// Writes through a temporary file and a rename so that readers never see half a document.
async fn write_atomically(path: &Path, body: &[u8]) -> Result<(), BlobError> {
    let dir = path
        .parent()
        .ok_or_else(|| BlobError::Internal("blob path has no parent".into()))?;
    let owned = dir.to_path_buf();
    tokio::task::spawn_blocking(move || crate::private_fs::create_dir(&owned))
        .await
        .map_err(|e| BlobError::Internal(e.to_string()))?
        .map_err(io)?;
    let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&tmp).await.map_err(io)?;
    tokio::io::AsyncWriteExt::write_all(&mut file, body)
        .await
        .map_err(io)?;
    file.sync_all().await.map_err(io)?;
    drop(file);
    tokio::fs::rename(&tmp, path).await.map_err(io)
}

#[async_trait]
impl Blobs for DirBlobs {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> Result<(), BlobError> {
        let path = self.path(key)?;
        let meta = PathBuf::from(format!("{}{META_SUFFIX}", path.display()));
        write_atomically(&meta, content_type.as_bytes()).await?;
        write_atomically(&path, &body).await
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        let path = self.path(key)?;
        let body = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let meta = PathBuf::from(format!("{}{META_SUFFIX}", path.display()));
        let content_type = tokio::fs::read_to_string(&meta)
            .await
            .unwrap_or_else(|_| "application/octet-stream".to_owned());
        Ok(Some(Blob {
            body: Bytes::from(body),
            content_type,
        }))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = self.path(key)?;
        let meta = PathBuf::from(format!("{}{META_SUFFIX}", path.display()));
        for p in [path, meta] {
            match tokio::fs::remove_file(&p).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            let mut stack = vec![root.clone()];
            while let Some(dir) = stack.pop() {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io(e)),
                };
                for entry in entries {
                    let entry = entry.map_err(io)?;
                    let path = entry.path();
                    if path.is_dir() {
                        stack.push(path);
                        continue;
                    }
                    let Ok(rel) = path.strip_prefix(&root) else {
                        continue;
                    };
                    let key = rel.to_string_lossy().replace('\\', "/");
                    let hidden = key
                        .rsplit('/')
                        .next()
                        .is_some_and(|n| n.starts_with(".tmp-"));
                    if !hidden && !key.ends_with(META_SUFFIX) && key.starts_with(&prefix) {
                        out.push(key);
                    }
                }
            }
            out.sort();
            Ok(out)
        })
        .await
        .map_err(|e| BlobError::Internal(e.to_string()))?
    }
}
