//! The HTTP surface: one router per HTTP function (the Lambdas serve theirs; the local stack merges
//! them), with the shared layers: 3 MB body limit, JSON errors, request ids in spans, JSON 404s.

pub mod admin;
pub mod auth;
pub mod body;
pub mod catalog;
pub mod conversations;
pub mod error;
pub mod invoicing;
pub mod merchant_api;
pub mod messaging;
pub mod notifications;
pub mod orders;
pub mod panel;
pub mod payment_settings;
pub mod payments;
pub mod privacy;
pub mod promotions;
pub mod session;
pub mod webhook;
pub mod webhook_settings;

use crate::platform::Deps;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use error::json_error;

/// Largest accepted request body (Meta's largest webhook payload).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Every route of the merchant-api function, before state and layers.
fn merchant_routes() -> Router<Deps> {
    merchant_api::routes()
        .merge(messaging::routes())
        .merge(notifications::routes())
        .merge(catalog::routes())
        .merge(orders::routes())
        .merge(promotions::routes())
        .merge(conversations::routes())
        .merge(payment_settings::routes())
        .merge(webhook_settings::routes())
        .merge(invoicing::routes())
        .merge(privacy::routes())
        .merge(admin::routes())
        .merge(session::routes())
        .merge(panel::routes())
}

/// The merchant API: `/v1/...`, tracked links and the health check.
pub fn merchant_api(deps: Deps) -> Router {
    lambda_function(merchant_routes(), deps)
}

/// The WhatsApp webhook: `GET|POST /webhooks/whatsapp`.
pub fn whatsapp_webhook(deps: Deps) -> Router {
    lambda_function(webhook::routes(), deps)
}

/// Payment provider callbacks: `POST /webhooks/payments/{provider}`.
pub fn payment_callbacks(deps: Deps) -> Router {
    lambda_function(payments::routes(), deps)
}

/// An HTTP function's router: its routes, the shared layers, and the public URL learned from API
/// Gateway's request context when the deployment does not configure one.
fn lambda_function(routes: Router<Deps>, deps: Deps) -> Router {
    let learn = middleware::from_fn_with_state(deps.clone(), learn_public_url);
    finish(routes.with_state(deps).layer(learn))
}

async fn learn_public_url(
    axum::extract::State(deps): axum::extract::State<Deps>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(lambda_http::request::RequestContext::ApiGatewayV2(c)) =
        request
            .extensions()
            .get::<lambda_http::request::RequestContext>()
    {
        if let Some(domain) = c.domain_name.as_deref() {
            deps.config.public_url.learn_domain(domain);
        }
    }
    next.run(request).await
}

/// Every route of every HTTP function, as the local stack serves them.
pub fn all(deps: Deps) -> Router {
    finish(
        merchant_routes()
            .merge(webhook::routes())
            .merge(payments::routes())
            .with_state(deps),
    )
}

/// Adds the layers every router shares.
pub fn finish(router: Router) -> Router {
    router
        .fallback(not_found)
        .layer(middleware::from_fn(json_errors))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(request_span))
}

async fn not_found() -> Response {
    json_error(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// Framework rejections (405, 413, 415, malformed JSON...) come as plain text; answer them as JSON.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "validation_failed",
        StatusCode::NOT_FOUND => "not_found",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => format!("the body is larger than {MAX_BODY_BYTES} bytes"),
        _ => {
            let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
                .await
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes).trim().to_owned();
            if text.is_empty() || status.is_server_error() {
                status.canonical_reason().unwrap_or("error").to_owned()
            } else {
                text
            }
        }
    };
    json_error(status, code, message)
}

/// Every request runs in a span with its id (API Gateway's, or a fresh one), echoed as `x-request-id`.
async fn request_span(request: Request, next: Next) -> Response {
    use tracing::Instrument;
    // API Gateway's own id (from the Lambda event) so logs match its access logs; else the caller's.
    let gateway_id = match request
        .extensions()
        .get::<lambda_http::request::RequestContext>()
    {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(c)) => c.request_id.clone(),
        _ => None,
    };
    let id = gateway_id
        .as_deref()
        .or_else(|| {
            request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
        })
        .filter(|v| v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path(), merchant = tracing::field::Empty);
    let mut response = next.run(request).instrument(span.clone()).await;
    span.in_scope(|| tracing::debug!(status = response.status().as_u16(), "answered"));
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response.into_response()
}
