//! invoice-stamp: one invoice request (an order's individual invoice, or a branch's global invoice for
//! a period) built, sealed, stamped once, stored and delivered.
//!
//! Never stamped twice: the folio is reserved once per invoice id, and the sealed XML is stored before
//! the PAC is called, so every retry sends the PAC the very same document (which it recognizes as
//! already stamped). PAC outages are retried with backoff (1, 5, 15, 60, 60... minutes, counted on
//! the invoice): the short waits as delayed receives of the queue, the long ones as due entries that
//! put the request back on the queue, so a request that is only waiting never reaches the
//! dead-letter queue. Meanwhile the merchant sees it as `retrying` with the last error.

use super::fiscal::{self, CustomerFiscal};
use super::settings::{self, Issuing, NotReady};
use super::{build, documents};
use crate::commerce::orders::{self, OrderStatus};
use crate::parties::messages::{GlobalPeriod, InvoiceRequest};
use crate::platform::due::{self, Job};
use crate::platform::error::AppError;
use crate::platform::records::{QueueRecord, RecordError};
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use bytes::Bytes;
use mostrador_cfdi::pac::PacError;
use mostrador_store::{Condition, Item, Key, Query, StoreError, Table, Update};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Delays between attempts while the PAC is failing; the last repeats until the PAC answers (or
/// the merchant retries by hand).
const BACKOFF: [Duration; 4] = [
    Duration::from_secs(60),
    Duration::from_secs(300),
    Duration::from_secs(900),
    Duration::from_secs(3600),
];

/// The longest wait left to the queue (a delayed receive); longer ones become due entries.
const QUEUE_WAIT_LIMIT: Duration = Duration::from_secs(300);

/// The delay after failed attempt `attempt` (1-based).
fn pac_backoff(attempt: u32) -> Duration {
    BACKOFF[(attempt.max(1) as usize - 1).min(BACKOFF.len() - 1)]
}

/// Where an invoice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Sealed and waiting for the PAC (retried while it fails).
    Retrying,
    /// The merchant must act first (no CSD, no fiscal data, PAC credentials refused).
    Blocked,
    /// The data or the PAC refused it for good; the reasons say why.
    Rejected,
    Stamped,
    Cancelled,
}

/// The invoice record kept for the merchant (`INVOICES` / `{id}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InvoiceRecord {
    pub id: String,
    /// `individual` or `global`.
    pub kind: String,
    pub status: InvoiceStatus,
    pub branch_id: String,
    #[serde(default)]
    pub order_id: Option<String>,
    #[serde(default)]
    pub serie: Option<String>,
    #[serde(default)]
    pub folio: Option<u64>,
    #[serde(default)]
    pub uuid: Option<String>,
    /// Total in pesos, as written in the CFDI.
    #[serde(default)]
    pub total: Option<String>,
    /// ISR the receptor withholds, in pesos (a RESICO persona física invoicing a company): the
    /// company pays `total` and this to SAT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isr_retenido: Option<String>,
    #[serde(default)]
    pub receptor_rfc: Option<String>,
    #[serde(default)]
    pub tickets: Option<u32>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub attempts: u32,
    pub updated_at: i64,
    #[serde(default)]
    pub stamped_at: Option<String>,
    #[serde(default)]
    pub cancel_status: Option<String>,
    /// The cancellation asked (SAT's motivo and, for 01, the substitute's UUID), kept so that one
    /// SAT has "en proceso" is asked about again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_motivo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_folio_sustitucion: Option<String>,
    /// How often a cancellation "en proceso" was asked about again.
    #[serde(default)]
    pub cancel_checks: u32,
    /// The invoice this one substitutes (relation 04), and the one that substitutes this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
}

/// The key of an invoice record.
pub(crate) fn record_key(id: &str) -> Key {
    crate::platform::schema::invoice(id)
}

/// Blob keys of an invoice's files.
pub fn blob_key(merchant: &MerchantId, id: &str, file: &str) -> String {
    format!("{}{id}/{file}", files_prefix(merchant))
}

/// Where every invoice file of a merchant is stored (kept 5 years, never erased with a customer).
pub(crate) fn files_prefix(merchant: &MerchantId) -> String {
    format!("invoices/{merchant}/")
}

/// Reads an invoice record.
pub async fn get(table: &TenantTable, id: &str) -> Result<Option<InvoiceRecord>, AppError> {
    Ok(match table.get(&record_key(id)).await? {
        Some(item) => Some(
            serde_json::from_str(item.get_s("doc").unwrap_or("null"))
                .map_err(|e| AppError::Internal(e.into()))?,
        ),
        None => None,
    })
}

