//! Cancelling a stamped invoice through the merchant's PAC, with SAT's motivo 01–04.

use super::issue::{self, InvoiceStatus};
use super::settings;
use crate::platform::error::{AppError, FieldError};
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_cfdi::pac::{CancelRequest, CancelStatus};
use serde::Deserialize;

/// The merchant's cancellation request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelInput {
    /// "01" (with `folio_sustitucion`), "02", "03" or "04".
    pub motivo: String,
    #[serde(default)]
    pub folio_sustitucion: Option<String>,
}

/// Asks the PAC to cancel invoice `id`; the record keeps SAT's answer.
pub async fn cancel(
    deps: &Deps,
    merchant: &MerchantId,
    id: &str,
    input: &CancelInput,
) -> Result<issue::InvoiceRecord, AppError> {
    let table = TenantTable::new(deps.table.clone(), merchant);
    let mut rec = issue::get(&table, id)
        .await?
        .ok_or_else(|| AppError::NotFound("invoice".into()))?;
    if rec.status != InvoiceStatus::Stamped {
        return Err(AppError::Conflict(format!(
            "only a stamped invoice can be cancelled; this one is {:?}",
            rec.status
        )));
    }
    let issuing = settings::issuing(deps, merchant)
        .await
        .map_err(|e| AppError::Conflict(e.to_string()))?;
    let request = CancelRequest::new(
        rec.uuid.as_deref().unwrap_or_default(),
        &issuing.issuer.rfc,
        rec.receptor_rfc.as_deref().unwrap_or_default(),
        rec.total.as_deref().unwrap_or_default(),
        &input.motivo,
        input.folio_sustitucion.as_deref(),
    )
    .map_err(|e| {
        let field = match e {
            mostrador_cfdi::pac::CancelRequestError::Motivo(_) => "motivo",
            _ => "folio_sustitucion",
        };
        AppError::Validation(vec![FieldError::new(field, e.to_string())])
    })?;
    let outcome = issuing.pac.cancel(&request).await.map_err(|e| {
        if e.retryable() {
            AppError::Unavailable(e.to_string())
        } else {
            AppError::Conflict(format!("the PAC refused the cancellation: {e}"))
        }
    })?;
    rec.cancel_status = Some(format!(
        "{:?}: {} ({})",
        outcome.status, outcome.message, outcome.code
    ));
    if outcome.status == CancelStatus::Accepted {
        rec.status = InvoiceStatus::Cancelled;
    }
    rec.updated_at = deps.clock.now_secs();
    issue::store(&table, &rec).await?;
    tracing::info!(merchant = %merchant, invoice = %id, status = ?outcome.status, "invoice cancellation requested");
    Ok(rec)
}
