//! A customer's ARCO rights over what a merchant holds about them (LFPDPPP): access (everything,
//! as JSON and as a ZIP with the files) and cancellation (erase what the law does not oblige the
//! merchant to keep, and say what is kept and why). Rectification and the request record live in
//! `parties::privacy`; opposition is the opt-out.
//!
//! Both walk every item of the merchant (a scan: ARCO requests are rare, and only a walk of
//! everything can promise that nothing naming the customer was missed), and find the customer by
//! their partition and by their WhatsApp id (and its aliases) anywhere in an item's text.

use crate::commerce::orders::{self, OrderStatus};
use crate::invoicing::{documents, fiscal, issue};
use crate::parties::consent;
use crate::parties::privacy::{self, NewRequest, PrivacyRequest, RequestStatus};
use crate::platform::error::AppError;
use crate::platform::schema;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_core::privacy::{erasure_of, kept_because, ArcoRight, Erasure, RecordKind};
use mostrador_store::{Condition, Item, Table, Value as StoreValue};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Items read per scan page.
const SCAN_PAGE: u32 = 500;

/// What the merchant holds about one customer: each item with its kind.
struct Found {
    /// The ids the customer is known by (the WhatsApp id first, then usernames or numbers seen
    /// with it).
    ids: Vec<String>,
    items: Vec<(RecordKind, Item)>,
    /// Invoice records of the customer's orders (found by order, they do not name the customer).
    invoices: Vec<issue::InvoiceRecord>,
}

fn mentions(item: &Item, ids: &[String]) -> bool {
    item.attrs.iter().any(|(_, v)| match v {
        StoreValue::S(s) => ids.iter().any(|id| s.contains(id.as_str())),
        _ => false,
    })
}

/// Walks every item of the merchant and keeps what concerns the customer.
async fn find(deps: &Deps, table: &TenantTable, wa_id: &str) -> Result<Found, AppError> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = table.scan("", cursor, SCAN_PAGE).await?;
        all.extend(page.items);
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    // The ids: the customer's (and, for a Mexican mobile, the 521… form Meta writes in messages),
    // and every alias that points to it.
    let mut ids = mostrador_core::phone::spellings(wa_id);
    for item in &all {
        let pk = item.get_s("pk").unwrap_or_default();
        // The alias's id: in the item (its key holds a pseudonym), or in the key an earlier
        // version wrote.
        if let Some(alias) = schema::alias_of(pk).map(|k| item.get_s("id").unwrap_or(k)) {
            if item.get_s("customer") == Some(wa_id) && !ids.iter().any(|i| i == alias) {
                ids.push(alias.to_owned());
            }
        }
    }
    let partitions: Vec<String> = ids
        .iter()
        .map(|id| schema::customer_pk(&table.customer(id)))
        .collect();
    let mut items = Vec::new();
    let mut invoice_items = Vec::new();
    for item in all {
        // Sealed conversation texts are read here, in memory only: the export gives them and the
        // erasure finds the files they name.
        let item = crate::parties::conversation::opened(deps, table, &item).await;
        let pk = item.get_s("pk").unwrap_or_default().to_owned();
        let kind = schema::record_kind(&pk);
        if pk == schema::INVOICES {
            invoice_items.push(item.clone());
        }
        if partitions.contains(&pk) || mentions(&item, &ids) {
            items.push((kind, item));
        }
    }
    let order_ids: BTreeSet<String> = items
        .iter()
        .filter(|(k, _)| *k == RecordKind::Order)
        .filter_map(|(_, i)| i.get_s("pk").and_then(schema::order_id_of))
        .map(str::to_owned)
        .collect();
    let mut invoices = Vec::new();
    for item in invoice_items {
        let Some(doc) = item.get_s("doc") else {
            continue;
        };
        let record: issue::InvoiceRecord =
            serde_json::from_str(doc).map_err(|e| AppError::Internal(e.into()))?;
        if record
            .order_id
            .as_ref()
            .is_some_and(|o| order_ids.contains(o))
        {
            invoices.push(record);
        }
    }
    Ok(Found {
        ids,
        items,
        invoices,
    })
}

/// An item's attributes as JSON, without its keys and index attributes.
fn attributes(item: &Item) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in item.attrs.iter() {
        if matches!(name.as_str(), "pk" | "sk" | "gsi1pk" | "gsi1sk" | "ttl") {
            continue;
        }
        let v = match value {
            StoreValue::S(s) => serde_json::from_str::<Value>(s)
                .ok()
                .filter(|v| v.is_object() || v.is_array())
                .unwrap_or_else(|| Value::String(s.clone())),
            StoreValue::N(n) => json!(n),
            StoreValue::Bool(b) => json!(b),
            // Sealed values are opened by their owners below, never dumped as bytes.
            _ => continue,
        };
        out.insert(name.clone(), v);
    }
    out
}

