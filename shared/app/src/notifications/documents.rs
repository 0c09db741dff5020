//! Documents customers send back to a notification — an INE photo or a proof of address answering a
//! KYC request. Each is recorded once (its id comes from the customer's message, so a redelivery is
//! the same document), with the notification it answers, the file stored in Blobs, and an expiry:
//! the merchant's retention of conversation messages, after which record and file are deleted (a
//! due entry of the notifications job). `GET /v1/documents/{id}` answers the record with a signed
//! link that works for [`LINK_TTL_SECS`]; a customer's data export includes the file and an
//! erasure deletes both, as for every record that names the customer.

use super::stats::Tag;
use crate::platform::due::{DueAction, Job};
use crate::platform::error::AppError;
use crate::platform::schema;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_store::{Condition, Item, StoreError, Table, TxOp};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// How long a document's download link works: long enough to fetch it, short enough that a link
/// copied into a ticket or a log is soon worthless.
pub const LINK_TTL_SECS: i64 = 15 * 60;

/// A stored document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub id: String,
    /// The notification it answers (a KYC request).
    pub notification_id: String,
    pub template: String,
    pub kind: String,
    /// The customer's WhatsApp id.
    pub customer: String,
    /// The merchant's number it arrived on.
    pub phone_number_id: String,
    pub media_id: String,
    pub mime_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Where the file is; `None` when it could not be downloaded (sandbox mode, no token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<usize>,
    /// How it was matched to the notification: `quoted` (the customer replied to it) or `latest`
    /// (the latest KYC request to the customer within the attribution window).
    pub matched_by: String,
    /// Unix seconds.
    pub received_at: i64,
    /// Unix seconds when record and file are deleted.
    pub expires_at: i64,
}

/// The id of the document a customer's message carried.
pub fn document_id(merchant: &MerchantId, wamid: &str) -> String {
    let digest = hex::encode(Sha256::digest(format!("{merchant}:{wamid}").as_bytes()));
    format!("doc_{}", &digest[..26])
}

/// What was received, before it is recorded.
pub struct Received<'a> {
    pub wamid: &'a str,
    pub phone_number_id: &'a str,
    pub media: &'a mostrador_whatsapp::webhook::Media,
    pub stored: Option<&'a crate::parties::media::StoredMedia>,
    pub quoted: bool,
    pub received_at: i64,
}

/// Records a document (once: a repeat returns the first record) and schedules its deletion.
pub async fn record(
    deps: &Deps,
    table: &TenantTable,
    tag: &Tag,
    received: Received<'_>,
) -> Result<Document, AppError> {
    let merchant = table.merchant().clone();
    let id = document_id(&merchant, received.wamid);
    let now = deps.clock.now_secs();
    let retention = crate::parties::privacy::message_retention_secs(table, now).await?;
    let doc = Document {
        id: id.clone(),
        notification_id: tag.id.clone(),
        template: tag.template.clone(),
        kind: tag.kind.clone(),
        customer: tag.to_of(deps, &merchant).await,
        phone_number_id: received.phone_number_id.to_owned(),
        media_id: received.media.id.clone(),
        mime_type: received
            .stored
            .map(|s| s.mime_type.clone())
            .unwrap_or_else(|| received.media.mime_type.clone()),
        filename: received.media.filename.clone(),
        blob_key: received.stored.map(|s| s.blob_key.clone()),
        bytes: received.stored.map(|s| s.bytes),
        matched_by: if received.quoted { "quoted" } else { "latest" }.into(),
        received_at: received.received_at,
        expires_at: now + retention,
    };
    let body = serde_json::to_string(&doc).map_err(|e| AppError::Internal(e.into()))?;
    let forget = schema::due_entry(
        &merchant,
        Job::DueNotifications,
        &format!("forget-{id}"),
        &id,
        doc.expires_at * 1000,
        &DueAction::ForgetDocument {
            merchant_id: merchant.to_string(),
            document_id: id.clone(),
        },
    )?;
    let put = TxOp::Put {
        item: Item::new(&schema::document(&id))
            .with("doc", body)
            .with("customer", doc.customer.as_str())
            .with("notification_id", doc.notification_id.as_str())
            // The record goes with its file; the due entry deletes both, this is the backstop.
            .with("ttl", doc.expires_at + 86_400),
        condition: Some(Condition::NotExists),
    };
    let platform = vec![TxOp::Put {
        item: forget,
        condition: None,
    }];
    match table.transact_with_platform(vec![put], platform).await {
        Ok(()) => Ok(doc),
        Err(e) if e.failed_operations() == [0] => match get(table, &id).await? {
            Some(first) => Ok(first),
            None => Err(AppError::Unavailable(
                "document record changed while recording".into(),
            )),
        },
        Err(e) => Err(e.into()),
    }
}

