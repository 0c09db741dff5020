//! Extractors for the two kinds of callers: a merchant's API key and the platform admin key.

use crate::parties::merchants::{resolve_key, Caller};
use crate::platform::error::AppError;
use crate::platform::Deps;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// A merchant's authenticated call; every table access goes through `caller.table`.
pub struct Merchant(pub Caller);

impl FromRequestParts<Deps> for Merchant {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, deps: &Deps) -> Result<Self, AppError> {
        let key = bearer(parts).ok_or(AppError::Unauthorized)?;
        let caller = resolve_key(deps, key).await?;
        tracing::Span::current().record("merchant", caller.merchant.as_str());
        tracing::debug!(merchant = %caller.merchant, key_id = %caller.key_id, "merchant authenticated");
        Ok(Merchant(caller))
    }
}

/// The platform operator, holding the admin key.
pub struct Admin;

impl FromRequestParts<Deps> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, deps: &Deps) -> Result<Self, AppError> {
        let key = bearer(parts).ok_or(AppError::Unauthorized)?;
        let expected = deps.config.admin_key.expose().as_bytes();
        if expected.is_empty() || !bool::from(key.as_bytes().ct_eq(expected)) {
            return Err(AppError::Unauthorized);
        }
        Ok(Admin)
    }
}