/// Writes an invoice record.
pub async fn store(table: &TenantTable, record: &InvoiceRecord) -> Result<(), AppError> {
    let doc = serde_json::to_string(record).map_err(|e| AppError::Internal(e.into()))?;
    let status = serde_json::to_value(record.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    table
        .update(
            &record_key(&record.id),
            Update::new().set("doc", doc).set("status", status),
            None,
        )
        .await?;
    Ok(())
}

/// Lists invoices, oldest id first, from `after`.
pub async fn list(
    table: &TenantTable,
    limit: u32,
    after: Option<String>,
) -> Result<(Vec<InvoiceRecord>, Option<String>), AppError> {
    let page = table
        .query(
            Query::partition(crate::platform::schema::INVOICES)
                .limit(limit)
                .after(after),
        )
        .await?;
    let mut out = Vec::new();
    for item in &page.items {
        if let Some(doc) = item.get_s("doc") {
            out.push(serde_json::from_str(doc).map_err(|e| AppError::Internal(e.into()))?);
        }
    }
    Ok((out, page.cursor))
}

/// Queues the individual invoice of an order (the chat's "factura", or the merchant API): its
/// first, or its current one delivered again; after a cancellation, a new one. Returns the id of the
/// invoice that will stand for the order.
pub async fn request_individual(
    deps: &Deps,
    merchant: &MerchantId,
    order_id: &str,
) -> Result<String, AppError> {
    let table = TenantTable::of(deps, merchant);
    let current = current_for_order(&table, order_id).await?;
    if current.is_none()
        && orders::get(&table, order_id)
            .await?
            .is_some_and(|o| !o.refunds.is_empty())
    {
        return Err(AppError::Conflict(
            "este pedido tuvo un reembolso parcial antes de facturarse: su venta ya se declara sin lo reembolsado en la factura global; la factura se pide antes de reembolsar".into(),
        ));
    }
    let request = match &current {
        Some(rec) if rec.status == InvoiceStatus::Cancelled => {
            return request_reissue(deps, merchant, order_id, rec).await;
        }
        // A reissue stands for the order: delivered again under its own id.
        Some(rec) if rec.id != order_id => InvoiceRequest {
            merchant_id: merchant.to_string(),
            order_id: rec.id.clone(),
            reissue: Some(crate::parties::messages::Reissue {
                order_id: order_id.to_owned(),
                replaces_id: rec.replaces.clone(),
                replaces_uuid: None,
            }),
            ..InvoiceRequest::default()
        },
        _ => InvoiceRequest {
            merchant_id: merchant.to_string(),
            order_id: order_id.to_owned(),
            ..InvoiceRequest::default()
        },
    };
    let id = request.order_id.clone();
    let body = serde_json::to_string(&request).map_err(|e| AppError::Internal(e.into()))?;
    deps.queues
        .invoicing
        .send(mostrador_queue::OutgoingMessage::new(body))
        .await?;
    Ok(id)
}

/// Queues an individual invoice not stamped yet once more, under its own id (a reissue keeps what
/// it substitutes).
pub(crate) async fn request_again(
    deps: &Deps,
    merchant: &MerchantId,
    rec: &InvoiceRecord,
) -> Result<(), AppError> {
    let order_id = rec.order_id.clone().unwrap_or_else(|| rec.id.clone());
    let reissue = if rec.id == order_id {
        None
    } else {
        let table = TenantTable::of(deps, merchant);
        let replaces_uuid = match &rec.replaces {
            Some(old) => get(&table, old).await?.and_then(|r| r.uuid),
            None => None,
        };
        Some(crate::parties::messages::Reissue {
            order_id,
            replaces_id: rec.replaces.clone(),
            replaces_uuid,
        })
    };
    let body = serde_json::to_string(&InvoiceRequest {
        merchant_id: merchant.to_string(),
        order_id: rec.id.clone(),
        reissue,
        ..InvoiceRequest::default()
    })
    .map_err(|e| AppError::Internal(e.into()))?;
    deps.queues
        .invoicing
        .send(mostrador_queue::OutgoingMessage::new(body))
        .await?;
    Ok(())
}

/// Keeps, sealed on the order, the receptor an invoice was asked with: the invoice (and any nota that
/// corrects it) goes to this taxpayer even if the customer's saved fiscal data changes before it is
/// stamped.
pub(crate) async fn keep_receptor(
    deps: &Deps,
    merchant: &MerchantId,
    order_id: &str,
    receptor: &CustomerFiscal,
) -> Result<(), AppError> {
    let table = TenantTable::of(deps, merchant);
    let sealed =
        crate::platform::sealed::seal_json(deps, receptor, &receptor_context(merchant, order_id))
            .await?;
    table
        .update(
            &crate::platform::schema::order(order_id),
            Update::new().set("receptor_sealed", mostrador_store::Value::B(sealed)),
            Some(Condition::Exists),
        )
        .await?;
    Ok(())
}

/// The receptor the order's invoice was asked with; for requests made before receptors were kept,
/// the customer's saved fiscal data.
pub(crate) async fn receptor_of(
    deps: &Deps,
    merchant: &MerchantId,
    order: &orders::Order,
) -> Result<Option<CustomerFiscal>, AppError> {
    let table = TenantTable::of(deps, merchant);
    let item = table
        .get(&crate::platform::schema::order(&order.id))
        .await?;
    if let Some(sealed) = item.as_ref().and_then(|i| match i.get("receptor_sealed") {
        Some(mostrador_store::Value::B(b)) => Some(b.clone()),
        _ => None,
    }) {
        return crate::platform::sealed::open_json(
            deps,
            &sealed,
            &receptor_context(merchant, &order.id),
        )
        .await
        .map(Some);
    }
    fiscal::load(deps, merchant, &order.wa_id).await
}

fn receptor_context(merchant: &MerchantId, order_id: &str) -> String {
    crate::platform::sealed::Sealing::InvoiceReceptor { order_id }.context(merchant)
}

/// invoice-stamp: handles one request from the invoicing queue.
pub async fn handle(deps: &Deps, record: &QueueRecord) -> Result<(), RecordError> {
    let req: InvoiceRequest =
        serde_json::from_str(&record.body).map_err(|e| RecordError::Malformed(e.to_string()))?;
    if req.order_id.is_empty() || req.order_id.len() > 64 || req.order_id.contains('#') {
        return Err(RecordError::Malformed(
            "order_id must have 1-64 characters and no '#'".into(),
        ));
    }
    let merchant = MerchantId::try_from(req.merchant_id.clone()).map_err(RecordError::Malformed)?;
    let span = tracing::info_span!("invoice", merchant = %merchant, id = %req.order_id, attempt = record.receive_count);
    let work = async {
        if req.follow_cancellation {
            return super::cancel::follow(deps, &merchant, &req.order_id).await;
        }
        match (&req.global, &req.egreso) {
            (Some(period), _) => global(deps, &merchant, &req.order_id, period, &record.body).await,
            (None, Some(spec)) => egreso(deps, &merchant, &req.order_id, spec, &record.body).await,
            (None, None) => {
                let order_id = req
                    .reissue
                    .as_ref()
                    .map_or(req.order_id.as_str(), |r| r.order_id.as_str());
                individual(
                    deps,
                    &merchant,
                    &req.order_id,
                    order_id,
                    req.reissue.as_ref(),
                    &record.body,
                )
                .await
            }
        }
    };
    tracing::Instrument::instrument(work, span).await
}

fn retry(e: impl std::fmt::Display) -> RecordError {
    RecordError::retry(e)
}

fn now_secs(deps: &Deps) -> i64 {
    deps.clock.now_secs()
}

fn new_record(deps: &Deps, id: &str, kind: &str, branch_id: &str) -> InvoiceRecord {
    InvoiceRecord {
        id: id.to_owned(),
        kind: kind.to_owned(),
        status: InvoiceStatus::Retrying,
        branch_id: branch_id.to_owned(),
        order_id: None,
        serie: None,
        folio: None,
        uuid: None,
        total: None,
        isr_retenido: None,
        receptor_rfc: None,
        tickets: None,
        error: None,
        attempts: 0,
        updated_at: now_secs(deps),
        stamped_at: None,
        cancel_status: None,
        cancel_motivo: None,
        cancel_folio_sustitucion: None,
        cancel_checks: 0,
        replaces: None,
        replaced_by: None,
    }
}

async fn give_up(
    table: &TenantTable,
    mut rec: InvoiceRecord,
    status: InvoiceStatus,
    why: String,
    deps: &Deps,
) -> Result<(), RecordError> {
    tracing::warn!(id = %rec.id, status = ?status, reason = %why, "invoice not issued");
    let first_time = rec.status != status;
    rec.status = status;
    rec.error = Some(why);
    rec.updated_at = now_secs(deps);
    store(table, &rec).await.map_err(retry)?;
    if first_time {
        // Telling is best effort: the record above is what the console and the API show.
        if let Err(e) = tell_not_issued(deps, table, &rec).await {
            tracing::warn!(id = %rec.id, error = %e, "could not tell that an invoice was not issued");
        }
    }
    Ok(())
}

/// An invoice is blocked or rejected: the merchant's system gets `invoice.blocked` or
/// `invoice.rejected` with the reason, and the customer of an individual invoice is told it is under
/// review (once per invoice and outcome), instead of waiting for a document that will not come.
async fn tell_not_issued(
    deps: &Deps,
    table: &TenantTable,
    rec: &InvoiceRecord,
) -> Result<(), AppError> {
    let merchant = table.merchant();
    let kind = if rec.status == InvoiceStatus::Blocked {
        "invoice.blocked"
    } else {
        "invoice.rejected"
    };
    crate::parties::hooks::emit(
        deps,
        merchant,
        crate::parties::hooks::HookEvent {
            id: format!("{kind}:{}:{}", rec.id, rec.updated_at),
            kind: kind.into(),
            data: serde_json::json!({
                "invoice_id": rec.id,
                "kind": rec.kind,
                "order_id": rec.order_id,
                "branch_id": rec.branch_id,
                "reason": rec.error,
            }),
        },
    )
    .await?;
    let Some(order_id) = rec.order_id.as_deref().filter(|_| rec.kind == "individual") else {
        return Ok(());
    };
    let Some(order) = orders::get(table, order_id).await? else {
        return Ok(());
    };
    let number = crate::commerce::fulfilment::short_id(&order.id);
    let text = format!(
        "Tu factura del pedido {number} necesita una revisión de la tienda antes de emitirse 🧾. Ya le avisamos; te llega aquí en cuanto quede. Si tus datos fiscales cambiaron, escribe *factura* para corregirlos."
    );
    let notice = crate::parties::tell::Notice::text(
        format!(
            "{}-inv-{}",
            order.id,
            if rec.status == InvoiceStatus::Blocked {
                "blocked"
            } else {
                "rejected"
            }
        ),
        &order.wa_id,
        &order.phone_number_id,
        text,
        crate::parties::messages::Category::Service,
        crate::parties::tell::Template {
            name: crate::commerce::fulfilment::ORDER_UPDATE_TEMPLATE,
            document: None,
            body: vec![number, "Factura en revisión".to_owned()],
        },
        crate::parties::messages::Category::Utility,
    );
    crate::parties::tell::tell(deps, merchant, notice).await
}

/// Reserves the folio of invoice `id` once: a retry gets the same folio.
async fn reserve_folio(table: &TenantTable, serie: &str, id: &str) -> Result<u64, AppError> {
    let folio_key = crate::platform::schema::folio_of(id);
    if let Some(item) = table.get(&folio_key).await? {
        if let Some(f) = item.get_n("folio") {
            return Ok(f as u64);
        }
    }
    let counter = table
        .update(
            &crate::platform::schema::folio_counter(serie),
            Update::new().add("next", 1),
            None,
        )
        .await?;
    let candidate = counter.get_n("next").unwrap_or(1);
    match table
        .put(
            Item::new(&folio_key).with("folio", candidate),
            Some(Condition::NotExists),
        )
        .await
    {
        Ok(()) => Ok(candidate as u64),
        // Another attempt reserved one first: use theirs (a gap in folios is allowed).
        Err(StoreError::ConditionFailed { .. }) => Ok(table
            .get(&folio_key)
            .await?
            .and_then(|i| i.get_n("folio"))
            .unwrap_or(candidate) as u64),
        Err(e) => Err(e.into()),
    }
}

/// The stored sealed XML of invoice `id`, or builds, seals and stores it with `make`.
async fn sealed_once<F, Fut>(
    deps: &Deps,
    merchant: &MerchantId,
    id: &str,
    make: F,
) -> Result<Result<build::Sealed, AppError>, AppError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<build::Sealed, AppError>>,
{
    let key = blob_key(merchant, id, "sealed.xml");
    if let Some(blob) = deps
        .blobs
        .get(&key)
        .await
        .map_err(|e| AppError::Internal(e.into()))?
    {
        let xml =
            String::from_utf8(blob.body.to_vec()).map_err(|e| AppError::Internal(e.into()))?;
        return Ok(Ok(build::Sealed::from_xml(xml)));
    }
    let sealed = match make().await {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    deps.blobs
        .put(&key, Bytes::from(sealed.xml.clone()), "application/xml")
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(Ok(sealed))
}

/// Stamps the sealed XML; stores XML and PDF; marks the record stamped.
async fn stamp_and_store(
    deps: &Deps,
    merchant: &MerchantId,
    issuing: &Issuing,
    table: &TenantTable,
    mut rec: InvoiceRecord,
    sealed: &build::Sealed,
    request: &str,
) -> Result<Option<InvoiceRecord>, RecordError> {
    // Attempts are counted on the record, not by the queue: a long wait is not a receive.
    rec.attempts = rec.attempts.saturating_add(1);
    let stamp = match issuing.pac.stamp(&sealed.xml).await {
        Ok(s) => s,
        Err(e) if e.retryable() => {
            let delay = pac_backoff(rec.attempts);
            rec.status = InvoiceStatus::Retrying;
            rec.error = Some(format!("PAC no disponible: {e}"));
            rec.updated_at = now_secs(deps);
            store(table, &rec).await.map_err(retry)?;
            tracing::warn!(error = %e, retry_in = ?delay, attempt = rec.attempts, "PAC unavailable; retrying");
            if delay <= QUEUE_WAIT_LIMIT {
                return Err(RecordError::RetryAfter(delay, format!("PAC: {e}")));
            }
            // Longer waits would spend the queue's receives (five, then the dead-letter queue)
            // on waiting: the request is acknowledged and comes back from a due entry instead.
            due::schedule_invoicing(
                deps,
                merchant,
                Job::DueNotifications,
                &format!("pac-retry-{}", rec.id),
                deps.clock.now_ms() + delay.as_millis() as i64,
                request.to_owned(),
            )
            .await
            .map_err(retry)?;
            return Ok(None);
        }
        Err(e @ PacError::Auth(_)) => {
            give_up(
                table,
                rec,
                InvoiceStatus::Blocked,
                format!("el PAC rechazó las credenciales: {e}"),
                deps,
            )
            .await?;
            return Ok(None);
        }
        Err(e) => {
            give_up(table, rec, InvoiceStatus::Rejected, e.to_string(), deps).await?;
            return Ok(None);
        }
    };
    let view = mostrador_cfdi::stamped::StampedCfdi::parse(&stamp.xml)
        .map_err(|e| RecordError::retry(format!("stamped XML unreadable: {e}")))?;
    let pdf =
        mostrador_cfdi::pdf::render(&view).map_err(|e| RecordError::retry(format!("PDF: {e}")))?;
    deps.blobs
        .put(
            &blob_key(merchant, &rec.id, "cfdi.xml"),
            Bytes::from(stamp.xml.clone()),
            "application/xml",
        )
        .await
        .map_err(retry)?;
    deps.blobs
        .put(
            &blob_key(merchant, &rec.id, "cfdi.pdf"),
            Bytes::from(pdf),
            "application/pdf",
        )
        .await
        .map_err(retry)?;
    rec.status = InvoiceStatus::Stamped;
    rec.uuid = Some(stamp.uuid.to_uppercase());
    rec.stamped_at = Some(stamp.fecha_timbrado.clone());
    rec.error = None;
    rec.updated_at = now_secs(deps);
    store(table, &rec).await.map_err(retry)?;
    tracing::info!(uuid = %stamp.uuid, already = stamp.already_stamped, "invoice stamped");
    Ok(Some(rec))
}

async fn individual(
    deps: &Deps,
    merchant: &MerchantId,
    invoice_id: &str,
    order_id: &str,
    reissue: Option<&crate::parties::messages::Reissue>,
    request: &str,
) -> Result<(), RecordError> {
    let table = TenantTable::of(deps, merchant);
    let Some(order) = orders::get(&table, order_id).await.map_err(retry)? else {
        return Err(RecordError::Malformed(format!("no order {order_id}")));
    };
    let mut rec = match get(&table, invoice_id).await.map_err(retry)? {
        Some(r) => r,
        None => {
            let mut r = new_record(deps, invoice_id, "individual", &order.branch_id);
            r.order_id = Some(order_id.to_owned());
            r.replaces = reissue.and_then(|r| r.replaces_id.clone());
            r
        }
    };
    if matches!(
        rec.status,
        InvoiceStatus::Stamped | InvoiceStatus::Cancelled
    ) && rec.uuid.is_some()
    {
        // Stamped before: deliver again (each message is sent once per id anyway).
        return documents::deliver(deps, merchant, &order, &rec)
            .await
            .map_err(retry);
    }
    let invoiceable = matches!(
        order.status,
        OrderStatus::Paid
            | OrderStatus::ReadyForPickup
            | OrderStatus::Shipped
            | OrderStatus::Delivered
    );
    if !invoiceable {
        return give_up(
            &table,
            rec,
            InvoiceStatus::Rejected,
            format!(
                "el pedido está {}; solo se factura lo pagado",
                order.status.as_str()
            ),
            deps,
        )
        .await;
    }
    let Some(customer) = receptor_of(deps, merchant, &order).await.map_err(retry)? else {
        return give_up(
            &table,
            rec,
            InvoiceStatus::Blocked,
            "el cliente no ha dado sus datos fiscales".into(),
            deps,
        )
        .await;
    };
    let issuing = match settings::issuing(deps, merchant).await {
        Ok(i) => i,
        Err(NotReady::Other(e)) if !matches!(e, AppError::Validation(_)) => return Err(retry(e)),
        Err(e) => {
            return give_up(&table, rec, InvoiceStatus::Blocked, e.to_string(), deps).await;
        }
    };
    let branch = crate::parties::merchants::get_branch(&table, &order.branch_id)
        .await
        .map_err(retry)?
        .ok_or_else(|| RecordError::Malformed(format!("no branch {}", order.branch_id)))?;
    let folio = reserve_folio(&table, &issuing.issuer.serie, invoice_id)
        .await
        .map_err(retry)?;
    let method = table
        .get(&crate::platform::schema::order(order_id))
        .await
        .map_err(retry)?
        .and_then(|i| i.get_s("payment_method").map(str::to_owned))
        .unwrap_or_else(|| "card".into());
    let substitutes = reissue.and_then(|r| r.replaces_uuid.clone());
    let sealed = sealed_once(deps, merchant, invoice_id, || async {
        let products = products_of(&table, &order).await?;
        build::individual(
            &issuing,
            &build::Numbering {
                serie: &issuing.issuer.serie,
                folio,
                branch: &branch,
                now: deps.clock.now(),
            },
            &order,
            &products,
            &customer,
            &method,
            substitutes.as_deref(),
        )
    })
    .await
    .map_err(retry)?;
    let sealed = match sealed {
        Ok(s) => s,
        Err(AppError::Validation(fields)) => {
            let why = fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.reason))
                .collect::<Vec<_>>()
                .join("; ");
            return give_up(&table, rec, InvoiceStatus::Rejected, why, deps).await;
        }
        Err(e) => return Err(retry(e)),
    };
    rec.serie = Some(issuing.issuer.serie.clone());
    rec.folio = Some(folio);
    rec.total = Some(sealed.total.clone());
    rec.isr_retenido = sealed.isr_retenido.clone();
    rec.receptor_rfc = Some(customer.rfc.clone());
    let Some(rec) =
        stamp_and_store(deps, merchant, &issuing, &table, rec, &sealed, request).await?
    else {
        return Ok(());
    };
    after_individual(deps, merchant, &table, &order, &rec, &customer)
        .await
        .map_err(retry)?;
    if let Some(reissue) = reissue {
        after_reissue(deps, merchant, &table, &order, &rec, reissue)
            .await
            .map_err(retry)?;
    }
    documents::deliver(deps, merchant, &order, &rec)
        .await
        .map_err(retry)
}

