//! payment-callback: a verified provider event applied to its order, once.
//!
//! Deduplicated per provider event id; an order only moves forward (a late "pending" or "expired" after
//! "paid" changes nothing); a payment whose amount, currency or reference do not match the order is
//! flagged for the merchant and not treated as paid; a callback for an unknown order is acknowledged
//! (so the provider stops retrying), logged and kept for the merchant to see.

use crate::commerce::fulfilment;
use crate::commerce::orders::{self, OrderStatus};
use crate::platform::error::AppError;
use crate::platform::schema::PaymentIssue;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_core::money::Centavos;
use mostrador_payments::{
    Callback, PaymentError, PaymentEvent, PaymentProvider, PaymentState, Verified,
};
use mostrador_store::idempotency::{Claim, IdempotencyError};
use mostrador_store::{Condition, Item, Table, Update};
use serde::Serialize;

pub use crate::parties::payment_settings::sandbox;

/// What the callback did (answered to the provider as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Applied {
    Paid {
        order_id: String,
    },
    /// Already applied, or a state that never regresses an order.
    NoChange {
        order_id: Option<String>,
    },
    /// The amount, currency or reference did not match: flagged for the merchant.
    Flagged {
        order_id: String,
        reason: String,
    },
    /// No such order: kept for the merchant to see.
    Unmatched,
    Duplicate,
    Ignored {
        kind: String,
    },
    /// A handshake answer (Openpay's verification).
    Handshake {
        answer: String,
    },
}

/// The adapter for a callback: the sandbox, or the merchant's configured provider of that name.
async fn provider_for(
    deps: &Deps,
    name: &str,
    merchant: &str,
) -> Result<Box<dyn PaymentProvider>, AppError> {
    if !["stripe", "mercadopago", "conekta", "openpay", "sandbox"].contains(&name) {
        return Err(AppError::NotFound(format!("payment provider {name}")));
    }
    let merchant = MerchantId::try_from(merchant.to_owned()).map_err(|_| AppError::Unauthorized)?;
    if name == "sandbox" {
        // Simulated payments only where the merchant takes them, verified with its own secret.
        if crate::parties::payment_settings::sandbox_allowed(deps, &merchant).await? {
            return Ok(Box::new(sandbox(deps, &merchant)));
        }
        tracing::warn!(merchant = %merchant, "sandbox callback for a merchant not in sandbox mode");
        return Err(AppError::Unauthorized);
    }
    match crate::parties::payment_settings::load(deps, &merchant).await? {
        Some(credentials) if credentials.name() == name => credentials.adapter(deps, &merchant),
        // Nothing to verify the signature with: as good as unsigned.
        _ => {
            tracing::warn!(merchant = %merchant, provider = name, "callback for a provider this merchant has not configured");
            Err(AppError::Unauthorized)
        }
    }
}

/// Verifies and applies one callback for `merchant`.
pub async fn handle(
    deps: &Deps,
    provider_name: &str,
    merchant: &str,
    callback: &Callback<'_>,
) -> Result<Applied, AppError> {
    let provider = provider_for(deps, provider_name, merchant).await?;
    let verified = provider.verify(callback).await.map_err(|e| match e {
        PaymentError::Unauthenticated(why) => {
            tracing::warn!(provider = provider_name, reason = %why, "payment callback refused");
            AppError::Unauthorized
        }
        PaymentError::Malformed(why) => AppError::BadRequest(why),
        PaymentError::Refused(why) | PaymentError::Unavailable(why) => AppError::Unavailable(why),
    })?;
    let event = match verified {
        Verified::Event(e) => e,
        Verified::Handshake { answer } => return Ok(Applied::Handshake { answer }),
        Verified::Ignored { kind, .. } => return Ok(Applied::Ignored { kind }),
    };
    let Ok(merchant) = MerchantId::try_from(merchant.to_owned()) else {
        tracing::warn!(provider = provider_name, event = %event.event_id, "payment callback without a valid merchant");
        return Ok(Applied::Unmatched);
    };
    let scope = format!("payevt:{provider_name}:{merchant}");
    let deadline = deps.clock.now_ms() + 30_000;
    match deps
        .idempotency
        .claim::<std::convert::Infallible>(&scope, &event.event_id, callback.body, deadline)
        .await
    {
        Ok(Claim::Acquired) => {}
        Ok(Claim::Completed(_)) => return Ok(Applied::Duplicate),
        Err(IdempotencyError::InProgress) => {
            return Err(AppError::Unavailable(
                "this event is being applied; retry".into(),
            ))
        }
        // Providers send several notifications for one event (Mercado Pago's created/updated):
        // the provider's event id is the key, so another body under it is the same event.
        Err(IdempotencyError::PayloadMismatch) => return Ok(Applied::Duplicate),
        Err(e) => return Err(AppError::Internal(anyhow::anyhow!(e.to_string()))),
    }
    match apply(deps, &merchant, provider_name, &event).await {
        Ok(applied) => {
            deps.idempotency
                .complete(&scope, &event.event_id, &applied)
                .await?;
            Ok(applied)
        }
        Err(e) => {
            let _ = deps.idempotency.release(&scope, &event.event_id).await;
            Err(e)
        }
    }
}

