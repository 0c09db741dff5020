//! The merchant's promotions: stored with their counters, offered to each customer as the core's
//! rules allow, counted when an order uses one (conditionally, so a limit is never passed by two
//! orders at once), released when the order ends unpaid, and reported when it is paid.
//!
//! The arithmetic is `mostrador_core::promotions`; this module keeps what it reads and counts.

use crate::commerce::orders::Order;
use crate::platform::error::{AppError, FieldError};
use crate::platform::schema;
use crate::platform::tenant::{MerchantId, TenantTable};
use chrono::{DateTime, Utc};
use mostrador_core::money::Centavos;
use mostrador_core::promotions::{self, Benefit, Facts, Limits, Promotion, Target, Unusable};
use mostrador_store::{Condition, Item, Query, Table, TxOp, Update};
use serde::{Deserialize, Serialize};

/// Most promotions a merchant keeps (ended ones included; they stay for the report).
pub const MAX_PROMOTIONS: usize = 500;

/// A promotion as the merchant writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    pub name: String,
    pub benefit: Benefit,
    pub applies_to: Target,
    #[serde(default)]
    pub branches: Vec<String>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub exclusive: bool,
    #[serde(default)]
    pub min_order: Option<Centavos>,
    /// Codes issued one per customer (by the abandoned-cart reminder) instead of one code for all.
    #[serde(default)]
    pub issued_codes: bool,
    /// Only for customers of these groups (`PUT /v1/customers/{wa_id}/groups`).
    #[serde(default)]
    pub customer_groups: Vec<String>,
}

/// A promotion with what it has done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stored {
    #[serde(flatten)]
    pub promotion: Promotion,
    /// `running`, `scheduled`, `paused` or `ended`.
    pub status: &'static str,
    /// Orders placed with it and not ended unpaid (what limits count).
    pub uses: i64,
    /// Orders with it that were paid.
    pub paid_orders: i64,
    /// What those orders charged.
    pub revenue: Centavos,
    /// What it took off those orders (free delivery: the fees waived).
    pub discount_given: Centavos,
    pub created_at: String,
}

fn status(p: &Promotion, now: DateTime<Utc>) -> &'static str {
    if p.paused {
        "paused"
    } else if p.ends_at.is_some_and(|e| now >= e) {
        "ended"
    } else if p.starts_at.is_some_and(|s| now < s) {
        "scheduled"
    } else {
        "running"
    }
}

fn stored_from(item: &Item, now: DateTime<Utc>) -> Result<Stored, AppError> {
    let promotion: Promotion = serde_json::from_str(item.get_s("doc").unwrap_or("{}"))
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(Stored {
        status: status(&promotion, now),
        promotion,
        uses: item.get_n("uses").unwrap_or(0),
        paid_orders: item.get_n("paid_orders").unwrap_or(0),
        revenue: Centavos(item.get_n("revenue").unwrap_or(0)),
        discount_given: Centavos(item.get_n("discount_given").unwrap_or(0)),
        created_at: item.get_s("created_at").unwrap_or_default().to_owned(),
    })
}

/// Every promotion of the merchant, newest first.
pub async fn list(table: &TenantTable, now: DateTime<Utc>) -> Result<Vec<Stored>, AppError> {
    let page = table
        .query(Query::partition(schema::PROMOTIONS).limit(MAX_PROMOTIONS as u32))
        .await?;
    let mut all = page
        .items
        .iter()
        .map(|i| stored_from(i, now))
        .collect::<Result<Vec<_>, _>>()?;
    all.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then(b.promotion.id.cmp(&a.promotion.id))
    });
    Ok(all)
}

/// One promotion.
pub async fn get(table: &TenantTable, id: &str, now: DateTime<Utc>) -> Result<Stored, AppError> {
    match table.get(&schema::promotion(id)).await? {
        Some(item) => stored_from(&item, now),
        None => Err(AppError::NotFound(format!("promotion {id}"))),
    }
}

fn field_errors(problems: Vec<promotions::Problem>) -> AppError {
    AppError::Validation(
        problems
            .into_iter()
            .map(|(field, why)| FieldError::new(field, why))
            .collect(),
    )
}