/// The invoice that stands for an order now: its latest reissue once there is one.
pub(crate) async fn current_for_order(
    table: &TenantTable,
    order_id: &str,
) -> Result<Option<InvoiceRecord>, AppError> {
    let pointer = table
        .get(&crate::platform::schema::order(order_id))
        .await?
        .and_then(|i| i.get_s("invoice_id").map(str::to_owned));
    get(table, pointer.as_deref().unwrap_or(order_id)).await
}

/// Queues a new invoice for an order whose invoice `current` is stamped (it substitutes it:
/// relation 04, and `current` is cancelled with motivo 01 once the new one is stamped) or was
/// cancelled (a new invoice, without relation). Returns the new invoice's id (`{order}-S{n}`).
pub(crate) async fn request_reissue(
    deps: &Deps,
    merchant: &MerchantId,
    order_id: &str,
    current: &InvoiceRecord,
) -> Result<String, AppError> {
    let n = current
        .id
        .rsplit_once("-S")
        .and_then(|(_, n)| n.parse::<u32>().ok())
        .unwrap_or(0)
        + 1;
    let id = format!("{order_id}-S{n}");
    let replaces = (current.status == InvoiceStatus::Stamped).then(|| current.clone());
    if let Some(old) = &replaces {
        let table = TenantTable::of(deps, merchant);
        let mut old = get(&table, &old.id).await?.unwrap_or_else(|| old.clone());
        if let Some(by) = &old.replaced_by {
            return Err(AppError::Conflict(format!(
                "la factura {} ya se está sustituyendo por {by}",
                old.id
            )));
        }
        old.replaced_by = Some(id.clone());
        store(&table, &old).await?;
    }
    let body = serde_json::to_string(&InvoiceRequest {
        merchant_id: merchant.to_string(),
        order_id: id.clone(),
        reissue: Some(crate::parties::messages::Reissue {
            order_id: order_id.to_owned(),
            replaces_id: replaces.as_ref().map(|r| r.id.clone()),
            replaces_uuid: replaces.and_then(|r| r.uuid),
        }),
        ..InvoiceRequest::default()
    })
    .map_err(|e| AppError::Internal(e.into()))?;
    deps.queues
        .invoicing
        .send(mostrador_queue::OutgoingMessage::new(body))
        .await?;
    Ok(id)
}

