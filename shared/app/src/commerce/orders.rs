//! Orders: placed from the chat with every line's stock reserved in the same transaction as the order
//! (so concurrent confirmations can never sell more than there is), expired or cancelled with the stock
//! released, and moved through fulfilment by the merchant API. Every transition is conditional on the
//! current status, so a late or repeated event never regresses an order, and tells the customer.

use crate::platform::due::{DueAction, Job};
use crate::platform::error::{AppError, FieldError};
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::{schema, Deps};
use mostrador_core::conversation::DELIVERY_SKU;
use mostrador_core::money::Centavos;
use mostrador_core::tax::LineAmounts;
use mostrador_store::{
    CancelReason, Condition, Item, Key, Query, SortKey, StoreError, Table, TxOp, Update, Value,
};
use serde::{Deserialize, Serialize};

/// Lines per order (each reserves stock in the order's one transaction of at most 100 writes).
pub const MAX_LINES: usize = 50;

pub use mostrador_core::orders::{OrderStatus, StockEffect};

/// One line as priced from our catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: String,
    pub name: String,
    pub qty: u32,
    pub unit: Centavos,
    /// What the line costs after its discount, split into base and IVA.
    pub amounts: LineAmounts,
    /// What promotions took off the line, in the terms of `unit` (IVA included when the merchant
    /// prices so); the CFDI's Descuento.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub discount: Centavos,
}

fn is_zero(c: &Centavos) -> bool {
    c.0 == 0
}

/// An order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub branch_id: String,
    /// The customer's WhatsApp id.
    pub wa_id: String,
    pub phone_number_id: String,
    pub status: OrderStatus,
    pub lines: Vec<OrderLine>,
    pub subtotal: Centavos,
    pub iva: Centavos,
    pub total: Centavos,
    pub created_at: String,
    /// When the stock reservation lapses unless paid (epoch ms).
    pub expires_at_ms: i64,
    pub payment_url: Option<String>,
    /// Pickup at the branch, or delivery with the address.
    #[serde(default)]
    pub fulfilment: mostrador_core::conversation::Fulfilment,
    /// The customer's name as WhatsApp shows it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    /// Partial refunds given, oldest first (a refund of the whole order at once is its status).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refunds: Vec<Refund>,
    /// The promotions the order got, with what each took off.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub promotions: Vec<mostrador_core::promotions::Applied>,
    /// The customer's name and delivery address as stored: sealed through Keys, apart from the
    /// document (see `open_personal`). `None` for an order in memory before it is placed, or
    /// stored by an earlier version with them in its document.
    #[serde(skip)]
    pub sealed_personal: Option<Vec<u8>>,
}

/// What of an order names or locates the customer, sealed at rest apart from its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
struct Personal {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    customer_name: Option<String>,
    #[serde(default)]
    fulfilment: mostrador_core::conversation::Fulfilment,
}

/// The stored attribute holding an order's sealed name and address (as `personal_sealed`).
pub const PERSONAL: &str = crate::parties::conversation::ORDER_PERSONAL;

impl Order {
    fn personal(&self) -> Personal {
        Personal {
            customer_name: self.customer_name.clone(),
            fulfilment: self.fulfilment.clone(),
        }
    }

    /// The order as its document stores it: without the name and the address when they are
    /// sealed apart (the kind of fulfilment stays, so pickup and delivery still read).
    fn stored_doc(&self) -> Result<String, StoreError> {
        let mut doc = self.clone();
        if self.sealed_personal.is_some() {
            doc.customer_name = None;
            if let mostrador_core::conversation::Fulfilment::Delivery { .. } = doc.fulfilment {
                doc.fulfilment = mostrador_core::conversation::Fulfilment::Delivery {
                    address: String::new(),
                    latitude: None,
                    longitude: None,
                };
            }
        }
        serde_json::to_string(&doc).map_err(|e| StoreError::Internal(e.to_string()))
    }
}

/// Seals the order's name and address for storing apart from its document.
async fn seal_personal(
    deps: &Deps,
    merchant: &MerchantId,
    order: &mut Order,
) -> Result<(), StoreError> {
    let plain = serde_json::to_string(&order.personal())
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    order.sealed_personal =
        Some(crate::parties::conversation::seal_text(deps, merchant, &plain).await?);
    Ok(())
}