/// Blob keys an item names (the merchant's stored media, long texts, documents).
fn blob_keys(item: &Item, merchant: &MerchantId) -> BTreeSet<String> {
    let prefix = format!("merchants/{merchant}/");
    let mut out = BTreeSet::new();
    for (_, value) in item.attrs.iter() {
        let StoreValue::S(s) = value else { continue };
        out.extend(super::upkeep::file_names(s, merchant.as_str()));
        // Media a message carries is stored under its media id when a flow fetched it.
        if let Ok(message) = serde_json::from_str::<Value>(s) {
            for kind in ["image", "document", "audio", "video", "sticker"] {
                if let Some(id) = message[kind]["id"].as_str() {
                    out.insert(format!("{prefix}media/{id}"));
                }
            }
        }
    }
    out
}

/// A file of the export.
pub struct ExportFile {
    pub path: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// Everything held about a customer.
pub struct Export {
    pub data: Value,
    pub files: Vec<ExportFile>,
}

/// Access: everything the merchant holds about `wa_id` — profile, consent and its history, the
/// conversation, staff notes, orders, invoices (with their XML and PDF), saved fiscal data,
/// notifications, documents the customer sent, and any other record that names them — and the
/// files. Recorded in the audit and answered as an ARCO request.
pub async fn export(
    deps: &Deps,
    merchant: &MerchantId,
    wa_id: &str,
    actor: &Actor<'_>,
) -> Result<Export, AppError> {
    let table = TenantTable::of(deps, merchant);
    let found = find(deps, &table, wa_id).await?;
    if found.items.is_empty() {
        return Err(AppError::NotFound("customer".into()));
    }
    let mut profile = Value::Null;
    let mut conversation = Vec::new();
    let mut notes = Vec::new();
    let mut orders_out = Vec::new();
    let mut notifications = Vec::new();
    let mut other = Vec::new();
    let mut files = Vec::new();
    let mut documents = Vec::new();
    let mut seen_blobs = BTreeSet::new();
    for (kind, item) in &found.items {
        let pk = item.get_s("pk").unwrap_or_default();
        let sk = item.get_s("sk").unwrap_or_default();
        let record = match kind {
            RecordKind::Customer => schema::customer_record(sk),
            _ => schema::CustomerRecord::Other,
        };
        match (kind, record) {
            (RecordKind::Customer, schema::CustomerRecord::Profile) => {
                profile = Value::Object(attributes(item))
            }
            (RecordKind::Customer, schema::CustomerRecord::Message(at)) => {
                let mut entry = attributes(item);
                entry.insert(
                    "at".into(),
                    json!(at
                        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                        .map(|t| t.to_rfc3339())),
                );
                conversation.push(Value::Object(entry));
            }
            (RecordKind::Customer, schema::CustomerRecord::Note) => {
                notes.push(Value::Object(attributes(item)))
            }
            // Consent and saved fiscal data are given whole below, orders from their own records;
            // the conversation's state and an invoice form in progress are working data.
            (
                RecordKind::Customer,
                schema::CustomerRecord::Consent
                | schema::CustomerRecord::FiscalData
                | schema::CustomerRecord::OrderPointer
                | schema::CustomerRecord::ConversationState
                | schema::CustomerRecord::InvoiceForm,
            ) => {}
            (RecordKind::Order, _) => {
                if let Some(doc) = item.get_s("doc") {
                    let mut order: Value =
                        serde_json::from_str(doc).map_err(|e| AppError::Internal(e.into()))?;
                    if let Some(status) = item.get_s("status") {
                        order["status"] = json!(status);
                    }
                    orders_out.push(order);
                }
            }
            _ if schema::is_notification(pk) => notifications.push(Value::Object(attributes(item))),
            _ => {
                let mut entry = attributes(item);
                entry.insert(
                    "record".into(),
                    json!(pk.split('#').next().unwrap_or(pk).to_lowercase()),
                );
                other.push(Value::Object(entry));
            }
        }
        for key in blob_keys(item, merchant) {
            if !seen_blobs.insert(key.clone()) || key.contains("/inbound/") {
                // Long texts are in the conversation already (their stored copy is sealed).
                continue;
            }
            if let Some(blob) = deps
                .blobs
                .get(&key)
                .await
                .map_err(|e| AppError::Internal(e.into()))?
            {
                let name = key.rsplit('/').next().unwrap_or("documento").to_owned();
                let ext = extension(&blob.content_type);
                let path = format!("documentos/{name}{ext}");
                documents.push(json!({
                    "file": path,
                    "content_type": blob.content_type,
                    "bytes": blob.body.len(),
                }));
                files.push(ExportFile {
                    path,
                    content_type: blob.content_type,
                    body: blob.body.to_vec(),
                });
            }
        }
    }
    conversation.sort_by(|a, b| {
        (a["at"].as_str(), a["logged_ms"].as_i64())
            .cmp(&(b["at"].as_str(), b["logged_ms"].as_i64()))
    });
    let mut invoices = Vec::new();
    for record in &found.invoices {
        let mut entry = serde_json::to_value(record).map_err(|e| AppError::Internal(e.into()))?;
        let mut names = Vec::new();
        for (file, ext) in [("cfdi.xml", "xml"), ("cfdi.pdf", "pdf")] {
            let key = issue::blob_key(merchant, &record.id, file);
            if let Some(blob) = deps
                .blobs
                .get(&key)
                .await
                .map_err(|e| AppError::Internal(e.into()))?
            {
                let path = format!("facturas/{}", documents::filename(record, ext));
                let path = if files.iter().any(|f| f.path == path) {
                    format!(
                        "facturas/{}-{}.{ext}",
                        record.id,
                        file.trim_end_matches(".xml").trim_end_matches(".pdf")
                    )
                } else {
                    path
                };
                names.push(json!(path));
                files.push(ExportFile {
                    path,
                    content_type: blob.content_type,
                    body: blob.body.to_vec(),
                });
            }
        }
        entry["files"] = Value::Array(names);
        invoices.push(entry);
    }
    let consent = consent::show(&table, wa_id).await?;
    let fiscal = fiscal::load(deps, merchant, wa_id).await?;
    let now = deps.clock.now();
    let data = json!({
        "wa_id": wa_id,
        "also_known_as": found.ids.iter().filter(|i| !mostrador_core::phone::spellings(wa_id).contains(i)).collect::<Vec<_>>(),
        "generated_at": now.to_rfc3339(),
        "profile": profile,
        "consent": consent,
        "conversation": conversation,
        "notes": notes,
        "orders": orders_out,
        "invoices": invoices,
        "fiscal_data": fiscal,
        "notifications": notifications,
        "documents": documents,
        "other_records": other,
        "retention": {
            "messages_days": privacy::load_settings(&table).await?.message_retention_days,
            "invoices": kept_because(RecordKind::Invoice),
            "orders": kept_because(RecordKind::Order),
        },
    });
    privacy::audit(deps, &table, actor.name, actor.key_id, "export", wa_id).await?;
    privacy::answer(
        deps,
        &table,
        NewRequest {
            right: ArcoRight::Acceso,
            wa_id,
            channel: actor.channel,
            by: actor.name,
            received_at: None,
            note: None,
        },
        RequestStatus::Atendida,
        &format!(
            "Se entregó una copia de los datos: {} mensajes, {} pedidos, {} facturas, {} archivos.",
            conversation.len(),
            orders_out.len(),
            invoices.len(),
            files.len()
        ),
    )
    .await?;
    Ok(Export { data, files })
}

fn extension(content_type: &str) -> &'static str {
    match content_type.split(';').next().unwrap_or("").trim() {
        "application/pdf" => ".pdf",
        "image/jpeg" => ".jpg",
        "image/png" => ".png",
        "image/webp" => ".webp",
        "audio/ogg" => ".ogg",
        "audio/mpeg" => ".mp3",
        "video/mp4" => ".mp4",
        "application/xml" | "text/xml" => ".xml",
        "text/plain" => ".txt",
        _ => "",
    }
}

