//! `GET|POST /webhooks/whatsapp`: Meta's verification handshake and signed event deliveries.
//!
//! On the request path only the table and the inbound queue are touched; the conversation runs
//! behind the queue.

use crate::flows::ingest;
use crate::platform::error::AppError;
use crate::platform::Deps;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// Routes of the webhook-ingest function.
pub fn routes() -> Router<Deps> {
    Router::new().route("/webhooks/whatsapp", get(verify).post(receive))
}

#[derive(Deserialize)]
struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

async fn verify(State(deps): State<Deps>, Query(h): Query<Handshake>) -> Response {
    let expected = deps.config.whatsapp_verify_token.expose().as_bytes();
    let token_ok = h
        .token
        .as_deref()
        .is_some_and(|t| !expected.is_empty() && bool::from(t.as_bytes().ct_eq(expected)));
    match (h.mode.as_deref(), h.challenge) {
        (Some("subscribe"), Some(challenge)) if token_ok => {
            (StatusCode::OK, challenge).into_response()
        }
        _ => {
            tracing::warn!("webhook verification refused");
            AppError::Forbidden("verification failed".into()).into_response()
        }
    }
}

async fn receive(
    State(deps): State<Deps>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ingest::IngestReport>, AppError> {
    let header = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if let Err(e) = mostrador_whatsapp::signature::verify(
        deps.config.whatsapp_app_secret.expose().as_bytes(),
        &body,
        header,
    ) {
        tracing::warn!(reason = %e, "webhook signature refused");
        return Err(AppError::Unauthorized);
    }
    let report = ingest::ingest(&deps, &body).await?;
    Ok(Json(report))
}