/// The order with the customer's name and delivery address opened (what the merchant sees); an
/// order without them sealed apart comes back as it is. A value that cannot be opened is logged
/// and left out.
pub(crate) async fn open_personal(deps: &Deps, table: &TenantTable, mut order: Order) -> Order {
    let Some(sealed) = &order.sealed_personal else {
        return order;
    };
    let opened = crate::parties::conversation::open_text(deps, table.merchant(), sealed).await;
    if let Some(personal) = opened.and_then(|t| serde_json::from_str::<Personal>(&t).ok()) {
        order.customer_name = personal.customer_name;
        order.fulfilment = personal.fulfilment;
    }
    order
}

/// Seals the name and address an order stored by an earlier version keeps in its document (run by
/// the operator's one-off seal call). Returns whether it sealed anything; a second run does not.
pub(crate) async fn seal_stored_personal(
    deps: &Deps,
    table: &TenantTable,
    item: &Item,
) -> Result<bool, AppError> {
    let mut order = order_from(item)?;
    let delivery = matches!(
        order.fulfilment,
        mostrador_core::conversation::Fulfilment::Delivery { .. }
    );
    if order.sealed_personal.is_some() || (order.customer_name.is_none() && !delivery) {
        return Ok(false);
    }
    seal_personal(deps, table.merchant(), &mut order).await?;
    let (Some(sealed), Some(key)) = (order.sealed_personal.clone(), item.key()) else {
        return Ok(false);
    };
    let update = Update::new()
        .set("doc", order.stored_doc()?)
        .set(format!("{PERSONAL}_sealed"), Value::B(sealed));
    // Only the document read here: a status change in between is kept, and the next run seals.
    let same_doc = Condition::Eq(
        "doc".into(),
        Value::S(item.get_s("doc").unwrap_or_default().to_owned()),
    );
    match table.update(&key, update, Some(same_doc)).await {
        Ok(_) => Ok(true),
        Err(e) if e.is_condition_failed() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// [`open_personal`] for a list of orders.
pub(crate) async fn open_all(deps: &Deps, table: &TenantTable, orders: Vec<Order>) -> Vec<Order> {
    let mut out = Vec::with_capacity(orders.len());
    for order in orders {
        out.push(open_personal(deps, table, order).await);
    }
    out
}

/// A part of an order given back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// 1, 2, … on this order.
    pub number: u32,
    pub amount: Centavos,
    /// The units given back per line, when the refund was by line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<RefundLine>,
    /// Its part of each line of the order (same order as `lines` of the order): total, base, IVA.
    pub shares: Vec<LineAmounts>,
    /// RFC 3339.
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Units of one line given back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundLine {
    pub sku: String,
    pub qty: u32,
}

impl Order {
    /// What partial refunds have given back.
    pub fn refunded(&self) -> Centavos {
        Centavos(self.refunds.iter().map(|r| r.amount.0).sum())
    }

    /// What is left of each line after the partial refunds.
    pub(crate) fn remaining_lines(&self) -> Vec<LineAmounts> {
        self.lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let mut left = line.amounts;
                for r in &self.refunds {
                    if let Some(s) = r.shares.get(i) {
                        left.total = Centavos(left.total.0 - s.total.0);
                        left.base = Centavos(left.base.0 - s.base.0);
                        left.iva = Centavos(left.iva.0 - s.iva.0);
                    }
                }
                left
            })
            .collect()
    }

    /// Units of a line already given back by line.
    pub(crate) fn refunded_units(&self, sku: &str) -> u32 {
        self.refunds
            .iter()
            .flat_map(|r| r.lines.iter())
            .filter(|l| l.sku == sku)
            .map(|l| l.qty)
            .sum()
    }
}

/// Takes back out a partial refund the provider refused (the last one recorded).
pub(crate) async fn unrecord_refund(table: &TenantTable, recorded: &Order) -> Result<(), AppError> {
    let mut back = recorded.clone();
    back.refunds.pop();
    let doc = back.stored_doc()?;
    let mut update = Update::new().set("doc", doc);
    update = if back.refunds.is_empty() {
        update.remove("refunds")
    } else {
        update.set("refunds", back.refunds.len() as i64)
    };
    table
        .update(
            &order_key(&recorded.id),
            update,
            Some(Condition::Eq(
                "refunds".into(),
                Value::N(recorded.refunds.len() as i64),
            )),
        )
        .await?;
    Ok(())
}

