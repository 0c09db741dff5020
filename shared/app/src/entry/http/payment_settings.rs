//! `GET|PUT /v1/settings/payments`: the merchant's payment provider.

use super::auth::Merchant;
use crate::parties::payment_settings::{self, Credentials};
use crate::platform::config::Mode;
use crate::platform::error::AppError;
use crate::platform::Deps;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// Routes under `/v1/settings/payments`, and the payments that need the merchant.
pub fn routes() -> Router<Deps> {
    Router::new()
        .route("/v1/settings/payments", get(show).put(store))
        .route("/v1/payments/issues", get(issues))
        .route("/v1/payments/issues/resolve", post(resolve_issue))
}

/// Payments that need the merchant: paid a different amount, paid after the order expired or was
/// cancelled, or for no order at all.
async fn issues(Merchant(caller): Merchant) -> Result<Json<Value>, AppError> {
    if caller.branch.is_some() {
        return Err(AppError::Forbidden(
            "a branch-limited key cannot see the merchant's payment issues".into(),
        ));
    }
    let issues = crate::flows::paying::issues(&caller.table).await?;
    Ok(Json(json!({ "issues": issues })))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Resolve {
    /// `flagged` or `unmatched`, as listed.
    kind: String,
    provider: String,
    event_id: String,
    /// `refund`, `accept` or `dismiss`.
    action: crate::flows::paying::Resolution,
    note: Option<String>,
}

/// The owner decides about a kept payment: give it back, keep it, or dismiss it.
async fn resolve_issue(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Json(body): Json<Resolve>,
) -> Result<Json<Value>, AppError> {
    caller.check_owner()?;
    let kind = crate::platform::schema::PaymentIssue::from_name(&body.kind).ok_or_else(|| {
        AppError::Validation(vec![crate::platform::error::FieldError::new(
            "kind",
            "flagged o unmatched",
        )])
    })?;
    if body.note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Err(AppError::Validation(vec![
            crate::platform::error::FieldError::new("note", "hasta 500 caracteres"),
        ]));
    }
    Ok(Json(
        crate::flows::paying::resolve(
            &deps,
            &caller.merchant,
            crate::flows::paying::IssueRef {
                kind,
                provider: &body.provider,
                event_id: &body.event_id,
            },
            body.action,
            &caller.actor,
            body.note.as_deref(),
        )
        .await?,
    ))
}

async fn show(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
) -> Result<Json<Value>, AppError> {
    let provider = payment_settings::configured(&deps, &caller.merchant).await?;
    // With nothing configured, demo mode simulates payments and production issues no links.
    let effective = match provider.as_deref() {
        Some(p) => Some(p),
        None if deps.config.mode == Mode::Demo => Some("sandbox"),
        None => None,
    };
    Ok(Json(
        json!({ "provider": effective, "configured": provider.is_some() }),
    ))
}

async fn store(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Json(credentials): Json<Credentials>,
) -> Result<Json<Value>, AppError> {
    // Whose account the customers' money goes to: the owner's decision alone.
    caller.check_owner()?;
    payment_settings::save(&deps, &caller.merchant, &credentials).await?;
    let callback = format!(
        "{}/webhooks/payments/{}?m={}",
        deps.config.public_url(),
        credentials.name(),
        caller.merchant
    );
    let mut answer =
        json!({ "provider": credentials.name(), "configured": true, "callback_url": callback });
    if let Credentials::Sandbox { .. } = credentials {
        // For integration tests: the merchant signs its own simulated callbacks
        // (x-sandbox-signature: t=<unix>,v1=hex(HMAC-SHA256(key = secret, "<t>.<body>"))).
        answer["sandbox_secret"] = json!(payment_settings::sandbox_secret(&deps, &caller.merchant));
    }
    Ok(Json(answer))
}
