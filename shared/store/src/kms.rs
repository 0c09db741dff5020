//! The Keys port on AWS KMS: envelope encryption with data keys from `GenerateDataKey`, in the same
//! sealed format as [`LocalKeys`](crate::keys::LocalKeys).
//!
//! The context is bound twice: as the KMS encryption context of the wrapped data key (so KMS refuses
//! to unwrap it under another context, and CloudTrail shows it) and as the AAD of the payload.

use crate::keys::{envelope, Keys, KeysError};
use async_trait::async_trait;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::operation::decrypt::DecryptError;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeySpec, KeyUsageType};
use aws_sdk_kms::Client;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Key of the KMS encryption context entry that carries the sealing context.
pub const CONTEXT_KEY: &str = "mostrador";

/// How long a data key is reused for sealing, and how many values it seals at most (AES-GCM with
/// random 96-bit nonces stays far from its limits), before KMS is asked for a new one. Without
/// reuse every sealed value (a conversation message, a customer's fiscal data) would cost a
/// GenerateDataKey call and every opened one a Decrypt, as the AWS Encryption SDK's caching
/// materials manager avoids the same way.
const DATA_KEY_REUSE: Duration = Duration::from_secs(300);
const DATA_KEY_MAX_USES: u32 = 10_000;
/// Data keys kept per cache (sealing and opening), at most.
const CACHE_ENTRIES: usize = 1_000;

/// A data key in use for one context: the KMS-wrapped copy goes into every envelope.
struct SealingKey {
    wrapped: Vec<u8>,
    key: [u8; 32],
    since: Instant,
    uses: u32,
}

#[derive(Default)]
struct Cache {
    sealing: HashMap<String, SealingKey>,
    /// (context, wrapped key) → the data key, with when it was unwrapped.
    opening: HashMap<(String, Vec<u8>), ([u8; 32], Instant)>,
}

/// Envelope encryption under one KMS key.
#[derive(Clone)]
pub struct KmsKeys {
    client: Client,
    key_id: String,
    cache: Arc<Mutex<Cache>>,
}

impl std::fmt::Debug for KmsKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Data keys are never printed.
        f.debug_struct("KmsKeys")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl KmsKeys {
    /// Seals under `key_id` (a key id, key ARN, alias name or alias ARN).
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
            cache: Arc::new(Mutex::new(Cache::default())),
        }
    }

    /// A data key for sealing under `context`: the cached one while it is fresh and not worn out.
    fn cached_sealing_key(&self, context: &str) -> Option<(Vec<u8>, [u8; 32])> {
        let mut cache = self.cache.lock().ok()?;
        let entry = cache.sealing.get_mut(context)?;
        if entry.since.elapsed() >= DATA_KEY_REUSE || entry.uses >= DATA_KEY_MAX_USES {
            cache.sealing.remove(context);
            return None;
        }
        entry.uses += 1;
        Some((entry.wrapped.clone(), entry.key))
    }

    fn cached_opening_key(&self, context: &str, wrapped: &[u8]) -> Option<[u8; 32]> {
        let cache = self.cache.lock().ok()?;
        let (key, since) = cache.opening.get(&(context.to_owned(), wrapped.to_vec()))?;
        (since.elapsed() < DATA_KEY_REUSE).then_some(*key)
    }

    fn remember_opening_key(&self, context: &str, wrapped: &[u8], key: [u8; 32]) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.opening.len() >= CACHE_ENTRIES {
                cache
                    .opening
                    .retain(|_, (_, since)| since.elapsed() < DATA_KEY_REUSE);
                if cache.opening.len() >= CACHE_ENTRIES {
                    cache.opening.clear();
                }
            }
            cache.opening.insert(
                (context.to_owned(), wrapped.to_vec()),
                (key, Instant::now()),
            );
        }
    }
}

fn encryption_context(context: &str) -> HashMap<String, String> {
    HashMap::from([(CONTEXT_KEY.to_owned(), context.to_owned())])
}