/// What the merchant's catalog and branches say about a draft: unknown SKUs, categories or
/// branches, volume prices that are not below the price of a product they name.
fn against_catalog(
    p: &Promotion,
    products: &[mostrador_core::catalog::Product],
    branches: &[String],
) -> Vec<promotions::Problem> {
    let mut out: Vec<promotions::Problem> = Vec::new();
    match &p.applies_to {
        Target::Products { skus } => {
            let unknown: Vec<&str> = skus
                .iter()
                .filter(|s| !products.iter().any(|p| &p.sku == *s))
                .map(String::as_str)
                .take(10)
                .collect();
            if !unknown.is_empty() {
                out.push((
                    "applies_to.skus",
                    format!("No están en el catálogo: {}.", unknown.join(", ")),
                ));
            }
            if let Benefit::Volume { unit_price, .. } = p.benefit {
                let above: Vec<&str> = products
                    .iter()
                    .filter(|pr| skus.contains(&pr.sku) && pr.price <= unit_price)
                    .map(|pr| pr.name.as_str())
                    .take(5)
                    .collect();
                if !above.is_empty() {
                    out.push((
                        "benefit.unit_price",
                        format!(
                            "El precio por volumen no es menor que el precio de: {}.",
                            above.join(", ")
                        ),
                    ));
                }
            }
        }
        Target::Category { category } => {
            let wanted = mostrador_core::text::fold_text(category);
            let known = products.iter().any(|p| {
                p.categories
                    .iter()
                    .any(|c| mostrador_core::text::fold_text(c) == wanted)
            });
            if !known {
                out.push((
                    "applies_to.category",
                    format!(
                        "Ningún producto del catálogo está en la categoría «{}».",
                        category.trim()
                    ),
                ));
            }
        }
        Target::Order => {}
    }
    let unknown: Vec<&str> = p
        .branches
        .iter()
        .filter(|b| !branches.contains(b))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        out.push((
            "branches",
            format!("Sucursales que no existen: {}.", unknown.join(", ")),
        ));
    }
    out
}

/// Creates a promotion: every field checked (422 with each field's reason), checked against the
/// catalog and the branches, and against the promotions already there (a code in use, the same
/// kind of benefit on the same products at the same time).
pub async fn create(
    table: &TenantTable,
    id: String,
    draft: Draft,
    products: &[mostrador_core::catalog::Product],
    branches: &[String],
    now: DateTime<Utc>,
) -> Result<Stored, AppError> {
    let promotion = Promotion {
        id,
        name: draft.name.trim().to_owned(),
        benefit: draft.benefit,
        applies_to: match draft.applies_to {
            Target::Products { skus } => Target::Products {
                skus: skus.into_iter().map(|s| s.trim().to_owned()).collect(),
            },
            other => other,
        },
        branches: draft.branches,
        starts_at: draft.starts_at,
        ends_at: draft.ends_at,
        code: draft
            .code
            .map(|c| promotions::normalize_code(&c).unwrap_or(c)),
        limits: draft.limits,
        exclusive: draft.exclusive,
        min_order: draft.min_order,
        paused: false,
        issued_codes: draft.issued_codes,
        customer_groups: draft
            .customer_groups
            .into_iter()
            .map(|g| g.trim().to_owned())
            .collect(),
    };
    let mut problems = promotions::problems(&promotion, now);
    problems.extend(against_catalog(&promotion, products, branches));
    if !problems.is_empty() {
        return Err(field_errors(problems));
    }
    let existing: Vec<Promotion> = list(table, now)
        .await?
        .into_iter()
        .map(|s| s.promotion)
        .collect();
    if existing.len() >= MAX_PROMOTIONS {
        return Err(AppError::Conflict(format!(
            "un comercio guarda hasta {MAX_PROMOTIONS} promociones"
        )));
    }
    if let Some(problem) = promotions::conflict(&promotion, &existing, now) {
        return Err(field_errors(vec![problem]));
    }
    let doc = serde_json::to_string(&promotion).map_err(|e| AppError::Internal(e.into()))?;
    let created_at = now.to_rfc3339();
    table
        .put(
            Item::new(&schema::promotion(&promotion.id))
                .with("doc", doc)
                .with("created_at", created_at.as_str()),
            Some(Condition::NotExists),
        )
        .await?;
    get(table, &promotion.id, now).await
}

