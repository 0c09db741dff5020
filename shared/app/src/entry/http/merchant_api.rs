//! Merchant API routes: the merchant's own profile, branches and API keys; health.

use super::auth::Merchant;
use crate::parties::merchants::{self, Branch, BranchInput};
use crate::platform::error::AppError;
use crate::platform::Deps;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::{json, Value};

/// The OpenAPI 3.1 document of the HTTP surface, kept in the repository.
pub const OPENAPI: &str = include_str!("../../../openapi.json");

/// Routes of the merchant API function.
pub fn routes() -> Router<Deps> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/merchant", get(me))
        .route("/v1/branches", get(list_branches).post(create_branch))
        .route(
            "/v1/branches/{branch_id}",
            get(get_branch).put(update_branch),
        )
        .route("/v1/api-keys", get(list_keys).post(issue_key))
        .route("/v1/api-keys/{key_id}", delete(revoke_key))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn me(State(deps): State<Deps>, Merchant(caller): Merchant) -> Result<Json<Value>, AppError> {
    let merchant = merchants::get_merchant(&deps, &caller.merchant)
        .await?
        .ok_or_else(|| AppError::NotFound("merchant".into()))?;
    Ok(Json(
        json!({ "merchant": merchant, "key_id": caller.key_id, "branch_id": caller.branch }),
    ))
}

async fn list_branches(Merchant(caller): Merchant) -> Result<Json<Value>, AppError> {
    Ok(Json(
        json!({ "branches": merchants::list_branches(&caller).await? }),
    ))
}

async fn create_branch(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Json(input): Json<BranchInput>,
) -> Result<(StatusCode, Json<Branch>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(merchants::create_branch(&deps, &caller, input).await?),
    ))
}

async fn get_branch(
    Merchant(caller): Merchant,
    Path(id): Path<String>,
) -> Result<Json<Branch>, AppError> {
    caller.check_branch(&id)?;
    merchants::get_branch(&caller.table, &id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound("branch".into()))
}

async fn update_branch(
    Merchant(caller): Merchant,
    Path(id): Path<String>,
    Json(input): Json<BranchInput>,
) -> Result<Json<Branch>, AppError> {
    Ok(Json(merchants::update_branch(&caller, &id, input).await?))
}

async fn list_keys(Merchant(caller): Merchant) -> Result<Json<Value>, AppError> {
    Ok(Json(
        json!({ "api_keys": merchants::list_keys(&caller.table).await? }),
    ))
}

/// `POST /v1/api-keys`: a new key for the merchant's own systems (the POS, the fintech's backend),
/// issued by the owner (or a full-merchant key); `branch_id` limits it to one branch. The key is
/// shown only in this answer.
async fn issue_key(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    body: Option<Json<Value>>,
) -> Result<(axum::http::StatusCode, Json<merchants::IssuedKey>), AppError> {
    caller.check_owner()?;
    let input: merchants::NewApiKey = match body {
        None => merchants::NewApiKey::default(),
        Some(Json(v)) => super::body::object(v, "las opciones de la llave")?,
    };
    let issued = merchants::issue_key(&deps, &caller.merchant, input).await?;
    tracing::info!(merchant = %caller.merchant, key_id = %issued.info.key_id, actor = %caller.actor, "api key issued by the merchant");
    Ok((axum::http::StatusCode::CREATED, Json(issued)))
}

async fn revoke_key(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(key_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    caller.check_owner()?;
    Ok(Json(json!(
        merchants::revoke_key(&deps, &caller.merchant, &key_id).await?
    )))
}
