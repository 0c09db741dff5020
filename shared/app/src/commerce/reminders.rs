//! The commerce reminders the scheduler runs: an order still awaiting payment is reminded a
//! configurable time before it expires (its due entry is written with the order, in the same
//! transaction), and a cart left in the chat is reminded once after a quiet spell — only to customers
//! whose opt-in covers marketing. Inside the customer's 24-hour window the reminder is a text;
//! outside it, the approved templates [`PAYMENT_TEMPLATE`] and [`CART_TEMPLATE`].

use crate::commerce::orders::{self, Order, OrderStatus};
use crate::parties::consent;
use crate::parties::customers;
use crate::parties::messages::{Category, InboundEnvelope};
use crate::parties::notification_settings;
use crate::parties::tell::{tell, Notice, Template};
use crate::platform::due::{self, DueAction, Job};
use crate::platform::error::AppError;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_core::conversation::State;
use mostrador_store::{Condition, Item, StoreError, Table, TxOp};

/// Utility template for payment reminders outside the window (body: order number, total, link).
pub const PAYMENT_TEMPLATE: &str = "mostrador_recordatorio_pago";
/// Marketing template for abandoned carts outside the window (body: units in the cart).
pub const CART_TEMPLATE: &str = "mostrador_carrito_pendiente";
/// Marketing template for abandoned carts with a code of the customer's own (body: units in the
/// cart, the code, what it gives).
pub const CART_CODE_TEMPLATE: &str = "mostrador_carrito_codigo";

/// The due entry of an order's payment reminder, for the order's own transaction (`None` when the
/// merchant turned reminders off or the order expires too soon for one).
pub(crate) async fn payment_reminder_entry(
    deps: &Deps,
    merchant: &MerchantId,
    order: &Order,
) -> Result<Option<TxOp>, StoreError> {
    let table = TenantTable::of(deps, merchant);
    let settings = notification_settings::load(&table)
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    if settings.payment_reminder_minutes == 0 {
        return Ok(None);
    }
    let at = order.expires_at_ms - i64::from(settings.payment_reminder_minutes) * 60_000;
    if at <= deps.clock.now_ms() + 60_000 {
        return Ok(None);
    }
    let id = format!("order-{}", order.id);
    let entry = crate::platform::schema::due_entry(
        merchant,
        Job::PaymentReminders,
        &id,
        &id,
        at,
        &DueAction::PaymentReminder {
            merchant_id: merchant.to_string(),
            order_id: order.id.clone(),
        },
    )?;
    Ok(Some(TxOp::Put {
        item: entry,
        condition: None,
    }))
}

/// The payment reminder came due: an order still awaiting payment is reminded, once (the outbound
/// id is the order's); any other order is left alone.
pub(crate) async fn payment_reminder(
    deps: &Deps,
    merchant: &MerchantId,
    order_id: &str,
) -> Result<(), AppError> {
    let table = TenantTable::of(deps, merchant);
    let Some(order) = orders::get(&table, order_id).await? else {
        return Ok(());
    };
    if order.status != OrderStatus::AwaitingPayment || order.expires_at_ms <= deps.clock.now_ms() {
        return Ok(());
    }
    let _customer = customers::get(&table, &order.wa_id).await?;
    let number = crate::commerce::fulfilment::short_id(&order.id);
    let url = order.payment_url.clone().unwrap_or_default();
    let minutes = (order.expires_at_ms - deps.clock.now_ms()) / 60_000;
    let text = format!(
        "⏰ Tu pedido {number} por {} sigue apartado, pero solo {minutes} minutos más. Paga aquí para no perderlo: {url}",
        order.total.display_mxn()
    );
    let template = Template {
        name: PAYMENT_TEMPLATE,
        document: None,
        body: vec![number, order.total.display_mxn(), url],
    };
    tell(
        deps,
        merchant,
        Notice::text(
            format!("{}-payment-reminder", order.id),
            &order.wa_id,
            &order.phone_number_id,
            text,
            Category::Utility,
            template,
            Category::Utility,
        ),
    )
    .await?;
    tracing::info!(merchant = %merchant, order = %order.id, "payment reminder queued");
    Ok(())
}