/// Records a partial refund on the order once no other refund is being recorded: the order's
/// document gets it, conditionally on the refunds it had (two refunds at once cannot both pass).
pub(crate) async fn record_refund(
    table: &TenantTable,
    order: &Order,
    refund: Refund,
) -> Result<Order, AppError> {
    let mut updated = order.clone();
    updated.refunds.push(refund);
    let doc = updated.stored_doc()?;
    table
        .update(
            &order_key(&order.id),
            Update::new()
                .set("doc", doc)
                .set("refunds", updated.refunds.len() as i64),
            Some(match order.refunds.len() {
                0 => Condition::AttrNotExists("refunds".into()),
                n => Condition::Eq("refunds".into(), Value::N(n as i64)),
            }),
        )
        .await
        .map_err(|e| {
            if e.is_condition_failed() {
                AppError::Conflict(
                    "otro reembolso de este pedido se registró al mismo tiempo; vuelve a leerlo"
                        .into(),
                )
            } else {
                e.into()
            }
        })?;
    Ok(updated)
}

/// A line that could not be reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shortage {
    pub sku: String,
    pub name: String,
    pub requested: u32,
    pub available: i64,
}

/// Why an order was not placed.
#[derive(Debug)]
pub enum PlaceError {
    /// Stock ran out between the summary and the confirmation.
    Short(Vec<Shortage>),
    /// A promotion of the order reached its limit in the meantime: its name.
    PromotionUsedUp(String),
    Store(StoreError),
}

fn order_key(id: &str) -> Key {
    crate::platform::schema::order(id)
}

fn order_item(merchant: &MerchantId, order: &Order) -> Result<Item, StoreError> {
    let doc = order.stored_doc()?;
    let mut item = Item::new(&schema::in_merchant(merchant, schema::order(&order.id)));
    if let Some(sealed) = &order.sealed_personal {
        item = item.with(format!("{PERSONAL}_sealed"), Value::B(sealed.clone()));
    }
    Ok(item
        .with("doc", doc)
        .with("status", order.status.as_str())
        .with("branch_id", order.branch_id.as_str())
        .with(
            "gsi1pk",
            schema::merchant_pk(merchant, schema::ORDERS_INDEX),
        )
        .with(
            "gsi1sk",
            schema::orders_index_sk(&order.created_at, &order.id),
        ))
}

fn order_from(item: &Item) -> Result<Order, AppError> {
    let mut order: Order = serde_json::from_str(item.get_s("doc").unwrap_or("{}"))
        .map_err(|e| AppError::Internal(e.into()))?;
    if let Some(Value::B(sealed)) = item.get(&format!("{PERSONAL}_sealed")) {
        order.sealed_personal = Some(sealed.clone());
    }
    // The status attribute is what conditional transitions change; it wins over the document.
    if let Some(s) = item.get_s("status") {
        if let Ok(status) = serde_json::from_value(serde_json::Value::String(s.to_owned())) {
            order.status = status;
        }
    }
    Ok(order)
}