#[async_trait]
impl Keys for KmsKeys {
    async fn seal(&self, plaintext: &[u8], context: &str) -> Result<Vec<u8>, KeysError> {
        if let Some((wrapped, data_key)) = self.cached_sealing_key(context) {
            let payload = envelope::encrypt(&data_key, plaintext, context.as_bytes())?;
            return envelope::pack(&wrapped, &payload);
        }
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(encryption_context(context)))
            .send()
            .await
            .map_err(|e| kms_error("generating a data key", e))?;
        let wrapped = out
            .ciphertext_blob()
            .ok_or_else(|| KeysError::Internal("GenerateDataKey returned no ciphertext".into()))?;
        let data_key: [u8; 32] = out
            .plaintext()
            .and_then(|p| p.as_ref().try_into().ok())
            .ok_or_else(|| KeysError::Internal("GenerateDataKey returned no 256-bit key".into()))?;
        let payload = envelope::encrypt(&data_key, plaintext, context.as_bytes())?;
        let sealed = envelope::pack(wrapped.as_ref(), &payload)?;
        if let Ok(mut cache) = self.cache.lock() {
            // Contexts named after one record (an order's receptor) are sealed once: keep the map
            // bounded by dropping what is past its reuse period, then everything if still full.
            if cache.sealing.len() >= CACHE_ENTRIES {
                cache
                    .sealing
                    .retain(|_, k| k.since.elapsed() < DATA_KEY_REUSE);
                if cache.sealing.len() >= CACHE_ENTRIES {
                    cache.sealing.clear();
                }
            }
            cache.sealing.insert(
                context.to_owned(),
                SealingKey {
                    wrapped: wrapped.as_ref().to_vec(),
                    key: data_key,
                    since: Instant::now(),
                    uses: 1,
                },
            );
        }
        self.remember_opening_key(context, wrapped.as_ref(), data_key);
        Ok(sealed)
    }

    async fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, KeysError> {
        let (wrapped, payload) = envelope::unpack(sealed)?;
        if let Some(data_key) = self.cached_opening_key(context, wrapped) {
            return envelope::decrypt(&data_key, payload, context.as_bytes());
        }
        let result = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped))
            .set_encryption_context(Some(encryption_context(context)))
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(err) => {
                let refused = matches!(
                    err.as_service_error(),
                    Some(
                        DecryptError::InvalidCiphertextException(_)
                            | DecryptError::IncorrectKeyException(_)
                    )
                );
                // KMS answers AccessDenied for a data key wrapped by a key this role cannot use (moto,
                // for any other key): for the caller the value cannot be opened; the log tells why.
                if refused || err.code() == Some("AccessDeniedException") {
                    tracing::warn!(code = err.code(), "KMS refused to unwrap a data key");
                    return Err(KeysError::CannotOpen);
                }
                return Err(kms_error("unwrapping a data key", err));
            }
        };
        let data_key = out
            .plaintext()
            .ok_or_else(|| KeysError::Internal("Decrypt returned no plaintext".into()))?;
        let opened = envelope::decrypt(data_key.as_ref(), payload, context.as_bytes())?;
        if let Ok(key) = <[u8; 32]>::try_from(data_key.as_ref()) {
            self.remember_opening_key(context, wrapped, key);
        }
        Ok(opened)
    }
}

/// Creates a symmetric encryption key and returns its id; for tests and local setups.
pub async fn create_test_key(client: &Client) -> Result<String, KeysError> {
    let out = client
        .create_key()
        .key_spec(KeySpec::SymmetricDefault)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .description("mostrador test key")
        .send()
        .await
        .map_err(|e| kms_error("creating a key", e))?;
    out.key_metadata()
        .map(|m| m.key_id().to_owned())
        .ok_or_else(|| KeysError::Internal("CreateKey returned no key metadata".into()))
}

/// Maps an SDK failure: throttling and transport trouble are retryable, the rest is unexpected.
fn kms_error<E, R>(doing: &str, err: SdkError<E, R>) -> KeysError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let detail = format!("{doing}: {}", DisplayErrorContext(&err));
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            KeysError::Unavailable(detail)
        }
        SdkError::ServiceError(service) => match service.err().code() {
            Some(
                "ThrottlingException"
                | "KMSInternalException"
                | "DependencyTimeoutException"
                | "KeyUnavailableException",
            ) => KeysError::Unavailable(detail),
            _ => KeysError::Internal(detail),
        },
        _ => KeysError::Internal(detail),
    }
}
