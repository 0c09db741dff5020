//! Merchant API for orders.

use super::auth::Merchant;
use crate::commerce::fulfilment;
use crate::commerce::orders::{self, Order, OrderFilter, OrderStatus};
use crate::platform::error::AppError;
use crate::platform::Deps;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

/// Order routes under `/v1`.
pub fn routes() -> Router<Deps> {
    Router::new()
        .route("/v1/orders", get(list))
        .route("/v1/orders/{order_id}", get(get_one))
        .route("/v1/orders/{order_id}/cancel", post(cancel))
        .route("/v1/orders/{order_id}/status", post(set_status))
        .route("/v1/orders/{order_id}/refund", post(refund))
}

async fn list(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Query(mut filter): Query<OrderFilter>,
) -> Result<Json<Value>, AppError> {
    if let Some(only) = &caller.branch {
        filter.branch_id = Some(only.clone());
    }
    let (orders, cursor) = orders::list(&caller.table, &filter).await?;
    // The customer's name and delivery address are sealed at rest; the merchant reads them here.
    let orders = orders::open_all(&deps, &caller.table, orders).await;
    Ok(Json(json!({ "orders": orders, "cursor": cursor })))
}

async fn owned(caller: &crate::parties::merchants::Caller, id: &str) -> Result<Order, AppError> {
    let order = orders::get(&caller.table, id)
        .await?
        .ok_or_else(|| AppError::NotFound("order".into()))?;
    caller.check_branch(&order.branch_id)?;
    Ok(order)
}

/// An order, with its individual invoice's record when one was asked for (`invoice`: null otherwise).
async fn get_one(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let order = orders::open_personal(&deps, &caller.table, owned(&caller, &id).await?).await;
    let invoice = crate::invoicing::issue::current_for_order(&caller.table, &order.id).await?;
    let mut body = serde_json::to_value(&order).map_err(|e| AppError::Internal(e.into()))?;
    body["invoice"] = serde_json::to_value(invoice).map_err(|e| AppError::Internal(e.into()))?;
    Ok(Json(body))
}

async fn cancel(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(id): Path<String>,
) -> Result<Json<Order>, AppError> {
    owned(&caller, &id).await?;
    let order = fulfilment::cancel(&deps, &caller.merchant, &id).await?;
    Ok(Json(
        orders::open_personal(&deps, &caller.table, order).await,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    status: OrderStatus,
}

async fn set_status(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(id): Path<String>,
    Json(change): Json<StatusChange>,
) -> Result<Json<Order>, AppError> {
    owned(&caller, &id).await?;
    let order = fulfilment::advance(&deps, &caller.merchant, &id, change.status).await?;
    Ok(Json(
        orders::open_personal(&deps, &caller.table, order).await,
    ))
}

/// What to give back: nothing said is the whole order (or what partial refunds left).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RefundBody {
    /// Centavos, spread over the lines in proportion to what is left of each.
    #[serde(default)]
    amount: Option<i64>,
    /// Units of some lines.
    #[serde(default)]
    lines: Option<Vec<orders::RefundLine>>,
    #[serde(default)]
    reason: Option<String>,
}

async fn refund(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(id): Path<String>,
    body: Option<Json<RefundBody>>,
) -> Result<Json<Order>, AppError> {
    use crate::flows::paying::RefundOf;
    owned(&caller, &id).await?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let what = match (body.amount, body.lines) {
        (Some(_), Some(_)) => {
            return Err(AppError::Validation(vec![
                crate::platform::error::FieldError::new(
                    "amount",
                    "indica amount o lines, no ambos",
                ),
            ]))
        }
        (Some(amount), None) => RefundOf::Amount(mostrador_core::money::Centavos(amount)),
        (None, Some(lines)) => RefundOf::Lines(lines),
        (None, None) => RefundOf::All,
    };
    let order =
        crate::flows::paying::refund_part(&deps, &caller.merchant, &id, what, body.reason).await?;
    Ok(Json(
        orders::open_personal(&deps, &caller.table, order).await,
    ))
}