/// After a reissue is stamped: the order points at it, and the invoice it substitutes is cancelled
/// with motivo 01 naming it (SAT's order: the substitute first, then the cancellation).
async fn after_reissue(
    deps: &Deps,
    merchant: &MerchantId,
    table: &TenantTable,
    order: &orders::Order,
    rec: &InvoiceRecord,
    reissue: &crate::parties::messages::Reissue,
) -> Result<(), AppError> {
    table
        .update(
            &crate::platform::schema::order(&order.id),
            Update::new().set("invoice_id", rec.id.as_str()),
            Some(Condition::Exists),
        )
        .await?;
    let (Some(old_id), Some(new_uuid)) = (&reissue.replaces_id, &rec.uuid) else {
        return Ok(());
    };
    if let Some(old) = get(table, old_id).await? {
        if old.status != InvoiceStatus::Stamped {
            return Ok(());
        }
    }
    let input = super::cancel::CancelInput {
        motivo: "01".into(),
        folio_sustitucion: Some(new_uuid.clone()),
    };
    // The PAC may be down: the cancellation is then asked again later, never forgotten.
    if let Err(e) = super::cancel::cancel(deps, merchant, old_id, &input).await {
        tracing::warn!(invoice = %old_id, error = %e, "the substituted invoice could not be cancelled yet; asked again later");
        super::cancel::follow_later(deps, merchant, old_id).await?;
    }
    Ok(())
}