/// Pauses or resumes a promotion. Resuming checks it against the others again.
pub(crate) async fn set_paused(
    table: &TenantTable,
    id: &str,
    paused: bool,
    now: DateTime<Utc>,
) -> Result<Stored, AppError> {
    let current = get(table, id, now).await?;
    if current.promotion.paused == paused {
        return Ok(current);
    }
    let mut promotion = current.promotion.clone();
    promotion.paused = paused;
    if !paused {
        let others: Vec<Promotion> = list(table, now)
            .await?
            .into_iter()
            .map(|s| s.promotion)
            .collect();
        if let Some(problem) = promotions::conflict(&promotion, &others, now) {
            return Err(field_errors(vec![problem]));
        }
    }
    let doc = serde_json::to_string(&promotion).map_err(|e| AppError::Internal(e.into()))?;
    let before =
        serde_json::to_string(&current.promotion).map_err(|e| AppError::Internal(e.into()))?;
    table
        .update(
            &schema::promotion(id),
            Update::new().set("doc", doc),
            Some(Condition::Eq(
                "doc".into(),
                mostrador_store::Value::S(before),
            )),
        )
        .await
        .map_err(|e| {
            if e.is_condition_failed() {
                AppError::Conflict("la promoción cambió al mismo tiempo; vuelve a leerla".into())
            } else {
                e.into()
            }
        })?;
    get(table, id, now).await
}

/// What one customer may use at a branch now: the promotions (coded ones included, applied once
/// the customer gives the code), and the codes they cannot use with why.
pub struct Offered {
    pub usable: Vec<Promotion>,
    pub refused_codes: Vec<(String, Unusable)>,
}

/// The promotions offered to a customer at a branch. `ordered_before`: whether the customer has
/// an order with the merchant that was paid.
pub async fn offered(
    table: &TenantTable,
    branch_id: &str,
    wa_id: &str,
    ordered_before: bool,
    now: DateTime<Utc>,
) -> Result<Offered, AppError> {
    let mut out = Offered {
        usable: Vec::new(),
        refused_codes: Vec::new(),
    };
    let all = list(table, now).await?;
    let groups = if all.iter().any(|s| !s.promotion.customer_groups.is_empty()) {
        crate::parties::customers::get(table, wa_id).await?.groups
    } else {
        Vec::new()
    };
    let issued = if all.iter().any(|s| s.promotion.issued_codes) {
        issued_to(table, wa_id).await?
    } else {
        Vec::new()
    };
    for stored in all {
        if stored.promotion.issued_codes {
            // Offered once per code issued to this customer, under that code.
            for code in issued
                .iter()
                .filter(|c| c.promotion_id == stored.promotion.id)
            {
                let facts = Facts {
                    now,
                    branch_id,
                    ordered_before,
                    uses: u32::try_from(stored.uses.max(0)).unwrap_or(u32::MAX),
                    customer_uses: 0,
                    groups: &groups,
                };
                let verdict = if code.used {
                    Err(Unusable::AlreadyUsed)
                } else if code.expires_at <= now {
                    Err(Unusable::Ended)
                } else {
                    promotions::usable(&stored.promotion, &facts)
                };
                match verdict {
                    Ok(()) => out.usable.push(Promotion {
                        code: Some(code.code.clone()),
                        ..stored.promotion.clone()
                    }),
                    Err(why) => out.refused_codes.push((code.code.clone(), why)),
                }
            }
            continue;
        }
        let p = stored.promotion;
        // Ended long ago or paused without a code: nothing to say about it.
        if !promotions::running(&p, now) && p.code.is_none() {
            continue;
        }
        let customer_uses = match p.limits.per_customer {
            Some(_) => table
                .get(&schema::promotion_customer_uses(
                    &table.customer(wa_id),
                    &p.id,
                ))
                .await?
                .and_then(|i| i.get_n("uses"))
                .unwrap_or(0),
            None => 0,
        };
        let facts = Facts {
            now,
            branch_id,
            ordered_before,
            uses: u32::try_from(stored.uses.max(0)).unwrap_or(u32::MAX),
            customer_uses: u32::try_from(customer_uses.max(0)).unwrap_or(u32::MAX),
            groups: &groups,
        };
        match promotions::usable(&p, &facts) {
            Ok(()) => out.usable.push(p),
            Err(why) => {
                if let Some(code) = p.code.as_deref().and_then(promotions::normalize_code) {
                    out.refused_codes.push((code, why));
                }
            }
        }
    }
    Ok(out)
}