/// Places `order` (status awaiting payment): reserves every line's stock, stores the order and schedules
/// its expiry, all in one transaction with the caller's `effects` (a payment reminder, report counters),
/// which apply only if the order is placed. Placing the same order id twice is a no-op that returns the stored
/// order (a redelivered confirmation never creates a second order).
pub async fn place(
    deps: &Deps,
    merchant: &MerchantId,
    mut order: Order,
    offered: &[mostrador_core::promotions::Promotion],
    effects: Vec<TxOp>,
) -> Result<Order, PlaceError> {
    if order.lines.is_empty() || order.lines.len() > MAX_LINES {
        return Err(PlaceError::Store(StoreError::Invalid(format!(
            "an order has 1-{MAX_LINES} lines"
        ))));
    }
    // The customer's name and address are sealed at rest, apart from the document.
    seal_personal(deps, merchant, &mut order)
        .await
        .map_err(PlaceError::Store)?;
    // The delivery fee's line is a service: no stock.
    let stocked: Vec<&OrderLine> = order
        .lines
        .iter()
        .filter(|l| l.sku != DELIVERY_SKU)
        .collect();
    let mut ops = Vec::with_capacity(order.lines.len() + 2);
    for line in &stocked {
        let q = i64::from(line.qty);
        ops.push(TxOp::Update {
            key: schema::in_merchant(merchant, schema::stock(&order.branch_id, &line.sku)),
            update: Update::new().add("available", -q).add("reserved", q),
            condition: Some(Condition::Ge("available".into(), q)),
        });
    }
    ops.push(TxOp::Put {
        item: order_item(merchant, &order).map_err(PlaceError::Store)?,
        condition: Some(Condition::NotExists),
    });
    let expiry_id = format!("order-{}", order.id);
    let expiry = crate::platform::schema::due_entry(
        merchant,
        Job::ExpireOrders,
        &expiry_id,
        &expiry_id,
        order.expires_at_ms,
        &DueAction::ExpireOrder {
            merchant_id: merchant.to_string(),
            order_id: order.id.clone(),
        },
    )
    .map_err(PlaceError::Store)?;
    ops.push(TxOp::Put {
        item: expiry,
        condition: None,
    });
    ops.push(TxOp::Put {
        item: Item::new(&schema::in_merchant(
            merchant,
            schema::customer_order(
                &deps.customer_key(&order.wa_id),
                &order.created_at,
                &order.id,
            ),
        ))
        .with("order_id", order.id.as_str()),
        condition: None,
    });
    // The promotions' uses, conditionally below their limits.
    let promotions_at = ops.len();
    ops.extend(crate::commerce::promotions::use_ops(
        merchant,
        &deps.customer_key(&order.wa_id),
        &order,
        offered,
    ));
    ops.extend(effects);
    let order_index = stocked.len();
    match deps.table.transact(ops).await {
        Ok(()) => {
            tracing::info!(merchant = %merchant, order = %order.id, total = order.total.0, "order placed, stock reserved");
            catalog_changed(deps, merchant).await;
            Ok(order)
        }
        Err(StoreError::TransactionCanceled { reasons })
            if reasons.get(order_index) == Some(&CancelReason::ConditionFailed) =>
        {
            let table = TenantTable::of(deps, merchant);
            match table
                .get(&order_key(&order.id))
                .await
                .map_err(PlaceError::Store)?
            {
                Some(existing) => {
                    let existing = order_from(&existing)
                        .map_err(|e| PlaceError::Store(StoreError::Internal(e.to_string())))?;
                    Ok(existing)
                }
                None => Err(PlaceError::Store(StoreError::Unavailable(
                    "order write conflicted; retry".into(),
                ))),
            }
        }
        Err(e @ StoreError::TransactionCanceled { .. }) if e.is_condition_failed() => {
            let failed = e.failed_operations();
            if let Some(p) =
                crate::commerce::promotions::limited(&order, offered, &failed, promotions_at)
            {
                return Err(PlaceError::PromotionUsedUp(p.name.clone()));
            }
            let table = TenantTable::of(deps, merchant);
            let mut shortages = Vec::new();
            for i in failed {
                if let Some(line) = stocked.get(i) {
                    let stock =
                        crate::commerce::catalog::get_stock(&table, &order.branch_id, &line.sku)
                            .await
                            .map_err(PlaceError::Store)?;
                    shortages.push(Shortage {
                        sku: line.sku.clone(),
                        name: line.name.clone(),
                        requested: line.qty,
                        available: stock.available.max(0),
                    });
                }
            }
            Err(PlaceError::Short(shortages))
        }
        Err(e) => Err(PlaceError::Store(e)),
    }
}

/// Availability changed: the Meta catalog is pushed a little later. A failure to schedule it is
/// logged; the order stands.
async fn catalog_changed(deps: &Deps, merchant: &MerchantId) {
    if let Err(e) = crate::commerce::catalog_sync::schedule(deps, merchant).await {
        tracing::warn!(merchant = %merchant, error = %e, "could not schedule the Meta catalog push");
    }
}

/// One order of the merchant.
pub async fn get(table: &TenantTable, id: &str) -> Result<Option<Order>, AppError> {
    table
        .get(&order_key(id))
        .await?
        .as_ref()
        .map(order_from)
        .transpose()
}

