//! Cancelling a stamped invoice through the merchant's PAC, with SAT's motivo 01–04.

use super::issue::{self, InvoiceStatus};
use super::settings;
use crate::platform::due::{self, Job};
use crate::platform::error::{AppError, FieldError};
use crate::platform::records::RecordError;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_cfdi::pac::{CancelRequest, CancelStatus};
use serde::{Deserialize, Serialize};

/// How long after a cancellation "en proceso" SAT is asked again: the receptor has three business
/// days to accept or reject it.
const FOLLOW_EVERY_MS: i64 = 6 * 3600 * 1000;

/// How often it is asked (six days at six hours), then left to the merchant.
const MAX_FOLLOW_UPS: u32 = 24;

/// The merchant's cancellation request.
#[derive(Debug, Clone, Deserialize, Serialize)]
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
    let table = TenantTable::of(deps, merchant);
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
    rec.cancel_motivo = Some(input.motivo.clone());
    rec.cancel_folio_sustitucion = input.folio_sustitucion.clone();
    if outcome.status == CancelStatus::Accepted {
        rec.status = InvoiceStatus::Cancelled;
    }
    rec.updated_at = deps.clock.now_secs();
    issue::store(&table, &rec).await?;
    tracing::info!(merchant = %merchant, invoice = %id, status = ?outcome.status, "invoice cancellation requested");
    if outcome.status == CancelStatus::InProcess && rec.cancel_checks < MAX_FOLLOW_UPS {
        // Waiting for the receptor's acceptance: asked again until SAT settles it.
        follow_later(deps, merchant, id).await?;
    }
    Ok(rec)
}

/// Schedules another look at invoice `id`'s cancellation, [`FOLLOW_EVERY_MS`] from now.
pub(crate) async fn follow_later(
    deps: &Deps,
    merchant: &MerchantId,
    id: &str,
) -> Result<(), AppError> {
    let body = serde_json::to_string(&crate::parties::messages::InvoiceRequest {
        merchant_id: merchant.to_string(),
        order_id: id.to_owned(),
        follow_cancellation: true,
        ..Default::default()
    })
    .map_err(|e| AppError::Internal(e.into()))?;
    due::schedule_invoicing(
        deps,
        merchant,
        Job::DueNotifications,
        &format!("cancel-follow-{id}"),
        deps.clock.now_ms() + FOLLOW_EVERY_MS,
        body,
    )
    .await?;
    Ok(())
}

/// invoice-stamp, for a cancellation SAT had "en proceso" (or one the PAC could not take): asks
/// again with the same motivo; accepted → cancelled, rejected → stays stamped with SAT's answer,
/// still in process → asked again later, up to `MAX_FOLLOW_UPS` times.
pub async fn follow(deps: &Deps, merchant: &MerchantId, id: &str) -> Result<(), RecordError> {
    let table = TenantTable::of(deps, merchant);
    let Some(mut rec) = issue::get(&table, id).await.map_err(RecordError::retry)? else {
        return Err(RecordError::Malformed(format!("no invoice {id}")));
    };
    if rec.status != InvoiceStatus::Stamped {
        return Ok(());
    }
    // A substituted invoice whose cancellation could not be asked yet is asked now with motivo 01.
    let motivo = rec
        .cancel_motivo
        .clone()
        .or_else(|| rec.replaced_by.as_ref().map(|_| "01".to_owned()));
    let folio = match (&rec.cancel_folio_sustitucion, &rec.replaced_by) {
        (Some(f), _) => Some(f.clone()),
        (None, Some(by)) => issue::get(&table, by)
            .await
            .map_err(RecordError::retry)?
            .and_then(|r| r.uuid),
        (None, None) => None,
    };
    let Some(motivo) = motivo else {
        return Ok(());
    };
    rec.cancel_checks += 1;
    let checks = rec.cancel_checks;
    issue::store(&table, &rec)
        .await
        .map_err(RecordError::retry)?;
    let input = CancelInput {
        motivo,
        folio_sustitucion: folio,
    };
    match cancel(deps, merchant, id, &input).await {
        Ok(after) if after.status == InvoiceStatus::Cancelled => {
            tracing::info!(invoice = %id, checks, "cancellation accepted");
            Ok(())
        }
        // `cancel` scheduled the next look when SAT still has it in process.
        Ok(_) => Ok(()),
        Err(AppError::Unavailable(e)) if checks < MAX_FOLLOW_UPS => {
            tracing::warn!(invoice = %id, error = %e, "PAC unavailable for a cancellation; asked again later");
            follow_later(deps, merchant, id)
                .await
                .map_err(RecordError::retry)
        }
        Err(e) => {
            tracing::warn!(invoice = %id, error = %e, checks, "cancellation not settled; left to the merchant");
            Ok(())
        }
    }
}
