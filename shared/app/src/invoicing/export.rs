//! The accountant's month: every CFDI stamped in a month (individual invoices, globals, notas de
//! crédito) as one ZIP — each one's XML and PDF, `resumen.csv` with one row per CFDI (its state,
//! cancellation, relations and totals) and `tickets_globales.csv` with the tickets each global
//! declares. The ZIP is kept in the document store and handed out through a signed link, so a month
//! of any size leaves through the same door as an invoice (a Lambda answer is capped at 6 MB).

use super::documents;
use super::issue::{self, InvoiceRecord, InvoiceStatus};
use crate::platform::error::{AppError, FieldError};
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_core::money::Centavos;
use serde::Serialize;
use std::io::Write;

/// What an export produced.
#[derive(Debug, Serialize)]
pub struct MonthExport {
    pub month: String,
    /// CFDI in the ZIP.
    pub invoices: usize,
    /// Their files (XML and PDF).
    pub files: usize,
    /// Where to download it (signed, expires with other document links).
    pub url: String,
    pub expires_at: String,
}

/// Checks a `YYYY-MM` month.
pub(crate) fn parse_month(raw: &str) -> Result<String, AppError> {
    let ok = raw.len() == 7
        && raw.as_bytes()[4] == b'-'
        && raw[..4].chars().all(|c| c.is_ascii_digit())
        && matches!(raw[5..].parse::<u32>(), Ok(1..=12));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(AppError::Validation(vec![FieldError::new(
            "month",
            "un mes como 2026-11 (año-mes)",
        )]))
    }
}

fn kind_folder(kind: &str) -> &'static str {
    match kind {
        "global" => "globales",
        "egreso" => "notas_de_credito",
        _ => "facturas",
    }
}

fn status_name(status: InvoiceStatus) -> &'static str {
    match status {
        InvoiceStatus::Stamped => "vigente",
        InvoiceStatus::Cancelled => "cancelada",
        InvoiceStatus::Retrying => "en proceso",
        InvoiceStatus::Blocked => "bloqueada",
        InvoiceStatus::Rejected => "rechazada",
    }
}

/// The CFDI of `month` (by SAT's FechaTimbrado, Mexico's time), of one branch with `branch`.
async fn of_month(
    table: &TenantTable,
    month: &str,
    branch: Option<&str>,
) -> Result<Vec<InvoiceRecord>, AppError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = issue::list(table, 200, cursor).await?;
        out.extend(page.into_iter().filter(|r| {
            r.uuid.is_some()
                && r.stamped_at
                    .as_deref()
                    .is_some_and(|t| t.starts_with(month))
                && branch.is_none_or(|b| r.branch_id == b)
        }));
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    out.sort_by(|a, b| a.stamped_at.cmp(&b.stamped_at));
    Ok(out)
}

fn csv_error(e: impl std::error::Error + Send + Sync + 'static) -> AppError {
    AppError::Internal(anyhow::Error::new(e))
}

