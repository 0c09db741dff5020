//! Signed, expiring links to stored files (`GET /files/{token}`): WhatsApp fetches documents from a
//! link, and a merchant's system fetches a customer's KYC document from one. The token carries the
//! blob key, the download's file name and the expiry, signed with a key derived from the admin key:
//! it reveals nothing usable, and cannot be guessed, altered or extended.

use crate::platform::error::AppError;
use crate::platform::Deps;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Serialize, Deserialize)]
struct FileClaim {
    /// Blob key.
    k: String,
    /// File name for the download.
    f: String,
    /// Expiry, unix seconds.
    e: i64,
}

fn signing_key(deps: &Deps) -> Vec<u8> {
    Sha256::digest(format!("mostrador-files:{}", deps.config.admin_key.expose()).as_bytes())
        .to_vec()
}

fn mac(deps: &Deps, payload: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(&signing_key(deps))
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    m.update(payload.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// A signed URL for a stored file, working for `ttl_secs` from now.
pub fn link(deps: &Deps, blob: &str, filename: &str, ttl_secs: i64) -> Result<String, AppError> {
    let claim = FileClaim {
        k: blob.to_owned(),
        f: filename.to_owned(),
        e: deps.clock.now_secs() + ttl_secs,
    };
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&claim).map_err(|e| AppError::Internal(e.into()))?);
    Ok(format!(
        "{}/files/{payload}.{}",
        deps.config.public_url(),
        mac(deps, &payload)
    ))
}

/// A stored file offered for download: its signed link and when the link expires (RFC 3339).
pub struct Offered {
    pub url: String,
    pub expires_at: String,
}

/// Stores `body` under `key` (a `crate::platform::schema::export_file`) and offers it through a
/// link working for `ttl_secs`; a due entry deletes the copy a few minutes after the link expires
/// (offering the same key again moves that deletion to the new link's end).
pub async fn offer(
    deps: &Deps,
    merchant: &crate::platform::tenant::MerchantId,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
    filename: &str,
    ttl_secs: i64,
) -> Result<Offered, AppError> {
    use crate::platform::due::{self, DueAction, Job};
    deps.blobs
        .put(key, body.into(), content_type)
        .await
        .map_err(|e| AppError::Unavailable(format!("storing {filename}: {e}")))?;
    due::schedule(
        deps,
        merchant,
        Job::DueNotifications,
        &format!("forget-{}", hex::encode(Sha256::digest(key.as_bytes()))),
        deps.clock.now_ms() + (ttl_secs + 300) * 1000,
        &DueAction::ForgetBlob {
            merchant_id: merchant.to_string(),
            blob_key: key.to_owned(),
        },
    )
    .await?;
    Ok(Offered {
        url: link(deps, key, filename, ttl_secs)?,
        expires_at: chrono::DateTime::from_timestamp(deps.clock.now_secs() + ttl_secs, 0)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default(),
    })
}

/// The file a token names, if the token is authentic and not expired: (blob key, file name).
pub fn resolve(deps: &Deps, token: &str) -> Option<(String, String)> {
    let (payload, sig) = token.split_once('.')?;
    let expected = mac(deps, payload);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        sig.as_bytes(),
        expected.as_bytes(),
    )) {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claim: FileClaim = serde_json::from_slice(&bytes).ok()?;
    (claim.e >= deps.clock.now_secs()).then_some((claim.k, claim.f))
}

/// The content type a download is served with: from its name for the files we make (PDF, XML,
/// ZIP), else the stored type when it is one a customer's document may be (images, PDF); anything
/// else is served as bytes, so a file a customer sent never runs as a page on this origin.
pub fn content_type(name: &str, stored: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".pdf") {
        return "application/pdf";
    }
    if lower.ends_with(".zip") {
        return "application/zip";
    }
    if lower.ends_with(".xml") {
        return "application/xml";
    }
    match stored.split(';').next().unwrap_or("").trim() {
        "image/jpeg" => "image/jpeg",
        "image/png" => "image/png",
        "image/webp" => "image/webp",
        "image/heic" => "image/heic",
        "application/pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::content_type;

    #[test]
    fn a_customers_file_is_never_served_as_a_page() {
        assert_eq!(content_type("Factura-A-1.pdf", ""), "application/pdf");
        assert_eq!(content_type("Factura-A-1.xml", ""), "application/xml");
        assert_eq!(content_type("INE.jpg", "image/jpeg"), "image/jpeg");
        assert_eq!(
            content_type("doc", "application/pdf; charset=binary"),
            "application/pdf"
        );
        assert_eq!(
            content_type("x.html", "text/html"),
            "application/octet-stream"
        );
        assert_eq!(
            content_type("x.svg", "image/svg+xml"),
            "application/octet-stream"
        );
    }
}
