//! The global invoice (factura global): every paid sale of a branch and period that was not invoiced
//! individually, one Concepto per ticket, issued within SAT's 24 hours after the period closes.
//!
//! Each paid sale is recorded under `SALES#{branch}#{day}` and schedules (once per branch and period)
//! a due entry for the `global_invoices` job at the period's end plus 20 minutes; the entry queues the
//! invoice request. The job's cost is the number of branch-periods due, never a scan.

use crate::commerce::orders::Order;
use crate::parties::messages::{GlobalPeriod, InvoiceRequest};
use crate::platform::due::{self, Job};
use crate::platform::error::AppError;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use chrono::{Datelike, Duration, NaiveDate, TimeZone};
use chrono_tz::America::Mexico_City;
use mostrador_core::money::Centavos;
use mostrador_core::tax::TaxTreatment;
use mostrador_store::{Item, Query, Table, Update};
use serde::{Deserialize, Serialize};

/// One ticket of a global invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub order_id: String,
    /// What the customer paid (IVA included).
    pub total: Centavos,
    /// Base and IVA per tax treatment.
    pub taxes: Vec<TicketTax>,
    /// How it was paid: card, cash, spei, codi.
    pub method: String,
}

/// Base and IVA of one tax treatment inside a ticket: the same record the sale's queue message
/// carries, one type for both.
pub use crate::parties::messages::TaxPart as TicketTax;

/// The tax breakdown of an order, by treatment, for its sale record.
pub(crate) fn taxes_of(
    order: &Order,
    treatment_of: impl Fn(&str) -> Option<TaxTreatment>,
) -> Vec<TicketTax> {
    let mut out: Vec<TicketTax> = Vec::new();
    for line in &order.lines {
        let treatment = treatment_of(&line.sku).unwrap_or(if line.amounts.iva.0 == 0 {
            TaxTreatment::Iva0
        } else {
            TaxTreatment::Iva16
        });
        match out.iter_mut().find(|t| t.treatment == treatment) {
            Some(t) => {
                t.base = Centavos(t.base.0 + line.amounts.base.0);
                t.iva = Centavos(t.iva.0 + line.amounts.iva.0);
            }
            None => out.push(TicketTax {
                treatment,
                base: line.amounts.base,
                iva: line.amounts.iva,
            }),
        }
    }
    out
}

/// The period a sale of `day` belongs to under `periodicidad` (SAT's c_Periodicidad).
pub(crate) fn period_of(branch_id: &str, day: NaiveDate, periodicidad: &str) -> GlobalPeriod {
    let (start, end) = match periodicidad {
        // Weekly: Monday to Sunday.
        "02" => {
            let start = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
            (start, start + Duration::days(6))
        }
        // Fortnightly: 1-15 and 16-end of month.
        "03" => {
            if day.day() <= 15 {
                (
                    day.with_day(1).unwrap_or(day),
                    day.with_day(15).unwrap_or(day),
                )
            } else {
                (day.with_day(16).unwrap_or(day), last_of_month(day))
            }
        }
        "04" => (day.with_day(1).unwrap_or(day), last_of_month(day)),
        _ => (day, day),
    };
    let mut days = Vec::new();
    let mut d = start;
    while d <= end {
        days.push(d.format("%Y-%m-%d").to_string());
        d += Duration::days(1);
    }
    let periodicidad = match periodicidad {
        "02" | "03" | "04" => periodicidad,
        _ => "01",
    };
    GlobalPeriod {
        branch_id: branch_id.to_owned(),
        days,
        periodicidad: periodicidad.to_owned(),
        // Daily, weekly and fortnightly globals name the month the period falls in.
        meses: format!("{:02}", end.month()),
        anio: end.year(),
    }
}

fn last_of_month(day: NaiveDate) -> NaiveDate {
    let (y, m) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .map(|first| first - Duration::days(1))
        .unwrap_or(day)
}

/// The id of a branch's global invoice for a period.
pub fn global_id(period: &GlobalPeriod) -> String {
    let first = period.days.first().map(String::as_str).unwrap_or("");
    format!(
        "G-{}-{}-{}",
        period.branch_id,
        period.periodicidad,
        first.replace('-', "")
    )
}