async fn apply(
    deps: &Deps,
    merchant: &MerchantId,
    provider: &str,
    event: &PaymentEvent,
) -> Result<Applied, AppError> {
    let table = TenantTable::of(deps, merchant);
    let order = match &event.order_id {
        Some(id) if !id.contains('#') => orders::get(&table, id).await?,
        _ => None,
    };
    let Some(order) = order else {
        tracing::warn!(merchant = %merchant, provider, event = %event.event_id, "payment callback for an unknown order; kept");
        keep(
            deps,
            &table,
            PaymentIssue::Unmatched,
            provider,
            event,
            "no such order",
        )
        .await?;
        return Ok(Applied::Unmatched);
    };
    if provider == "sandbox" {
        // The sandbox pays only orders whose link it issued (never one a real provider charges).
        let issued_by = table
            .get(&crate::platform::schema::order(&order.id))
            .await?
            .and_then(|i| i.get_s("payment_provider").map(str::to_owned));
        if issued_by.as_deref() != Some("sandbox") {
            tracing::warn!(merchant = %merchant, order = %order.id, issued_by = ?issued_by, "sandbox callback for an order the sandbox did not issue a link for");
            return Err(AppError::Unauthorized);
        }
    }
    match event.state {
        PaymentState::Paid => {
            let amount_ok = event.amount == Some(order.total);
            let currency_ok = event
                .currency
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case("MXN"));
            if !amount_ok || !currency_ok {
                let reason = format!(
                    "paid {} {} for an order of {} MXN",
                    event
                        .amount
                        .map_or("?".into(), |a: Centavos| a.display_mxn()),
                    event.currency.as_deref().unwrap_or("?"),
                    order.total.display_mxn()
                );
                tracing::warn!(merchant = %merchant, order = %order.id, %reason, "payment does not match its order");
                return flag(deps, &table, provider, event, order.id, reason).await;
            }
            let paid = match order.status {
                OrderStatus::AwaitingPayment => {
                    match orders::transition(deps, merchant, &order, OrderStatus::Paid).await? {
                        Some(paid) => {
                            // A payment within a notification's attribution window is its conversion.
                            crate::notifications::stats::attribute_payment(deps, merchant, &order)
                                .await;
                            paid
                        }
                        // Another event got there first; it settles the order.
                        None => {
                            return Ok(Applied::NoChange {
                                order_id: Some(order.id),
                            })
                        }
                    }
                }
                // Paid by an attempt that stopped before settling (its claim was released): finish.
                OrderStatus::Paid if !settled(&table, &order.id).await? => order,
                OrderStatus::Expired | OrderStatus::Cancelled => {
                    let reason = format!("paid after the order was {}", order.status.as_str());
                    return flag(deps, &table, provider, event, order.id, reason).await;
                }
                _ => {
                    return Ok(Applied::NoChange {
                        order_id: Some(order.id),
                    })
                }
            };
            settle(deps, merchant, provider, event, &paid).await?;
            Ok(Applied::Paid { order_id: paid.id })
        }
        // Pending, failed and expired never undo a payment; the expiry job releases unpaid stock.
        PaymentState::Pending | PaymentState::Failed | PaymentState::Expired => {
            Ok(Applied::NoChange {
                order_id: Some(order.id),
            })
        }
        // A refund made at the provider's dashboard: what an API refund does follows (the sale
        // leaves the global or gets its nota, the customer is told), once.
        PaymentState::Refunded => {
            let refunded = if order.status.may_become(OrderStatus::Refunded) {
                orders::transition(deps, merchant, &order, OrderStatus::Refunded).await?
            } else {
                (order.status == OrderStatus::Refunded).then_some(order.clone())
            };
            if let Some(refunded) = refunded {
                after_refund(deps, merchant, &table, &refunded).await?;
            }
            Ok(Applied::NoChange {
                order_id: Some(order.id),
            })
        }
        // A chargeback is the bank's, not a refund: the merchant sees it and answers it with the
        // provider; nothing fiscal changes until the dispute is lost and refunded.
        PaymentState::ChargedBack => {
            let reason = format!(
                "contracargo: el banco del cliente reclamó el pago del pedido {}; respóndelo en {provider}",
                order.id
            );
            tracing::warn!(merchant = %merchant, order = %order.id, provider, "chargeback");
            flag(deps, &table, provider, event, order.id, reason).await
        }
    }
}

