//! Use-case errors as HTTP answers: the status of each kind and the JSON body
//! `{"error": {"code", "message", "fields"?}}`. The only place an error meets a status code.

use crate::notifications::send::NotifyError;
use crate::platform::error::{AppError, ErrorKind, FieldError};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a [FieldError]>,
}

/// The HTTP status of a use case's error.
pub(crate) fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Unauthorized => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A JSON error response with a given status, code and message.
pub fn json_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = Body {
        error: Inner {
            code,
            message: message.into(),
            fields: None,
        },
    };
    (status, Json(body)).into_response()
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = (status_of(&self), self.code());
        match self.kind() {
            ErrorKind::Internal => tracing::error!(error = %self.cause_chain(), "request failed"),
            ErrorKind::Retryable => {
                tracing::warn!(error = %self.cause_chain(), "dependency unavailable")
            }
            _ => {}
        }
        let fields = match &self {
            AppError::Validation(f) => Some(f.as_slice()),
            _ => None,
        };
        let body = Body {
            error: Inner {
                code,
                message: self.to_string(),
                fields,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// A refused notification: its own codes (consent, caps, a reused key) besides the common ones.
impl IntoResponse for NotifyError {
    fn into_response(self) -> Response {
        match self {
            NotifyError::Invalid(fields) => AppError::Validation(fields).into_response(),
            NotifyError::Consent(r) => {
                json_error(StatusCode::UNPROCESSABLE_ENTITY, r.code(), r.message())
            }
            NotifyError::Cap(code) => json_error(
                StatusCode::TOO_MANY_REQUESTS,
                code,
                "the customer's daily cap for business-initiated messages is reached; nothing was queued",
            ),
            NotifyError::NotApproved(why) => json_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "template_not_approved",
                why,
            ),
            NotifyError::KeyReused => json_error(
                StatusCode::CONFLICT,
                "idempotency_key_reused",
                "this idempotency key was used for a different notification",
            ),
            NotifyError::Api(e) => e.into_response(),
        }
    }
}
