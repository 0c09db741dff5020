//! Merchant API for notifications: the template registry, single and bulk notifications, consent
//! records, the notification policy, reports, and the tracked-link redirect.

use super::auth::Merchant;
use crate::flows::reports::{self, ReportQuery};
use crate::notifications::send::{NotificationRequest, NotifyError};
use crate::notifications::templates::{self, TemplateDef};
use crate::notifications::{bulk, links, send};
use crate::parties::consent;
use crate::parties::notification_settings::{self as notification_settings, NotificationSettings};
use crate::platform::error::{AppError, FieldError};
use crate::platform::Deps;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use mostrador_core::phone::customer_id;
use serde_json::{json, Value};

/// Routes of notifications under `/v1`, and `/l/{code}`.
pub fn routes() -> Router<Deps> {
    Router::new()
        .route("/v1/templates", get(list_templates).post(create_template))
        .route(
            "/v1/templates/import",
            axum::routing::post(import_templates),
        )
        .route(
            "/v1/templates/{name}/submit",
            axum::routing::post(submit_template),
        )
        .route(
            "/v1/templates/{name}",
            get(get_template)
                .put(replace_template)
                .delete(delete_template),
        )
        .route("/v1/notifications", axum::routing::post(notify))
        .route("/v1/notifications/bulk", axum::routing::post(notify_bulk))
        .route("/v1/notifications/bulk/{id}", get(bulk_progress))
        .route(
            "/v1/notifications/{id}",
            get(notification).delete(cancel_notification),
        )
        .route(
            "/v1/settings/notifications",
            get(get_settings).put(put_settings),
        )
        .route(
            "/v1/customers/{wa_id}/consent",
            get(get_consent).post(grant_consent),
        )
        .route(
            "/v1/notifications/{id}/conversions",
            axum::routing::post(report_conversion),
        )
        .route(
            "/v1/notifications/conversions",
            axum::routing::post(report_conversion_by_metadata),
        )
        .route("/v1/reports/notifications", get(notification_report))
        .route(
            "/v1/reports/notifications/recipients",
            get(notification_recipients),
        )
        .route("/v1/reports/commerce", get(commerce_report))
        .route("/v1/documents/{id}", get(document))
        .route(
            "/v1/experiments",
            get(list_experiments).post(create_experiment),
        )
        .route("/v1/experiments/{name}", get(get_experiment))
        .route(
            "/v1/experiments/{name}/end",
            axum::routing::post(end_experiment),
        )
        .route("/v1/experiments/{name}/report", get(experiment_report))
        .route("/l/{code}", get(tracked_link).head(tracked_link))
}

fn whole_merchant(caller: &crate::parties::merchants::Caller, what: &str) -> Result<(), AppError> {
    if caller.branch.is_some() {
        return Err(AppError::Forbidden(format!(
            "a branch-limited key cannot {what}"
        )));
    }
    Ok(())
}

async fn list_templates(Merchant(caller): Merchant) -> Result<Json<Value>, AppError> {
    let shown: Vec<Value> = templates::list_with_statuses(&caller.table)
        .await?
        .iter()
        .map(|(def, statuses)| templates::view(def, statuses))
        .collect();
    Ok(Json(json!({ "templates": shown })))
}

/// `POST /v1/templates/{name}/submit`: to Meta for review, each language not yet there.
async fn submit_template(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    whole_merchant(&caller, "manage templates")?;
    let shown = crate::notifications::meta::submit(&deps, &caller.table, &name).await?;
    Ok((StatusCode::ACCEPTED, Json(shown)))
}

/// `POST /v1/templates/import`: every template of the WhatsApp Business Account, with Meta's status.
async fn import_templates(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
) -> Result<Json<Value>, AppError> {
    whole_merchant(&caller, "manage templates")?;
    Ok(Json(json!(
        crate::notifications::meta::import(&deps, &caller.table).await?
    )))
}

async fn create_template(
    Merchant(caller): Merchant,
    Json(def): Json<TemplateDef>,
) -> Result<(StatusCode, Json<TemplateDef>), AppError> {
    whole_merchant(&caller, "manage templates")?;
    templates::create(&caller.table, &def).await?;
    Ok((StatusCode::CREATED, Json(def)))
}