async fn products_of(
    table: &TenantTable,
    order: &orders::Order,
) -> Result<std::collections::HashMap<String, mostrador_core::catalog::Product>, AppError> {
    let mut out = std::collections::HashMap::new();
    for line in &order.lines {
        if let Some(p) = crate::commerce::catalog::get_product(table, &line.sku).await? {
            out.insert(line.sku.clone(), p);
        }
    }
    Ok(out)
}

/// The order and its sale remember the invoice; a sale already in a global invoice is listed for
/// the merchant to correct the global as SAT's guide says (an egreso for that ticket, or cancel and
/// reissue the global with motivo 04).
async fn after_individual(
    deps: &Deps,
    merchant: &MerchantId,
    table: &TenantTable,
    order: &orders::Order,
    rec: &InvoiceRecord,
    customer: &CustomerFiscal,
) -> Result<(), AppError> {
    let uuid = rec.uuid.clone().unwrap_or_default();
    table
        .update(
            &crate::platform::schema::order(&order.id),
            Update::new().set("invoice_uuid", uuid.as_str()),
            Some(Condition::Exists),
        )
        .await?;
    if let Some(sale) = super::global::find_sale(table, order).await? {
        let sale_key = sale
            .key()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("sale without key")))?;
        table
            .update(
                &sale_key,
                Update::new().set("invoice_uuid", uuid.as_str()),
                None,
            )
            .await?;
        if let Some(global_id) = sale.get_s("global_id") {
            table
                .put(
                    Item::new(&crate::platform::schema::global_adjustment(global_id, &order.id))
                        .with("global_id", global_id)
                        .with("order_id", order.id.as_str())
                        .with("invoice_uuid", uuid.as_str())
                        .with("total", order.total.0)
                        .with(
                            "action",
                            "emitir un CFDI de egreso relacionado con la factura global por este ticket, o cancelar y reexpedir la global (motivo 04)",
                        ),
                    None,
                )
                .await?;
            tracing::warn!(order = %order.id, global = global_id, "sale invoiced individually after its global invoice; a nota de crédito corrects the global");
            request_egreso(
                deps,
                merchant,
                crate::parties::messages::EgresoFor {
                    order_id: order.id.clone(),
                    related_id: global_id.to_owned(),
                    related_uuid: sale.get_s("global_uuid").unwrap_or_default().to_owned(),
                    reason: "global_adjustment".into(),
                    partial: None,
                },
            )
            .await?;
        }
    }
    tracing::info!(merchant = %merchant, order = %order.id, rfc = %fiscal::masked_rfc(&customer.rfc), "individual invoice issued");
    Ok(())
}