async fn settled(table: &TenantTable, order_id: &str) -> Result<bool, AppError> {
    Ok(table
        .get(&crate::platform::schema::order(order_id))
        .await?
        .is_some_and(|i| i.get("settled_at").is_some()))
}

/// Everything that follows a payment, each step idempotent so that a retry after a failure repeats
/// none of them: where the money is, the sale for the global invoice, the customer's thanks, the
/// individual invoice when asked for, the merchant's own systems told; then the order is settled.
async fn settle(
    deps: &Deps,
    merchant: &MerchantId,
    provider: &str,
    event: &PaymentEvent,
    paid: &orders::Order,
) -> Result<(), AppError> {
    let table = TenantTable::of(deps, merchant);
    let method = event.method.map(method_name).unwrap_or("unknown");
    table
        .update(
            &crate::platform::schema::order(&paid.id),
            Update::new()
                .set("payment_provider", provider)
                .set("payment_ref", event.payment_ref.clone().unwrap_or_default())
                .set("payment_method", method)
                .set("paid_at", deps.clock.now_secs()),
            Some(Condition::Exists),
        )
        .await?;
    // The day's sales of the branch, for its global invoice (unless invoiced individually).
    crate::invoicing::global::record_sale(deps, merchant, paid, method, provider).await?;
    // Asked for an invoice before paying (fiscal data already given): issue it now.
    if table
        .get(&crate::platform::schema::order(&paid.id))
        .await?
        .is_some_and(|i| i.get("invoice_requested").is_some())
    {
        crate::invoicing::issue::request_individual(deps, merchant, &paid.id).await?;
    }
    let text = format!(
        "¡Recibimos tu pago de {}! 🎉 Tu pedido {} ya está confirmado; te avisamos cuando esté listo. Si necesitas factura, escribe *factura*.",
        paid.total.display_mxn(),
        fulfilment::short_id(&paid.id)
    );
    fulfilment::notify(deps, merchant, paid, text).await?;
    crate::parties::hooks::emit(
        deps,
        merchant,
        crate::parties::hooks::HookEvent {
            id: format!("order.paid:{}", paid.id),
            kind: "order.paid".into(),
            data: serde_json::json!({
                "order_id": paid.id,
                "branch_id": paid.branch_id,
                "total": paid.total.pesos_text(),
                "currency": "MXN",
                "method": method,
                "provider": provider,
                "payment_ref": event.payment_ref,
                "customer": paid.wa_id,
                "lines": paid.lines.iter().map(|l| serde_json::json!({
                    "sku": l.sku, "name": l.name, "qty": l.qty,
                    "total": l.amounts.total.pesos_text(),
                })).collect::<Vec<_>>(),
            }),
        },
    )
    .await?;
    table
        .update(
            &crate::platform::schema::order(&paid.id),
            Update::new().set("settled_at", deps.clock.now_secs()),
            Some(Condition::Exists),
        )
        .await?;
    tracing::info!(merchant = %merchant, order = %paid.id, provider, "order paid");
    Ok(())
}

