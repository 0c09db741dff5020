//! Media: upload files to send by id, and fetch what customers send us.
//!
//! Inbound media arrive as ids; `GET /{version}/{media_id}` gives a URL that lives 5 minutes and
//! needs the token; the bytes are checked against the sha256 Meta announced.

use bytes::Bytes;
use reqwest::multipart::{Form, Part};
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use super::error::MediaError;
use super::{check_id, report, CloudApi};

/// What Meta says about a media id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaInfo {
    /// Download URL; valid about 5 minutes and only with the token.
    pub url: String,
    /// MIME type, e.g. `image/jpeg`.
    pub mime_type: Option<String>,
    /// sha256 of the file as Meta reports it (hex or base64).
    pub sha256: Option<String>,
    /// Size in bytes.
    pub file_size: Option<u64>,
    /// The media id.
    pub id: Option<String>,
}

/// A downloaded, checksum-verified media file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadedMedia {
    /// The file.
    pub bytes: Bytes,
    /// MIME type Meta reported.
    pub mime_type: Option<String>,
}

#[derive(Deserialize)]
struct WireMediaInfo {
    url: String,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
    // A number in the reference, a string in some answers: accept both.
    #[serde(default, deserialize_with = "size_number_or_string")]
    file_size: Option<u64>,
    #[serde(default)]
    id: Option<String>,
}

fn size_number_or_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Number(u64),
        Text(String),
    }
    Ok(match Option::<Size>::deserialize(deserializer)? {
        Some(Size::Number(n)) => Some(n),
        Some(Size::Text(s)) => s.trim().parse().ok(),
        None => None,
    })
}

impl CloudApi {
    /// Uploads a file for the merchant's number and returns its media id, to send as
    /// [`MediaSource::Id`](super::MediaSource::Id). Multipart `POST /{version}/{phone_number_id}/media`.
    pub async fn upload_media(
        &self,
        phone_number_id: &str,
        token: &str,
        bytes: Bytes,
        mime_type: &str,
        filename: &str,
    ) -> Result<String, MediaError> {
        check_id("phone_number_id", phone_number_id)
            .map_err(|e| MediaError::Invalid(e.to_string()))?;
        if bytes.is_empty() {
            return Err(MediaError::Invalid("the file is empty".to_owned()));
        }
        let span = tracing::info_span!(
            "whatsapp_upload_media",
            phone_number_id,
            mime_type,
            size = bytes.len()
        );
        async {
            let length = bytes.len() as u64;
            let file = Part::stream_with_length(bytes, length)
                .file_name(filename.to_owned())
                .mime_str(mime_type)
                .map_err(|_| MediaError::Invalid(format!("malformed MIME type {mime_type:?}")))?;
            let form = Form::new()
                .text("messaging_product", "whatsapp")
                .text("type", mime_type.to_owned())
                .part("file", file);
            let request = self
                .http
                .post(self.url(&[phone_number_id, "media"]))
                .multipart(form)
                .timeout(Self::MEDIA_TIMEOUT);
            let body = self
                .execute(request, token)
                .await
                .map_err(|f| report::<MediaError>(f, "upload_media"))?;
            #[derive(Deserialize)]
            struct Uploaded {
                id: String,
            }
            let uploaded: Uploaded = serde_json::from_slice(&body)
                .map_err(|e| MediaError::UnexpectedResponse(e.to_string()))?;
            tracing::debug!(media_id = %uploaded.id, "media uploaded");
            Ok(uploaded.id)
        }
        .instrument(span)
        .await
    }