/// Records a paid sale and makes sure its branch-period global is scheduled.
pub async fn record_sale(
    deps: &Deps,
    merchant: &MerchantId,
    order: &Order,
    method: &str,
    provider: &str,
) -> Result<(), AppError> {
    let table = TenantTable::of(deps, merchant);
    // The sale's day and its global's period are the branch's own (a Tijuana store's day ends two
    // hours after Mexico City's in winter).
    let tz = crate::parties::merchants::get_branch(&table, &order.branch_id)
        .await?
        .and_then(|b| b.timezone.parse::<chrono_tz::Tz>().ok())
        .unwrap_or(Mexico_City);
    let day_local = deps.clock.now().with_timezone(&tz).date_naive();
    let day = day_local.format("%Y-%m-%d").to_string();
    let mut treatments = std::collections::HashMap::new();
    for line in &order.lines {
        if let Some(p) = crate::commerce::catalog::get_product(&table, &line.sku).await? {
            treatments.insert(line.sku.clone(), p.tax);
        }
    }
    let taxes = taxes_of(order, |sku| treatments.get(sku).copied());
    table
        .put(
            Item::new(&crate::platform::schema::sale(
                &order.branch_id,
                &day,
                &order.id,
            ))
            .with("total", order.total.0)
            // What was paid, kept as paid: `total` follows the fiscal record (a refund before the
            // global lowers it), `refunded_amount` adds up every refund for the sales report.
            .with("paid", order.total.0)
            .with("method", method)
            .with("provider", provider)
            // What sold, for the report's best-selling products.
            .with(
                "lines",
                serde_json::to_string(&sold_lines(order))
                    .map_err(|e| AppError::Internal(e.into()))?,
            )
            .with(
                "taxes",
                serde_json::to_string(&taxes).map_err(|e| AppError::Internal(e.into()))?,
            ),
            None,
        )
        .await?;
    table
        .update(
            &crate::platform::schema::order(&order.id),
            Update::new().set("sale_day", day.as_str()),
            None,
        )
        .await?;
    let periodicidad = crate::invoicing::settings::issuer(deps, merchant)
        .await?
        .map(|i| i.periodicidad)
        .unwrap_or_else(|| "01".into());
    let period = period_of(&order.branch_id, day_local, &periodicidad);
    let last = period
        .days
        .last()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .unwrap_or(day_local);
    // Midnight after the period in the branch's time, plus 20 minutes.
    let due = tz
        .from_local_datetime(
            &(last + Duration::days(1))
                .and_hms_opt(0, 20, 0)
                .unwrap_or_default(),
        )
        .earliest()
        .map(|t| t.timestamp_millis())
        .unwrap_or_else(|| deps.clock.now_ms());
    let id = global_id(&period);
    let body = serde_json::to_string(&InvoiceRequest {
        merchant_id: merchant.to_string(),
        order_id: id.clone(),
        global: Some(period),
        ..InvoiceRequest::default()
    })
    .map_err(|e| AppError::Internal(e.into()))?;
    due::schedule_invoicing(deps, merchant, Job::GlobalInvoices, &id, due, body).await?;
    Ok(())
}

/// A sale's line as its sale record keeps it (the commerce report's best-selling products).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SoldLine {
    pub sku: String,
    pub name: String,
    pub qty: u32,
    /// What the customer paid for the line, in centavos.
    pub total: i64,
}

/// An order's lines as its sale record keeps them.
fn sold_lines(order: &Order) -> Vec<SoldLine> {
    order
        .lines
        .iter()
        .map(|l| SoldLine {
            sku: l.sku.clone(),
            name: l.name.clone(),
            qty: l.qty,
            total: l.amounts.total.0,
        })
        .collect()
}

/// The sale record of an order, if it was paid.
pub async fn find_sale(table: &TenantTable, order: &Order) -> Result<Option<Item>, AppError> {
    let Some(item) = table
        .get(&crate::platform::schema::order(&order.id))
        .await?
    else {
        return Ok(None);
    };
    let Some(day) = item.get_s("sale_day") else {
        return Ok(None);
    };
    Ok(table
        .get(&crate::platform::schema::sale(
            &order.branch_id,
            day,
            &order.id,
        ))
        .await?)
}

/// Adds a refund to what the sales report takes off the order's sale (any refund, whatever its
/// fiscal path).
pub(crate) async fn note_refund(
    table: &TenantTable,
    order: &Order,
    amount: mostrador_core::money::Centavos,
) -> Result<(), AppError> {
    if let Some(sale) = find_sale(table, order).await? {
        if let Some(key) = sale.key() {
            table
                .update(&key, Update::new().add("refunded_amount", amount.0), None)
                .await?;
        }
    }
    Ok(())
}

/// Marks an order's sale refunded: it leaves the global invoice.
pub(crate) async fn mark_refunded(table: &TenantTable, order: &Order) -> Result<(), AppError> {
    if let Some(sale) = find_sale(table, order).await? {
        if let Some(key) = sale.key() {
            table
                .update(&key, Update::new().set("refunded", true), None)
                .await?;
        }
    }
    Ok(())
}