fn method_name(m: mostrador_payments::Method) -> &'static str {
    match m {
        mostrador_payments::Method::Card => "card",
        mostrador_payments::Method::Cash => "cash",
        mostrador_payments::Method::Spei => "spei",
        mostrador_payments::Method::CoDi => "codi",
    }
}

/// Keeps a payment of `order_id` that needs the merchant (a mismatch, a late payment, a
/// chargeback) and answers the callback with it.
async fn flag(
    deps: &Deps,
    table: &TenantTable,
    provider: &str,
    event: &PaymentEvent,
    order_id: String,
    reason: String,
) -> Result<Applied, AppError> {
    keep(deps, table, PaymentIssue::Flagged, provider, event, &reason).await?;
    Ok(Applied::Flagged { order_id, reason })
}

/// Keeps an event the merchant must look at (`GET /v1/payments/issues`) and tells the merchant's
/// system with a signed `payment.issue` event.
async fn keep(
    deps: &Deps,
    table: &TenantTable,
    kind: PaymentIssue,
    provider: &str,
    event: &PaymentEvent,
    reason: &str,
) -> Result<(), AppError> {
    let item = Item::new(&crate::platform::schema::payment_issue(
        kind,
        provider,
        &event.event_id,
    ))
    .with("reason", reason)
    .with("provider", provider)
    .with("event", serde_json::to_string(event).unwrap_or_default());
    table.put(item, None).await?;
    crate::parties::hooks::emit(
        deps,
        table.merchant(),
        crate::parties::hooks::HookEvent {
            id: format!("payment.issue:{provider}:{}", event.event_id),
            kind: "payment.issue".into(),
            data: serde_json::json!({
                "kind": kind.name(),
                "provider": provider,
                "order_id": event.order_id,
                "reason": reason,
                "amount": event.amount,
                "payment_ref": event.payment_ref,
            }),
        },
    )
    .await
}

/// What follows a refund, however it was made (the API, or the provider's dashboard reported by
/// its callback), once per order: the sale leaves the global invoice or gets its nota de crédito,
/// and the customer is told.
async fn after_refund(
    deps: &Deps,
    merchant: &MerchantId,
    table: &TenantTable,
    refunded: &orders::Order,
) -> Result<(), AppError> {
    let key = crate::platform::schema::order(&refunded.id);
    if table
        .get(&key)
        .await?
        .is_some_and(|i| i.get("refund_settled_at").is_some())
    {
        return Ok(());
    }
    crate::invoicing::issue::correct_after_refund(deps, merchant, table, refunded).await?;
    let text = format!("Te reembolsamos {} de tu pedido {}. Según tu banco o método de pago, puede tardar unos días en reflejarse.", refunded.total.display_mxn(), fulfilment::short_id(&refunded.id));
    fulfilment::notify(deps, merchant, refunded, text).await?;
    table
        .update(
            &key,
            mostrador_store::Update::new().set("refund_settled_at", deps.clock.now_secs()),
            None,
        )
        .await?;
    Ok(())
}