/// Moves an order from `from` to `to`, releasing reserved stock when it ends unpaid. Returns `None`
/// when the order was not in `from` (a late or repeated event: nothing changes).
pub async fn transition(
    deps: &Deps,
    merchant: &MerchantId,
    order: &Order,
    to: OrderStatus,
) -> Result<Option<Order>, AppError> {
    let from = order.status;
    if !from.may_become(to) {
        return Err(AppError::Conflict(format!(
            "an order that is {} cannot become {}",
            from.as_str(),
            to.as_str()
        )));
    }
    let mut ops = vec![TxOp::Update {
        key: schema::in_merchant(merchant, schema::order(&order.id)),
        update: Update::new()
            .set("status", to.as_str())
            .set("updated_at", deps.clock.now_secs()),
        condition: Some(Condition::Eq(
            "status".into(),
            Value::S(from.as_str().into()),
        )),
    }];
    let effect = from.stock_effect(to);
    for line in order.lines.iter().filter(|l| l.sku != DELIVERY_SKU) {
        let q = i64::from(line.qty);
        let key = schema::in_merchant(merchant, schema::stock(&order.branch_id, &line.sku));
        let (update, condition) = match effect {
            StockEffect::Release => (
                Update::new().add("reserved", -q).add("available", q),
                Some(Condition::Ge("reserved".into(), q)),
            ),
            StockEffect::Commit => (
                Update::new().add("reserved", -q),
                Some(Condition::Ge("reserved".into(), q)),
            ),
            StockEffect::Restock => (Update::new().add("available", q), None),
            StockEffect::None => continue,
        };
        ops.push(TxOp::Update {
            key,
            update,
            condition,
        });
    }
    match effect {
        StockEffect::Release => ops.extend(crate::commerce::promotions::release_ops(
            merchant,
            &deps.customer_key(&order.wa_id),
            order,
        )),
        StockEffect::Commit => ops.extend(crate::commerce::promotions::paid_ops(merchant, order)),
        StockEffect::Restock | StockEffect::None => {}
    }
    match deps.table.transact(ops).await {
        Ok(()) => {
            tracing::info!(merchant = %merchant, order = %order.id, from = from.as_str(), to = to.as_str(), "order status changed");
            if matches!(effect, StockEffect::Release | StockEffect::Restock) {
                catalog_changed(deps, merchant).await;
            }
            Ok(Some(Order {
                status: to,
                ..order.clone()
            }))
        }
        Err(StoreError::TransactionCanceled { reasons })
            if reasons.first() == Some(&CancelReason::ConditionFailed) =>
        {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Filters for listing orders.
#[derive(Debug, Default, Deserialize)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub branch_id: Option<String>,
    /// `YYYY-MM-DD` (UTC dates of creation), inclusive.
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A page of orders, newest first. Status and branch filters apply within each page, so a page may
/// hold fewer than `limit` orders while a cursor follows.
pub async fn list(
    table: &TenantTable,
    filter: &OrderFilter,
) -> Result<(Vec<Order>, Option<String>), AppError> {
    let date = |d: &Option<String>, field: &str| -> Result<Option<String>, AppError> {
        match d {
            None => Ok(None),
            Some(d) if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok() => {
                Ok(Some(d.clone()))
            }
            Some(_) => Err(AppError::Validation(vec![FieldError::new(
                field,
                "a date as YYYY-MM-DD",
            )])),
        }
    };
    let (from, to) = (date(&filter.from, "from")?, date(&filter.to, "to")?);
    let sort = match (from, to) {
        (Some(f), Some(t)) => SortKey::Between(f, format!("{t}~")),
        (Some(f), None) => SortKey::Ge(f),
        (None, Some(t)) => SortKey::Le(format!("{t}~")),
        (None, None) => SortKey::Any,
    };
    let q = Query::gsi1(schema::ORDERS_INDEX)
        .sort(sort)
        .backward()
        .limit(filter.limit.unwrap_or(50).clamp(1, 200))
        .after(filter.cursor.clone());
    let page = table.query(q).await?;
    let mut orders = Vec::new();
    for item in &page.items {
        let order = order_from(item)?;
        if filter.status.is_some_and(|s| s != order.status)
            || filter
                .branch_id
                .as_ref()
                .is_some_and(|b| *b != order.branch_id)
        {
            continue;
        }
        orders.push(order);
    }
    Ok((orders, page.cursor))
}

/// How many of a customer's latest orders the conversation reads.
pub const RECENT_ORDERS: usize = 5;

/// The customer's [`RECENT_ORDERS`] latest orders, newest first, as the conversation shows them.
pub(crate) async fn recent_orders(
    table: &TenantTable,
    wa_id: &str,
) -> Result<Vec<mostrador_core::conversation::OrderSummary>, AppError> {
    let page = table
        .query(
            Query::partition(schema::customer_pk(&table.customer(wa_id)))
                .prefix(schema::CUSTOMER_ORDER_PREFIX)
                .backward()
                .limit(RECENT_ORDERS as u32),
        )
        .await?;
    let mut out = Vec::new();
    for pointer in &page.items {
        let Some(id) = pointer.get_s("order_id") else {
            continue;
        };
        if let Some(order) = get(table, id).await? {
            let created_at = chrono::DateTime::parse_from_rfc3339(&order.created_at)
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or_default();
            out.push(mostrador_core::conversation::OrderSummary {
                order_id: order.id,
                status: order.status.as_str().to_owned(),
                total: order.total,
                created_at,
            });
        }
    }
    Ok(out)
}