/// How long the link to a stored export works; the file is deleted a few minutes after.
pub const EXPORT_LINK_SECS: i64 = 3600;

/// Stores a customer's data export too large to answer in a response, schedules its deletion for
/// when its link expires, and gives the signed link and its expiry (RFC 3339).
pub(crate) async fn store_export(
    deps: &Deps,
    merchant: &MerchantId,
    wa: &str,
    day: &str,
    body: Vec<u8>,
) -> Result<(String, String), AppError> {
    let mut random = [0u8; 10];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut random);
    let id = mostrador_core::ids::sortable_id(deps.clock.now(), random);
    // No number in the name: the key says which merchant, not which customer.
    let key = schema::export_file(merchant, &format!("arco/{id}.zip"));
    let offered = crate::platform::files::offer(
        deps,
        merchant,
        &key,
        body,
        "application/zip",
        &format!("datos-{wa}-{day}.zip"),
        EXPORT_LINK_SECS,
    )
    .await?;
    Ok((offered.url, offered.expires_at))
}

/// The export as one ZIP: `datos.json` and the files under `facturas/` and `documentos/`.
pub fn zip(export: &Export) -> Result<Vec<u8>, AppError> {
    use std::io::Write;
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let json =
            serde_json::to_vec_pretty(&export.data).map_err(|e| AppError::Internal(e.into()))?;
        zip.start_file("datos.json", options)
            .map_err(|e| AppError::Internal(e.into()))?;
        zip.write_all(&json)
            .map_err(|e| AppError::Internal(e.into()))?;
        for file in &export.files {
            zip.start_file(file.path.as_str(), options)
                .map_err(|e| AppError::Internal(e.into()))?;
            zip.write_all(&file.body)
                .map_err(|e| AppError::Internal(e.into()))?;
        }
        zip.finish().map_err(|e| AppError::Internal(e.into()))?;
    }
    Ok(out.into_inner())
}

