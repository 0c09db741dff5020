//! The Keys port: envelope encryption of secrets and personal data at rest.
//!
//! Every value is encrypted with a fresh 256-bit data key (AES-256-GCM); the data key is wrapped by the
//! master key (KMS, or a local key file) bound to a context string such as `merchant:M1:whatsapp-token`,
//! so a sealed value copied under another context does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use async_trait::async_trait;
use rand::RngCore;
use std::path::Path;

/// Errors of the Keys port.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The sealed value is malformed, was tampered with, or belongs to another context or key.
    #[error("sealed value cannot be opened")]
    CannotOpen,
    /// The key service is unreachable or throttling.
    #[error("key service unavailable: {0}")]
    Unavailable(String),
    /// Anything else (a missing or unreadable key file, say).
    #[error("key service error: {0}")]
    Internal(String),
}

/// The Keys port.
#[async_trait]
pub trait Keys: Send + Sync {
    /// Encrypts `plaintext` bound to `context`.
    async fn seal(&self, plaintext: &[u8], context: &str) -> Result<Vec<u8>, KeysError>;
    /// Decrypts a value sealed under the same `context`.
    async fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, KeysError>;
}

/// The envelope layout shared by every engine:
/// `"MKE1" | u16 BE length of wrapped key | wrapped key | 12-byte nonce | ciphertext with tag`.
pub mod envelope {
    use super::*;

    const MAGIC: &[u8; 4] = b"MKE1";

    /// A fresh random data key.
    pub fn data_key() -> [u8; 32] {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        key
    }

    /// AES-256-GCM with `aad`, returning nonce || ciphertext.
    pub fn encrypt(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, KeysError> {
        let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| KeysError::CannotOpen)?;
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| KeysError::Internal("encryption failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Inverse of [`encrypt`].
    pub fn decrypt(key: &[u8], nonce_and_ct: &[u8], aad: &[u8]) -> Result<Vec<u8>, KeysError> {
        if nonce_and_ct.len() < 12 + 16 {
            return Err(KeysError::CannotOpen);
        }
        let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| KeysError::CannotOpen)?;
        let (nonce, ct) = nonce_and_ct.split_at(12);
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| KeysError::CannotOpen)
    }

    /// Assembles a sealed value from a wrapped data key and the encrypted payload.
    pub fn pack(wrapped_key: &[u8], payload: &[u8]) -> Result<Vec<u8>, KeysError> {
        let len = u16::try_from(wrapped_key.len())
            .map_err(|_| KeysError::Internal("wrapped key too long".into()))?;
        let mut out = Vec::with_capacity(6 + wrapped_key.len() + payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(wrapped_key);
        out.extend_from_slice(payload);
        Ok(out)
    }

    /// Splits a sealed value into the wrapped data key and the encrypted payload.
    pub fn unpack(sealed: &[u8]) -> Result<(&[u8], &[u8]), KeysError> {
        if sealed.len() < 6 || &sealed[..4] != MAGIC {
            return Err(KeysError::CannotOpen);
        }
        let len = u16::from_be_bytes([sealed[4], sealed[5]]) as usize;
        let rest = &sealed[6..];
        if rest.len() < len {
            return Err(KeysError::CannotOpen);
        }
        Ok(rest.split_at(len))
    }
}

/// Envelope encryption with a master key kept in a local file (created with mode 0600 when missing).
#[derive(Clone)]
pub struct LocalKeys {
    master: [u8; 32],
}

impl std::fmt::Debug for LocalKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalKeys { master: <redacted> }")
    }
}

