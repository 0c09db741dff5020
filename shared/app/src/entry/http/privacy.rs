//! Merchant API for customers' rights over their data (LFPDPPP): the export (acceso), rectification,
//! erasure (cancelación), the record of ARCO requests with their answer day, the record of who read
//! personal data, and how long conversations are kept. Owner only (or a full-merchant key): a
//! customer's data spans every branch.

use super::auth::Merchant;
use crate::flows::privacy::{self as arco, Actor};
use crate::parties::merchants::Caller;
use crate::parties::privacy::{self, NewRequest, PrivacySettings};
use crate::platform::error::{AppError, FieldError};
use crate::platform::Deps;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use mostrador_core::phone::customer_id;
use mostrador_core::privacy::ArcoRight;
use serde::Deserialize;
use serde_json::{json, Value};

/// Privacy routes under `/v1`.
pub fn routes() -> Router<Deps> {
    Router::new()
        .route(
            "/v1/customers/{wa_id}",
            axum::routing::patch(rectify).delete(erase),
        )
        .route("/v1/customers/{wa_id}/data", get(export))
        .route("/v1/privacy/requests", get(requests).post(register))
        .route("/v1/privacy/audit", get(audit))
        .route("/v1/settings/privacy", get(get_settings).put(put_settings))
}

fn customer(raw: &str) -> Result<String, AppError> {
    customer_id(raw).ok_or_else(|| {
        AppError::Validation(vec![FieldError::new("wa_id", "no es un id de WhatsApp")])
    })
}

fn actor(caller: &Caller) -> Actor<'_> {
    Actor {
        name: &caller.actor,
        key_id: &caller.key_id,
        channel: if caller.role.is_some() {
            "consola"
        } else {
            "api"
        },
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    /// `json` (default) or `zip` (datos.json plus the invoices' XML and PDF and the documents).
    format: Option<String>,
}

/// Acceso: everything held about the customer.
async fn export(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(wa_id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, AppError> {
    caller.check_owner()?;
    let wa = customer(&wa_id)?;
    let zip = match q.format.as_deref() {
        None | Some("json") => false,
        Some("zip") => true,
        Some(_) => {
            return Err(AppError::Validation(vec![FieldError::new(
                "format",
                "json o zip",
            )]))
        }
    };
    let export = arco::export(&deps, &caller.merchant, &wa, &actor(&caller)).await?;
    if zip {
        let body = arco::zip(&export)?;
        let day = deps.clock.now().format("%Y%m%d");
        if body.len() > deps.config.export_inline_max_bytes {
            return export_link(&deps, &caller.merchant, &wa, &day.to_string(), body).await;
        }
        return Ok((
            [
                (header::CONTENT_TYPE, "application/zip".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"datos-{wa}-{day}.zip\""),
                ),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            body,
        )
            .into_response());
    }
    let mut data = export.data;
    data["files"] = json!(export
        .files
        .iter()
        .map(|f| json!({"path": f.path, "content_type": f.content_type, "bytes": f.body.len()}))
        .collect::<Vec<_>>());
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(data)).into_response())
}