async fn global(
    deps: &Deps,
    merchant: &MerchantId,
    id: &str,
    period: &GlobalPeriod,
    request: &str,
) -> Result<(), RecordError> {
    let table = TenantTable::of(deps, merchant);
    let mut rec = match get(&table, id).await.map_err(retry)? {
        Some(r) => r,
        None => new_record(deps, id, "global", &period.branch_id),
    };
    if matches!(
        rec.status,
        InvoiceStatus::Stamped | InvoiceStatus::Cancelled
    ) {
        return Ok(());
    }
    let issuing = match settings::issuing(deps, merchant).await {
        Ok(i) => i,
        Err(NotReady::Other(e)) if !matches!(e, AppError::Validation(_)) => return Err(retry(e)),
        Err(e) => return give_up(&table, rec, InvoiceStatus::Blocked, e.to_string(), deps).await,
    };
    let branch = crate::parties::merchants::get_branch(&table, &period.branch_id)
        .await
        .map_err(retry)?
        .ok_or_else(|| RecordError::Malformed(format!("no branch {}", period.branch_id)))?;
    // The tickets are fixed when the global is sealed; a retry reuses the sealed document.
    let key = blob_key(merchant, id, "sealed.xml");
    let already_sealed = deps.blobs.get(&key).await.map_err(retry)?.is_some();
    let tickets = if already_sealed {
        Vec::new()
    } else {
        super::global::tickets(&table, period)
            .await
            .map_err(retry)?
    };
    if !already_sealed && tickets.is_empty() {
        // Nothing left to invoice (all invoiced individually or refunded).
        tracing::info!("no sales for the global invoice");
        return Ok(());
    }
    let serie = format!("{}G", issuing.issuer.serie);
    let folio = reserve_folio(&table, &serie, id).await.map_err(retry)?;
    let sealed = sealed_once(deps, merchant, id, || async {
        build::global(
            &issuing,
            &build::Numbering {
                serie: &serie,
                folio,
                branch: &branch,
                now: deps.clock.now(),
            },
            &tickets,
            period,
        )
    })
    .await
    .map_err(retry)?;
    let sealed = match sealed {
        Ok(s) => s,
        Err(e) => {
            return give_up(&table, rec, InvoiceStatus::Rejected, e.to_string(), deps).await;
        }
    };
    if !tickets.is_empty() {
        // Which sales this global holds, kept beside the sealed document.
        let ids: Vec<&str> = tickets.iter().map(|t| t.order_id.as_str()).collect();
        deps.blobs
            .put(
                &blob_key(merchant, id, "tickets.json"),
                Bytes::from(serde_json::to_vec(&ids).map_err(retry)?),
                "application/json",
            )
            .await
            .map_err(retry)?;
        rec.tickets = Some(tickets.len() as u32);
    }
    rec.serie = Some(serie);
    rec.folio = Some(folio);
    rec.total = Some(sealed.total.clone());
    rec.isr_retenido = sealed.isr_retenido.clone();
    rec.receptor_rfc = Some("XAXX010101000".into());
    let Some(rec) =
        stamp_and_store(deps, merchant, &issuing, &table, rec, &sealed, request).await?
    else {
        return Ok(());
    };
    super::global::mark_included(deps, merchant, &table, period, &rec)
        .await
        .map_err(retry)?;
    Ok(())
}

/// What a refund changes in the fiscal record: a sale not yet in a global leaves it; an order
/// invoiced on its own gets a nota de crédito to its customer (relation 03); a ticket already
/// declared in a factura global gets a nota to the general public related to that global (relation
/// 03, with its period), listed in `GET /v1/invoices/adjustments` — the income stops being declared.
pub(crate) async fn correct_after_refund(
    deps: &Deps,
    merchant: &MerchantId,
    table: &TenantTable,
    refunded: &orders::Order,
) -> Result<(), AppError> {
    super::global::mark_refunded(table, refunded).await?;
    if let Some(inv) = current_for_order(table, &refunded.id).await? {
        if let (InvoiceStatus::Stamped, Some(uuid)) = (inv.status, inv.uuid) {
            return request_egreso(
                deps,
                merchant,
                crate::parties::messages::EgresoFor {
                    order_id: refunded.id.clone(),
                    related_id: inv.id,
                    related_uuid: uuid,
                    reason: "refund".into(),
                    partial: None,
                },
            )
            .await;
        }
    }
    let Some(sale) = super::global::find_sale(table, refunded).await? else {
        return Ok(());
    };
    let (Some(global_id), Some(global_uuid)) = (sale.get_s("global_id"), sale.get_s("global_uuid"))
    else {
        return Ok(());
    };
    if global_uuid.is_empty() || sale.get_s("invoice_uuid").is_some() {
        return Ok(());
    }
    table
        .put(
            Item::new(&crate::platform::schema::global_adjustment(
                global_id,
                &refunded.id,
            ))
            .with("global_id", global_id)
            .with("order_id", refunded.id.as_str())
            .with("total", refunded.total.0)
            .with(
                "action",
                "emitir un CFDI de egreso (devolución) al público en general relacionado con la factura global por este ticket reembolsado",
            ),
            None,
        )
        .await?;
    tracing::info!(order = %refunded.id, global = global_id, "a ticket of a global invoice was refunded; a nota de crédito corrects the global");
    request_egreso(
        deps,
        merchant,
        crate::parties::messages::EgresoFor {
            order_id: refunded.id.clone(),
            related_id: global_id.to_owned(),
            related_uuid: global_uuid.to_owned(),
            reason: "global_refund".into(),
            partial: None,
        },
    )
    .await
}

