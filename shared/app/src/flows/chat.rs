//! order-confirm: a customer's message through the conversation state machine, and its actions
//! carried out. Replies are queued with ids derived from the wamid and orders are created with ids
//! derived from it too, so a redelivered message never sends a second reply or creates a second order.

use crate::commerce::catalog;
use crate::commerce::orders::{self, Order, OrderLine, OrderStatus, PlaceError};
use crate::parties::conversation::{
    input_of, load_for, load_settings, reply_id, save_state_after, send_reply, send_reply_as,
    Loaded, CONSENT_CONFIRMATION,
};
use crate::parties::customers;
use crate::parties::merchants;
use crate::parties::messages::InboundEnvelope;
use crate::parties::settings;
use crate::platform::error::AppError;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_core::conversation::{self, Action, Input, Offer, Reply};
use mostrador_core::search::ProductIndex;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

/// Runs one inbound message through the conversation.
pub async fn converse(deps: &Deps, msg: &InboundEnvelope) -> Result<(), AppError> {
    let Some(input) = input_of(msg.message.get()) else {
        return Ok(());
    };
    // "factura" and the invoice form's answers are handled by the invoicing flow.
    if crate::invoicing::chat_flow::handle(deps, msg, &input).await? {
        return Ok(());
    }
    run(deps, msg, input).await
}

/// The agent gave the conversation back (`msg` names the customer and a unique id for the replies).
pub async fn release(deps: &Deps, msg: &InboundEnvelope) -> Result<(), AppError> {
    run(deps, msg, Input::ReleasedByAgent).await
}

