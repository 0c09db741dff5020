//! The Blobs port on S3: one bucket, optionally under a key prefix, encrypted at rest.

use crate::blobs::{validate_key, Blob, BlobError, Blobs};
use async_trait::async_trait;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::create_bucket::CreateBucketError;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, ServerSideEncryption,
};
use aws_sdk_s3::Client;
use bytes::Bytes;

/// Content type reported for an object stored without one.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// Blobs in an S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Blobs {
    client: Client,
    bucket: String,
    /// Object keys are `{prefix}/{key}` when set, so several deployments can share a bucket.
    prefix: Option<String>,
    /// KMS key for SSE-KMS; SSE-S3 (AES256) when absent.
    kms_key_id: Option<String>,
}

impl S3Blobs {
    /// Blobs at the root of `bucket`, encrypted with S3-managed keys.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            prefix: None,
            kms_key_id: None,
        }
    }

    /// Builder: keeps every blob under `prefix/`.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into().trim_matches('/').to_owned();
        self.prefix = (!prefix.is_empty()).then_some(prefix);
        self
    }

    /// Builder: encrypts with this KMS key (id, ARN or alias) instead of S3-managed keys.
    pub fn with_kms_key(mut self, key_id: impl Into<String>) -> Self {
        self.kms_key_id = Some(key_id.into());
        self
    }

    /// The object key of a blob key (or of a listing prefix).
    fn object_key(&self, key: &str) -> String {
        match &self.prefix {
            Some(p) => format!("{p}/{key}"),
            None => key.to_owned(),
        }
    }

    /// The blob key of an object key, if it lies under this store's prefix.
    fn blob_key<'a>(&self, object_key: &'a str) -> Option<&'a str> {
        match &self.prefix {
            Some(p) => object_key.strip_prefix(p.as_str())?.strip_prefix('/'),
            None => Some(object_key),
        }
    }
}

#[async_trait]
impl Blobs for S3Blobs {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> Result<(), BlobError> {
        validate_key(key)?;
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .content_type(content_type)
            .body(ByteStream::from(body));
        request = match &self.kms_key_id {
            Some(id) => request
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(id),
            None => request.server_side_encryption(ServerSideEncryption::Aes256),
        };
        request
            .send()
            .await
            .map_err(|e| s3_error("storing a blob", e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        validate_key(key)?;
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(err) if matches!(err.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                return Ok(None)
            }
            Err(err) => return Err(s3_error("reading a blob", err)),
        };
        let content_type = out
            .content_type()
            .unwrap_or(DEFAULT_CONTENT_TYPE)
            .to_owned();
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| BlobError::Unavailable(format!("reading a blob's body: {e}")))?
            .into_bytes();
        Ok(Some(Blob { body, content_type }))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        validate_key(key)?;
        // S3 answers success for an absent key, which is the port's idempotent delete.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await
            .map_err(|e| s3_error("deleting a blob", e))?;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(self.object_key(prefix))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| s3_error("listing blobs", e))?;
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter_map(|k| self.blob_key(k))
                    .map(str::to_owned),
            );
            match out.next_continuation_token() {
                Some(next) if out.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => break,
            }
        }
        keys.sort();
        Ok(keys)
    }
}

/// Creates `bucket` in the client's region unless it already exists; for tests and local setups.
pub async fn ensure_bucket(client: &Client, bucket: &str) -> Result<(), BlobError> {
    let mut request = client.create_bucket().bucket(bucket);
    // us-east-1 is the one region that must not be named as a location constraint.
    if let Some(region) = client.config().region().map(|r| r.as_ref().to_owned()) {
        if region != "us-east-1" {
            let config = CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build();
            request = request.create_bucket_configuration(config);
        }
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(err)
            if matches!(
                err.as_service_error(),
                Some(CreateBucketError::BucketAlreadyOwnedByYou(_))
            ) =>
        {
            Ok(())
        }
        Err(err) => Err(s3_error("creating a bucket", err)),
    }
}

/// Maps an SDK failure: throttling and transport trouble are retryable, the rest is unexpected.
fn s3_error<E, R>(doing: &str, err: SdkError<E, R>) -> BlobError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let detail = format!("{doing}: {}", DisplayErrorContext(&err));
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            BlobError::Unavailable(detail)
        }
        SdkError::ServiceError(service) => match service.err().code() {
            Some("SlowDown" | "ServiceUnavailable" | "InternalError" | "RequestTimeout") => {
                BlobError::Unavailable(detail)
            }
            _ => BlobError::Internal(detail),
        },
        _ => BlobError::Internal(detail),
    }
}
