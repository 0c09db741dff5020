//! Order transitions the merchant and the jobs make, each followed by a message to the customer.
//!
//! Inside the customer's 24-hour window the notice is a text; outside it, the utility template
//! `mostrador_pedido_actualizado` (body: order number, status), which the merchant has approved in Meta.

use crate::commerce::orders::{self, Order, OrderStatus};
use crate::parties::messages::Category;
use crate::parties::tell::{tell, Notice, Template};
use crate::platform::error::AppError;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;

/// The template used for order updates outside the 24-hour window.
pub const ORDER_UPDATE_TEMPLATE: &str = "mostrador_pedido_actualizado";

/// Tells the customer about an order; once per order and status (the outbound id is derived from both).
pub async fn notify(
    deps: &Deps,
    merchant: &MerchantId,
    order: &Order,
    text: String,
) -> Result<(), AppError> {
    let notice = Notice::text(
        format!("{}-{}", order.id, order.status.as_str()),
        &order.wa_id,
        &order.phone_number_id,
        text,
        Category::Service,
        Template {
            name: ORDER_UPDATE_TEMPLATE,
            document: None,
            body: vec![short_id(&order.id), order.status.customer_text().to_owned()],
        },
        Category::Utility,
    );
    tell(deps, merchant, notice).await
}

/// The order number as customers see it everywhere (chat, payment page, invoice, notices).
pub fn short_id(id: &str) -> String {
    mostrador_core::conversation::order_number(id)
}

async fn load(deps: &Deps, merchant: &MerchantId, order_id: &str) -> Result<Order, AppError> {
    let table = TenantTable::of(deps, merchant);
    orders::get(&table, order_id)
        .await?
        .ok_or_else(|| AppError::NotFound("order".into()))
}

/// The reservation lapsed: release the stock and tell the customer. A paid order is left alone.
pub async fn expire(
    deps: &Deps,
    merchant: &MerchantId,
    order_id: &str,
) -> Result<Option<Order>, AppError> {
    let order = load(deps, merchant, order_id).await?;
    if order.status != OrderStatus::AwaitingPayment {
        return Ok(None);
    }
    let Some(expired) = orders::transition(deps, merchant, &order, OrderStatus::Expired).await?
    else {
        return Ok(None);
    };
    let text = format!("Tu pedido {} venció porque no recibimos el pago a tiempo. Liberamos los productos; si aún los quieres, escríbenos y lo armamos de nuevo 🙂", short_id(&order.id));
    notify(deps, merchant, &expired, text).await?;
    Ok(Some(expired))
}

/// The merchant cancels: stock held for it is released; the customer is told.
pub async fn cancel(deps: &Deps, merchant: &MerchantId, order_id: &str) -> Result<Order, AppError> {
    let order = load(deps, merchant, order_id).await?;
    if order.status != OrderStatus::AwaitingPayment {
        return Err(AppError::Conflict(format!(
            "the order is {}: a paid order is refunded (POST /v1/orders/{}/refund), not cancelled",
            order.status.as_str(),
            order.id
        )));
    }
    let cancelled = orders::transition(deps, merchant, &order, OrderStatus::Cancelled)
        .await?
        .ok_or_else(|| AppError::Conflict("the order changed meanwhile; read it again".into()))?;
    let text = format!(
        "Tu pedido {} fue cancelado por la tienda. Si tienes dudas, responde a este mensaje.",
        short_id(&order.id)
    );
    notify(deps, merchant, &cancelled, text).await?;
    Ok(cancelled)
}

/// The customer cancels in the chat: an order still waiting for payment is cancelled and its stock
/// released (the chat says so itself). `false` when it is no longer waiting (paid meanwhile, say).
pub(crate) async fn cancel_by_customer(
    deps: &Deps,
    merchant: &MerchantId,
    order_id: &str,
) -> Result<bool, AppError> {
    let table = TenantTable::of(deps, merchant);
    let Some(order) = orders::get(&table, order_id).await? else {
        return Ok(false);
    };
    match order.status {
        OrderStatus::Cancelled => Ok(true),
        OrderStatus::AwaitingPayment => {
            Ok(
                orders::transition(deps, merchant, &order, OrderStatus::Cancelled)
                    .await?
                    .is_some(),
            )
        }
        _ => Ok(false),
    }
}

/// Fulfilment steps: ready for pickup, shipped, delivered.
pub async fn advance(
    deps: &Deps,
    merchant: &MerchantId,
    order_id: &str,
    to: OrderStatus,
) -> Result<Order, AppError> {
    if !matches!(
        to,
        OrderStatus::ReadyForPickup | OrderStatus::Shipped | OrderStatus::Delivered
    ) {
        return Err(AppError::Validation(vec![
            crate::platform::error::FieldError::new(
                "status",
                "ready_for_pickup, shipped or delivered",
            ),
        ]));
    }
    let order = load(deps, merchant, order_id).await?;
    let moved = orders::transition(deps, merchant, &order, to)
        .await?
        .ok_or_else(|| AppError::Conflict("the order changed meanwhile; read it again".into()))?;
    let text = match to {
        OrderStatus::ReadyForPickup => format!(
            "¡Tu pedido {} está listo para recoger! 🛍️",
            short_id(&order.id)
        ),
        OrderStatus::Shipped => format!("Tu pedido {} va en camino 🛵", short_id(&order.id)),
        _ => format!(
            "Tu pedido {} fue entregado. ¡Gracias por tu compra! 🙌",
            short_id(&order.id)
        ),
    };
    notify(deps, merchant, &moved, text).await?;
    Ok(moved)
}
