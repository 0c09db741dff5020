//! The Keys contract: behaviours every engine must show, run unchanged against each of them with
//! [`keys_contract!`](crate::keys_contract).

use crate::keys::{Keys, KeysError};
use std::sync::Arc;

/// An engine under test.
pub struct KeysFixture {
    /// The engine.
    pub keys: Arc<dyn Keys>,
    /// The same engine kind with a different master key (another key file, another KMS key).
    pub other: Arc<dyn Keys>,
    /// Keeps temporary resources (directories, keys) alive for the test.
    pub guard: Box<dyn std::any::Any + Send>,
}

/// Expands to one `#[tokio::test]` per behaviour; `$make` is an `async fn() -> KeysFixture`.
#[macro_export]
macro_rules! keys_contract {
    ($make:path) => {
        $crate::keys_contract!(@each $make;
            sealed_value_opens_under_the_same_context,
            empty_and_100_kb_values_roundtrip,
            sealed_value_does_not_contain_the_plaintext,
            wrong_context_cannot_open,
            any_tampered_byte_cannot_open,
            truncated_or_foreign_bytes_cannot_open,
            two_seals_of_the_same_plaintext_differ,
            value_sealed_under_another_master_key_cannot_open,
        );
    };
    (@each $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let fixture = $make().await;
                $crate::testkit::keys::$name(&fixture).await;
            }
        )*
    };
}

const CONTEXT: &str = "merchant:M1:whatsapp-token";
const SECRET: &[u8] = b"EAAG-token-0123456789-secret";

fn cannot_open(result: Result<Vec<u8>, KeysError>, what: &str) {
    assert!(
        matches!(result, Err(KeysError::CannotOpen)),
        "{what}: expected CannotOpen, got {result:?}"
    );
}

/// A sealed value opens to its plaintext under the same context.
pub async fn sealed_value_opens_under_the_same_context(f: &KeysFixture) {
    let sealed = f.keys.seal(SECRET, CONTEXT).await.expect("seal");
    assert_eq!(f.keys.open(&sealed, CONTEXT).await.expect("open"), SECRET);
}

/// Empty and 100 KB values roundtrip.
pub async fn empty_and_100_kb_values_roundtrip(f: &KeysFixture) {
    let sealed = f.keys.seal(b"", CONTEXT).await.expect("seal empty");
    assert_eq!(
        f.keys.open(&sealed, CONTEXT).await.expect("open empty"),
        b""
    );
    let large: Vec<u8> = (0..100 * 1024u32).map(|i| (i % 253) as u8).collect();
    let sealed = f
        .keys
        .seal(&large, "customer:C1:rfc")
        .await
        .expect("seal large");
    assert_eq!(
        f.keys
            .open(&sealed, "customer:C1:rfc")
            .await
            .expect("open large"),
        large
    );
}

/// The plaintext does not appear in the sealed bytes.
pub async fn sealed_value_does_not_contain_the_plaintext(f: &KeysFixture) {
    let sealed = f.keys.seal(SECRET, CONTEXT).await.expect("seal");
    assert!(
        !sealed.windows(SECRET.len()).any(|w| w == SECRET),
        "plaintext visible in the sealed value"
    );
}

/// A value opened under another context is refused.
pub async fn wrong_context_cannot_open(f: &KeysFixture) {
    let sealed = f.keys.seal(SECRET, CONTEXT).await.expect("seal");
    cannot_open(
        f.keys.open(&sealed, "merchant:M2:whatsapp-token").await,
        "another merchant's context",
    );
    cannot_open(f.keys.open(&sealed, "").await, "empty context");
}

/// Flipping a byte anywhere in the sealed value makes it unopenable.
pub async fn any_tampered_byte_cannot_open(f: &KeysFixture) {
    let sealed = f.keys.seal(SECRET, CONTEXT).await.expect("seal");
    // The header, the wrapped key, the nonce and the ciphertext are all covered.
    let positions = [
        0,
        5,
        6,
        sealed.len() / 2,
        sealed.len() - SECRET.len() - 17,
        sealed.len() - 1,
    ];
    for i in positions {
        let mut tampered = sealed.clone();
        tampered[i] ^= 0x01;
        cannot_open(
            f.keys.open(&tampered, CONTEXT).await,
            &format!("byte {i} of {} flipped", sealed.len()),
        );
    }
}

/// Truncated values and bytes that were never sealed are refused.
pub async fn truncated_or_foreign_bytes_cannot_open(f: &KeysFixture) {
    let sealed = f.keys.seal(SECRET, CONTEXT).await.expect("seal");
    for cut in [0, 3, 6, sealed.len() - 1] {
        cannot_open(
            f.keys.open(&sealed[..cut], CONTEXT).await,
            &format!("truncated to {cut} bytes"),
        );
    }
    cannot_open(
        f.keys.open(b"plain text, never sealed", CONTEXT).await,
        "bytes that were never sealed",
    );
}

/// Sealing is randomised: the same plaintext seals differently each time.
pub async fn two_seals_of_the_same_plaintext_differ(f: &KeysFixture) {
    let a = f.keys.seal(SECRET, CONTEXT).await.expect("seal a");
    let b = f.keys.seal(SECRET, CONTEXT).await.expect("seal b");
    assert_ne!(a, b, "sealing must be randomised");
    assert_eq!(f.keys.open(&a, CONTEXT).await.expect("open a"), SECRET);
    assert_eq!(f.keys.open(&b, CONTEXT).await.expect("open b"), SECRET);
}

/// A value sealed under another master key of the same engine is refused.
pub async fn value_sealed_under_another_master_key_cannot_open(f: &KeysFixture) {
    let sealed = f
        .other
        .seal(SECRET, CONTEXT)
        .await
        .expect("seal with the other key");
    assert_eq!(
        f.other
            .open(&sealed, CONTEXT)
            .await
            .expect("open with the other key"),
        SECRET
    );
    cannot_open(
        f.keys.open(&sealed, CONTEXT).await,
        "value sealed under another master key",
    );
}
