//! Merchant API for the catalog and stock: the POS integration.

use super::auth::Merchant;
use crate::commerce::catalog::{self, BatchReport, StockRow};
use crate::commerce::sat_catalog;
use crate::parties::merchants::{self, Caller};
use crate::platform::error::{AppError, FieldError};
use crate::platform::Deps;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
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
        .route("/v1/branches/{branch_id}/stock/import", post(import_stock))
        .route("/v1/sat/claves-prod-serv", get(sat_claves))
        .route("/v1/sat/claves-unidad", get(sat_units))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SatQuery {
    /// Words of a description ("vitaminas") or the first digits of a code.
    #[serde(default)]
    q: String,
    limit: Option<usize>,
}

/// `GET /v1/sat/claves-prod-serv?q=`: SAT's c_ClaveProdServ entries matching a shop owner's words
/// or the first digits of a code, best first (the product form's search).
async fn sat_claves(
    Merchant(_caller): Merchant,
    Query(q): Query<SatQuery>,
) -> Result<Json<Value>, AppError> {
    if q.q.chars().count() > 100 {
        return Err(AppError::Validation(vec![FieldError::new(
            "q",
            "la búsqueda lleva a lo más 100 caracteres",
        )]));
    }
    if q.limit
        .is_some_and(|l| l == 0 || l > sat_catalog::MAX_RESULTS)
    {
        return Err(AppError::Validation(vec![FieldError::new(
            "limit",
            format!("de 1 a {}", sat_catalog::MAX_RESULTS),
        )]));
    }
    // The catalog's index is built once per process; off the async workers.
    let found =
        tokio::task::spawn_blocking(move || sat_catalog::search(&q.q, q.limit.unwrap_or(20)))
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
    Ok(Json(json!({ "results": found })))
}

