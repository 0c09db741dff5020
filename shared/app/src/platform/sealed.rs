//! Secrets a merchant gives us (provider credentials, CSD, customers' fiscal data) as JSON sealed
//! through Keys, bound to a context so that one merchant's envelope never opens as another's.

use crate::platform::error::AppError;
use crate::platform::Deps;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Seals `value` as JSON for `context`.
pub async fn seal_json<T: Serialize>(
    deps: &Deps,
    value: &T,
    context: &str,
) -> Result<Vec<u8>, AppError> {
    let plain = serde_json::to_vec(value).map_err(|e| AppError::Internal(e.into()))?;
    deps.keys
        .seal(&plain, context)
        .await
        .map_err(|e| AppError::Internal(e.into()))
}

/// Opens what [`seal_json`] sealed for `context`.
pub async fn open_json<T: DeserializeOwned>(
    deps: &Deps,
    sealed: &[u8],
    context: &str,
) -> Result<T, AppError> {
    let plain = deps
        .keys
        .open(sealed, context)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    serde_json::from_slice(&plain).map_err(|e| AppError::Internal(e.into()))
}