    /// Looks up an (inbound or uploaded) media id: `GET /{version}/{media_id}`.
    pub async fn media_url(&self, media_id: &str, token: &str) -> Result<MediaInfo, MediaError> {
        check_id("media_id", media_id).map_err(|e| MediaError::Invalid(e.to_string()))?;
        let request = self.http.get(self.url(&[media_id]));
        let body = self
            .execute(request, token)
            .instrument(tracing::info_span!("whatsapp_media_url", media_id))
            .await
            .map_err(|f| report::<MediaError>(f, "media_url"))?;
        let info: WireMediaInfo = serde_json::from_slice(&body)
            .map_err(|e| MediaError::UnexpectedResponse(e.to_string()))?;
        Ok(MediaInfo {
            url: info.url,
            mime_type: info.mime_type,
            sha256: info.sha256,
            file_size: info.file_size,
            id: info.id,
        })
    }

    /// Downloads `url` (from [`CloudApi::media_url`]) with the token, and checks the bytes against
    /// `expected_sha256` when given.
    pub async fn download(
        &self,
        url: &str,
        token: &str,
        expected_sha256: Option<&str>,
    ) -> Result<Bytes, MediaError> {
        if let Some(guard) = &self.download_guard {
            let parsed = reqwest::Url::parse(url)
                .map_err(|_| MediaError::Invalid("the media URL is not a URL".into()))?;
            guard(&parsed)
                .map_err(|why| MediaError::Invalid(format!("media URL refused: {why}")))?;
        }
        let client = self.download_http.as_ref().unwrap_or(&self.http);
        let request = client.get(url).timeout(Self::MEDIA_TIMEOUT);
        // The URL is signed and short-lived: it stays out of the span.
        let bytes = self
            .execute(request, token)
            .instrument(tracing::info_span!("whatsapp_download_media"))
            .await
            .map_err(|f| report::<MediaError>(f, "download_media"))?;
        if let Some(expected) = expected_sha256 {
            verify_sha256(&bytes, expected)?;
        }
        Ok(bytes)
    }

    /// Looks up `media_id` and downloads it at once (the URL expires), verifying its sha256.
    pub async fn fetch_media(
        &self,
        media_id: &str,
        token: &str,
    ) -> Result<DownloadedMedia, MediaError> {
        let info = self.media_url(media_id, token).await?;
        let bytes = self
            .download(&info.url, token, info.sha256.as_deref())
            .await?;
        Ok(DownloadedMedia {
            bytes,
            mime_type: info.mime_type,
        })
    }
}

/// Checks `bytes` against a sha256 given as hex (64 digits) or base64 (standard or URL-safe,
/// padded or not) — Meta uses both forms.
pub fn verify_sha256(bytes: &[u8], expected: &str) -> Result<(), MediaError> {
    let digest = Sha256::digest(bytes);
    let expected = expected.trim();
    let matches = if expected.len() == 64 && expected.bytes().all(|b| b.is_ascii_hexdigit()) {
        expected.eq_ignore_ascii_case(&hex::encode(digest))
    } else {
        let normalized: String = expected
            .trim_end_matches('=')
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect();
        normalized == base64_unpadded(&digest)
    };
    if matches {
        Ok(())
    } else {
        Err(MediaError::ChecksumMismatch {
            expected: expected.to_owned(),
            actual: hex::encode(digest),
        })
    }
}

/// Standard base64 without padding (the crate has no base64 dependency; 32 bytes need no speed).
fn base64_unpadded(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_known_vectors() {
        assert_eq!(base64_unpadded(b""), "");
        assert_eq!(base64_unpadded(b"f"), "Zg");
        assert_eq!(base64_unpadded(b"fo"), "Zm8");
        assert_eq!(base64_unpadded(b"foo"), "Zm9v");
        assert_eq!(base64_unpadded(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn sha256_is_accepted_as_hex_or_base64() {
        // sha256("abc")
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let b64 = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";
        assert!(verify_sha256(b"abc", hex).is_ok());
        assert!(verify_sha256(b"abc", &hex.to_uppercase()).is_ok());
        assert!(verify_sha256(b"abc", b64).is_ok());
        assert!(verify_sha256(b"abc", "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0").is_ok());
        assert!(matches!(
            verify_sha256(b"abd", b64),
            Err(MediaError::ChecksumMismatch { .. })
        ));
    }
}