/// After a conversation step: a cart in the chat (re)schedules its reminder after the quiet spell,
/// so only a cart left alone that long comes due.
pub(crate) async fn track_cart(
    deps: &Deps,
    merchant: &MerchantId,
    msg: &InboundEnvelope,
    state: &State,
) -> Result<(), AppError> {
    if state.cart().is_empty() {
        return Ok(());
    }
    let table = TenantTable::of(deps, merchant);
    let settings = notification_settings::load(&table).await?;
    if settings.abandoned_cart_minutes == 0 {
        return Ok(());
    }
    let at = deps.clock.now_ms() + i64::from(settings.abandoned_cart_minutes) * 60_000;
    let action = DueAction::AbandonedCart {
        merchant_id: merchant.to_string(),
        wa_id: msg.wa_id.clone(),
        phone_number_id: msg.phone_number_id.clone(),
    };
    due::schedule(
        deps,
        merchant,
        Job::AbandonedCarts,
        // The entry's key names the customer by pseudonym, like every key.
        &format!("cart-{}", table.customer(&msg.wa_id)),
        at,
        &action,
    )
    .await?;
    Ok(())
}

/// The cart reminder came due: sent once per cart (keyed by the conversation's last change) when the
/// cart is still there, untouched, and the customer's opt-in covers marketing.
pub(crate) async fn abandoned_cart(
    deps: &Deps,
    merchant: &MerchantId,
    wa_id: &str,
    phone_number_id: &str,
) -> Result<(), AppError> {
    let table = TenantTable::of(deps, merchant);
    let Some(conv) = table
        .get(&crate::platform::schema::conversation_state(
            &table.customer(wa_id),
        ))
        .await?
    else {
        return Ok(());
    };
    let state: State = conv
        .get_s("doc")
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default();
    let units: u32 = state.cart().iter().map(|l| l.qty).sum();
    if units == 0 {
        return Ok(());
    }
    let settings = notification_settings::load(&table).await?;
    let updated = conv.get_n("updated_at").unwrap_or(0);
    let quiet = i64::from(settings.abandoned_cart_minutes) * 60;
    if settings.abandoned_cart_minutes == 0 || deps.clock.now_secs() - updated < quiet - 60 {
        return Ok(());
    }
    let customer = customers::get(&table, wa_id).await?;
    let consent = consent::current(&table, wa_id).await?;
    if consent::check(&customer, consent.as_ref(), Category::Marketing).is_err() {
        tracing::info!(merchant = %merchant, "abandoned cart not reminded: no marketing opt-in");
        return Ok(());
    }
    // Once per cart: the marker is keyed by the conversation's last change.
    let marker = Item::new(&crate::platform::schema::cart_reminded(
        &table.customer(wa_id),
        updated,
    ))
    .with("ttl", deps.clock.now_secs() + 30 * 86_400);
    match table.put(marker, Some(Condition::NotExists)).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    // A code of the customer's own when the merchant chose a promotion for carts.
    let mut issued = None;
    if let Some(id) = &settings.abandoned_cart_promotion {
        match crate::commerce::promotions::get(&table, id, deps.clock.now()).await {
            Ok(stored) => {
                issued = crate::commerce::promotions::issue_code(
                    &table,
                    &stored.promotion,
                    wa_id,
                    deps.clock.now(),
                )
                .await?
                .map(|code| (code, stored.promotion));
            }
            Err(AppError::NotFound(_)) => {
                tracing::warn!(merchant = %merchant, "the cart reminder's promotion no longer exists; reminded without a code")
            }
            Err(e) => return Err(e),
        }
    }
    let mut text = format!("🛒 Dejaste {units} productos en tu carrito. ¿Lo terminamos? Escribe *carrito* para verlo o *menú* para seguir comprando.");
    let template = match &issued {
        Some((code, promotion)) => {
            let what = mostrador_core::promotions::describe(
                &mostrador_core::promotions::Promotion {
                    code: None,
                    ..promotion.clone()
                },
                |_| None,
            );
            text.push_str(&format!(
                "\n🎁 Usa el código *{}* y llévate {what} (válido {} días, en un pedido).",
                code.code,
                mostrador_core::promotions::ISSUED_CODE_DAYS
            ));
            Template {
                name: CART_CODE_TEMPLATE,
                document: None,
                body: vec![units.to_string(), code.code.clone(), what],
            }
        }
        None => Template {
            name: CART_TEMPLATE,
            document: None,
            body: vec![units.to_string()],
        },
    };
    tell(
        deps,
        merchant,
        Notice::text(
            format!("cart-{}-{updated}", table.customer(wa_id)),
            wa_id,
            phone_number_id,
            text,
            Category::Marketing,
            template,
            Category::Marketing,
        ),
    )
    .await?;
    tracing::info!(merchant = %merchant, units, "abandoned cart reminded");
    Ok(())
}
