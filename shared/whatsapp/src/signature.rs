//! `X-Hub-Signature-256`: HMAC-SHA256 of the exact received bytes with the app secret.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Hub-Signature-256 header")]
    Missing,
    #[error("malformed X-Hub-Signature-256 header")]
    Malformed,
    #[error("signature does not match the body")]
    Mismatch,
}

/// Checks `header` (`sha256=<64 hex>`) against the raw body, in constant time.
pub fn verify(app_secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let hex_sig = header
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    if hex_sig.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    let expected = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(app_secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The header value Meta would send for `body`; for tests and the local simulator.
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(app_secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Meta escapes non-ASCII and "/" in what it signs; the check must use the bytes as received.
    const BODY: &[u8] = br#"{"text":{"body":"Quiero 2 tortas de cochinita \u00f1 \ud83c\udf2e https:\/\/x.mx @tienda"}}"#;

    #[test]
    fn accepts_signature_over_the_raw_bytes() {
        let header = sign(b"app-secret", BODY);
        assert_eq!(verify(b"app-secret", BODY, Some(&header)), Ok(()));
    }

    #[test]
    fn refuses_a_signature_over_reserialized_json() {
        let header = sign(b"app-secret", BODY);
        let value: serde_json::Value = serde_json::from_slice(BODY).expect("json");
        let reserialized = serde_json::to_vec(&value).expect("json");
        assert_ne!(reserialized, BODY);
        assert_eq!(
            verify(b"app-secret", &reserialized, Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn refuses_missing_malformed_and_wrong_signatures() {
        assert_eq!(verify(b"s", BODY, None), Err(SignatureError::Missing));
        assert_eq!(
            verify(b"s", BODY, Some("sha1=abc")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(b"s", BODY, Some(&format!("sha256={}", "zz".repeat(32)))),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(b"other", BODY, Some(&sign(b"s", BODY))),
            Err(SignatureError::Mismatch)
        );
    }
}