async fn get_template(
    Merchant(caller): Merchant,
    Path(name): Path<String>,
) -> Result<Json<Value>, AppError> {
    templates::get_with_statuses(&caller.table, &name)
        .await?
        .map(|(def, statuses)| Json(templates::view(&def, &statuses)))
        .ok_or_else(|| AppError::NotFound("template".into()))
}

async fn replace_template(
    Merchant(caller): Merchant,
    Path(name): Path<String>,
    Json(def): Json<TemplateDef>,
) -> Result<Json<TemplateDef>, AppError> {
    whole_merchant(&caller, "manage templates")?;
    if def.name != name {
        return Err(AppError::Validation(vec![FieldError::new(
            "name",
            "must equal the name in the path",
        )]));
    }
    templates::replace(&caller.table, &def).await?;
    Ok(Json(def))
}

async fn delete_template(
    Merchant(caller): Merchant,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    whole_merchant(&caller, "manage templates")?;
    templates::delete(&caller.table, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn notify(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    headers: HeaderMap,
    Json(mut req): Json<NotificationRequest>,
) -> Result<Response, NotifyError> {
    if req.idempotency_key.is_none() {
        req.idempotency_key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
    }
    let accepted = send::accept(&deps, &caller, req).await?;
    let status = if accepted.replayed {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(accepted)).into_response())
}

async fn notify_bulk(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Json(req): Json<bulk::BulkRequest>,
) -> Result<(StatusCode, Json<Value>), NotifyError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(bulk::accept(&deps, &caller, req).await?),
    ))
}

async fn bulk_progress(
    Merchant(caller): Merchant,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(bulk::progress(&caller.table, &id).await?))
}

async fn notification(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(send::view(&deps, &caller.table, &id).await?))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConversionBody {
    /// What the customer did: `loan_applied`, `account_opened` (1-64 letters, digits, _ or -).
    name: String,
    /// What it is worth, in centavos (default 0).
    #[serde(default)]
    value: i64,
}

/// A conversion named by the merchant's own reference instead of our notification id.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConversionByMetadata {
    /// The customer's WhatsApp id.
    to: String,
    /// Fields of the metadata the notification was sent with (`{"offer_id": "OF-991"}`); the
    /// latest notification to the customer within the attribution window carrying all of them
    /// converts.
    metadata: serde_json::Map<String, Value>,
    name: String,
    #[serde(default)]
    value: i64,
}

/// `POST /v1/notifications/conversions`: as below, for the notification found by the merchant's
/// metadata (the reference its system knows) among the customer's recent ones.
async fn report_conversion_by_metadata(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Json(body): Json<ConversionByMetadata>,
) -> Result<Response, AppError> {
    let conversion = ConversionBody {
        name: body.name,
        value: body.value,
    };
    let mut errors = conversion_problems(&conversion);
    let to = customer_id(&body.to);
    if to.is_none() {
        errors.push(FieldError::new("to", "not a WhatsApp id"));
    }
    if body.metadata.is_empty() || body.metadata.len() > 10 {
        errors.push(FieldError::new("metadata", "1 to 10 fields"));
    }
    let (Some(to), true) = (to, errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    caller.check_customer(&to).await?;
    let wanted = body.metadata;
    let tag = crate::notifications::replies::recent_where(&deps, &caller.table, &to, |t| {
        wanted.iter().all(|(k, v)| t.metadata.get(k) == Some(v))
    })
    .await?
    .ok_or_else(|| {
        AppError::NotFound(
            "notification with that metadata to this customer within the attribution window".into(),
        )
    })?;
    converted(&deps, &caller, &tag, &conversion).await
}

fn conversion_problems(body: &ConversionBody) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = body.name.trim();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        errors.push(FieldError::new("name", "1-64 letters, digits, _ or -"));
    }
    if !(0..=1_000_000_000_000).contains(&body.value) {
        errors.push(FieldError::new(
            "value",
            "centavos from 0 to 10,000,000,000.00 pesos",
        ));
    }
    errors
}

