//! The Blobs contract on both engines: `local` (a directory) and `aws` (S3 on moto).

use mostrador_store::testkit::blobs::BlobsFixture;
use std::sync::Arc;

mod local {
    use super::*;
    use mostrador_store::DirBlobs;

    async fn make() -> BlobsFixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = DirBlobs::open(dir.path().join("blobs")).expect("open blob directory");
        BlobsFixture {
            blobs: Arc::new(blobs),
            guard: Box::new(dir),
        }
    }

    mostrador_store::blobs_contract!(make);
}

mod aws {
    use super::*;
    use mostrador_store::s3::{ensure_bucket, S3Blobs};

    /// A fresh bucket on moto, so tests never see each other's objects.
    pub(super) async fn bucket() -> (aws_sdk_s3::Client, String) {
        let config = mostrador_store::aws::test_sdk_config()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let client = mostrador_store::aws::s3_client(&config);
        let bucket = format!("mostrador-test-{}", uuid::Uuid::new_v4().simple());
        ensure_bucket(&client, &bucket)
            .await
            .expect("create bucket on moto");
        (client, bucket)
    }

    async fn make() -> BlobsFixture {
        let (client, bucket) = bucket().await;
        BlobsFixture {
            blobs: Arc::new(S3Blobs::new(client, bucket)),
            guard: Box::new(()),
        }
    }

    mostrador_store::blobs_contract!(make);
}

/// S3 under a key prefix with SSE-KMS: the prefix must be invisible to callers.
mod aws_prefixed_kms {
    use super::*;
    use mostrador_store::s3::S3Blobs;

    async fn kms_key() -> String {
        let config = mostrador_store::aws::test_sdk_config()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let kms = aws_sdk_kms::Client::new(&config);
        mostrador_store::kms::create_test_key(&kms)
            .await
            .expect("create KMS key on moto")
    }

    async fn make() -> BlobsFixture {
        let (client, bucket) = super::aws::bucket().await;
        let blobs = S3Blobs::new(client, bucket)
            .with_prefix("env/test/")
            .with_kms_key(kms_key().await);
        BlobsFixture {
            blobs: Arc::new(blobs),
            guard: Box::new(()),
        }
    }

    mostrador_store::blobs_contract!(make);

    #[tokio::test]
    async fn objects_sit_under_the_prefix_encrypted_with_the_configured_key() {
        use aws_sdk_s3::types::ServerSideEncryption;
        use mostrador_store::Blobs;
        let (client, bucket) = super::aws::bucket().await;
        let key = kms_key().await;
        let kms_blobs = S3Blobs::new(client.clone(), &bucket)
            .with_prefix("env/test")
            .with_kms_key(&key);
        kms_blobs
            .put("cfdi/a.xml", "<cfdi/>".into(), "application/xml")
            .await
            .expect("put");
        let head = client
            .head_object()
            .bucket(&bucket)
            .key("env/test/cfdi/a.xml")
            .send()
            .await
            .expect("head");
        assert_eq!(
            head.server_side_encryption(),
            Some(&ServerSideEncryption::AwsKms)
        );
        assert!(
            head.ssekms_key_id().is_some_and(|id| id.contains(&key)),
            "{:?}",
            head.ssekms_key_id()
        );

        let plain_blobs = S3Blobs::new(client.clone(), &bucket);
        plain_blobs
            .put("root.txt", "x".into(), "text/plain")
            .await
            .expect("put");
        let head = client
            .head_object()
            .bucket(&bucket)
            .key("root.txt")
            .send()
            .await
            .expect("head");
        assert_eq!(
            head.server_side_encryption(),
            Some(&ServerSideEncryption::Aes256)
        );
        // Each store sees only its own keys.
        assert_eq!(kms_blobs.list("").await.expect("list"), ["cfdi/a.xml"]);
        assert_eq!(
            plain_blobs.list("").await.expect("list"),
            ["env/test/cfdi/a.xml", "root.txt"]
        );
    }
}