/// A stored document, if it exists.
pub async fn get(table: &TenantTable, id: &str) -> Result<Option<Document>, AppError> {
    if !id.starts_with("doc_") || id.len() > 64 || id.contains('#') {
        return Ok(None);
    }
    match table.get(&schema::document(id)).await? {
        Some(item) => serde_json::from_str(item.get_s("doc").unwrap_or("null"))
            .map(Some)
            .map_err(|e| AppError::Internal(e.into())),
        None => Ok(None),
    }
}

/// `GET /v1/documents/{id}`: the record and, when the file is stored, a link valid for
/// [`LINK_TTL_SECS`].
pub fn view(deps: &Deps, doc: &Document) -> Result<Value, AppError> {
    let mut out = serde_json::to_value(doc).map_err(|e| AppError::Internal(e.into()))?;
    out.as_object_mut().map(|o| o.remove("blob_key"));
    if let Some(blob) = &doc.blob_key {
        let name = doc
            .filename
            .clone()
            .unwrap_or_else(|| format!("{}.{}", doc.id, extension(&doc.mime_type)));
        let url = crate::platform::files::link(deps, blob, &name, LINK_TTL_SECS)?;
        out["url"] = json!(url);
        out["url_expires_at"] = json!(deps.clock.now_secs() + LINK_TTL_SECS);
    }
    Ok(out)
}

fn extension(mime: &str) -> &'static str {
    match mime.split(';').next().unwrap_or("").trim() {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/heic" => "heic",
        "application/pdf" => "pdf",
        _ => "bin",
    }
}

/// Deletes a document's file and record (its retention ended); nothing when already gone.
pub(crate) async fn forget(deps: &Deps, merchant: &MerchantId, id: &str) -> Result<(), AppError> {
    let table = TenantTable::of(deps, merchant);
    let Some(doc) = get(&table, id).await? else {
        return Ok(());
    };
    if let Some(blob) = &doc.blob_key {
        // The file is the media of the message that carried it, which expires under the same
        // retention: both go now.
        match deps.blobs.delete(blob).await {
            Ok(()) => {}
            Err(e) => return Err(AppError::Unavailable(format!("blob store: {e}"))),
        }
    }
    match table.delete(&schema::document(id), None).await {
        Ok(_) => {}
        Err(StoreError::ConditionFailed { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    tracing::info!(merchant = %merchant, "customer document deleted at the end of its retention");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_documents_id_is_its_message_and_merchant() {
        let m = MerchantId::try_from("m1".to_owned()).expect("id");
        let other = MerchantId::try_from("m2".to_owned()).expect("id");
        assert_eq!(document_id(&m, "wamid.A"), document_id(&m, "wamid.A"));
        assert_ne!(document_id(&m, "wamid.A"), document_id(&m, "wamid.B"));
        assert_ne!(document_id(&m, "wamid.A"), document_id(&other, "wamid.A"));
        assert!(document_id(&m, "wamid.A").starts_with("doc_"));
    }
}