/// Payments the merchant must look at (flagged, then unmatched), each with its reason and the
/// provider's event as we read it.
pub async fn issues(table: &TenantTable) -> Result<Vec<serde_json::Value>, AppError> {
    let mut out = Vec::new();
    for kind in PaymentIssue::ALL {
        let mut cursor = None;
        loop {
            let page = table
                .query(mostrador_store::Query::partition(kind.partition()).after(cursor))
                .await?;
            out.extend(page.items.iter().map(|item| issue_view(kind, item)));
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    Ok(out)
}

/// Refunds a paid order in full through the provider that took the payment; stock still in the store
/// goes back on the shelf and the customer is told.
pub async fn refund(
    deps: &Deps,
    merchant: &MerchantId,
    order_id: &str,
) -> Result<orders::Order, AppError> {
    let table = TenantTable::of(deps, merchant);
    let item = table
        .get(&crate::platform::schema::order(order_id))
        .await?
        .ok_or_else(|| AppError::NotFound("order".into()))?;
    let order = orders::get(&table, order_id)
        .await?
        .ok_or_else(|| AppError::NotFound("order".into()))?;
    if !order.status.may_become(OrderStatus::Refunded) {
        return Err(AppError::Conflict(format!(
            "an order that is {} cannot be refunded",
            order.status.as_str()
        )));
    }
    let provider_name = item.get_s("payment_provider").unwrap_or_default();
    let payment_ref = item.get_s("payment_ref").unwrap_or_default();
    give_back(deps, merchant, provider_name, payment_ref, None).await?;
    let refunded = orders::transition(deps, merchant, &order, OrderStatus::Refunded)
        .await?
        .ok_or_else(|| AppError::Conflict("the order changed meanwhile; read it again".into()))?;
    after_refund(deps, merchant, &table, &refunded).await?;
    Ok(refunded)
}

/// What to give back of a paid order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOf {
    /// Everything (what partial refunds left, when there were some).
    All,
    /// An amount, spread over the lines in proportion to what is left of each.
    Amount(Centavos),
    /// Units of some lines.
    Lines(Vec<orders::RefundLine>),
}

/// Refunds part of a paid order (or the rest of it) through the provider that took the payment,
/// records it on the order, corrects the fiscal record (a nota for the part given back, or a
/// smaller ticket in the next global) and tells the customer. A refund that takes the order to
/// nothing makes it refunded. Over-refunds, unknown lines and more units than are left are 422/409
/// in Spanish; nothing is given back twice when two refunds race (the second is refused).
pub(crate) async fn refund_part(
    deps: &Deps,
    merchant: &MerchantId,
    order_id: &str,
    what: RefundOf,
    reason: Option<String>,
) -> Result<orders::Order, AppError> {
    use crate::platform::error::FieldError;
    let table = TenantTable::of(deps, merchant);
    let item = table
        .get(&crate::platform::schema::order(order_id))
        .await?
        .ok_or_else(|| AppError::NotFound("order".into()))?;
    let order = orders::get(&table, order_id)
        .await?
        .ok_or_else(|| AppError::NotFound("order".into()))?;
    if what == RefundOf::All && order.refunds.is_empty() {
        return refund(deps, merchant, order_id).await;
    }
    if !order.status.may_become(OrderStatus::Refunded) {
        return Err(AppError::Conflict(format!(
            "el pedido está {}: solo se reembolsa un pedido pagado",
            order.status.customer_text()
        )));
    }
    let remaining = order.remaining_lines();
    let left = Centavos(remaining.iter().map(|l| l.total.0).sum());
    let mut lines = Vec::new();
    let shares = match &what {
        RefundOf::All => remaining.clone(),
        RefundOf::Amount(amount) => {
            if amount.0 <= 0 {
                return Err(AppError::Validation(vec![FieldError::new(
                    "amount",
                    "el monto a reembolsar debe ser mayor que cero (en centavos)",
                )]));
            }
            mostrador_core::tax::refund_shares(*amount, &remaining).ok_or_else(|| {
                AppError::Conflict(format!(
                    "solo quedan {} por reembolsar de este pedido",
                    left.display_mxn()
                ))
            })?
        }
        RefundOf::Lines(wanted) => {
            if wanted.is_empty() {
                return Err(AppError::Validation(vec![FieldError::new(
                    "lines",
                    "indica al menos una línea con sku y qty",
                )]));
            }
            let mut shares = vec![mostrador_core::tax::LineAmounts::default(); order.lines.len()];
            for want in wanted {
                let Some(i) = order.lines.iter().position(|l| l.sku == want.sku) else {
                    return Err(AppError::Validation(vec![FieldError::new(
                        "lines",
                        format!("el pedido no tiene el producto {}", want.sku),
                    )]));
                };
                if want.qty == 0 {
                    return Err(AppError::Validation(vec![FieldError::new(
                        "lines",
                        format!("qty de {} debe ser al menos 1", want.sku),
                    )]));
                }
                let line = &order.lines[i];
                let units_left = line.qty.saturating_sub(order.refunded_units(&line.sku));
                if want.qty > units_left {
                    return Err(AppError::Conflict(format!(
                        "de {} quedan {units_left} por reembolsar",
                        line.name
                    )));
                }
                // Its share of the line as charged, never more than what is left of the line.
                let of_line = mostrador_core::tax::refund_shares(
                    Centavos(
                        ((line.amounts.total.0 as i128 * want.qty as i128 + line.qty as i128 / 2)
                            / line.qty.max(1) as i128) as i64,
                    ),
                    &[line.amounts],
                )
                .and_then(|v| v.first().copied())
                .filter(|s| s.total.0 <= remaining[i].total.0)
                .ok_or_else(|| {
                    AppError::Conflict(format!("de {} ya no queda qué reembolsar", line.name))
                })?;
                let s = &mut shares[i];
                s.total = Centavos(s.total.0 + of_line.total.0);
                s.base = Centavos(s.base.0 + of_line.base.0);
                s.iva = Centavos(s.iva.0 + of_line.iva.0);
                lines.push(want.clone());
            }
            shares
        }
    };
    let amount = Centavos(shares.iter().map(|s| s.total.0).sum());
    if amount.0 == 0 {
        return Err(AppError::Conflict(
            "no queda nada por reembolsar de este pedido".into(),
        ));
    }
    let refund = orders::Refund {
        number: order.refunds.len() as u32 + 1,
        amount,
        lines,
        shares: shares.clone(),
        at: deps.clock.now().to_rfc3339(),
        reason: reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty()),
    };
    // Recorded first (a concurrent refund is refused here), given back second: a provider that
    // refuses takes the record back out.
    let recorded = orders::record_refund(&table, &order, refund.clone()).await?;
    let provider_name = item.get_s("payment_provider").unwrap_or_default();
    let payment_ref = item.get_s("payment_ref").unwrap_or_default();
    if let Err(e) = give_back(deps, merchant, provider_name, payment_ref, Some(amount)).await {
        orders::unrecord_refund(&table, &recorded).await?;
        return Err(e);
    }
    crate::invoicing::global::note_refund(&table, &recorded, amount).await?;
    // The fiscal part: base and IVA per tax treatment of what was given back.
    let mut treatments = std::collections::HashMap::new();
    for line in &order.lines {
        if let Some(p) = crate::commerce::catalog::get_product(&table, &line.sku).await? {
            treatments.insert(line.sku.clone(), p.tax);
        }
    }
    let mut taxes: Vec<crate::parties::messages::TaxPart> = Vec::new();
    for (line, share) in order.lines.iter().zip(&shares) {
        if share.total.0 == 0 {
            continue;
        }
        let treatment = treatments
            .get(&line.sku)
            .copied()
            .unwrap_or(if line.amounts.iva.0 == 0 {
                mostrador_core::tax::TaxTreatment::Iva0
            } else {
                mostrador_core::tax::TaxTreatment::Iva16
            });
        match taxes.iter_mut().find(|t| t.treatment == treatment) {
            Some(t) => {
                t.base = Centavos(t.base.0 + share.base.0);
                t.iva = Centavos(t.iva.0 + share.iva.0);
            }
            None => taxes.push(crate::parties::messages::TaxPart {
                treatment,
                base: share.base,
                iva: share.iva,
            }),
        }
    }
    crate::invoicing::issue::correct_after_partial_refund(
        deps,
        merchant,
        &table,
        &recorded,
        crate::parties::messages::PartialRefund {
            number: refund.number,
            taxes,
        },
    )
    .await?;
    let everything = recorded.refunded() == order.total;
    let result = if everything {
        orders::transition(deps, merchant, &recorded, OrderStatus::Refunded)
            .await?
            .unwrap_or(recorded)
    } else {
        recorded
    };
    let text = format!(
        "Te reembolsamos {} de tu pedido {}. Según tu banco o método de pago, puede tardar unos días en reflejarse.",
        amount.display_mxn(),
        fulfilment::short_id(&order.id)
    );
    fulfilment::notify(deps, merchant, &result, text).await?;
    Ok(result)
}

