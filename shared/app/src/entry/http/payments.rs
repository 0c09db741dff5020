//! `POST /webhooks/payments/{provider}?m={merchant_id}`: provider callbacks.

use crate::flows::paying::{self, Applied};
use crate::platform::error::AppError;
use crate::platform::Deps;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use mostrador_payments::Callback;

/// Providers whose callbacks this deployment knows.
pub const PROVIDERS: [&str; 5] = ["stripe", "mercadopago", "conekta", "openpay", "sandbox"];

/// Largest callback body.
pub const MAX_CALLBACK_BYTES: usize = 1024 * 1024;

/// Routes of the payment-callback function.
pub fn routes() -> Router<Deps> {
    Router::new().route(
        "/webhooks/payments/{provider}",
        post(callback).layer(DefaultBodyLimit::max(MAX_CALLBACK_BYTES)),
    )
}

fn merchant_of(query: &str) -> String {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == "m")
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

async fn callback(
    State(deps): State<Deps>,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    if !PROVIDERS.contains(&provider.as_str()) {
        return Err(AppError::NotFound(format!("payment provider {provider}")));
    }
    let query = query.unwrap_or_default();
    let headers = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_owned())))
        .collect();
    let callback = Callback {
        body: &body,
        headers,
        query: &query,
        now: deps.clock.now_secs(),
    };
    let applied = paying::handle(&deps, &provider, &merchant_of(&query), &callback).await?;
    Ok(match applied {
        Applied::Handshake { answer } => answer.into_response(),
        other => Json(other).into_response(),
    })
}