/// Builds the month's ZIP, stores it and returns its link.
pub async fn month(
    deps: &Deps,
    merchant: &MerchantId,
    month: &str,
    branch: Option<&str>,
) -> Result<MonthExport, AppError> {
    let table = TenantTable::of(deps, merchant);
    let records = of_month(&table, month, branch).await?;
    let mut summary = csv::Writer::from_writer(Vec::new());
    summary
        .write_record([
            "tipo",
            "serie",
            "folio",
            "uuid",
            "fecha_timbrado",
            "estado",
            "estado_cancelacion",
            "motivo_cancelacion",
            "rfc_receptor",
            "total",
            "pedido",
            "sucursal",
            "tickets",
            "sustituye_a",
            "sustituida_por",
            "isr_retenido",
        ])
        .map_err(csv_error)?;
    let mut tickets = csv::Writer::from_writer(Vec::new());
    tickets
        .write_record(["uuid_global", "serie", "folio", "ticket", "base", "iva"])
        .map_err(csv_error)?;
    let mut out = std::io::Cursor::new(Vec::new());
    let mut files = 0;
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for rec in &records {
            let uuid = rec.uuid.as_deref().unwrap_or_default();
            let stem = format!(
                "{}/{}{}_{uuid}",
                kind_folder(&rec.kind),
                rec.serie.as_deref().unwrap_or(""),
                rec.folio.map(|f| f.to_string()).unwrap_or_default()
            );
            let mut xml_text = None;
            for (file, ext) in [("cfdi.xml", "xml"), ("cfdi.pdf", "pdf")] {
                let Some(blob) = deps
                    .blobs
                    .get(&issue::blob_key(merchant, &rec.id, file))
                    .await
                    .map_err(|e| AppError::Internal(e.into()))?
                else {
                    continue;
                };
                if ext == "xml" {
                    xml_text = Some(String::from_utf8_lossy(&blob.body).into_owned());
                }
                zip.start_file(format!("{stem}.{ext}"), options)
                    .map_err(|e| AppError::Internal(e.into()))?;
                zip.write_all(&blob.body)
                    .map_err(|e| AppError::Internal(e.into()))?;
                files += 1;
            }
            summary
                .write_record([
                    rec.kind.as_str(),
                    rec.serie.as_deref().unwrap_or(""),
                    &rec.folio.map(|f| f.to_string()).unwrap_or_default(),
                    uuid,
                    rec.stamped_at.as_deref().unwrap_or(""),
                    status_name(rec.status),
                    rec.cancel_status.as_deref().unwrap_or(""),
                    rec.cancel_motivo.as_deref().unwrap_or(""),
                    rec.receptor_rfc.as_deref().unwrap_or(""),
                    rec.total.as_deref().unwrap_or(""),
                    rec.order_id.as_deref().unwrap_or(""),
                    &rec.branch_id,
                    &rec.tickets.map(|t| t.to_string()).unwrap_or_default(),
                    rec.replaces.as_deref().unwrap_or(""),
                    rec.replaced_by.as_deref().unwrap_or(""),
                    rec.isr_retenido.as_deref().unwrap_or(""),
                ])
                .map_err(csv_error)?;
            // A global's tickets as it declares them: one row per ticket, adding up the 25-centavo
            // conceptos that carry stray centavos of its IVA (same NoIdentificacion).
            if rec.kind == "global" {
                if let Some(view) = xml_text
                    .as_deref()
                    .and_then(|x| mostrador_cfdi::stamped::StampedCfdi::parse(x).ok())
                {
                    let mut rows: Vec<(String, Centavos, Centavos)> = Vec::new();
                    let mut at: std::collections::HashMap<String, usize> =
                        std::collections::HashMap::new();
                    for c in &view.conceptos {
                        let ticket = c.no_identificacion.clone().unwrap_or_default();
                        let pesos = |t: Option<&str>| {
                            t.and_then(Centavos::parse_pesos).unwrap_or(Centavos::ZERO)
                        };
                        let base = pesos(Some(c.importe.as_str()));
                        let iva = pesos(c.iva_trasladado().as_deref());
                        match at.get(&ticket).and_then(|k| rows.get_mut(*k)) {
                            Some((_, b, i)) => {
                                *b = Centavos(b.0.saturating_add(base.0));
                                *i = Centavos(i.0.saturating_add(iva.0));
                            }
                            None => {
                                at.insert(ticket.clone(), rows.len());
                                rows.push((ticket, base, iva));
                            }
                        }
                    }
                    for (ticket, base, iva) in rows {
                        tickets
                            .write_record([
                                uuid,
                                rec.serie.as_deref().unwrap_or(""),
                                &rec.folio.map(|f| f.to_string()).unwrap_or_default(),
                                ticket.as_str(),
                                &base.pesos_text(),
                                &iva.pesos_text(),
                            ])
                            .map_err(csv_error)?;
                    }
                }
            }
        }
        for (name, writer) in [("resumen.csv", summary), ("tickets_globales.csv", tickets)] {
            let body = writer
                .into_inner()
                .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
            zip.start_file(name, options)
                .map_err(|e| AppError::Internal(e.into()))?;
            zip.write_all(&body)
                .map_err(|e| AppError::Internal(e.into()))?;
        }
        zip.finish().map_err(|e| AppError::Internal(e.into()))?;
    }
    let scope = branch.unwrap_or("todas");
    // The copy goes when its link expires (it holds customers' fiscal data); asking again makes a
    // new one.
    let key =
        crate::platform::schema::export_file(merchant, &format!("facturas-{month}-{scope}.zip"));
    let crate::platform::files::Offered { url, expires_at } = crate::platform::files::offer(
        deps,
        merchant,
        &key,
        out.into_inner(),
        "application/zip",
        &format!("facturas-{month}.zip"),
        documents::LINK_TTL_SECS,
    )
    .await?;
    Ok(MonthExport {
        month: month.to_owned(),
        invoices: records.len(),
        files,
        url,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_year_dash_month() {
        assert_eq!(parse_month("2026-11").ok().as_deref(), Some("2026-11"));
        assert_eq!(parse_month("2026-01").ok().as_deref(), Some("2026-01"));
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-11",
            "2026/11",
            "noviembre",
            "2026-11-01",
        ] {
            assert!(parse_month(bad).is_err(), "{bad}");
        }
    }
}