/// Gives a payment back through the provider that took it (all of it with `amount: None`).
async fn give_back(
    deps: &Deps,
    merchant: &MerchantId,
    provider_name: &str,
    payment_ref: &str,
    amount: Option<Centavos>,
) -> Result<(), AppError> {
    let provider: Box<dyn PaymentProvider> = match provider_name {
        "sandbox" => Box::new(sandbox(deps, merchant)),
        name => match crate::parties::payment_settings::load(deps, merchant).await? {
            Some(c) if c.name() == name => c.adapter(deps, merchant)?,
            _ => {
                return Err(AppError::Conflict(format!(
                "the payment was taken by {name}, which is no longer configured; refund it there"
            )))
            }
        },
    };
    provider
        .refund(payment_ref, amount)
        .await
        .map_err(|e| match e {
            PaymentError::Refused(why) => {
                AppError::Conflict(format!("the provider refused the refund: {why}"))
            }
            other => AppError::Unavailable(other.to_string()),
        })
}

/// What the merchant decides about a payment kept for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Give the money back through the provider; the order is not touched.
    Refund,
    /// Keep it: a payment of another amount settles its order as paid; a chargeback the merchant
    /// accepts (or lost) is booked as a refund (the sale leaves the global or gets its nota).
    Accept,
    /// Nothing to do here: handled at the provider, a test event.
    Dismiss,
}

