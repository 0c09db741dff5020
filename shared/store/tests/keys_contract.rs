//! The Keys contract on both engines: `local` (a key file) and `aws` (KMS on moto).

use mostrador_store::testkit::keys::KeysFixture;
use std::sync::Arc;

mod local {
    use super::*;
    use mostrador_store::LocalKeys;

    async fn make() -> KeysFixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = LocalKeys::open(dir.path().join("keys/master.key")).expect("create key file");
        let other =
            LocalKeys::open(dir.path().join("keys/other.key")).expect("create other key file");
        KeysFixture {
            keys: Arc::new(keys),
            other: Arc::new(other),
            guard: Box::new(dir),
        }
    }

    mostrador_store::keys_contract!(make);

    #[tokio::test]
    async fn key_file_reopened_opens_what_it_sealed() {
        use mostrador_store::Keys;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master.key");
        let sealed = LocalKeys::open(&path)
            .expect("create")
            .seal(b"CLABE 0021", "c")
            .await
            .expect("seal");
        let reopened = LocalKeys::open(&path).expect("reopen");
        assert_eq!(
            reopened.open(&sealed, "c").await.expect("open"),
            b"CLABE 0021"
        );
    }
}

mod aws {
    use super::*;
    use mostrador_store::kms::{create_test_key, KmsKeys};

    /// Two fresh KMS keys on moto, so tests are independent.
    async fn make() -> KeysFixture {
        let config = mostrador_store::aws::test_sdk_config()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let client = aws_sdk_kms::Client::new(&config);
        let key = create_test_key(&client)
            .await
            .expect("create KMS key on moto");
        let other = create_test_key(&client)
            .await
            .expect("create another KMS key on moto");
        KeysFixture {
            keys: Arc::new(KmsKeys::new(client.clone(), key)),
            other: Arc::new(KmsKeys::new(client, other)),
            guard: Box::new(()),
        }
    }

    mostrador_store::keys_contract!(make);
}
