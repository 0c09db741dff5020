//! Merchant API for CFDI invoicing: issuer settings and CSD, customers' fiscal data, invoices (list,
//! download, cancel, retry), an order's invoice on request; and the signed document links.

use super::auth::Merchant;
use crate::commerce::orders;
use crate::invoicing::cancel::{self, CancelInput};
use crate::invoicing::documents;
use crate::invoicing::fiscal::{self, CustomerFiscal};
use crate::invoicing::issue::{self, InvoiceStatus};
use crate::invoicing::settings::{self, CsdUpload, IssuerInput, PacCredentials};
use crate::parties::merchants::Caller;
use crate::platform::error::AppError;
use crate::platform::Deps;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use mostrador_core::phone::customer_id;
use mostrador_store::{Query as TableQuery, Table};
use serde::Deserialize;
use serde_json::{json, Value};

/// Invoicing routes.
pub fn routes() -> Router<Deps> {
    Router::new()
        .route(
            "/v1/settings/invoicing",
            get(show_settings).put(save_settings),
        )
        .route("/v1/settings/invoicing/csd", put(save_csd))
        .route(
            "/v1/customers/{wa_id}/fiscal",
            get(show_fiscal).put(save_fiscal).delete(forget_fiscal),
        )
        .route("/v1/orders/{order_id}/invoice", post(invoice_order))
        .route("/v1/invoices", get(list))
        .route("/v1/invoices/adjustments", get(adjustments))
        .route("/v1/invoices/export", get(export_month))
        .route("/v1/invoices/{id}", get(show))
        .route("/v1/invoices/{id}/xml", get(xml))
        .route("/v1/invoices/{id}/pdf", get(pdf))
        .route("/v1/invoices/{id}/cancel", post(cancel_one))
        .route("/v1/invoices/{id}/retry", post(retry))
        .route("/files/{token}", get(file))
}

fn whole_merchant(caller: &Caller) -> Result<(), AppError> {
    if caller.branch.is_some() {
        return Err(AppError::Forbidden(
            "a branch-limited key cannot change invoicing settings".into(),
        ));
    }
    Ok(())
}

async fn show_settings(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
) -> Result<Json<Value>, AppError> {
    let issuer = settings::issuer(&deps, &caller.merchant).await?;
    Ok(Json(
        json!({ "configured": issuer.is_some(), "issuer": issuer }),
    ))
}

async fn save_settings(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Json(input): Json<Value>,
) -> Result<Json<Value>, AppError> {
    // The issuer, its PAC account and its seal: the owner's alone.
    caller.check_owner()?;
    // Flattened structs cannot deny unknown fields: parse in two steps.
    let pac = match input.get("pac") {
        Some(v) => Some(
            serde_json::from_value::<PacCredentials>(v.clone())
                .map_err(|e| AppError::BadRequest(format!("pac: {e}")))?,
        ),
        None => None,
    };
    let mut rest = input.clone();
    if let Some(o) = rest.as_object_mut() {
        o.remove("pac");
    }
    let issuer_input: IssuerInput =
        serde_json::from_value(rest).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let issuer = settings::save_issuer(&deps, &caller.merchant, &issuer_input, pac).await?;
    Ok(Json(json!({ "configured": true, "issuer": issuer })))
}

async fn save_csd(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Json(upload): Json<CsdUpload>,
) -> Result<Json<Value>, AppError> {
    caller.check_owner()?;
    let issuer = settings::save_csd(&deps, &caller.merchant, upload).await?;
    Ok(Json(json!({ "configured": true, "issuer": issuer })))
}

fn wa(raw: &str) -> Result<String, AppError> {
    customer_id(raw).ok_or_else(|| AppError::NotFound("customer".into()))
}

async fn show_fiscal(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(wa_id): Path<String>,
) -> Result<Json<CustomerFiscal>, AppError> {
    let wa = wa(&wa_id)?;
    caller.check_customer(&wa).await?;
    let data = fiscal::load(&deps, &caller.merchant, &wa)
        .await?
        .ok_or_else(|| AppError::NotFound("fiscal data".into()))?;
    crate::parties::privacy::audit(
        &deps,
        &caller.table,
        &caller.actor,
        &caller.key_id,
        "read_fiscal_data",
        &wa,
    )
    .await?;
    Ok(Json(data))
}

