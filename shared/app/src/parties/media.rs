//! Inbound media (a customer's photo of an ID, a receipt) copied into Blobs when a flow asks for it:
//! Meta's download URL lives five minutes and the file about 30 days, so it is fetched at once.

use crate::parties::settings;
use crate::platform::error::AppError;
use crate::platform::tenant::MerchantId;
use crate::platform::Deps;
use mostrador_whatsapp::client::Disposition;

/// Where a fetched file was stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredMedia {
    pub blob_key: String,
    pub mime_type: String,
    pub bytes: usize,
}

/// Downloads `media_id` with the merchant's token into `merchants/{id}/media/{media_id}`; a second
/// call for the same media returns the stored copy without downloading again.
pub async fn fetch_into_blobs(
    deps: &Deps,
    merchant: &MerchantId,
    media_id: &str,
) -> Result<StoredMedia, AppError> {
    if media_id.is_empty()
        || media_id.len() > 64
        || !media_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(AppError::BadRequest("not a WhatsApp media id".into()));
    }
    let blob_key = format!("merchants/{merchant}/media/{media_id}");
    if let Some(existing) = deps
        .blobs
        .get(&blob_key)
        .await
        .map_err(|e| AppError::Internal(e.into()))?
    {
        return Ok(StoredMedia {
            blob_key,
            mime_type: existing.content_type,
            bytes: existing.body.len(),
        });
    }
    let token = settings::access_token(deps, merchant)
        .await?
        .ok_or_else(|| {
            AppError::Conflict(
                "no WhatsApp access token stored: media cannot be downloaded in sandbox mode"
                    .into(),
            )
        })?;
    let media = deps
        .cloud
        .fetch_media(media_id, token.expose())
        .await
        .map_err(|e| match e.disposition() {
            Disposition::Retry { .. } | Disposition::TokenInvalid => {
                AppError::Unavailable(format!("media download: {e}"))
            }
            _ => AppError::BadRequest(format!("media cannot be downloaded: {e}")),
        })?;
    let mime_type = media
        .mime_type
        .unwrap_or_else(|| "application/octet-stream".into());
    let bytes = media.bytes.len();
    deps.blobs
        .put(&blob_key, media.bytes, &mime_type)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    tracing::info!(merchant = %merchant, media_id, bytes, "inbound media stored");
    Ok(StoredMedia {
        blob_key,
        mime_type,
        bytes,
    })
}