impl LocalKeys {
    /// The key the embedded database's rows are sealed with, derived from the master key: the data
    /// directory's one key file opens everything, and a backup that restores it opens the file.
    pub fn row_key(&self) -> [u8; 32] {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.master)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(b"mostrador:embedded-rows:v1");
        mac.finalize().into_bytes().into()
    }

    /// Loads the master key from `path`, creating a random one if the file does not exist.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, KeysError> {
        let path = path.as_ref();
        match std::fs::read(path) {
            Ok(bytes) => {
                let master: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                    KeysError::Internal(format!("{} must hold exactly 32 bytes", path.display()))
                })?;
                Ok(Self { master })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let master = envelope::data_key();
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| KeysError::Internal(e.to_string()))?;
                }
                write_private(path, &master)?;
                Ok(Self { master })
            }
            Err(e) => Err(KeysError::Internal(format!(
                "reading {}: {e}",
                path.display()
            ))),
        }
    }

    /// A key held only in memory; for tests.
    pub fn ephemeral() -> Self {
        Self {
            master: envelope::data_key(),
        }
    }
}

/// Keyed hashes that stand for personal identifiers (a customer's WhatsApp number) wherever an
/// identifier must be found again but must not be readable: table keys. HMAC-SHA-256 under a
/// per-deployment key, truncated to 128 bits and written `h` + 32 hex digits; without the key a
/// number cannot be tested against a stored hash, so the 10-digit space cannot be searched.
#[derive(Clone)]
pub struct Pseudonyms {
    key: [u8; 32],
}

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonyms { key: <redacted> }")
    }
}

impl Pseudonyms {
    /// The length of a pseudonym: `h` and 32 hex digits.
    pub const LEN: usize = 33;

    /// Pseudonyms under `key`.
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// The key itself, to be sealed for storage (or taken along when a deployment moves).
    pub fn secret(&self) -> [u8; 32] {
        self.key
    }

    /// The pseudonym of `id`.
    pub fn of(&self, id: &str) -> String {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(id.as_bytes());
        let digest = mac.finalize().into_bytes();
        format!("h{}", hex::encode(&digest[..16]))
    }

    /// Whether `s` has the form of a pseudonym (as opposed to an identifier stored in clear by an
    /// earlier version).
    pub fn is_pseudonym(s: &str) -> bool {
        s.len() == Self::LEN
            && s.starts_with('h')
            && s[1..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KeysError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| KeysError::Internal(format!("creating {}: {e}", path.display())))?;
    file.write_all(bytes)
        .map_err(|e| KeysError::Internal(e.to_string()))
}

#[async_trait]
impl Keys for LocalKeys {
    async fn seal(&self, plaintext: &[u8], context: &str) -> Result<Vec<u8>, KeysError> {
        let data_key = envelope::data_key();
        let wrapped = envelope::encrypt(&self.master, &data_key, context.as_bytes())?;
        let payload = envelope::encrypt(&data_key, plaintext, context.as_bytes())?;
        envelope::pack(&wrapped, &payload)
    }

    async fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, KeysError> {
        let (wrapped, payload) = envelope::unpack(sealed)?;
        let data_key = envelope::decrypt(&self.master, wrapped, context.as_bytes())?;
        envelope::decrypt(&data_key, payload, context.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pseudonym_is_stable_per_key_and_hides_the_number() {
        let p = Pseudonyms::new(envelope::data_key());
        let a = p.of("5215512345678");
        assert_eq!(a, p.of("5215512345678"));
        assert_ne!(a, p.of("5215512345679"));
        assert!(Pseudonyms::is_pseudonym(&a), "{a}");
        assert!(!a.contains("5512345678"));
        // Another deployment (another key) gives another pseudonym for the same number.
        let other = Pseudonyms::new(envelope::data_key());
        assert_ne!(a, other.of("5215512345678"));
        assert_eq!(Pseudonyms::new(p.secret()).of("5215512345678"), a);
    }

    #[test]
    fn numbers_and_user_ids_are_not_taken_for_pseudonyms() {
        for clear in [
            "5215512345678",
            "MX.13491208655302741918",
            "h123",
            "habcdefabcdefabcdefabcdefabcdefabX",
            "",
        ] {
            assert!(!Pseudonyms::is_pseudonym(clear), "{clear}");
        }
        assert!(Pseudonyms::is_pseudonym(
            "h0123456789abcdef0123456789abcdef"
        ));
    }
}