async fn run(deps: &Deps, msg: &InboundEnvelope, input: Input) -> Result<(), AppError> {
    let merchant = MerchantId::try_from(msg.merchant_id.clone()).map_err(AppError::BadRequest)?;
    let table = TenantTable::of(deps, &merchant);
    let (Some(profile), Some(branch)) = (
        merchants::get_merchant(deps, &merchant).await?,
        merchants::get_branch(&table, &msg.branch_id).await?,
    ) else {
        // Removed since the message was routed: keep the message, answer nothing.
        tracing::warn!(merchant = %merchant, branch = %msg.branch_id, "message for a merchant or branch that no longer exists; no conversation");
        return Ok(());
    };
    let chat = load_settings(&table).await?;
    let wa = settings::load(&table).await?;
    let stock = catalog::branch_stock(&table, &branch.id).await?;
    // A redelivery of a message whose first attempt placed its order and then died: that order's
    // reservation is this customer's own, so the conversation sees the stock the first attempt saw
    // and reaches the same order again (placing it returns the existing one) instead of telling the
    // customer it sold out.
    let own = own_reservation(&table, &merchant, msg).await?;
    let offers: Vec<Offer> = catalog::all_products(&table)
        .await?
        .into_iter()
        .map(|product| {
            let available = stock
                .get(&product.sku)
                .map_or(0, |s| s.available.clamp(0, i64::from(u32::MAX)))
                + own.get(&product.sku).copied().unwrap_or(0);
            let available = available.clamp(0, i64::from(u32::MAX)) as u32;
            Offer { product, available }
        })
        .collect();
    let recent = orders::recent_orders(&table, &msg.wa_id).await?;
    let timezone = branch
        .timezone
        .parse()
        .unwrap_or(chrono_tz::America::Mexico_City);
    let index = search_index(&merchant, &branch.id, &offers, &chat.synonyms);
    // FAQs for every branch, and this branch's own.
    let faqs: Vec<conversation::Faq> = chat
        .faqs
        .iter()
        .filter(|f| f.branches.is_empty() || f.branches.contains(&branch.id))
        .cloned()
        .collect();
    let found = load_for(&table, &msg.wa_id, &msg.wamid).await?;
    // A first purchase: no order of this customer's was ever paid (the recent ones tell; a
    // customer with more orders than that has bought before).
    let ordered_before = recent.len() >= orders::RECENT_ORDERS
        || recent.iter().any(|o| {
            !matches!(
                o.status.as_str(),
                "awaiting_payment" | "cancelled" | "expired"
            )
        });
    let mut offered = crate::commerce::promotions::offered(
        &table,
        &branch.id,
        &msg.wa_id,
        ordered_before,
        deps.clock.now(),
    )
    .await?;
    let mut code = found.code.clone();
    let notification_policy = crate::parties::notification_settings::load(&table).await?;
    let base = conversation::Context {
        merchant_name: &profile.name,
        branch_name: &branch.name,
        texts: &chat.texts,
        offers: &offers,
        includes_iva: chat.includes_iva,
        faqs: &faqs,
        catalog_id: wa.catalog_id.as_deref(),
        customer_name: msg.profile_name.as_deref(),
        orders: &recent,
        now: deps.clock.now(),
        timezone,
        branch_address: &branch.address,
        branch_hours: &branch.hours,
        delivery: branch.delivery.as_ref(),
        index: Some(index.as_ref()),
        promotions: &[],
        refused_codes: &[],
        code: None,
        alerts_after_opt_out: notification_policy.security_alerts_after_opt_out,
    };
    let mut state = found.state.clone();
    let mut pending = vec![input];
    let mut reply_no = 0;
    // Messages that follow the step's own replies (payment instructions after the confirmation).
    let mut followups: Vec<Reply> = Vec::new();
    while let Some(input) = pending.pop() {
        let ctx = conversation::Context {
            promotions: &offered.usable,
            refused_codes: &offered.refused_codes,
            code: code.as_deref(),
            ..base
        };
        let step = conversation::step(&state, &input, &ctx);
        state = step.state;
        // The reply that confirms a change of consent reaches the customer even after a "baja".
        let confirms = step.actions.iter().any(|a| {
            matches!(
                a,
                Action::OptOut | Action::OptIn | Action::MarketingOptOut | Action::MarketingOptIn
            )
        });
        for action in step.actions {
            match action {
                Action::Reply(reply) => {
                    reply_no += 1;
                    send_reply_as(
                        deps,
                        &merchant,
                        msg,
                        &format!("{}-r{reply_no}", reply_id(&msg.wamid)),
                        &reply,
                        confirms.then_some(CONSENT_CONFIRMATION),
                    )
                    .await?;
                }
                Action::RememberCode { code: given } => code = given,
                Action::PlaceOrder {
                    lines,
                    total,
                    fulfilment,
                    promotions,
                } => {
                    let order = Order {
                        id: order_id(&merchant, &msg.wamid),
                        branch_id: branch.id.clone(),
                        wa_id: msg.wa_id.clone(),
                        phone_number_id: msg.phone_number_id.clone(),
                        status: OrderStatus::AwaitingPayment,
                        subtotal: mostrador_core::money::Centavos(
                            lines.iter().map(|l| l.amounts.base.0).sum(),
                        ),
                        iva: mostrador_core::money::Centavos(
                            lines.iter().map(|l| l.amounts.iva.0).sum(),
                        ),
                        total,
                        lines: lines
                            .into_iter()
                            .map(|l| OrderLine {
                                sku: l.sku,
                                name: l.name,
                                qty: l.qty,
                                unit: l.unit,
                                amounts: l.amounts,
                                discount: l.discount,
                            })
                            .collect(),
                        created_at: deps.clock.now().to_rfc3339(),
                        expires_at_ms: deps.clock.now_ms()
                            + i64::from(chat.reservation_minutes) * 60_000,
                        payment_url: None,
                        fulfilment,
                        customer_name: msg.profile_name.clone(),
                        sealed_personal: None,
                        refunds: Vec::new(),
                        promotions: promotions
                            .into_iter()
                            .map(|mut applied| {
                                let own = offered
                                    .usable
                                    .iter()
                                    .find(|p| p.id == applied.id && p.code == applied.code);
                                applied.per_customer =
                                    own.is_some_and(|p| p.limits.per_customer.is_some());
                                applied.issued_code = own.is_some_and(|p| p.issued_codes);
                                applied
                            })
                            .collect(),
                    };
                    // The merchant's provider, or the sandbox provider until one is configured.
                    let (provider, methods) =
                        crate::commerce::payment_links::issuer(deps, &merchant).await?;
                    let request = crate::commerce::payment_links::request_for(
                        deps,
                        &merchant,
                        provider.as_ref(),
                        methods,
                        &order,
                        &profile.name,
                    );
                    // A provider failure does not lose the order: the stock is reserved anyway and
                    // the link follows when the provider answers (retried by a due entry).
                    let link = match provider.create(&request).await {
                        Ok(link) => Some(link),
                        Err(e) => {
                            tracing::warn!(merchant = %merchant, order = %order.id, provider = provider.name(), error = %e, "payment link creation failed; the order is placed and the link retried");
                            None
                        }
                    };
                    let order = Order {
                        payment_url: link.as_ref().and_then(|l| l.url.clone()),
                        ..order
                    };
                    match place_order(deps, &merchant, order).await {
                        Ok(placed) => {
                            let slot = match &link {
                                Some(link) => {
                                    crate::commerce::payment_links::store_on_order(
                                        &table,
                                        &placed.id,
                                        provider.name(),
                                        link,
                                    )
                                    .await?;
                                    let (slot, instructions) =
                                        crate::commerce::payment_links::how_to_pay(link, &placed);
                                    if let Some(text) = instructions {
                                        followups.push(Reply::Text(text));
                                    }
                                    slot
                                }
                                None if placed.status == OrderStatus::AwaitingPayment
                                    && placed.payment_url.is_none() =>
                                {
                                    crate::commerce::payment_links::schedule_retry(
                                        deps, &merchant, &placed.id, 0,
                                    )
                                    .await?;
                                    crate::commerce::payment_links::LINK_PENDING.to_owned()
                                }
                                None => placed.payment_url.clone().unwrap_or_else(|| {
                                    crate::commerce::payment_links::LINK_PENDING.to_owned()
                                }),
                            };
                            pending.push(Input::OrderPlaced {
                                order_id: placed.id.clone(),
                                total: placed.total,
                                payment_url: slot,
                                expires_in_minutes: chat.reservation_minutes,
                            })
                        }
                        Err(PlaceError::Short(shortages)) => pending.push(Input::OrderRejected {
                            shortages: shortages
                                .into_iter()
                                .map(|s| conversation::Shortage {
                                    sku: s.sku,
                                    name: s.name,
                                    requested: s.requested,
                                    available: s.available.clamp(0, i64::from(u32::MAX)) as u32,
                                })
                                .collect(),
                        }),
                        Err(PlaceError::PromotionUsedUp(name)) => {
                            // No longer offered to this conversation; the customer sees the cart
                            // without it.
                            offered.usable.retain(|p| p.name != name);
                            pending.push(Input::PromotionUnavailable { name })
                        }
                        Err(PlaceError::Store(e)) => return Err(e.into()),
                    }
                }
                Action::CancelDraft => {}
                Action::CancelOrder { order_id } => {
                    let cancelled =
                        crate::commerce::fulfilment::cancel_by_customer(deps, &merchant, &order_id)
                            .await?;
                    pending.push(Input::OrderCancelled {
                        order_id,
                        cancelled,
                    });
                }
                Action::HandToHuman => {
                    tracing::info!(merchant = %merchant, "conversation handed to a human agent")
                }
                Action::OptOut => {
                    customers::set_opt_out(&table, &msg.wa_id, true, "keyword", deps.clock.now())
                        .await?
                }
                Action::OptIn => {
                    customers::set_opt_out(&table, &msg.wa_id, false, "keyword", deps.clock.now())
                        .await?
                }
                Action::MarketingOptOut => {
                    crate::parties::consent::withdraw_marketing(
                        &table,
                        &msg.wa_id,
                        deps.clock.now(),
                    )
                    .await?
                }
                Action::MarketingOptIn => {
                    let words = match &input {
                        Input::Text(t) => t.as_str(),
                        _ => "alta promociones",
                    };
                    if let Err(e) = crate::parties::consent::marketing_by_keyword(
                        &table,
                        &msg.wa_id,
                        words,
                        notification_policy.privacy_notice_url.clone(),
                        deps.clock.now(),
                    )
                    .await
                    {
                        // Without a privacy notice no opt-in can be recorded: the merchant sees
                        // why in the log; promotions stay off.
                        tracing::warn!(merchant = %merchant, error = %e, "promotions asked for in the chat but no opt-in could be recorded");
                    }
                }
            }
        }
    }
    for reply in std::mem::take(&mut followups) {
        reply_no += 1;
        send_reply(
            deps,
            &merchant,
            msg,
            &format!("{}-r{reply_no}", reply_id(&msg.wamid)),
            &reply,
        )
        .await?;
    }
    save_state_after(
        deps,
        &table,
        &msg.wa_id,
        deps.clock.now_secs(),
        &msg.wamid,
        &found,
        &Loaded {
            state: state.clone(),
            code,
        },
    )
    .await?;
    // A cart left in the chat is reminded after a quiet spell (rescheduled at every step).
    crate::commerce::reminders::track_cart(deps, &merchant, msg, &state).await
}

