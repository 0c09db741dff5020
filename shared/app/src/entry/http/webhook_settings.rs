//! `GET|PUT|DELETE /v1/settings/webhook`: where the merchant's own systems receive signed events.

use super::auth::Merchant;
use crate::parties::hooks;
use crate::platform::error::AppError;
use crate::platform::Deps;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

/// Routes under `/v1/settings/webhook`.
pub fn routes() -> Router<Deps> {
    Router::new().route("/v1/settings/webhook", get(show).put(store).delete(remove))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointInput {
    url: String,
}

async fn show(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
) -> Result<Json<Value>, AppError> {
    let url = hooks::configured_url(&deps, &caller.merchant).await?;
    Ok(Json(json!({ "configured": url.is_some(), "url": url })))
}

async fn store(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Json(input): Json<EndpointInput>,
) -> Result<Json<Value>, AppError> {
    // Where events (and their secret) go: the owner's decision, not a manager's.
    caller.check_owner()?;
    let endpoint = hooks::configure(&deps, &caller.merchant, &input.url).await?;
    Ok(Json(json!({
        "configured": true,
        "url": endpoint.url,
        "secret": endpoint.secret,
        "signature_header": hooks::SIGNATURE_HEADER,
        "tolerance_seconds": hooks::TOLERANCE_SECS,
    })))
}

async fn remove(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
) -> Result<StatusCode, AppError> {
    caller.check_owner()?;
    hooks::remove(&deps, &caller.merchant).await?;
    Ok(StatusCode::NO_CONTENT)
}
