//! Extractors for the callers: a merchant's API key or a console session (the console is a client
//! of the same API), and the platform admin key.

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

/// The console's session cookie.
pub const SESSION_COOKIE: &str = "mostrador_session";
/// The header a console request that changes something carries (the session's CSRF token).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session token in the request's cookies, if any.
pub(crate) fn session_token(parts: &Parts) -> Option<String> {
    axum_extra::extract::CookieJar::from_headers(&parts.headers)
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// A merchant's authenticated call; every table access goes through `caller.table`.
///
/// Two ways in: `Authorization: Bearer <API key>` (integrations), or the console's session cookie.
/// A session's request that changes anything (not GET or HEAD) must carry the session's CSRF token
/// in `x-csrf-token`, or it is refused with 403.
pub struct Merchant(pub Caller);

impl FromRequestParts<Deps> for Merchant {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, deps: &Deps) -> Result<Self, AppError> {
        if let Some(key) = bearer(parts) {
            let caller = resolve_key(deps, key).await?;
            tracing::Span::current().record("merchant", caller.merchant.as_str());
            tracing::debug!(merchant = %caller.merchant, key_id = %caller.key_id, "merchant authenticated");
            return Ok(Merchant(caller));
        }
        let session = StaffSession::from_request_parts(parts, deps).await?;
        Ok(Merchant(session.0.caller))
    }
}

/// A console session (cookie), with its CSRF check for requests that change something.
pub struct StaffSession(pub crate::parties::staff::SessionCaller);

impl FromRequestParts<Deps> for StaffSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, deps: &Deps) -> Result<Self, AppError> {
        let token = session_token(parts).ok_or(AppError::Unauthorized)?;
        let session = crate::parties::staff::resolve_session(deps, &token).await?;
        let safe = matches!(
            parts.method,
            axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
        );
        let header = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !safe && !crate::parties::staff::csrf_matches(&session, header) {
            return Err(AppError::Forbidden(
                "falta el token CSRF de la sesión (x-csrf-token)".into(),
            ));
        }
        tracing::Span::current().record("merchant", session.caller.merchant.as_str());
        tracing::debug!(merchant = %session.caller.merchant, key_id = %session.caller.key_id, "console session authenticated");
        Ok(StaffSession(session))
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
