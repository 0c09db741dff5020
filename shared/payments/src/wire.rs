//! Small pieces every adapter needs the same way.

use crate::port::PaymentError;
use mostrador_core::money::Centavos;
use serde_json::value::RawValue;

/// Positive centavos as the exact JSON number of decimal pesos (`20050` → `200.50`), never a float.
pub(crate) fn pesos_json(amount: Centavos) -> Result<Box<RawValue>, PaymentError> {
    if amount.0 <= 0 {
        return Err(PaymentError::Refused("the amount must be positive".into()));
    }
    RawValue::from_string(amount.pesos_text())
        .map_err(|e| PaymentError::Refused(format!("amount not writable: {e}")))
}

/// Whether a provider id may go into a URL path: 1-64 letters, digits, `_` and `-`.
pub(crate) fn is_safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