/// The key part of a correction to a global: the order, and the refund's number when partial.
fn adjustment_of(
    order_id: &str,
    partial: Option<&crate::parties::messages::PartialRefund>,
) -> String {
    match partial {
        Some(p) => format!("{order_id}#R{}", p.number),
        None => order_id.to_owned(),
    }
}

/// What a partial refund changes in the fiscal record, as [`correct_after_refund`] does for a
/// whole one: an order invoiced on its own gets a nota for the part given back; a ticket already
/// in a stamped global gets a nota to the general public for that part; a sale still waiting for
/// its global is declared there without it.
pub(crate) async fn correct_after_partial_refund(
    deps: &Deps,
    merchant: &MerchantId,
    table: &TenantTable,
    order: &orders::Order,
    partial: crate::parties::messages::PartialRefund,
) -> Result<(), AppError> {
    if let Some(inv) = current_for_order(table, &order.id).await? {
        if let (InvoiceStatus::Stamped, Some(uuid)) = (inv.status, inv.uuid) {
            return request_egreso(
                deps,
                merchant,
                crate::parties::messages::EgresoFor {
                    order_id: order.id.clone(),
                    related_id: inv.id,
                    related_uuid: uuid,
                    reason: "refund".into(),
                    partial: Some(partial),
                },
            )
            .await;
        }
    }
    let Some(sale) = super::global::find_sale(table, order).await? else {
        return Ok(());
    };
    match (sale.get_s("global_id"), sale.get_s("global_uuid")) {
        (Some(global_id), Some(global_uuid))
            if !global_uuid.is_empty() && sale.get_s("invoice_uuid").is_none() =>
        {
            let given_back: i64 = partial.taxes.iter().map(|t| t.base.0 + t.iva.0).sum();
            table
                .put(
                    Item::new(&crate::platform::schema::global_adjustment(
                        global_id,
                        &adjustment_of(&order.id, Some(&partial)),
                    ))
                    .with("global_id", global_id)
                    .with("order_id", order.id.as_str())
                    .with("total", given_back)
                    .with(
                        "action",
                        "emitir un CFDI de egreso (devolución parcial) al público en general relacionado con la factura global",
                    ),
                    None,
                )
                .await?;
            request_egreso(
                deps,
                merchant,
                crate::parties::messages::EgresoFor {
                    order_id: order.id.clone(),
                    related_id: global_id.to_owned(),
                    related_uuid: global_uuid.to_owned(),
                    reason: "global_refund".into(),
                    partial: Some(partial),
                },
            )
            .await
        }
        _ => super::global::reduce_sale(table, &sale, &partial.taxes).await,
    }
}

/// The period (InformacionGlobal) of the factura global `global_id`, read from its stamped XML./// The period (InformacionGlobal) of the factura global `global_id`, read from its stamped XML.
async fn global_period_of(
    deps: &Deps,
    merchant: &MerchantId,
    global_id: &str,
) -> Result<Option<mostrador_cfdi::stamped::InformacionGlobal>, AppError> {
    let Some(blob) = deps
        .blobs
        .get(&blob_key(merchant, global_id, "cfdi.xml"))
        .await
        .map_err(|e| AppError::Unavailable(format!("reading the global invoice: {e}")))?
    else {
        return Ok(None);
    };
    let xml = String::from_utf8_lossy(&blob.body);
    Ok(mostrador_cfdi::stamped::StampedCfdi::parse(&xml)
        .ok()
        .and_then(|c| c.informacion_global))
}

/// Queues a nota de crédito for `spec` (id `E-{order}-{reason}`).
pub(crate) async fn request_egreso(
    deps: &Deps,
    merchant: &MerchantId,
    spec: crate::parties::messages::EgresoFor,
) -> Result<(), AppError> {
    let id = format!(
        "E-{}-{}{}",
        spec.order_id,
        if spec.reason == "global_adjustment" {
            "G"
        } else {
            "R"
        },
        spec.partial
            .as_ref()
            .map(|p| p.number.to_string())
            .unwrap_or_default()
    );
    let body = serde_json::to_string(&InvoiceRequest {
        merchant_id: merchant.to_string(),
        order_id: id,
        egreso: Some(spec),
        ..InvoiceRequest::default()
    })
    .map_err(|e| AppError::Internal(e.into()))?;
    deps.queues
        .invoicing
        .send(mostrador_queue::OutgoingMessage::new(body))
        .await?;
    Ok(())
}