/// `POST /v1/notifications/{id}/conversions`: the merchant says the notification converted (a
/// loan applied for in its app), with a value; counted once in the funnel (201 the first time,
/// 200 when it had converted already).
async fn report_conversion(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(id): Path<String>,
    Json(body): Json<ConversionBody>,
) -> Result<Response, AppError> {
    let errors = conversion_problems(&body);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    if !crate::notifications::is_notification(&id) || id.len() > 100 || id.contains('#') {
        return Err(AppError::NotFound("notification".into()));
    }
    let Some(tag) = crate::notifications::stats::tag(&caller.table, &id).await? else {
        return Err(AppError::NotFound("notification".into()));
    };
    converted(&deps, &caller, &tag, &body).await
}

async fn converted(
    deps: &Deps,
    caller: &crate::parties::merchants::Caller,
    tag: &crate::notifications::stats::Tag,
    body: &ConversionBody,
) -> Result<Response, AppError> {
    let id = &tag.id;
    let counted = crate::notifications::stats::report_conversion(
        &caller.table,
        tag,
        body.name.trim(),
        body.value,
        deps.clock.now(),
    )
    .await?;
    let status = if counted {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({ "id": id, "converted": true, "counted": counted })),
    )
        .into_response())
}

async fn cancel_notification(
    Merchant(caller): Merchant,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(send::cancel(&caller.table, &id).await?))
}

async fn get_settings(Merchant(caller): Merchant) -> Result<Json<NotificationSettings>, AppError> {
    Ok(Json(notification_settings::load(&caller.table).await?))
}

async fn put_settings(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Json(settings): Json<NotificationSettings>,
) -> Result<Json<NotificationSettings>, AppError> {
    whole_merchant(&caller, "change notification settings")?;
    if let Some(id) = &settings.abandoned_cart_promotion {
        let found = crate::commerce::promotions::get(&caller.table, id, deps.clock.now()).await;
        let fits = matches!(&found, Ok(p) if p.promotion.issued_codes);
        if !fits {
            return Err(AppError::Validation(vec![FieldError::new(
                "abandoned_cart_promotion",
                "nombra una promoción con códigos por cliente (issued_codes: true)",
            )]));
        }
    }
    if settings.bot_bridge
        && crate::parties::hooks::configured_url(&deps, &caller.merchant)
            .await?
            .is_none()
    {
        return Err(AppError::Validation(vec![FieldError::new(
            "bot_bridge",
            "needs your webhook first (PUT /v1/settings/webhook): messages go there",
        )]));
    }
    let saved =
        notification_settings::save(&caller.table, settings, deps.config.public_url()).await?;
    Ok(Json(saved))
}

fn wa(wa_id: &str) -> Result<String, AppError> {
    customer_id(wa_id)
        .ok_or_else(|| AppError::Validation(vec![FieldError::new("wa_id", "not a WhatsApp id")]))
}

async fn get_consent(
    Merchant(caller): Merchant,
    Path(wa_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let wa = wa(&wa_id)?;
    caller.check_customer(&wa).await?;
    Ok(Json(consent::show(&caller.table, &wa).await?))
}

async fn grant_consent(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(wa_id): Path<String>,
    Json(input): Json<consent::ConsentInput>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let wa_id = wa(&wa_id)?;
    caller.check_customer_or_new(&wa_id).await?;
    let notice = notification_settings::load(&caller.table)
        .await?
        .privacy_notice_url;
    let granted = consent::grant(&caller.table, &wa_id, input, notice, deps.clock.now()).await?;
    tracing::info!(merchant = %caller.merchant, customer = %crate::platform::telemetry::redact(&wa_id), source = %granted.source, "consent recorded");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "wa_id": wa_id, "opted_out": false, "consent": granted })),
    ))
}

fn report_response(report: Value, csv: Option<Vec<&str>>) -> Result<Response, AppError> {
    match csv {
        None => Ok(Json(report).into_response()),
        Some(columns) => Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            reports::to_csv(&report, &columns)?,
        )
            .into_response()),
    }
}

