//! Order transitions the merchant and the jobs make, each followed by a message to the customer.
//!
//! Inside the customer's 24-hour window the notice is a text; outside it, the utility template
//! `mostrador_pedido_actualizado` (body: order number, status), which the merchant has approved in Meta.

use crate::commerce::orders::{self, Order, OrderStatus};
use crate::parties::customers;
use crate::parties::messages::{Category, OutboundEnvelope};
use crate::platform::error::ApiError;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_whatsapp::client::OutgoingMessage as CloudMessage;

/// The template used for order updates outside the 24-hour window.
pub const ORDER_UPDATE_TEMPLATE: &str = "mostrador_pedido_actualizado";

/// Tells the customer about an order; once per order and status (the outbound id is derived from both).
pub async fn notify(
    deps: &Deps,
    merchant: &MerchantId,
    order: &Order,
    text: String,
) -> Result<(), ApiError> {
    let table = TenantTable::new(deps.table.clone(), merchant);
    let customer = customers::get(&table, &order.wa_id).await?;
    let (category, message) = if customer.window_open(deps.clock.now()) {
        (
            Category::Service,
            CloudMessage::text(order.wa_id.clone(), text),
        )
    } else {
        let wire = serde_json::json!({
            "messaging_product": "whatsapp", "to": order.wa_id, "type": "template",
            "template": { "name": ORDER_UPDATE_TEMPLATE, "language": { "code": "es_MX" }, "components": [{ "type": "body", "parameters": [
                { "type": "text", "text": short_id(&order.id) }, { "type": "text", "text": order.status.customer_text() } ] }] }
        });
        (
            Category::Utility,
            serde_json::from_value(wire).map_err(|e| ApiError::Internal(e.into()))?,
        )
    };
    let id = format!("{}-{}", order.id, order.status.as_str());
    let envelope = OutboundEnvelope {
        id: id.clone(),
        merchant_id: merchant.to_string(),
        phone_number_id: order.phone_number_id.clone(),
        category,
        message,
    };
    envelope.queue(deps).await?;
    Ok(())
}

/// The order number as customers see it: its last 6 characters.
pub fn short_id(id: &str) -> String {
    id.chars()
        .rev()
        .take(6)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

async fn load(deps: &Deps, merchant: &MerchantId, order_id: &str) -> Result<Order, ApiError> {
    let table = TenantTable::new(deps.table.clone(), merchant);
    orders::get(&table, order_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("order".into()))
}

/// The reservation lapsed: release the stock and tell the customer. A paid order is left alone.
pub async fn expire(
    deps: &Deps,
    merchant: &MerchantId,
    order_id: &str,
) -> Result<Option<Order>, ApiError> {
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
pub async fn cancel(deps: &Deps, merchant: &MerchantId, order_id: &str) -> Result<Order, ApiError> {
    let order = load(deps, merchant, order_id).await?;
    if order.status != OrderStatus::AwaitingPayment {
        return Err(ApiError::Conflict(format!(
            "the order is {}: a paid order is refunded (POST /v1/orders/{}/refund), not cancelled",
            order.status.as_str(),
            order.id
        )));
    }
    let cancelled = orders::transition(deps, merchant, &order, OrderStatus::Cancelled)
        .await?
        .ok_or_else(|| ApiError::Conflict("the order changed meanwhile; read it again".into()))?;
    let text = format!(
        "Tu pedido {} fue cancelado por la tienda. Si tienes dudas, responde a este mensaje.",
        short_id(&order.id)
    );
    notify(deps, merchant, &cancelled, text).await?;
    Ok(cancelled)
}

/// Fulfilment steps: ready for pickup, shipped, delivered.
pub async fn advance(
    deps: &Deps,
    merchant: &MerchantId,
    order_id: &str,
    to: OrderStatus,
) -> Result<Order, ApiError> {
    if !matches!(
        to,
        OrderStatus::ReadyForPickup | OrderStatus::Shipped | OrderStatus::Delivered
    ) {
        return Err(ApiError::Validation(vec![
            crate::platform::error::FieldError::new(
                "status",
                "ready_for_pickup, shipped or delivered",
            ),
        ]));
    }
    let order = load(deps, merchant, order_id).await?;
    let moved = orders::transition(deps, merchant, &order, to)
        .await?
        .ok_or_else(|| ApiError::Conflict("the order changed meanwhile; read it again".into()))?;
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