/// Who acts on a customer's data, for the audit and the request record.
pub struct Actor<'a> {
    pub name: &'a str,
    pub key_id: &'a str,
    /// How the request arrived (api, console…).
    pub channel: &'a str,
}

/// What an erasure did.
#[derive(Debug, Serialize)]
pub struct Erased {
    /// What now stands for the customer in what is kept.
    pub pseudonym: String,
    pub deleted: usize,
    pub anonymized: usize,
    pub files_deleted: usize,
    /// What is kept, how many records, and why.
    pub kept: Vec<Kept>,
    pub request: PrivacyRequest,
}

#[derive(Debug, Serialize)]
pub struct Kept {
    pub records: RecordKind,
    pub count: usize,
    pub why: &'static str,
}

/// The orders that keep an erasure waiting: paid or awaiting payment and not yet handed over.
fn in_course(status: OrderStatus) -> bool {
    matches!(
        status,
        OrderStatus::AwaitingPayment
            | OrderStatus::Paid
            | OrderStatus::ReadyForPickup
            | OrderStatus::Shipped
    )
}

fn replace_ids(s: &str, ids: &[String], pseudonym: &str) -> String {
    ids.iter()
        .fold(s.to_owned(), |acc, id| acc.replace(id.as_str(), pseudonym))
}