impl Resolution {
    fn name(self) -> &'static str {
        match self {
            Resolution::Refund => "refund",
            Resolution::Accept => "accept",
            Resolution::Dismiss => "dismiss",
        }
    }
}

/// Which kept payment issue: its kind and the provider's event.
#[derive(Debug, Clone, Copy)]
pub struct IssueRef<'a> {
    pub kind: PaymentIssue,
    pub provider: &'a str,
    pub event_id: &'a str,
}

/// Resolves a kept payment issue once: the money goes back, or is kept, or the issue is dismissed;
/// the issue records what was decided, by whom and when. A second resolution is refused (409), and
/// so is one that cannot apply, with the reason in Spanish.
pub async fn resolve(
    deps: &Deps,
    merchant: &MerchantId,
    issue: IssueRef<'_>,
    resolution: Resolution,
    by: &str,
    note: Option<&str>,
) -> Result<serde_json::Value, AppError> {
    let IssueRef {
        kind,
        provider,
        event_id,
    } = issue;
    let table = TenantTable::of(deps, merchant);
    let key = crate::platform::schema::payment_issue(kind, provider, event_id);
    let item = table
        .get(&key)
        .await?
        .ok_or_else(|| AppError::NotFound("payment issue".into()))?;
    if let Some(done) = item.get_s("resolution") {
        return Err(AppError::Conflict(format!(
            "este pago ya se resolvió ({done})"
        )));
    }
    let event: PaymentEvent = serde_json::from_str(item.get_s("event").unwrap_or("null"))
        .map_err(|e| AppError::Internal(e.into()))?;
    // Claimed first, so that two people resolving at once never refund twice; released if the
    // action fails.
    table
        .update(
            &key,
            Update::new().set("resolution", resolution.name()),
            Some(Condition::AttrNotExists("resolution".into())),
        )
        .await
        .map_err(|e| {
            if e.is_condition_failed() {
                AppError::Conflict("este pago ya se está resolviendo".into())
            } else {
                e.into()
            }
        })?;
    if let Err(e) = act(deps, merchant, &table, kind, provider, &event, resolution).await {
        table
            .update(&key, Update::new().remove("resolution"), None)
            .await?;
        return Err(e);
    }
    let mut update = Update::new()
        .set("resolved_at", deps.clock.now_secs())
        .set("resolved_by", by);
    if let Some(note) = note.map(str::trim).filter(|n| !n.is_empty()) {
        update = update.set("resolution_note", note);
    }
    let item = table.update(&key, update, None).await?;
    Ok(issue_view(kind, &item))
}