async fn egreso(
    deps: &Deps,
    merchant: &MerchantId,
    id: &str,
    spec: &crate::parties::messages::EgresoFor,
    request: &str,
) -> Result<(), RecordError> {
    let table = TenantTable::of(deps, merchant);
    let Some(order) = orders::get(&table, &spec.order_id).await.map_err(retry)? else {
        return Err(RecordError::Malformed(format!(
            "no order {}",
            spec.order_id
        )));
    };
    let mut rec = match get(&table, id).await.map_err(retry)? {
        Some(r) => r,
        None => {
            let mut r = new_record(deps, id, "egreso", &order.branch_id);
            r.order_id = Some(order.id.clone());
            r
        }
    };
    if matches!(
        rec.status,
        InvoiceStatus::Stamped | InvoiceStatus::Cancelled
    ) {
        return Ok(());
    }
    let issuing = match settings::issuing(deps, merchant).await {
        Ok(i) => i,
        Err(NotReady::Other(e)) if !matches!(e, AppError::Validation(_)) => return Err(retry(e)),
        Err(e) => return give_up(&table, rec, InvoiceStatus::Blocked, e.to_string(), deps).await,
    };
    let branch = crate::parties::merchants::get_branch(&table, &order.branch_id)
        .await
        .map_err(retry)?
        .ok_or_else(|| RecordError::Malformed(format!("no branch {}", order.branch_id)))?;
    // A refund's nota goes to whoever the sale was invoiced to.
    let customer = if spec.reason == "refund" {
        receptor_of(deps, merchant, &order).await.map_err(retry)?
    } else {
        None
    };
    let sale = super::global::find_sale(&table, &order)
        .await
        .map_err(retry)?;
    let taxes: Vec<super::global::TicketTax> = match &spec.partial {
        // A partial refund gives back what it says, not the whole sale.
        Some(partial) => partial.taxes.clone(),
        None => sale
            .as_ref()
            .and_then(|s| serde_json::from_str(s.get_s("taxes").unwrap_or("[]")).ok())
            .filter(|t: &Vec<super::global::TicketTax>| !t.is_empty())
            .unwrap_or_else(|| super::global::taxes_of(&order, |_| None)),
    };
    let method = sale
        .as_ref()
        .and_then(|s| s.get_s("method").map(str::to_owned))
        .unwrap_or_else(|| "card".into());
    // A nota to the general public carries the period of the global it corrects.
    let global_period = match &customer {
        Some(_) => None,
        None => global_period_of(deps, merchant, &spec.related_id)
            .await
            .map_err(retry)?,
    };
    // A refund of an invoiced order given back whole or by line repeats those lines of the
    // invoice, so the nota gives back exactly what the invoice declared.
    let products = products_of(&table, &order).await.map_err(retry)?;
    let mirrored: Option<Vec<orders::OrderLine>> = match (&customer, &spec.partial) {
        (Some(_), None) if spec.reason == "refund" => Some(order.lines.clone()),
        (Some(_), Some(partial)) if spec.reason == "refund" => order
            .refunds
            .iter()
            .find(|r| r.number == partial.number)
            .filter(|r| !r.lines.is_empty())
            .map(|r| {
                r.lines
                    .iter()
                    .filter_map(|back| {
                        let at = order.lines.iter().position(|l| l.sku == back.sku)?;
                        let line = &order.lines[at];
                        let gross = line.unit.checked_mul(back.qty)?;
                        let includes = build::includes_iva(line);
                        let treatment = products.get(&line.sku).map_or(
                            if line.amounts.iva.0 == 0 {
                                mostrador_core::tax::TaxTreatment::Iva0
                            } else {
                                mostrador_core::tax::TaxTreatment::Iva16
                            },
                            |p| p.tax,
                        );
                        // A discounted line gives back what was paid for those units: the
                        // refund's share of the line, the rest of the shelf amount its discount.
                        let discount = if line.discount.0 == 0 {
                            mostrador_core::money::Centavos::ZERO
                        } else {
                            let share = r.shares.get(at)?;
                            let paid = if includes { share.total } else { share.base };
                            mostrador_core::money::Centavos(
                                (gross.0 - paid.0).clamp(0, gross.0 - 1),
                            )
                        };
                        let amounts = mostrador_core::tax::discounted_line_amounts(
                            line.unit, back.qty, treatment, includes, discount,
                        )?;
                        Some(orders::OrderLine {
                            qty: back.qty,
                            amounts,
                            discount,
                            ..line.clone()
                        })
                    })
                    .collect()
            }),
        _ => None,
    };
    let serie = format!("{}E", issuing.issuer.serie);
    let folio = reserve_folio(&table, &serie, id).await.map_err(retry)?;
    let sealed = sealed_once(deps, merchant, id, || async {
        build::egreso(
            &issuing,
            &build::Numbering {
                serie: &serie,
                folio,
                branch: &branch,
                now: deps.clock.now(),
            },
            customer.as_ref(),
            &build::Corrects {
                related_uuid: &spec.related_uuid,
                refund: spec.reason != "global_adjustment",
                global_period: global_period.as_ref(),
            },
            &build::GivenBack {
                order_id: &order.id,
                taxes: &taxes,
                mirror: mirrored.as_deref().map(|lines| (lines, &products)),
            },
            &method,
        )
    })
    .await
    .map_err(retry)?;
    let sealed = match sealed {
        Ok(s) => s,
        Err(e) => return give_up(&table, rec, InvoiceStatus::Rejected, e.to_string(), deps).await,
    };
    rec.serie = Some(serie);
    rec.folio = Some(folio);
    rec.total = Some(sealed.total.clone());
    rec.isr_retenido = sealed.isr_retenido.clone();
    rec.receptor_rfc = Some(
        customer
            .as_ref()
            .map_or("XAXX010101000".to_owned(), |c| c.rfc.clone()),
    );
    let Some(rec) =
        stamp_and_store(deps, merchant, &issuing, &table, rec, &sealed, request).await?
    else {
        return Ok(());
    };
    if spec.reason != "refund" {
        // Listed with the global it corrects (a later invoice, or a refund of one of its tickets).
        table
            .update(
                &crate::platform::schema::global_adjustment(
                    &spec.related_id,
                    &adjustment_of(&order.id, spec.partial.as_ref()),
                ),
                Update::new()
                    .set("egreso_id", rec.id.as_str())
                    .set("egreso_uuid", rec.uuid.clone().unwrap_or_default())
                    .set(
                        "action",
                        "CFDI de egreso emitido y relacionado con la factura global",
                    ),
                None,
            )
            .await
            .map_err(retry)?;
    }
    tracing::info!(order = %order.id, reason = %spec.reason, "nota de crédito issued");
    Ok(())
}