async fn notification_report(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Query(q): Query<ReportQuery>,
) -> Result<Response, AppError> {
    let csv = q.csv()?;
    let report = reports::notifications(&caller.table, &q, deps.clock.now()).await?;
    let dimension = report["group_by"].as_str().unwrap_or("template").to_owned();
    report_response(
        report,
        csv.then(|| reports::notification_columns(&dimension)),
    )
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipientsQuery {
    template: String,
    /// `YYYY-MM-DD`, the day of sending (Mexico City).
    day: String,
    /// One of the report's figures (`read`, `failed`, `clicked`…); default `accepted` (all).
    metric: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /v1/reports/notifications/recipients`: who is behind a figure of the report.
async fn notification_recipients(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Query(q): Query<RecipientsQuery>,
) -> Result<Response, AppError> {
    // The recipients of a whole merchant's notifications: not for a branch-limited key.
    whole_merchant(&caller, "list the recipients of notifications")?;
    let (rows, cursor) = reports::recipients(
        &deps,
        &caller.table,
        &q.template,
        &q.day,
        q.metric.as_deref().unwrap_or("accepted"),
        q.cursor,
        q.limit.unwrap_or(500),
    )
    .await?;
    match q.format.as_deref() {
        None | Some("json") => {
            Ok(Json(json!({ "recipients": rows, "cursor": cursor })).into_response())
        }
        Some("csv") => {
            let mut response = (
                [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
                reports::recipients_csv(&rows)?,
            )
                .into_response();
            if let Some(next) = cursor.and_then(|c| axum::http::HeaderValue::from_str(&c).ok()) {
                response.headers_mut().insert("x-next-cursor", next);
            }
            Ok(response)
        }
        Some(_) => Err(AppError::Validation(vec![FieldError::new(
            "format",
            "json or csv",
        )])),
    }
}

async fn commerce_report(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Query(q): Query<ReportQuery>,
) -> Result<Response, AppError> {
    let csv = q.csv()?;
    if let Some(b) = &q.branch_id {
        caller.check_branch(b)?;
    }
    let branches = crate::parties::merchants::list_branches(&caller).await?;
    let report = reports::commerce(&caller.table, &branches, &q, deps.clock.now()).await?;
    report_response(report, csv.then(|| reports::COMMERCE_COLUMNS.to_vec()))
}

async fn list_experiments(Merchant(caller): Merchant) -> Result<Json<Value>, AppError> {
    Ok(Json(
        json!({ "experiments": crate::notifications::experiments::list(&caller.table).await? }),
    ))
}

async fn create_experiment(
    Merchant(caller): Merchant,
    Json(experiment): Json<crate::notifications::experiments::Experiment>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    whole_merchant(&caller, "manage experiments")?;
    crate::notifications::experiments::create(&caller.table, &experiment).await?;
    Ok((StatusCode::CREATED, Json(json!(experiment))))
}

async fn found_experiment(
    caller: &crate::parties::merchants::Caller,
    name: &str,
) -> Result<crate::notifications::experiments::Experiment, AppError> {
    crate::notifications::experiments::get(&caller.table, name)
        .await?
        .ok_or_else(|| AppError::NotFound("experiment".into()))
}

async fn get_experiment(
    Merchant(caller): Merchant,
    Path(name): Path<String>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(json!(found_experiment(&caller, &name).await?)))
}

async fn end_experiment(
    Merchant(caller): Merchant,
    Path(name): Path<String>,
) -> Result<Json<Value>, AppError> {
    whole_merchant(&caller, "manage experiments")?;
    Ok(Json(json!(
        crate::notifications::experiments::end(&caller.table, &name).await?
    )))
}

async fn experiment_report(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(name): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Result<Json<Value>, AppError> {
    let experiment = found_experiment(&caller, &name).await?;
    Ok(Json(
        reports::experiment(&caller.table, &experiment, &q, deps.clock.now()).await?,
    ))
}

/// `GET /v1/documents/{id}`: a document a customer sent back (KYC), with a short-lived signed link
/// to the file. A branch-limited key sees only what reached its own number.
async fn document(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let doc = crate::notifications::documents::get(&caller.table, &id)
        .await?
        .ok_or_else(|| AppError::NotFound("document".into()))?;
    if !caller
        .scope()
        .await?
        .allows(Some(doc.phone_number_id.as_str()), None)
    {
        return Err(AppError::NotFound("document".into()));
    }
    Ok(Json(crate::notifications::documents::view(&deps, &doc)?))
}

/// `GET /l/{code}`: 302 to the link's target; a person's first click counts, previews never do.
async fn tracked_link(
    State(deps): State<Deps>,
    method: Method,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::platform::urls::request_host);
    let visit = links::visit(&deps, &code, host.as_deref(), agent, method == Method::HEAD)
        .await?
        .ok_or_else(|| AppError::NotFound("link".into()))?;
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, visit.target),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response())
}