async fn act(
    deps: &Deps,
    merchant: &MerchantId,
    table: &TenantTable,
    kind: PaymentIssue,
    provider: &str,
    event: &PaymentEvent,
    resolution: Resolution,
) -> Result<(), AppError> {
    let chargeback = event.state == PaymentState::ChargedBack;
    match resolution {
        Resolution::Dismiss => Ok(()),
        Resolution::Refund if chargeback => Err(AppError::Conflict(format!(
            "en un contracargo el banco ya devolvió el dinero: acéptalo o respóndelo en {provider}"
        ))),
        Resolution::Refund => {
            let payment_ref = event.payment_ref.as_deref().ok_or_else(|| {
                AppError::Conflict(format!(
                    "{provider} no dio la referencia del pago: reembólsalo desde su panel"
                ))
            })?;
            give_back(deps, merchant, provider, payment_ref, event.amount).await
        }
        Resolution::Accept => {
            let order = match (kind, event.order_id.as_deref()) {
                (PaymentIssue::Flagged, Some(id)) => orders::get(table, id).await?,
                _ => None,
            }
            .ok_or_else(|| {
                AppError::Conflict(
                    "el pago no corresponde a ningún pedido: reembólsalo o descártalo".into(),
                )
            })?;
            if chargeback {
                if !order.status.may_become(OrderStatus::Refunded) {
                    return Err(AppError::Conflict(format!(
                        "el pedido {} está {}: no hay venta que devolver",
                        order.id,
                        order.status.customer_text()
                    )));
                }
                let refunded = orders::transition(deps, merchant, &order, OrderStatus::Refunded)
                    .await?
                    .ok_or_else(|| {
                        AppError::Conflict(
                            "el pedido cambió mientras tanto; vuelve a leerlo".into(),
                        )
                    })?;
                return after_refund(deps, merchant, table, &refunded).await;
            }
            if order.status != OrderStatus::AwaitingPayment {
                return Err(AppError::Conflict(format!(
                    "el pedido {} está {}: ya no puede cobrarse con este pago; reembólsalo",
                    order.id,
                    order.status.customer_text()
                )));
            }
            let paid = orders::transition(deps, merchant, &order, OrderStatus::Paid)
                .await?
                .ok_or_else(|| {
                    AppError::Conflict("el pedido cambió mientras tanto; vuelve a leerlo".into())
                })?;
            settle(deps, merchant, provider, event, &paid).await
        }
    }
}

/// A kept payment issue as the merchant sees it.
fn issue_view(kind: PaymentIssue, item: &Item) -> serde_json::Value {
    let event: serde_json::Value = item
        .get_s("event")
        .and_then(|e| serde_json::from_str(e).ok())
        .unwrap_or(serde_json::Value::Null);
    let provider = item.get_s("provider").map(str::to_owned).or_else(|| {
        item.get_s("sk")
            .and_then(|sk| sk.split_once('#'))
            .map(|(p, _)| p.to_owned())
    });
    serde_json::json!({
        "kind": kind.name(),
        "provider": provider,
        "event_id": event["event_id"],
        "reason": item.get_s("reason"),
        "event": event,
        // Set when claimed; shown once the decision is carried out.
        "resolution": item.get("resolved_at").and(item.get_s("resolution")),
        "resolved_at": item
            .get_n("resolved_at")
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map(|t| t.to_rfc3339()),
        "resolved_by": item.get_s("resolved_by"),
        "resolution_note": item.get_s("resolution_note"),
    })
}
