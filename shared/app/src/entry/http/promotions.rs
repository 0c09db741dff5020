//! Merchant API for promotions: create, list, pause, resume and report (JSON or CSV).

use super::auth::Merchant;
use crate::commerce::promotions::{self, Draft, Stored};
use crate::parties::merchants::{self, Caller};
use crate::platform::error::AppError;
use crate::platform::Deps;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

/// Promotion routes under `/v1`.
pub fn routes() -> Router<Deps> {
    Router::new()
        .route("/v1/promotions", get(list).post(create))
        .route("/v1/promotions/report", get(report))
        .route("/v1/promotions/{promotion_id}", get(get_one))
        .route("/v1/promotions/{promotion_id}/pause", post(pause))
        .route("/v1/promotions/{promotion_id}/resume", post(resume))
        .route("/v1/customers/{wa_id}/groups", put(set_groups))
}

/// Promotions are the merchant's prices: a key or session limited to one branch reads them but
/// does not change them.
fn may_change(caller: &Caller) -> Result<(), AppError> {
    match &caller.branch {
        Some(_) => Err(AppError::Forbidden(
            "las promociones las cambia el dueño o un gerente (a branch-limited key cannot change promotions)".into(),
        )),
        None => Ok(()),
    }
}

/// What a branch-limited caller sees: promotions of every branch or of its own.
fn visible(caller: &Caller, stored: &Stored) -> bool {
    match &caller.branch {
        Some(only) => {
            stored.promotion.branches.is_empty() || stored.promotion.branches.contains(only)
        }
        None => true,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// `running`, `scheduled`, `paused` or `ended`; all when absent.
    status: Option<String>,
}

const STATUSES: [&str; 4] = ["running", "scheduled", "paused", "ended"];

async fn list(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, AppError> {
    if let Some(s) = &q.status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(AppError::Validation(vec![
                crate::platform::error::FieldError::new(
                    "status",
                    "running, scheduled, paused o ended",
                ),
            ]));
        }
    }
    let all: Vec<Stored> = promotions::list(&caller.table, deps.clock.now())
        .await?
        .into_iter()
        .filter(|s| visible(&caller, s))
        .filter(|s| q.status.as_deref().is_none_or(|want| s.status == want))
        .collect();
    Ok(Json(json!({ "promotions": all })))
}

async fn create(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Json(draft): Json<Draft>,
) -> Result<(StatusCode, Json<Stored>), AppError> {
    may_change(&caller)?;
    let products = crate::commerce::catalog::all_products(&caller.table).await?;
    let branches: Vec<String> = merchants::list_branches(&caller)
        .await?
        .into_iter()
        .map(|b| b.id)
        .collect();
    let id = format!("P{}", merchants::new_id(&deps));
    let created = promotions::create(
        &caller.table,
        id,
        draft,
        &products,
        &branches,
        deps.clock.now(),
    )
    .await?;
    tracing::info!(merchant = %caller.merchant, promotion = %created.promotion.id, actor = %caller.actor, "promotion created");
    Ok((StatusCode::CREATED, Json(created)))
}

async fn get_one(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(id): Path<String>,
) -> Result<Json<Stored>, AppError> {
    let stored = promotions::get(&caller.table, &id, deps.clock.now()).await?;
    if !visible(&caller, &stored) {
        return Err(AppError::NotFound(format!("promotion {id}")));
    }
    Ok(Json(stored))
}

async fn pause(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(id): Path<String>,
) -> Result<Json<Stored>, AppError> {
    may_change(&caller)?;
    let stored = promotions::set_paused(&caller.table, &id, true, deps.clock.now()).await?;
    tracing::info!(merchant = %caller.merchant, promotion = %id, actor = %caller.actor, "promotion paused");
    Ok(Json(stored))
}

async fn resume(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(id): Path<String>,
) -> Result<Json<Stored>, AppError> {
    may_change(&caller)?;
    let stored = promotions::set_paused(&caller.table, &id, false, deps.clock.now()).await?;
    tracing::info!(merchant = %caller.merchant, promotion = %id, actor = %caller.actor, "promotion resumed");
    Ok(Json(stored))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Groups {
    groups: Vec<String>,
}

/// `PUT /v1/customers/{wa_id}/groups`: the customer's groups (prices of their own), replacing
/// the ones before; `[]` takes them out of every group.
async fn set_groups(
    Merchant(caller): Merchant,
    Path(wa_id): Path<String>,
    Json(body): Json<Groups>,
) -> Result<Json<Value>, AppError> {
    may_change(&caller)?;
    let Some(wa_id) = mostrador_core::phone::customer_id(&wa_id) else {
        return Err(AppError::Validation(vec![
            crate::platform::error::FieldError::new("wa_id", "not a WhatsApp id"),
        ]));
    };
    let groups = crate::parties::customers::set_groups(&caller.table, &wa_id, body.groups).await?;
    tracing::info!(merchant = %caller.merchant, customer = %crate::platform::telemetry::redact(&wa_id), groups = groups.len(), actor = %caller.actor, "customer groups set");
    Ok(Json(json!({ "wa_id": wa_id, "groups": groups })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// Per promotion: uses, paid orders, what they charged and the discount given; CSV for a
/// spreadsheet.
async fn report(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Query(q): Query<ReportQuery>,
) -> Result<Response, AppError> {
    let rows: Vec<Stored> = promotions::list(&caller.table, deps.clock.now())
        .await?
        .into_iter()
        .filter(|s| visible(&caller, s))
        .collect();
    match q.format.as_deref() {
        None | Some("json") => {
            let totals = json!({
                "uses": rows.iter().map(|r| r.uses).sum::<i64>(),
                "paid_orders": rows.iter().map(|r| r.paid_orders).sum::<i64>(),
                "revenue": rows.iter().map(|r| r.revenue.0).sum::<i64>(),
                "discount_given": rows.iter().map(|r| r.discount_given.0).sum::<i64>(),
            });
            let rows: Vec<Value> = rows
                .iter()
                .map(|r| {
                    json!({
                        "id": r.promotion.id,
                        "name": r.promotion.name,
                        "code": r.promotion.code,
                        "status": r.status,
                        "uses": r.uses,
                        "paid_orders": r.paid_orders,
                        "revenue": r.revenue,
                        "discount_given": r.discount_given,
                    })
                })
                .collect();
            Ok(Json(json!({ "promotions": rows, "totals": totals })).into_response())
        }
        Some("csv") => Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            promotions::csv(&rows)?,
        )
            .into_response()),
        Some(_) => Err(AppError::Validation(vec![
            crate::platform::error::FieldError::new("format", "json o csv"),
        ])),
    }
}
