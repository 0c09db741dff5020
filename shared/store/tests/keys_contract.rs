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
    use mostrador_store::keys::Keys;
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

    /// The wrapped data key inside an envelope (`MKE1`, its length, the key, the payload).
    fn wrapped_key(sealed: &[u8]) -> Vec<u8> {
        let (wrapped, _) = mostrador_store::keys::envelope::unpack(sealed).expect("an envelope");
        wrapped.to_vec()
    }

    /// A data key serves many values of one context (one KMS call, not one per value), never
    /// another context's, and a cached key opens nothing under another context.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_data_key_is_reused_within_its_context_only() {
        let f = make().await;
        let config = mostrador_store::aws::test_sdk_config()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let client = aws_sdk_kms::Client::new(&config);
        let key = create_test_key(&client).await.expect("a KMS key");
        let sealer = KmsKeys::new(client.clone(), key.clone());
        let sealed = sealer
            .seal(b"receta", "merchant:c:conversation")
            .await
            .expect("seal");
        // Another process on the same key has nothing cached: it opens through KMS.
        let fresh = KmsKeys::new(client, key);
        assert_eq!(
            fresh
                .open(&sealed, "merchant:c:conversation")
                .await
                .expect("open"),
            b"receta"
        );
        assert_eq!(
            fresh
                .open(&sealed, "merchant:c:conversation")
                .await
                .expect("open again, cached"),
            b"receta"
        );
        assert!(fresh
            .open(&sealed, "merchant:d:conversation")
            .await
            .is_err());
        let a1 = f
            .keys
            .seal(b"hola", "merchant:a:conversation")
            .await
            .expect("seal");
        let a2 = f
            .keys
            .seal(b"me vende 2 cajas", "merchant:a:conversation")
            .await
            .expect("seal");
        let b1 = f
            .keys
            .seal(b"hola", "merchant:b:conversation")
            .await
            .expect("seal");
        assert_eq!(
            wrapped_key(&a1),
            wrapped_key(&a2),
            "one data key per context"
        );
        assert_ne!(
            wrapped_key(&a1),
            wrapped_key(&b1),
            "contexts never share a data key"
        );
        assert_ne!(a1[6..], a2[6..]);
        assert_eq!(
            f.keys
                .open(&a2, "merchant:a:conversation")
                .await
                .expect("open"),
            b"me vende 2 cajas"
        );
        assert!(f.keys.open(&a1, "merchant:b:conversation").await.is_err());
        // Another master key's adapter has nothing cached and KMS refuses it.
        assert!(f.other.open(&a1, "merchant:a:conversation").await.is_err());
    }
}