async fn save_fiscal(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(wa_id): Path<String>,
    Json(data): Json<CustomerFiscal>,
) -> Result<Json<CustomerFiscal>, AppError> {
    let wa = wa(&wa_id)?;
    caller.check_customer_or_new(&wa).await?;
    Ok(Json(
        fiscal::save(&deps, &caller.merchant, &wa, &data).await?,
    ))
}

async fn forget_fiscal(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(wa_id): Path<String>,
) -> Result<StatusCode, AppError> {
    let wa = wa(&wa_id)?;
    caller.check_customer(&wa).await?;
    fiscal::forget(&deps, &caller.merchant, &wa).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn invoice_order(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(order_id): Path<String>,
    body: Option<Json<CustomerFiscal>>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let order = orders::get(&caller.table, &order_id)
        .await?
        .ok_or_else(|| AppError::NotFound("order".into()))?;
    caller.check_branch(&order.branch_id)?;
    let current = issue::current_for_order(&caller.table, &order.id).await?;
    let stamped = current
        .clone()
        .filter(|r| r.status == InvoiceStatus::Stamped && r.uuid.is_some());
    let paid = matches!(
        order.status,
        orders::OrderStatus::Paid
            | orders::OrderStatus::ReadyForPickup
            | orders::OrderStatus::Shipped
            | orders::OrderStatus::Delivered
    );
    let receptor = match body {
        Some(Json(data)) => {
            if let Some(invoice) = &stamped {
                let same = issue::receptor_of(&deps, &caller.merchant, &order)
                    .await?
                    .is_some_and(|r| r == data.normalized());
                if !same {
                    if let Some(by) = &invoice.replaced_by {
                        // Nothing is changed while a substitution is under way.
                        return Err(AppError::Conflict(format!(
                            "la factura {} ya se está sustituyendo por {by}",
                            invoice.id
                        )));
                    }
                    // Other data for an invoiced sale: SAT's substitution. The new invoice relates
                    // the old one (relation 04) and, once stamped, the old one is cancelled with
                    // motivo 01 naming it.
                    let data = fiscal::save(&deps, &caller.merchant, &order.wa_id, &data).await?;
                    issue::keep_receptor(&deps, &caller.merchant, &order.id, &data).await?;
                    let id =
                        issue::request_reissue(&deps, &caller.merchant, &order.id, invoice).await?;
                    return Ok((
                        StatusCode::ACCEPTED,
                        Json(json!({
                            "status": "queued",
                            "invoice": format!("/v1/invoices/{id}"),
                            "substitutes": invoice.id,
                        })),
                    ));
                }
            }
            fiscal::save(&deps, &caller.merchant, &order.wa_id, &data).await?
        }
        None => match fiscal::load(&deps, &caller.merchant, &order.wa_id).await? {
            Some(saved) => saved,
            None => {
                return Err(AppError::Validation(vec![crate::platform::error::FieldError::new(
                    "fiscal",
                    "the customer has no fiscal data: send rfc, nombre, codigo_postal, regimen_fiscal and uso_cfdi",
                )]))
            }
        },
    };
    if !paid {
        return Err(AppError::Conflict(format!(
            "the order is {}; only paid orders are invoiced",
            order.status.as_str()
        )));
    }
    if stamped.is_none() {
        // The invoice goes to exactly this receptor, whatever is saved later (after a
        // cancellation, the new invoice too).
        issue::keep_receptor(&deps, &caller.merchant, &order.id, &receptor).await?;
    }
    let id = issue::request_individual(&deps, &caller.merchant, &order.id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "status": "queued", "invoice": format!("/v1/invoices/{id}") })),
    ))
}