/// Takes a partial refund out of a sale not yet declared: its global declares what was kept. The
/// sale's taxes as charged stay in `original_taxes` (a later refund of the whole order gives back
/// what is left from them). A sale reduced to nothing leaves the global.
pub(crate) async fn reduce_sale(
    table: &TenantTable,
    sale: &Item,
    given_back: &[crate::parties::messages::TaxPart],
) -> Result<(), AppError> {
    let Some(key) = sale.key() else {
        return Ok(());
    };
    let mut taxes: Vec<TicketTax> =
        serde_json::from_str(sale.get_s("taxes").unwrap_or("[]")).unwrap_or_default();
    for part in given_back {
        if let Some(t) = taxes.iter_mut().find(|t| t.treatment == part.treatment) {
            t.base = Centavos((t.base.0 - part.base.0).max(0));
            t.iva = Centavos((t.iva.0 - part.iva.0).max(0));
        }
    }
    taxes.retain(|t| t.base.0 + t.iva.0 > 0);
    let total: i64 = taxes.iter().map(|t| t.base.0 + t.iva.0).sum();
    let mut update = Update::new()
        .set(
            "taxes",
            serde_json::to_string(&taxes).map_err(|e| AppError::Internal(e.into()))?,
        )
        .set("total", total);
    if sale.get_s("original_taxes").is_none() {
        update = update.set("original_taxes", sale.get_s("taxes").unwrap_or("[]"));
    }
    if total == 0 {
        update = update.set("refunded", true);
    }
    table.update(&key, update, None).await?;
    Ok(())
}

/// The tickets of a period: paid sales not invoiced individually, not refunded, not in a global.
pub async fn tickets(table: &TenantTable, period: &GlobalPeriod) -> Result<Vec<Ticket>, AppError> {
    let mut out = Vec::new();
    for day in &period.days {
        let mut cursor = None;
        loop {
            let page = table
                .query(
                    Query::partition(crate::platform::schema::sales_of_day(
                        &period.branch_id,
                        day,
                    ))
                    .limit(500)
                    .after(cursor.take()),
                )
                .await?;
            for item in &page.items {
                if item.get("invoice_uuid").is_some()
                    || item.get("refunded").is_some()
                    || item.get("global_id").is_some()
                {
                    continue;
                }
                let Some(order_id) = item
                    .key()
                    .and_then(|k| crate::platform::schema::order_of_sale(&k.sk).map(str::to_owned))
                else {
                    continue;
                };
                let taxes: Vec<TicketTax> =
                    serde_json::from_str(item.get_s("taxes").unwrap_or("[]")).unwrap_or_default();
                out.push(Ticket {
                    order_id,
                    total: Centavos(item.get_n("total").unwrap_or(0)),
                    taxes,
                    method: item.get_s("method").unwrap_or("unknown").to_owned(),
                });
            }
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    Ok(out)
}

/// After stamping: each sale in the global remembers it.
pub(crate) async fn mark_included(
    deps: &Deps,
    merchant: &MerchantId,
    table: &TenantTable,
    period: &GlobalPeriod,
    rec: &crate::invoicing::issue::InvoiceRecord,
) -> Result<(), AppError> {
    let key = crate::invoicing::issue::blob_key(merchant, &rec.id, "tickets.json");
    let Some(blob) = deps
        .blobs
        .get(&key)
        .await
        .map_err(|e| AppError::Internal(e.into()))?
    else {
        return Ok(());
    };
    let ids: Vec<String> =
        serde_json::from_slice(&blob.body).map_err(|e| AppError::Internal(e.into()))?;
    let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    let uuid = rec.uuid.clone().unwrap_or_default();
    for day in &period.days {
        let mut cursor = None;
        loop {
            let page = table
                .query(
                    Query::partition(crate::platform::schema::sales_of_day(
                        &period.branch_id,
                        day,
                    ))
                    .limit(500)
                    .after(cursor.take()),
                )
                .await?;
            for item in &page.items {
                let Some(k) = item.key() else { continue };
                let id = crate::platform::schema::order_of_sale(&k.sk).unwrap_or_default();
                if wanted.contains(id) {
                    table
                        .update(
                            &k,
                            Update::new()
                                .set("global_id", rec.id.as_str())
                                .set("global_uuid", uuid.as_str()),
                            None,
                        )
                        .await?;
                }
            }
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    Ok(())
}
