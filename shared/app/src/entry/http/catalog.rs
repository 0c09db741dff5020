//! Merchant API for the catalog and stock: the POS integration.

use super::auth::Merchant;
use crate::commerce::catalog::{self, BatchReport, StockRow};
use crate::parties::merchants::{self, Caller};
use crate::platform::error::{AppError, FieldError};
use crate::platform::Deps;
use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mostrador_core::catalog::Product;
use serde::Deserialize;
use serde_json::{json, Value};

/// Catalog and stock routes under `/v1`.
pub fn routes() -> Router<Deps> {
    Router::new()
        .route("/v1/products", get(list))
        .route("/v1/products/bulk", post(bulk))
        .route("/v1/products/import", post(import_csv))
        .route("/v1/products/{sku}", get(get_one).put(put_one))
        .route("/v1/branches/{branch_id}/stock", get(stock).put(set_counts))
        .route("/v1/branches/{branch_id}/stock/adjustments", post(adjust))
}

#[derive(Deserialize)]
struct BatchParams {
    #[serde(default)]
    partial: bool,
}

#[derive(Deserialize)]
struct Page {
    limit: Option<u32>,
    cursor: Option<String>,
}

fn whole_merchant(caller: &Caller) -> Result<(), AppError> {
    match &caller.branch {
        Some(_) => Err(AppError::Forbidden(
            "a branch-limited key cannot change the merchant's catalog".into(),
        )),
        None => Ok(()),
    }
}

/// 200 with the report when something applied (or nothing was wrong); 422 with every row's reasons
/// when nothing was applied because of invalid rows.
fn report(report: BatchReport) -> Response {
    if report.applied == 0 && !report.rejected.is_empty() {
        let body = json!({ "error": { "code": "validation_failed", "message": "some rows are invalid; nothing was applied", "rows": report.rejected }, "received": report.received, "applied": 0 });
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
    }
    (StatusCode::OK, Json(json!(report))).into_response()
}

async fn list(
    Merchant(caller): Merchant,
    Query(page): Query<Page>,
) -> Result<Json<Value>, AppError> {
    let (products, cursor) = catalog::list_products(
        &caller.table,
        page.limit.unwrap_or(100).clamp(1, 500),
        page.cursor,
    )
    .await?;
    Ok(Json(json!({ "products": products, "cursor": cursor })))
}

async fn bulk(
    Merchant(caller): Merchant,
    Query(p): Query<BatchParams>,
    body: Bytes,
) -> Result<Response, AppError> {
    whole_merchant(&caller)?;
    let raw: Vec<Value> = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(rows)) => rows,
        Ok(Value::Object(mut o)) => match o.remove("products") {
            Some(Value::Array(rows)) => rows,
            _ => {
                return Err(AppError::BadRequest(
                    "expected a JSON array of products or {\"products\": [...]}".into(),
                ))
            }
        },
        _ => {
            return Err(AppError::BadRequest(
                "expected a JSON array of products".into(),
            ))
        }
    };
    let rows = raw
        .into_iter()
        .map(|v| {
            serde_json::from_value::<Product>(v)
                .map_err(|e| vec![FieldError::new("row", e.to_string())])
        })
        .collect();
    Ok(report(
        catalog::upsert_products(&caller.table, rows, p.partial).await?,
    ))
}

async fn import_csv(
    Merchant(caller): Merchant,
    Query(p): Query<BatchParams>,
    body: Bytes,
) -> Result<Response, AppError> {
    whole_merchant(&caller)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| AppError::BadRequest("the CSV must be UTF-8".into()))?;
    let rows = catalog::parse_csv(text.trim_start_matches('\u{feff}'))?;
    Ok(report(
        catalog::upsert_products(&caller.table, rows, p.partial).await?,
    ))
}

async fn get_one(
    Merchant(caller): Merchant,
    Path(sku): Path<String>,
) -> Result<Json<Product>, AppError> {
    catalog::get_product(&caller.table, &sku)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound("product".into()))
}

async fn put_one(
    Merchant(caller): Merchant,
    Path(sku): Path<String>,
    Json(product): Json<Product>,
) -> Result<Json<Product>, AppError> {
    whole_merchant(&caller)?;
    if product.sku != sku {
        return Err(AppError::Validation(vec![FieldError::new(
            "sku",
            "must match the path",
        )]));
    }
    let result = catalog::upsert_products(&caller.table, vec![Ok(product.clone())], false).await?;
    if let Some(rejected) = result.rejected.into_iter().next() {
        return Err(AppError::Validation(rejected.errors));
    }
    Ok(Json(product))
}

async fn branch_of(caller: &Caller, branch_id: &str) -> Result<(), AppError> {
    caller.check_branch(branch_id)?;
    merchants::get_branch(&caller.table, branch_id)
        .await?
        .map(|_| ())
        .ok_or_else(|| AppError::NotFound("branch".into()))
}

async fn stock(
    Merchant(caller): Merchant,
    Path(branch_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    branch_of(&caller, &branch_id).await?;
    let mut rows: Vec<Value> = catalog::branch_stock(&caller.table, &branch_id)
        .await?
        .into_iter()
        .map(|(sku, s)| json!({ "sku": sku, "available": s.available, "reserved": s.reserved }))
        .collect();
    rows.sort_by(|a, b| a["sku"].as_str().cmp(&b["sku"].as_str()));
    Ok(Json(json!({ "branch_id": branch_id, "stock": rows })))
}

fn stock_rows(body: &[u8]) -> Result<Vec<StockRow>, AppError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| AppError::BadRequest("expected JSON".into()))?;
    let rows = match value {
        Value::Array(rows) => rows,
        Value::Object(mut o) => match o.remove("rows") {
            Some(Value::Array(rows)) => rows,
            _ => {
                return Err(AppError::BadRequest(
                    "expected a JSON array of rows or {\"rows\": [...]}".into(),
                ))
            }
        },
        _ => return Err(AppError::BadRequest("expected a JSON array of rows".into())),
    };
    rows.into_iter()
        .enumerate()
        .map(|(i, v)| {
            serde_json::from_value(v).map_err(|e| {
                AppError::Validation(vec![FieldError::new(
                    format!("rows[{}]", i + 1),
                    e.to_string(),
                )])
            })
        })
        .collect()
}

async fn set_counts(
    Merchant(caller): Merchant,
    Path(branch_id): Path<String>,
    Query(p): Query<BatchParams>,
    body: Bytes,
) -> Result<Response, AppError> {
    branch_of(&caller, &branch_id).await?;
    Ok(report(
        catalog::apply_stock(
            &caller.table,
            &branch_id,
            stock_rows(&body)?,
            true,
            p.partial,
        )
        .await?,
    ))
}

async fn adjust(
    Merchant(caller): Merchant,
    Path(branch_id): Path<String>,
    Query(p): Query<BatchParams>,
    body: Bytes,
) -> Result<Response, AppError> {
    branch_of(&caller, &branch_id).await?;
    Ok(report(
        catalog::apply_stock(
            &caller.table,
            &branch_id,
            stock_rows(&body)?,
            false,
            p.partial,
        )
        .await?,
    ))
}