/// Cancellation: erases everything about `wa_id` the law does not oblige the merchant to keep.
/// Conversation, profile, consent, notes, saved fiscal data, sent messages, notifications, hook
/// deliveries, reminders and stored files are deleted; orders are kept as sales with the customer
/// replaced by a pseudonym and no name or address; CFDI records and files and the record of ARCO
/// requests are kept, with the pseudonym where the WhatsApp id was. Refused (409) while an order is
/// in course: it must be delivered, cancelled or refunded first.
pub async fn erase(
    deps: &Deps,
    merchant: &MerchantId,
    wa_id: &str,
    actor: &Actor<'_>,
) -> Result<Erased, AppError> {
    let table = TenantTable::of(deps, merchant);
    let found = find(deps, &table, wa_id).await?;
    if found.items.is_empty() {
        return Err(AppError::NotFound("customer".into()));
    }
    let erased_at = deps.clock.now_secs();
    let open: Vec<String> = found
        .items
        .iter()
        .filter(|(k, _)| *k == RecordKind::Order)
        .filter(|(_, i)| {
            i.get_s("status")
                .and_then(|s| serde_json::from_value::<OrderStatus>(json!(s)).ok())
                .is_some_and(in_course)
        })
        .filter_map(|(_, i)| i.get_s("pk").and_then(schema::order_id_of))
        .map(str::to_owned)
        .collect();
    if !open.is_empty() {
        return Err(AppError::Conflict(format!(
            "el cliente tiene pedidos en curso ({}): entrégalos, cancélalos o reembólsalos y después borra sus datos",
            open.join(", ")
        )));
    }
    // From here on, what the customer sent before now and still waits in a queue is not stored
    // again (the inbound pipeline asks); a message they send later is a new conversation.
    let everyone: BTreeSet<&str> = found
        .ids
        .iter()
        .map(String::as_str)
        .chain([wa_id])
        .collect();
    for id in everyone {
        privacy::mark_erased(deps, &table, id, erased_at).await?;
    }
    let pseudonym = format!("anon-{}", &hex::encode(rand::random::<[u8; 8]>()));
    let mut deleted = 0;
    let mut anonymized = 0;
    let mut kept: BTreeMap<&'static str, (RecordKind, usize)> = BTreeMap::new();
    let mut blobs = BTreeSet::new();
    for (kind, item) in &found.items {
        let key = item
            .key()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("an item without its key")))?;
        match erasure_of(*kind) {
            Erasure::Delete => {
                blobs.extend(blob_keys(item, merchant));
                table.delete(&key, None).await?;
                deleted += 1;
            }
            Erasure::Anonymize | Erasure::Keep => {
                // Only the texts that name the customer change; keys and index entries stay.
                let mut update = mostrador_store::Update::new();
                let mut changed = false;
                for (name, value) in &item.attrs {
                    if matches!(name.as_str(), "pk" | "sk" | "gsi1pk" | "gsi1sk") {
                        continue;
                    }
                    // An order's sealed name and address go (its document is anonymized below).
                    if *name == format!("{}_sealed", orders::PERSONAL) {
                        update = update.remove(name.as_str());
                        changed = true;
                        continue;
                    }
                    let StoreValue::S(text) = value else { continue };
                    let new = if name == "doc" && *kind == RecordKind::Order {
                        anonymized_order(text, &found.ids, &pseudonym)?
                    } else {
                        replace_ids(text, &found.ids, &pseudonym)
                    };
                    if new != *text {
                        update = update.set(name.as_str(), new);
                        changed = true;
                    }
                }
                if changed {
                    table.update(&key, update, Some(Condition::Exists)).await?;
                }
                if *kind == RecordKind::Order {
                    anonymized += 1;
                }
                if let Some(why) = kept_because(*kind) {
                    kept.entry(why).or_insert((*kind, 0)).1 += 1;
                }
            }
        }
    }
    // A reply or document being sent while this ran may have written its record after the scan
    // read past it: a second pass deletes what appeared (the profile is gone now, so the chat
    // sends the customer nothing new).
    let again = find(deps, &table, wa_id).await?;
    for (kind, item) in &again.items {
        if erasure_of(*kind) != Erasure::Delete {
            continue;
        }
        let Some(key) = item.key() else { continue };
        blobs.extend(blob_keys(item, merchant));
        if table.delete(&key, None).await?.is_some() {
            deleted += 1;
        }
    }
    // Invoices name the order, not the customer: they are kept as they are, and said so.
    if !found.invoices.is_empty() {
        if let Some(why) = kept_because(RecordKind::Invoice) {
            kept.entry(why).or_insert((RecordKind::Invoice, 0)).1 += found.invoices.len();
        }
    }
    // The sender's per-customer pacing on each of the merchant's numbers names the customer too.
    let numbers: BTreeSet<String> = crate::parties::merchants::list_branches_of(&table)
        .await?
        .into_iter()
        .filter_map(|b| b.phone_number_id)
        .collect();
    for number in &numbers {
        for id in &found.ids {
            crate::platform::throttle::forget_pair(&*deps.table, number, &deps.customer_key(id))
                .await?;
        }
    }
    let mut files_deleted = 0;
    for key in blobs {
        if key.starts_with(&issue::files_prefix(merchant)) {
            continue;
        }
        if deps
            .blobs
            .get(&key)
            .await
            .map_err(|e| AppError::Internal(e.into()))?
            .is_some()
        {
            deps.blobs
                .delete(&key)
                .await
                .map_err(|e| AppError::Internal(e.into()))?;
            files_deleted += 1;
        }
    }
    privacy::audit(deps, &table, actor.name, actor.key_id, "erase", &pseudonym).await?;
    let outcome = format!(
        "Datos borrados: {deleted} registros y {files_deleted} archivos. Se conservan sin número, nombre ni dirección {anonymized} ventas y {} facturas, como obliga el Código Fiscal.",
        found.invoices.len()
    );
    // Requests registered before name the customer; they were rewritten to the pseudonym above.
    let answered = privacy::answer(
        deps,
        &table,
        NewRequest {
            right: ArcoRight::Cancelacion,
            wa_id: &pseudonym,
            channel: actor.channel,
            by: actor.name,
            received_at: None,
            note: None,
        },
        RequestStatus::Atendida,
        &outcome,
    )
    .await?;
    tracing::info!(merchant = %merchant, deleted, anonymized, files_deleted, "customer data erased");
    let request = answered
        .into_iter()
        .next()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the erasure was not recorded")))?;
    Ok(Erased {
        pseudonym,
        deleted,
        anonymized,
        files_deleted,
        kept: kept
            .into_iter()
            .map(|(why, (records, count))| Kept {
                records,
                count,
                why,
            })
            .collect(),
        request,
    })
}