#[derive(Deserialize)]
struct Page {
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list(
    Merchant(caller): Merchant,
    Query(page): Query<Page>,
) -> Result<Json<Value>, AppError> {
    let (mut invoices, cursor) = issue::list(
        &caller.table,
        page.limit.unwrap_or(50).clamp(1, 200),
        page.cursor,
    )
    .await?;
    if let Some(only) = &caller.branch {
        invoices.retain(|i| &i.branch_id == only);
    }
    Ok(Json(json!({ "invoices": invoices, "cursor": cursor })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    month: String,
}

/// The accountant's month: a link to one ZIP with every CFDI stamped in `month` (XML and PDF) and
/// its CSV summaries. A branch-limited key gets its branch's.
async fn export_month(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Query(q): Query<ExportQuery>,
) -> Result<Json<crate::invoicing::export::MonthExport>, AppError> {
    let month = crate::invoicing::export::parse_month(&q.month)?;
    Ok(Json(
        crate::invoicing::export::month(&deps, &caller.merchant, &month, caller.branch.as_deref())
            .await?,
    ))
}

async fn adjustments(Merchant(caller): Merchant) -> Result<Json<Value>, AppError> {
    whole_merchant(&caller)?;
    let page = caller
        .table
        .query(TableQuery::partition(crate::platform::schema::GLOBAL_ADJUSTMENTS).limit(200))
        .await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|i| {
            json!({
                "global_id": i.get_s("global_id"),
                "order_id": i.get_s("order_id"),
                "invoice_uuid": i.get_s("invoice_uuid"),
                "total": i.get_n("total"),
                "action": i.get_s("action"),
            })
        })
        .collect();
    Ok(Json(json!({ "adjustments": items })))
}

async fn owned(caller: &Caller, id: &str) -> Result<issue::InvoiceRecord, AppError> {
    let rec = issue::get(&caller.table, id)
        .await?
        .ok_or_else(|| AppError::NotFound("invoice".into()))?;
    caller.check_branch(&rec.branch_id)?;
    Ok(rec)
}

async fn show(
    Merchant(caller): Merchant,
    Path(id): Path<String>,
) -> Result<Json<issue::InvoiceRecord>, AppError> {
    Ok(Json(owned(&caller, &id).await?))
}

async fn download(
    deps: &Deps,
    caller: &Caller,
    id: &str,
    file: &str,
    content_type: &str,
    ext: &str,
) -> Result<Response, AppError> {
    let rec = owned(caller, id).await?;
    if rec.uuid.is_none() {
        return Err(AppError::Conflict("the invoice is not stamped".into()));
    }
    let blob = deps
        .blobs
        .get(&issue::blob_key(&caller.merchant, id, file))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .ok_or_else(|| AppError::NotFound("invoice file".into()))?;
    Ok(attachment(
        blob.body.to_vec(),
        content_type,
        &documents::filename(&rec, ext),
    ))
}

fn attachment(body: Vec<u8>, content_type: &str, name: &str) -> Response {
    let safe: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{safe}\""),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        Body::from(body),
    )
        .into_response()
}

async fn xml(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    download(&deps, &caller, &id, "cfdi.xml", "application/xml", "xml").await
}

async fn pdf(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    download(&deps, &caller, &id, "cfdi.pdf", "application/pdf", "pdf").await
}

async fn cancel_one(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(id): Path<String>,
    Json(input): Json<CancelInput>,
) -> Result<Json<issue::InvoiceRecord>, AppError> {
    owned(&caller, &id).await?;
    Ok(Json(
        cancel::cancel(&deps, &caller.merchant, &id, &input).await?,
    ))
}

async fn retry(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let rec = owned(&caller, &id).await?;
    if matches!(
        rec.status,
        InvoiceStatus::Stamped | InvoiceStatus::Cancelled
    ) {
        return Err(AppError::Conflict("the invoice is already stamped".into()));
    }
    match (&rec.order_id, rec.kind.as_str()) {
        (Some(_), "individual") => issue::request_again(&deps, &caller.merchant, &rec).await?,
        _ => {
            return Err(AppError::Conflict(
                "a global invoice is retried from the dead-letter queue (POST /v1/admin/queues/invoicing/replay)".into(),
            ))
        }
    }
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": "queued" }))))
}

/// A signed document link (what WhatsApp downloads); anything else is a 404.
async fn file(State(deps): State<Deps>, Path(token): Path<String>) -> Result<Response, AppError> {
    let (key, name) = crate::platform::files::resolve(&deps, &token)
        .ok_or_else(|| AppError::NotFound("file".into()))?;
    let blob = match deps.blobs.get(&key).await {
        Ok(Some(blob)) => blob,
        // A key the store refuses (`..`, absolute) names no file: 404, never 500.
        Ok(None) | Err(mostrador_store::blobs::BlobError::InvalidKey(_)) => {
            return Err(AppError::NotFound("file".into()))
        }
        Err(mostrador_store::blobs::BlobError::Unavailable(why)) => {
            return Err(AppError::Unavailable(format!("blob store: {why}")))
        }
        Err(e) => return Err(AppError::Internal(e.into())),
    };
    let content_type = crate::platform::files::content_type(&name, &blob.content_type);
    Ok(attachment(blob.body.to_vec(), content_type, &name))
}
