//! The one error a customer or merchant can fix: a field and what is wrong with it, in Spanish.

use serde::Serialize;
use std::fmt;

/// A fiscal field that cannot go on an invoice, with a message written for the person who typed it.
///
/// `field` is a stable machine name (`"rfc"`, `"codigo_postal"`, `"lineas[2].precio"`) for 422
/// responses; `message` is shown as is in WhatsApp and in the merchant console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FiscalError {
    /// Name of the field at fault (`rfc`, `nombre`, `regimen_fiscal`, `uso_cfdi`, …).
    pub field: String,
    /// What is wrong and how to fix it, in Spanish.
    pub message: String,
}

impl FiscalError {
    /// A new error on `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FiscalError {
        FiscalError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error, reported on a field nested under `prefix` (`lineas[3]` + `precio`).
    pub fn under(mut self, prefix: &str) -> FiscalError {
        self.field = format!("{prefix}.{}", self.field);
        self
    }
}

impl fmt::Display for FiscalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FiscalError {}

/// Every field error found at once (never empty), so a form can be fixed in one go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FiscalErrors(Vec<FiscalError>);

impl FiscalErrors {
    /// The errors, in the order the fields were checked.
    pub fn as_slice(&self) -> &[FiscalError] {
        &self.0
    }

    /// The errors as a vector.
    pub fn into_vec(self) -> Vec<FiscalError> {
        self.0
    }

    /// Whether some error is about `field`.
    pub fn has_field(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }

    /// `Ok(value)` when nothing was found, the errors otherwise.
    pub(crate) fn check<T>(errors: Vec<FiscalError>, value: impl FnOnce() -> T) -> Result<T, Self> {
        if errors.is_empty() {
            Ok(value())
        } else {
            Err(FiscalErrors(errors))
        }
    }
}

impl From<FiscalError> for FiscalErrors {
    fn from(error: FiscalError) -> Self {
        FiscalErrors(vec![error])
    }
}

impl std::ops::Deref for FiscalErrors {
    type Target = [FiscalError];
    fn deref(&self) -> &[FiscalError] {
        &self.0
    }
}

impl IntoIterator for FiscalErrors {
    type Item = FiscalError;
    type IntoIter = std::vec::IntoIter<FiscalError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for FiscalErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(&e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for FiscalErrors {}

/// Collects field errors while a builder checks everything, then reports them together.
#[derive(Debug, Default)]
pub(crate) struct Problems(pub(crate) Vec<FiscalError>);

impl Problems {
    /// Keeps the value, or records the error and gives `None`.
    pub(crate) fn take<T>(&mut self, result: Result<T, FiscalError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    /// Records an error.
    pub(crate) fn push(&mut self, error: FiscalError) {
        self.0.push(error);
    }

    /// Whether nothing was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The recorded errors as the builder's failure (call only when not empty).
    pub(crate) fn into_errors(self) -> FiscalErrors {
        FiscalErrors(self.0)
    }
}
