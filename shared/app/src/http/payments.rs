//! `POST /webhooks/payments/{provider}`.

use crate::error::ApiError;
use crate::Deps;
use axum::extract::Path;
use axum::routing::post;
use axum::Router;

/// Providers whose callbacks this deployment knows.
pub const PROVIDERS: [&str; 5] = ["stripe", "mercadopago", "conekta", "openpay", "sandbox"];

/// Routes of the payment-callback function.
pub fn routes() -> Router<Deps> {
    Router::new().route("/webhooks/payments/{provider}", post(callback))
}

async fn callback(Path(provider): Path<String>, _body: axum::body::Bytes) -> Result<(), ApiError> {
    if !PROVIDERS.contains(&provider.as_str()) {
        return Err(ApiError::NotFound(format!("payment provider {provider}")));
    }
    // Refusing (rather than acknowledging) keeps the provider retrying until verification exists,
    // so no payment notice is dropped.
    Err(ApiError::Unavailable(format!(
        "callbacks from {provider} are not processed yet"
    )))
}