/// `GET /v1/sat/claves-unidad`: the c_ClaveUnidad a product may use, with SAT's names.
async fn sat_units(Merchant(_caller): Merchant) -> Json<Value> {
    let units: Vec<Value> = mostrador_core::catalog::CLAVES_UNIDAD
        .iter()
        .map(|(code, name)| json!({ "code": code, "name": name }))
        .collect();
    Json(json!({ "units": units }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportParams {
    /// Check every row and show what would change, applying nothing.
    #[serde(default)]
    dry_run: bool,
    /// Apply the valid rows even when others have problems.
    #[serde(default)]
    partial: bool,
}

/// Column names a stock count's SKU goes by in merchants' spreadsheets.
const SKU_COLUMNS: &[&str] = &[
    "sku",
    "codigo",
    "clave",
    "code",
    "codigo de barras",
    "ean",
    "upc",
];
/// Column names of the counted units.
const COUNT_COLUMNS: &[&str] = &[
    "cantidad",
    "conteo",
    "existencia",
    "existencias",
    "quantity",
    "stock",
    "piezas",
    "inventario",
];

/// A whole number of units as a spreadsheet writes it ("12", "12.0", "1,200").
fn units(cell: &str) -> Result<i64, &'static str> {
    let cell = cell.trim().replace(',', "");
    if cell.is_empty() {
        return Err("falta la cantidad");
    }
    let cell = cell.strip_suffix(".0").unwrap_or(&cell);
    cell.parse::<i64>()
        .map_err(|_| "la cantidad debe ser un número entero de piezas")
}

/// `POST /v1/branches/{id}/stock/import`: a stock count from a CSV (UTF-8 or Windows-1252, comma or
/// semicolon) or Excel file with a SKU column and a count column. `?dry_run=true` checks every row
/// and shows the change without applying anything; otherwise it applies like `PUT .../stock`
/// (nothing when any row has a problem, unless `?partial=true`).
async fn import_stock(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(branch_id): Path<String>,
    Query(p): Query<ImportParams>,
    body: Bytes,
) -> Result<Response, AppError> {
    // A dry run changes nothing: no catalog push for it.
    let applied = !p.dry_run;
    let answer =
        import_stock_inner(Merchant(caller.clone()), Path(branch_id), Query(p), body).await?;
    sync_later(&deps, &caller, applied && answer.status().is_success()).await;
    Ok(answer)
}

async fn import_stock_inner(
    Merchant(caller): Merchant,
    Path(branch_id): Path<String>,
    Query(p): Query<ImportParams>,
    body: Bytes,
) -> Result<Response, AppError> {
    branch_of(&caller, &branch_id).await?;
    let sheet = crate::commerce::sheets::read(&body)?;
    let (Some(sku_at), Some(count_at)) = (sheet.column(SKU_COLUMNS), sheet.column(COUNT_COLUMNS))
    else {
        return Err(AppError::Validation(vec![FieldError::new(
            "header",
            "el archivo necesita una columna de SKU (sku, código) y una de cantidad (cantidad, conteo, existencia)",
        )]));
    };
    let mut rows = Vec::new();
    let mut unreadable = Vec::new();
    for (i, cells) in sheet.rows.iter().enumerate() {
        let number = i + 1;
        let sku = cells.get(sku_at).cloned().unwrap_or_default();
        match units(cells.get(count_at).map(String::as_str).unwrap_or_default()) {
            Ok(quantity) => rows.push((
                number,
                StockRow {
                    sku,
                    quantity: Some(quantity),
                    delta: None,
                },
            )),
            Err(why) => unreadable.push(catalog::RowError {
                row: number,
                sku: Some(sku),
                errors: vec![FieldError::new("quantity", why)],
            }),
        }
    }
    if p.dry_run {
        let (_, valid, mut rejected) =
            catalog::check_stock(&caller.table, &branch_id, rows, true).await?;
        rejected.extend(unreadable);
        rejected.sort_by_key(|r| r.row);
        let names: std::collections::HashMap<String, String> = catalog::all_products(&caller.table)
            .await?
            .into_iter()
            .map(|p| (p.sku, p.name))
            .collect();
        let current = catalog::branch_stock(&caller.table, &branch_id).await?;
        let changes: Vec<Value> = valid
            .iter()
            .map(|(row, sku, quantity)| {
                let now = current.get(sku).cloned().unwrap_or_default();
                json!({
                    "row": row,
                    "sku": sku,
                    "name": names.get(sku),
                    "counted": quantity,
                    "on_shelf_now": now.available + now.reserved,
                    "reserved": now.reserved,
                })
            })
            .collect();
        return Ok(dry_run_answer(
            json!({
                "dry_run": true,
                "received": sheet.rows.len(),
                "valid": changes.len(),
                "changes": changes,
                "rejected": rejected,
            }),
            p.partial,
        ));
    }
    Ok(report(
        catalog::apply_checked(&caller.table, &branch_id, rows, unreadable, true, p.partial)
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchParams {
    #[serde(default)]
    partial: bool,
    /// Check every row and say what would change, writing nothing.
    #[serde(default)]
    dry_run: bool,
}

#[derive(Deserialize)]
struct Page {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// After a change of products or stock: the Meta catalog is pushed a little later (debounced). A
/// failure to schedule it is logged; the change itself stands.
async fn sync_later(deps: &Deps, caller: &Caller, changed: bool) {
    if !changed {
        return;
    }
    if let Err(e) = crate::commerce::catalog_sync::schedule(deps, &caller.merchant).await {
        tracing::warn!(merchant = %caller.merchant, error = %e, "could not schedule the Meta catalog push");
    }
}

fn whole_merchant(caller: &Caller) -> Result<(), AppError> {
    match &caller.branch {
        Some(_) => Err(AppError::Forbidden(
            "a branch-limited key cannot change the merchant's catalog".into(),
        )),
        None => Ok(()),
    }
}

/// A dry run answers as the same call would without it: 200 when it would apply (every row valid,
/// or `partial` with some valid row), 422 `validation_failed` with every row's reasons when it
/// would apply nothing; the preview (its `valid` count, `changes` and `rejected` rows) comes in
/// both, under `preview` in the 422.
fn dry_run_answer(preview: Value, partial: bool) -> Response {
    let rejected = preview["rejected"].clone();
    let problems = rejected.as_array().is_some_and(|r| !r.is_empty());
    let valid = preview["valid"].as_u64().unwrap_or(0);
    if !problems || (partial && valid > 0) {
        return (StatusCode::OK, Json(preview)).into_response();
    }
    let body = json!({
        "error": {
            "code": "validation_failed",
            "message": "algunas filas tienen problemas; no se aplicaría nada",
            "rows": rejected,
        },
        "preview": preview,
    });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
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
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Query(p): Query<BatchParams>,
    body: Bytes,
) -> Result<Response, AppError> {
    let applied = !p.dry_run;
    let answer = bulk_inner(Merchant(caller.clone()), Query(p), body).await?;
    sync_later(&deps, &caller, applied && answer.status().is_success()).await;
    Ok(answer)
}

async fn bulk_inner(
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
    products_answer(&caller, rows, &p).await
}

/// A product batch applied (200, or 422 when nothing applied), or with `dry_run` only checked.
async fn products_answer(
    caller: &Caller,
    rows: Vec<Result<Product, Vec<FieldError>>>,
    p: &BatchParams,
) -> Result<Response, AppError> {
    if p.dry_run {
        let preview = catalog::preview_products(&caller.table, rows).await?;
        return Ok(dry_run_answer(json!(preview), p.partial));
    }
    Ok(report(
        catalog::upsert_products(&caller.table, rows, p.partial).await?,
    ))
}

async fn import_csv(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Query(p): Query<BatchParams>,
    body: Bytes,
) -> Result<Response, AppError> {
    let applied = !p.dry_run;
    let answer = import_csv_inner(Merchant(caller.clone()), Query(p), body).await?;
    sync_later(&deps, &caller, applied && answer.status().is_success()).await;
    Ok(answer)
}

async fn import_csv_inner(
    Merchant(caller): Merchant,
    Query(p): Query<BatchParams>,
    body: Bytes,
) -> Result<Response, AppError> {
    whole_merchant(&caller)?;
    // CSV in UTF-8 or Windows-1252 (comma or semicolon), or an Excel workbook: read as UTF-8 CSV.
    let text = crate::commerce::sheets::read(&body)?.to_csv()?;
    let rows = catalog::parse_csv(&text)?;
    products_answer(&caller, rows, &p).await
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

/// `PUT /v1/products/{sku}`: creates or replaces the product; with `If-None-Match: *` only
/// creates it (409 when the SKU exists), so a new product never overwrites another.
async fn put_one(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(sku): Path<String>,
    headers: axum::http::HeaderMap,
    Json(product): Json<Product>,
) -> Result<Json<Product>, AppError> {
    let create_only = match headers.get(axum::http::header::IF_NONE_MATCH) {
        None => false,
        Some(v) if v.as_bytes() == b"*" => true,
        Some(_) => {
            return Err(AppError::BadRequest(
                "If-None-Match solo acepta * (crear sin reemplazar)".into(),
            ))
        }
    };
    let answer = put_one_inner(
        Merchant(caller.clone()),
        Path(sku),
        create_only,
        Json(product),
    )
    .await?;
    sync_later(&deps, &caller, true).await;
    Ok(answer)
}

async fn put_one_inner(
    Merchant(caller): Merchant,
    Path(sku): Path<String>,
    create_only: bool,
    Json(product): Json<Product>,
) -> Result<Json<Product>, AppError> {
    whole_merchant(&caller)?;
    if product.sku != sku {
        return Err(AppError::Validation(vec![FieldError::new(
            "sku",
            "el SKU del producto debe ser el mismo que el de la dirección",
        )]));
    }
    if create_only {
        catalog::create_product(&caller.table, product.clone()).await?;
        return Ok(Json(product));
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
    let products: std::collections::HashMap<String, Product> = catalog::all_products(&caller.table)
        .await?
        .into_iter()
        .map(|p| (p.sku.clone(), p))
        .collect();
    let mut rows: Vec<Value> = catalog::branch_stock(&caller.table, &branch_id)
        .await?
        .into_iter()
        .map(|(sku, s)| {
            let product = products.get(&sku);
            let min_stock = product
                .and_then(|p| p.min_stock)
                .unwrap_or(mostrador_core::catalog::DEFAULT_MIN_STOCK);
            // An inactive product is not restocked: never "low".
            let low = product.is_some_and(|p| p.active && p.is_low(s.available));
            json!({
                "sku": sku,
                "name": product.map(|p| p.name.as_str()),
                "available": s.available,
                "reserved": s.reserved,
                "min_stock": min_stock,
                "low": low,
            })
        })
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
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(branch_id): Path<String>,
    Query(p): Query<BatchParams>,
    body: Bytes,
) -> Result<Response, AppError> {
    let answer =
        set_counts_inner(Merchant(caller.clone()), Path(branch_id), Query(p), body).await?;
    sync_later(&deps, &caller, answer.status().is_success()).await;
    Ok(answer)
}

async fn set_counts_inner(
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
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(branch_id): Path<String>,
    Query(p): Query<BatchParams>,
    body: Bytes,
) -> Result<Response, AppError> {
    let answer = adjust_inner(Merchant(caller.clone()), Path(branch_id), Query(p), body).await?;
    sync_later(&deps, &caller, answer.status().is_success()).await;
    Ok(answer)
}

async fn adjust_inner(
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
