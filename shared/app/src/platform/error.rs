//! The errors of the use cases. Each says what kind of failure it is — the caller's input, something
//! missing, a conflict with the current state, a dependency to retry, or a fault of ours — and keeps
//! its cause. Only the edges map them: `entry::http` to statuses and JSON, `entry::pipeline` to queue
//! retries or the dead-letter queue.

use serde::Serialize;

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    /// A reason for a field.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// A use case's failure. Client faults say what was wrong; our faults say nothing internal when
/// shown (the cause goes to the log).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("missing or invalid credentials")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("temporarily unavailable, retry later")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// What kind of failure an error is: what the edges decide on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The thing asked for does not exist (or is not the caller's).
    NotFound,
    /// The caller's input is wrong: retrying the same input fails the same way.
    Invalid,
    /// No or wrong credentials.
    Unauthorized,
    /// The credentials do not allow this.
    Forbidden,
    /// The current state does not allow it (a transition, a name taken).
    Conflict,
    /// A dependency failed for now: the same request may succeed later.
    Retryable,
    /// A fault of ours or an unexpected failure.
    Internal,
}

impl AppError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AppError::NotFound(_) => ErrorKind::NotFound,
            AppError::Unauthorized => ErrorKind::Unauthorized,
            AppError::Forbidden(_) => ErrorKind::Forbidden,
            AppError::BadRequest(_) | AppError::Validation(_) | AppError::PayloadTooLarge(_) => {
                ErrorKind::Invalid
            }
            AppError::Conflict(_) => ErrorKind::Conflict,
            AppError::Unavailable(_) => ErrorKind::Retryable,
            AppError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The stable error code clients and logs see.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::NotFound(_) => "not_found",
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::BadRequest(_) => "bad_request",
            AppError::Conflict(_) => "conflict",
            AppError::Validation(_) => "validation_failed",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::Unavailable(_) => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    /// The whole story for a log line: what was wrong and every cause under it.
    pub(crate) fn cause_chain(&self) -> String {
        match self {
            AppError::Unavailable(why) => format!("unavailable: {why}"),
            AppError::Internal(e) => format!("{e:#}"),
            AppError::Validation(fields) => fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.reason))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        }
    }
}

impl From<mostrador_store::StoreError> for AppError {
    fn from(e: mostrador_store::StoreError) -> Self {
        use mostrador_store::StoreError as S;
        match e {
            S::Unavailable(why) => AppError::Unavailable(why),
            S::Invalid(why) => AppError::BadRequest(why),
            other => AppError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<mostrador_queue::QueueError> for AppError {
    fn from(e: mostrador_queue::QueueError) -> Self {
        use mostrador_queue::QueueError as Q;
        match e {
            Q::Unavailable(why) => AppError::Unavailable(why),
            Q::Invalid(why) => AppError::BadRequest(why),
            other => AppError::Internal(anyhow::Error::new(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_errors_are_invalid_and_dependency_failures_retryable() {
        assert_eq!(AppError::BadRequest("x".into()).kind(), ErrorKind::Invalid);
        assert_eq!(
            AppError::Validation(vec![FieldError::new("rfc", "13 characters")]).kind(),
            ErrorKind::Invalid
        );
        assert_eq!(AppError::PayloadTooLarge(10).kind(), ErrorKind::Invalid);
        assert_eq!(
            AppError::NotFound("order".into()).kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            AppError::Conflict("paid".into()).kind(),
            ErrorKind::Conflict
        );
        let throttled: AppError =
            mostrador_store::StoreError::Unavailable("throughput exceeded".into()).into();
        assert_eq!(throttled.kind(), ErrorKind::Retryable);
        let invalid: AppError = mostrador_store::StoreError::Invalid("key too long".into()).into();
        assert_eq!(invalid.kind(), ErrorKind::Invalid);
    }

    #[test]
    fn the_cause_chain_keeps_what_the_message_hides() {
        let e = AppError::Internal(anyhow::anyhow!("disk full").context("writing the order"));
        assert_eq!(e.to_string(), "internal error");
        assert_eq!(e.cause_chain(), "writing the order: disk full");
        let e = AppError::Unavailable("DynamoDB throttled".into());
        assert_eq!(e.to_string(), "temporarily unavailable, retry later");
        assert_eq!(e.cause_chain(), "unavailable: DynamoDB throttled");
        let e = AppError::Validation(vec![FieldError::new("rfc", "13 characters")]);
        assert_eq!(e.cause_chain(), "rfc: 13 characters");
    }
}