/// A ZIP too large to answer in the response (Lambda answers at most 6 MB): 303 to a signed link
/// to the stored copy (the link in the body too), which is deleted when the link expires.
async fn export_link(
    deps: &Deps,
    merchant: &crate::platform::tenant::MerchantId,
    wa: &str,
    day: &str,
    body: Vec<u8>,
) -> Result<Response, AppError> {
    let bytes = body.len();
    let (url, expires_at) = arco::store_export(deps, merchant, wa, day, body).await?;
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, url.clone()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Json(json!({ "url": url, "expires_at": expires_at, "bytes": bytes })),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rectification {
    profile_name: Option<String>,
    timezone: Option<String>,
}

/// Rectificación of the profile (fiscal data is corrected at `/v1/customers/{wa_id}/fiscal`).
async fn rectify(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(wa_id): Path<String>,
    Json(body): Json<Rectification>,
) -> Result<Json<Value>, AppError> {
    caller.check_owner()?;
    let wa = customer(&wa_id)?;
    privacy::rectify_profile(
        &deps,
        &caller.table,
        &wa,
        body.profile_name.as_deref(),
        body.timezone.as_deref(),
    )
    .await?;
    let who = actor(&caller);
    let answered = privacy::answer(
        &deps,
        &caller.table,
        NewRequest {
            right: ArcoRight::Rectificacion,
            wa_id: &wa,
            channel: who.channel,
            by: who.name,
            received_at: None,
            note: None,
        },
        privacy::RequestStatus::Atendida,
        "Se corrigieron los datos del perfil.",
    )
    .await?;
    let customer = crate::parties::customers::get(&caller.table, &wa).await?;
    let name = crate::parties::customers::name(&deps, &caller.table, &wa).await?;
    Ok(Json(json!({
        "wa_id": wa,
        "profile_name": name,
        "timezone": customer.timezone,
        "requests": answered,
    })))
}

/// Cancelación: erase what the law does not oblige the merchant to keep.
async fn erase(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(wa_id): Path<String>,
) -> Result<Json<arco::Erased>, AppError> {
    caller.check_owner()?;
    let wa = customer(&wa_id)?;
    Ok(Json(
        arco::erase(&deps, &caller.merchant, &wa, &actor(&caller)).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestsQuery {
    wa_id: Option<String>,
}

/// The record of ARCO requests, with each one's answer day and whether it is overdue.
async fn requests(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Query(q): Query<RequestsQuery>,
) -> Result<Json<Value>, AppError> {
    caller.check_owner()?;
    let wa = q.wa_id.as_deref().map(customer).transpose()?;
    let now = deps.clock.now();
    let list = privacy::list(&caller.table, wa.as_deref()).await?;
    let items: Vec<Value> = list
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
            v["overdue"] = json!(privacy::overdue(r, now));
            v
        })
        .collect();
    let overdue = list.iter().filter(|r| privacy::overdue(r, now)).count();
    Ok(Json(json!({ "items": items, "overdue": overdue })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRequestBody {
    wa_id: String,
    right: String,
    /// How it arrived: whatsapp, correo, escrito, telefono… (default api).
    channel: Option<String>,
    /// When it was received, RFC 3339 (default now).
    received_at: Option<String>,
    note: Option<String>,
}

/// Registers an ARCO request received by another channel (mail, in person), pending: the record
/// shows the day it must be answered by.
async fn register(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Json(body): Json<NewRequestBody>,
) -> Result<(StatusCode, Json<privacy::PrivacyRequest>), AppError> {
    caller.check_owner()?;
    let mut errors = Vec::new();
    let wa = customer(&body.wa_id);
    if wa.is_err() {
        errors.push(FieldError::new("wa_id", "no es un id de WhatsApp"));
    }
    let right = ArcoRight::parse(&body.right);
    if right.is_none() {
        errors.push(FieldError::new(
            "right",
            "acceso, rectificacion, cancelacion u oposicion",
        ));
    }
    let received_at = match body.received_at.as_deref() {
        None => None,
        Some(raw) => match chrono::DateTime::parse_from_rfc3339(raw) {
            Ok(t) => Some(t.with_timezone(&chrono::Utc)),
            Err(_) => {
                errors.push(FieldError::new(
                    "received_at",
                    "fecha y hora RFC 3339, p. ej. 2026-12-01T10:00:00-06:00",
                ));
                None
            }
        },
    };
    let channel = body.channel.unwrap_or_else(|| "api".into());
    if channel.trim().is_empty() || channel.chars().count() > 40 {
        errors.push(FieldError::new("channel", "de 1 a 40 caracteres"));
    }
    if body
        .note
        .as_ref()
        .is_some_and(|n| n.chars().count() > 2_000)
    {
        errors.push(FieldError::new("note", "hasta 2000 caracteres"));
    }
    let (Ok(wa), Some(right), true) = (wa, right, errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    let request = privacy::register(
        &deps,
        &caller.table,
        NewRequest {
            right,
            wa_id: &wa,
            channel: channel.trim(),
            by: &caller.actor,
            received_at,
            note: body.note,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(request)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    wa_id: Option<String>,
    limit: Option<usize>,
}

/// Who read or exported customers' personal data, newest first.
async fn audit(
    Merchant(caller): Merchant,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Value>, AppError> {
    caller.check_owner()?;
    let wa = q.wa_id.as_deref().map(customer).transpose()?;
    let items = privacy::audit_log(
        &caller.table,
        wa.as_deref(),
        q.limit.unwrap_or(100).clamp(1, 1_000),
    )
    .await?;
    Ok(Json(json!({ "items": items })))
}

async fn get_settings(Merchant(caller): Merchant) -> Result<Json<PrivacySettings>, AppError> {
    Ok(Json(privacy::load_settings(&caller.table).await?))
}

async fn put_settings(
    Merchant(caller): Merchant,
    Json(body): Json<Value>,
) -> Result<Json<PrivacySettings>, AppError> {
    caller.check_owner()?;
    let settings: PrivacySettings = super::body::object(body, "los ajustes de privacidad")?;
    privacy::save_settings(&caller.table, &settings).await?;
    Ok(Json(settings))
}