/// Moves what an earlier version keyed by a customer's number (or user id) under the customer's
/// pseudonym: every item of the customer's partition, their alias records and their hand-off
/// marker. Each item is written under its new key and deleted under the old in one transaction;
/// when the new key already holds an item (the customer wrote after the upgrade, before this
/// ran), what the new one lacks is copied from the old (an opt-out, say) and the old goes. Running
/// it again moves nothing. Answers how many items moved.
pub(crate) async fn move_customer_keys(
    deps: &Deps,
    merchant: &MerchantId,
) -> Result<usize, AppError> {
    let table = TenantTable::of(deps, merchant);
    let mut moved = 0;
    for prefix in [schema::CUSTOMER_PARTITION_PREFIX, schema::ALIAS_PREFIX] {
        let mut cursor = None;
        loop {
            let page = table.scan(prefix, cursor, SCAN_PAGE).await?;
            for item in &page.items {
                let pk = item.get_s("pk").unwrap_or_default();
                let (new_pk, id) = if let Some(id) = schema::customer_of(pk) {
                    (schema::customer_pk(&table.customer(id)), id)
                } else if let Some(id) = schema::alias_of(pk) {
                    (schema::customer_alias(&table.customer(id)).pk, id)
                } else {
                    continue;
                };
                if mostrador_store::Pseudonyms::is_pseudonym(id) {
                    continue;
                }
                let mut new = item.clone();
                new.attrs.insert("pk".into(), StoreValue::S(new_pk));
                let sk = item.get_s("sk").unwrap_or_default();
                if sk == "PROFILE" && item.get("wa_id").is_none() {
                    new = with_sealed_id(deps, merchant, new, id).await?;
                }
                if schema::alias_of(pk).is_some() && item.get("id").is_none() {
                    new = new.with("id", id);
                }
                // Fiscal data and an invoice form in progress are bound to the customer as keys
                // name them: sealed again for the pseudonym.
                let sealing = |customer| match sk {
                    "FISCAL" => Some(crate::platform::sealed::Sealing::Fiscal { customer }),
                    "INVOICE_FORM" => {
                        Some(crate::platform::sealed::Sealing::InvoiceForm { customer })
                    }
                    _ => None,
                };
                if let (Some(old), Some(StoreValue::B(sealed))) = (sealing(id), item.get("sealed"))
                {
                    let pseudonym = table.customer(id);
                    let now = sealing(pseudonym.as_str()).map(|s| s.context(merchant));
                    match deps.keys.open(sealed, &old.context(merchant)).await {
                        Ok(plain) => {
                            let again = deps
                                .keys
                                .seal(&plain, &now.unwrap_or_default())
                                .await
                                .map_err(|e| AppError::Internal(e.into()))?;
                            new = new.with("sealed", StoreValue::B(again));
                        }
                        // Unreadable already (another key): moved as it is, not a reason to
                        // leave the rest of the customer behind.
                        Err(mostrador_store::KeysError::CannotOpen) => {
                            tracing::warn!(merchant = %merchant, record = sk, "a sealed customer record does not open; moved as it is");
                        }
                        Err(e) => return Err(AppError::Unavailable(e.to_string())),
                    }
                }
                moved += move_item(&table, item, new).await?;
            }
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    // The hand-off markers name the customer's partition in their sort key.
    let mut cursor = None;
    loop {
        let page = table
            .query(
                mostrador_store::Query::partition(schema::HANDOFFS)
                    .limit(SCAN_PAGE)
                    .after(cursor),
            )
            .await?;
        for item in &page.items {
            let sk = item.get_s("sk").unwrap_or_default();
            let Some(id) = schema::customer_of(sk) else {
                continue;
            };
            if mostrador_store::Pseudonyms::is_pseudonym(id) {
                continue;
            }
            let mut new = item.clone();
            new.attrs.insert(
                "sk".into(),
                StoreValue::S(schema::handoff(&table.customer(id)).sk),
            );
            if item.get("wa_id").is_none() {
                new = with_sealed_id(deps, merchant, new, id).await?;
            }
            moved += move_item(&table, item, new).await?;
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    if moved > 0 {
        tracing::info!(merchant = %merchant, items = moved, "customers' keys moved under their pseudonyms");
    }
    Ok(moved)
}

/// [`move_customer_keys`] for every merchant, once per deployment (a platform marker records that
/// it ran): the local stack runs it as it starts. Answers how many items moved.
pub async fn move_all_customer_keys(deps: &Deps) -> Result<usize, AppError> {
    let marker = schema::pseudonyms_migrated();
    if deps.table.get(&marker).await?.is_some() {
        return Ok(0);
    }
    let mut merchants = BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = deps.table.scan("M#", cursor, SCAN_PAGE).await?;
        for item in &page.items {
            if let Some((merchant, _)) = item.get_s("pk").and_then(schema::tenant_of) {
                merchants.insert(merchant.to_owned());
            }
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut moved = 0;
    for merchant in merchants {
        if let Ok(merchant) = MerchantId::try_from(merchant) {
            moved += move_customer_keys(deps, &merchant).await?;
        }
    }
    deps.table
        .put(Item::new(&marker).with("at", deps.clock.now_secs()), None)
        .await?;
    Ok(moved)
}

/// One item of [`move_customer_keys`]: 1 when it moved, 0 when it was gone already.
/// `item` saying, sealed, which customer it is (its key names a pseudonym), unless it says so
/// already.
async fn with_sealed_id(
    deps: &Deps,
    merchant: &MerchantId,
    item: Item,
    id: &str,
) -> Result<Item, AppError> {
    let name = crate::parties::customers::PROFILE_WA_ID;
    if item.get(&format!("{name}_sealed")).is_some() {
        return Ok(item);
    }
    let sealed = crate::parties::conversation::seal_text(deps, merchant, id).await?;
    Ok(item.with(format!("{name}_sealed"), StoreValue::B(sealed)))
}

async fn move_item(table: &TenantTable, old: &Item, new: Item) -> Result<usize, AppError> {
    let (Some(old_key), Some(new_key)) = (old.key(), new.key()) else {
        return Ok(0);
    };
    let ops = vec![
        mostrador_store::TxOp::Put {
            item: new.clone(),
            condition: Some(Condition::NotExists),
        },
        mostrador_store::TxOp::Delete {
            key: old_key.clone(),
            condition: Some(Condition::Exists),
        },
    ];
    match table.transact(ops).await {
        Ok(()) => return Ok(1),
        Err(e) if e.is_condition_failed() => {}
        Err(e) => return Err(e.into()),
    }
    // Either the old one is gone (moved by another run) or the new key is taken: keep the new
    // item and add to it what only the old one says.
    if table.get(&old_key).await?.is_none() {
        return Ok(0);
    }
    let mut update = mostrador_store::Update::new();
    let mut any = false;
    for (name, value) in &new.attrs {
        if matches!(name.as_str(), "pk" | "sk" | "gsi1pk" | "gsi1sk") {
            continue;
        }
        update = update.set_if_absent(name.clone(), value.clone());
        any = true;
    }
    if any {
        table.update(&new_key, update, None).await?;
    }
    table.delete(&old_key, None).await?;
    Ok(1)
}

/// What sealing a merchant's older conversation texts did.
#[derive(Debug, Serialize)]
pub struct SealReport {
    /// Items an earlier version kept under a customer's number (in clear) moved under the
    /// customer's pseudonym now.
    pub keys_moved: usize,
    /// Items of customers' partitions read.
    pub scanned: usize,
    /// Messages, notes and profile names sealed now (a second run seals none).
    pub sealed: usize,
    /// The merchant's stored files (invoices, documents, media, exports) sealed now.
    pub files_sealed: usize,
}

/// Seals the conversation messages, staff notes and profile names a merchant stored in clear
/// before they were sealed (giving those messages the merchant's retention period), and the
/// merchant's files written in clear; run once after upgrading (running it again changes nothing).
pub(crate) async fn seal_old_conversation_texts(
    deps: &Deps,
    merchant: &MerchantId,
) -> Result<SealReport, AppError> {
    let table = TenantTable::of(deps, merchant);
    let retention =
        crate::parties::privacy::message_retention_secs(&table, deps.clock.now_secs()).await?;
    let prefix = schema::CUSTOMER_PARTITION_PREFIX;
    let mut report = SealReport {
        keys_moved: move_customer_keys(deps, merchant).await?,
        scanned: 0,
        sealed: 0,
        files_sealed: 0,
    };
    let mut cursor = None;
    loop {
        let page = table.scan(prefix, cursor, SCAN_PAGE).await?;
        for item in &page.items {
            report.scanned += 1;
            let record = schema::customer_record(item.get_s("sk").unwrap_or_default());
            use crate::parties::customers::{PROFILE_NAME, PROFILE_PHONE, PROFILE_WA_ID};
            let (names, at): (&[&str], _) = match record {
                schema::CustomerRecord::Message(at) => (&["message"], at),
                schema::CustomerRecord::Note => (&["text"], None),
                schema::CustomerRecord::Profile => {
                    (&[PROFILE_NAME, PROFILE_WA_ID, PROFILE_PHONE], None)
                }
                _ => continue,
            };
            let mut update = mostrador_store::Update::new();
            let mut any = false;
            for name in names {
                let Some(clear) = item.get_s(name) else {
                    continue;
                };
                let sealed = crate::parties::conversation::seal_text(deps, merchant, clear).await?;
                update = update
                    .set(format!("{name}_sealed"), StoreValue::B(sealed))
                    .remove(*name);
                any = true;
            }
            if !any {
                continue;
            }
            let Some(key) = item.key() else { continue };
            if let (Some(at), None) = (at, item.ttl()) {
                update = update.set("ttl", at + retention);
            }
            match table.update(&key, update, Some(Condition::Exists)).await {
                Ok(_) => report.sealed += 1,
                // Expired or erased meanwhile: nothing to seal.
                Err(e) if e.is_condition_failed() => {}
                Err(e) => return Err(e.into()),
            }
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    // Notifications keeping their recipient or the fintech's metadata or details in clear.
    let mut cursor = None;
    loop {
        let page = table
            .scan(schema::NOTIFICATION_PARTITION_PREFIX, cursor, SCAN_PAGE)
            .await?;
        for item in &page.items {
            report.scanned += 1;
            let Some(key) = item.key() else { continue };
            let mut update = mostrador_store::Update::new();
            let mut any = false;
            for name in ["to", "metadata", "details"] {
                let Some(clear) = item.get_s(name) else {
                    continue;
                };
                let sealed = crate::parties::conversation::seal_text(deps, merchant, clear).await?;
                update = update
                    .set(format!("{name}_sealed"), StoreValue::B(sealed))
                    .remove(name);
                any = true;
            }
            if !any {
                continue;
            }
            match table.update(&key, update, Some(Condition::Exists)).await {
                Ok(_) => report.sealed += 1,
                Err(e) if e.is_condition_failed() => {}
                Err(e) => return Err(e.into()),
            }
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    // Orders keeping the customer's name or address in their document.
    let mut cursor = None;
    loop {
        let page = table
            .scan(schema::ORDER_PARTITION_PREFIX, cursor, SCAN_PAGE)
            .await?;
        for item in &page.items {
            report.scanned += 1;
            if orders::seal_stored_personal(deps, &table, item).await? {
                report.sealed += 1;
            }
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    // The merchant's files written before documents were sealed.
    for prefix in schema::blob_prefixes(merchant) {
        let keys = deps
            .blobs
            .list(&prefix)
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        for key in keys {
            if deps
                .sealed_blobs
                .seal_in_place(&key)
                .await
                .map_err(|e| AppError::Unavailable(e.to_string()))?
            {
                report.files_sealed += 1;
            }
        }
    }
    tracing::info!(merchant = %merchant, scanned = report.scanned, sealed = report.sealed, files = report.files_sealed, "older conversation texts and files sealed");
    Ok(report)
}

/// An order's document with the customer replaced by the pseudonym, and no name or address.
fn anonymized_order(doc: &str, ids: &[String], pseudonym: &str) -> Result<String, AppError> {
    let mut order: orders::Order =
        serde_json::from_str(doc).map_err(|e| AppError::Internal(e.into()))?;
    order.wa_id = pseudonym.to_owned();
    order.customer_name = None;
    if let mostrador_core::conversation::Fulfilment::Delivery { .. } = order.fulfilment {
        order.fulfilment = mostrador_core::conversation::Fulfilment::Delivery {
            address: "(borrada a petición del cliente)".into(),
            latitude: None,
            longitude: None,
        };
    }
    let out = serde_json::to_string(&order).map_err(|e| AppError::Internal(e.into()))?;
    Ok(replace_ids(&out, ids, pseudonym))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mostrador_store::Key;

    fn m() -> MerchantId {
        MerchantId::try_from("m1".to_owned()).expect("a merchant id")
    }

    #[test]
    fn files_are_found_in_any_text_of_an_item() {
        let item = Item::new(&Key::new("HOOK#1", "HOOK"))
            .with(
                "data",
                r#"{"blob_key":"merchants/m1/media/88","other":"merchants/m2/media/99"}"#,
            )
            .with(
                "message",
                r#"{"type":"image","image":{"id":"77","mime_type":"image/jpeg"},"mostrador_shortened":{"stored_as":"merchants/m1/inbound/abc"}}"#,
            );
        let keys = blob_keys(&item, &m());
        assert_eq!(
            keys.into_iter().collect::<Vec<_>>(),
            [
                "merchants/m1/inbound/abc",
                "merchants/m1/media/77",
                "merchants/m1/media/88"
            ]
        );
    }

    #[test]
    fn an_anonymized_order_keeps_the_sale_and_loses_the_person() {
        let order = json!({
            "id": "O1", "branch_id": "B1", "wa_id": "5215512345678", "phone_number_id": "100",
            "status": "delivered", "lines": [], "subtotal": 100, "iva": 16, "total": 116,
            "created_at": "2026-12-01T10:00:00Z", "expires_at_ms": 0, "payment_url": null,
            "fulfilment": {"kind": "delivery", "address": "Calle 5 #10, Roma", "latitude": "19.4"},
            "customer_name": "Ana López"
        });
        let out = anonymized_order(&order.to_string(), &["5215512345678".to_owned()], "anon-1")
            .expect("an order");
        assert!(!out.contains("5215512345678"));
        assert!(!out.contains("Ana"));
        assert!(!out.contains("Roma"));
        let back: orders::Order = serde_json::from_str(&out).expect("still an order");
        assert_eq!(back.wa_id, "anon-1");
        assert_eq!(back.total.0, 116);
        assert_eq!(back.id, "O1");
    }

    #[test]
    fn only_delivered_or_closed_orders_let_an_erasure_through() {
        for s in [
            OrderStatus::AwaitingPayment,
            OrderStatus::Paid,
            OrderStatus::ReadyForPickup,
            OrderStatus::Shipped,
        ] {
            assert!(in_course(s), "{s:?}");
        }
        for s in [
            OrderStatus::Delivered,
            OrderStatus::Cancelled,
            OrderStatus::Expired,
            OrderStatus::Refunded,
        ] {
            assert!(!in_course(s), "{s:?}");
        }
    }
}
