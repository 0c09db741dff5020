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

/// Key of the KMS encryption context entry that carries the sealing context.
pub const CONTEXT_KEY: &str = "mostrador";

/// Envelope encryption under one KMS key.
#[derive(Debug, Clone)]
pub struct KmsKeys {
    client: Client,
    key_id: String,
}

impl KmsKeys {
    /// Seals under `key_id` (a key id, key ARN, alias name or alias ARN).
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }
}

fn encryption_context(context: &str) -> HashMap<String, String> {
    HashMap::from([(CONTEXT_KEY.to_owned(), context.to_owned())])
}

#[async_trait]
impl Keys for KmsKeys {
    async fn seal(&self, plaintext: &[u8], context: &str) -> Result<Vec<u8>, KeysError> {
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
        envelope::pack(wrapped.as_ref(), &payload)
    }

    async fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, KeysError> {
        let (wrapped, payload) = envelope::unpack(sealed)?;
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
        envelope::decrypt(data_key.as_ref(), payload, context.as_bytes())
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