/// Indexes kept per branch while this process lives, with the fingerprint of what they were built
/// from; at most this many.
const INDEXES_KEPT: usize = 256;

type IndexCache = HashMap<(String, String), (u64, Arc<ProductIndex>)>;

/// The branch catalog's search index: built once per catalog version (about 14 ms for 5,000
/// products) and reused by the following messages while the products and synonyms stay the same.
fn search_index(
    merchant: &MerchantId,
    branch_id: &str,
    offers: &[Offer],
    synonyms: &[Vec<String>],
) -> Arc<ProductIndex> {
    static CACHE: OnceLock<Mutex<IndexCache>> = OnceLock::new();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for offer in offers {
        let p = &offer.product;
        (&p.sku, &p.name, &p.description, &p.categories, p.active).hash(&mut hasher);
    }
    synonyms.hash(&mut hasher);
    let fingerprint = hasher.finish();
    let key = (merchant.to_string(), branch_id.to_owned());
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(kept) = cache.lock() {
        if let Some((seen, index)) = kept.get(&key) {
            if *seen == fingerprint {
                return Arc::clone(index);
            }
        }
    }
    let index = Arc::new(ProductIndex::build(
        offers.iter().map(|o| &o.product),
        synonyms,
    ));
    if let Ok(mut kept) = cache.lock() {
        if kept.len() >= INDEXES_KEPT {
            kept.clear();
        }
        kept.insert(key, (fingerprint, Arc::clone(&index)));
    }
    index
}