/// A code issued to a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCode {
    pub code: String,
    pub promotion_id: String,
    pub expires_at: DateTime<Utc>,
    /// Taken by an order (given back if that order ends unpaid).
    pub used: bool,
}

/// The codes issued to a customer, newest last.
pub(crate) async fn issued_to(
    table: &TenantTable,
    wa_id: &str,
) -> Result<Vec<IssuedCode>, AppError> {
    let page = table
        .query(
            Query::partition(schema::customer_pk(&table.customer(wa_id)))
                .prefix(schema::ISSUED_CODE_PREFIX)
                .limit(100),
        )
        .await?;
    Ok(page
        .items
        .iter()
        .filter_map(|i| {
            Some(IssuedCode {
                code: i.get_s("code")?.to_owned(),
                promotion_id: i.get_s("promotion_id")?.to_owned(),
                expires_at: DateTime::from_timestamp(i.get_n("expires_at")?, 0)?,
                used: i.get_s("used").is_some_and(|u| !u.is_empty()),
            })
        })
        .collect())
}

/// Issues a code of `promotion` to one customer, good for one order for
/// [`promotions::ISSUED_CODE_DAYS`] days. `None` when the promotion does not issue codes or is not
/// running.
pub(crate) async fn issue_code(
    table: &TenantTable,
    promotion: &Promotion,
    wa_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<IssuedCode>, AppError> {
    if !promotion.issued_codes || !promotions::running(promotion, now) {
        return Ok(None);
    }
    let expires_at = now + chrono::Duration::days(promotions::ISSUED_CODE_DAYS);
    for _ in 0..5 {
        let mut random = [0u8; 5];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut random);
        let code = promotions::issued_code("VUELVE", random);
        let item = Item::new(&schema::promotion_issued_code(
            &table.customer(wa_id),
            &code,
        ))
        .with("code", code.as_str())
        .with("promotion_id", promotion.id.as_str())
        .with("expires_at", expires_at.timestamp())
        // Kept a while after it lapses (the customer may ask about it), then dropped.
        .with("ttl", expires_at.timestamp() + 30 * 86_400);
        match table.put(item, Some(Condition::NotExists)).await {
            Ok(()) => {
                return Ok(Some(IssuedCode {
                    code,
                    promotion_id: promotion.id.clone(),
                    expires_at,
                    used: false,
                }))
            }
            Err(e) if e.is_condition_failed() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Unavailable("no free code after 5 tries".into()))
}

/// The writes that count an order's promotions as it is placed, in the order's transaction: each
/// counted promotion's uses (conditionally below its limit) and the customer's. The order is not
/// placed when one of them fails; [`limited`] says which.
pub(crate) fn use_ops(
    merchant: &MerchantId,
    customer: &schema::CustomerKey,
    order: &Order,
    offered: &[Promotion],
) -> Vec<TxOp> {
    let mut ops = Vec::new();
    for applied in &order.promotions {
        let Some(p) = offered.iter().find(|p| p.id == applied.id) else {
            continue;
        };
        if let Some(max) = p.limits.total_uses {
            ops.push(TxOp::Update {
                key: schema::in_merchant(merchant, schema::promotion(&p.id)),
                update: Update::new().add("uses", 1),
                condition: Some(
                    Condition::AttrNotExists("uses".into())
                        .or(Condition::Lt("uses".into(), i64::from(max))),
                ),
            });
        } else {
            ops.push(TxOp::Update {
                key: schema::in_merchant(merchant, schema::promotion(&p.id)),
                update: Update::new().add("uses", 1),
                condition: None,
            });
        }
        if let (true, Some(code)) = (applied.issued_code, &applied.code) {
            ops.push(TxOp::Update {
                key: schema::in_merchant(merchant, schema::promotion_issued_code(customer, code)),
                update: Update::new().set("used", order.id.as_str()),
                condition: Some(Condition::Exists.and(Condition::AttrNotExists("used".into()))),
            });
        }
        if let (Some(max), true) = (p.limits.per_customer, applied.per_customer) {
            ops.push(TxOp::Update {
                key: schema::in_merchant(
                    merchant,
                    schema::promotion_customer_uses(customer, &p.id),
                ),
                update: Update::new().add("uses", 1),
                condition: Some(
                    Condition::AttrNotExists("uses".into())
                        .or(Condition::Lt("uses".into(), i64::from(max))),
                ),
            });
        }
    }
    ops
}

/// The writes that give back an order's uses when it ends unpaid (cancelled or expired), in the
/// transition's transaction.
pub(crate) fn release_ops(
    merchant: &MerchantId,
    customer: &schema::CustomerKey,
    order: &Order,
) -> Vec<TxOp> {
    let mut ops = Vec::new();
    // No conditions: a counter that drifted (a restore) must never stop an order from ending.
    for applied in &order.promotions {
        ops.push(TxOp::Update {
            key: schema::in_merchant(merchant, schema::promotion(&applied.id)),
            update: Update::new().add("uses", -1),
            condition: None,
        });
        if let (true, Some(code)) = (applied.issued_code, &applied.code) {
            ops.push(TxOp::Update {
                key: schema::in_merchant(merchant, schema::promotion_issued_code(customer, code)),
                update: Update::new().remove("used"),
                condition: None,
            });
        }
        if applied.per_customer {
            ops.push(TxOp::Update {
                key: schema::in_merchant(
                    merchant,
                    schema::promotion_customer_uses(customer, &applied.id),
                ),
                update: Update::new().add("uses", -1),
                condition: None,
            });
        }
    }
    ops
}

/// The writes that report a paid order on each of its promotions, in the payment's transaction.
pub(crate) fn paid_ops(merchant: &MerchantId, order: &Order) -> Vec<TxOp> {
    order
        .promotions
        .iter()
        .map(|applied| TxOp::Update {
            key: schema::in_merchant(merchant, schema::promotion(&applied.id)),
            update: Update::new()
                .add("paid_orders", 1)
                .add("revenue", order.total.0)
                .add("discount_given", applied.discount.0),
            condition: None,
        })
        .collect()
}

/// The promotion whose limit stopped an order, from the positions of the failed writes of
/// `use_ops` (starting at `first`, where they were put in the transaction).
pub fn limited<'a>(
    order: &Order,
    offered: &'a [Promotion],
    failed: &[usize],
    first: usize,
) -> Option<&'a Promotion> {
    let mut at = first;
    for applied in &order.promotions {
        let Some(p) = offered.iter().find(|p| p.id == applied.id) else {
            continue;
        };
        let span = 1
            + usize::from(applied.issued_code && applied.code.is_some())
            + usize::from(p.limits.per_customer.is_some() && applied.per_customer);
        if failed.iter().any(|f| (at..at + span).contains(f)) {
            return Some(p);
        }
        at += span;
    }
    None
}

/// The report rows, as the CSV writes them.
pub fn csv(rows: &[Stored]) -> Result<String, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "id",
        "nombre",
        "codigo",
        "estado",
        "usos",
        "pedidos_pagados",
        "ventas",
        "descuento_otorgado",
    ])
    .map_err(|e| AppError::Internal(e.into()))?;
    for r in rows {
        w.write_record([
            r.promotion.id.as_str(),
            r.promotion.name.as_str(),
            r.promotion.code.as_deref().unwrap_or(""),
            r.status,
            &r.uses.to_string(),
            &r.paid_orders.to_string(),
            &r.revenue.pesos_text(),
            &r.discount_given.pesos_text(),
        ])
        .map_err(|e| AppError::Internal(e.into()))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
    String::from_utf8(bytes).map_err(|e| AppError::Internal(e.into()))
}