/// The order created by a confirmation message: one per wamid.
/// Units per SKU held by the order this very message placed on an earlier attempt (none usually).
async fn own_reservation(
    table: &TenantTable,
    merchant: &MerchantId,
    msg: &InboundEnvelope,
) -> Result<std::collections::HashMap<String, i64>, AppError> {
    let mut own = std::collections::HashMap::new();
    if let Some(earlier) = orders::get(table, &order_id(merchant, &msg.wamid)).await? {
        if earlier.status == OrderStatus::AwaitingPayment {
            for line in &earlier.lines {
                *own.entry(line.sku.clone()).or_insert(0) += i64::from(line.qty);
            }
        }
    }
    Ok(own)
}

pub fn order_id(merchant: &MerchantId, wamid: &str) -> String {
    let digest = hex::encode(Sha256::digest(format!("{merchant}:{wamid}").as_bytes()));
    format!("O{}", digest[..19].to_uppercase())
}

/// Places an order from the chat with what placing it sets in motion: the payment reminder (due a
/// configurable time before the expiry) and the branch's order count, in the same transaction; then
/// the conversation's ordering count (repeated by a redelivered confirmation, counted once).
pub async fn place_order(
    deps: &Deps,
    merchant: &MerchantId,
    order: Order,
) -> Result<Order, PlaceError> {
    // The order's promotions as they stand, for their limits.
    let mut offered = Vec::with_capacity(order.promotions.len());
    if !order.promotions.is_empty() {
        let table = TenantTable::of(deps, merchant);
        for applied in &order.promotions {
            match crate::commerce::promotions::get(&table, &applied.id, deps.clock.now()).await {
                Ok(stored) => offered.push(stored.promotion),
                Err(AppError::NotFound(_)) => {}
                Err(e) => {
                    return Err(PlaceError::Store(mostrador_store::StoreError::Unavailable(
                        e.to_string(),
                    )))
                }
            }
        }
    }
    let mut effects = Vec::with_capacity(2);
    if let Some(reminder) =
        crate::commerce::reminders::payment_reminder_entry(deps, merchant, &order)
            .await
            .map_err(PlaceError::Store)?
    {
        effects.push(reminder);
    }
    effects.push(crate::flows::reports::order_placed_op(
        merchant,
        &order,
        deps.clock.now(),
    ));
    let placed = orders::place(deps, merchant, order, &offered, effects).await?;
    crate::flows::reports::count_ordering_conversation(deps, merchant, &placed).await;
    Ok(placed)
}
