//! The chat with a customer as a pure state machine: `(state, input, context) → (state, actions)`.
//!
//! The app loads the customer's [`State`], builds a [`Context`] (catalog view of the branch, texts,
//! FAQs, recent orders, the time), calls [`step`], performs the [`Action`]s in order and stores the
//! new state. Actions that need the outside world ([`Action::PlaceOrder`]) are answered by feeding a
//! system [`Input`] back ([`Input::OrderPlaced`] / [`Input::OrderRejected`]).
//!
//! Buttons and list rows carry ids that say everything needed to act on them ([`Choice`]), so a
//! customer tapping an old message still gets a sensible answer.

mod cart;
mod choice;
mod machine;
mod reply;
mod texts;
mod understand;

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod tests;

pub use choice::Choice;
pub use machine::{order_number, step};
pub use reply::{limits, Button, Reply, Row, Section};
pub use texts::Texts;
pub use understand::{asks_for_invoice, changes_consent};

use crate::catalog::Product;
use crate::money::Centavos;
use crate::promotions::{Applied, Promotion, Unusable};
use crate::search::ProductIndex;
use crate::tax::LineAmounts;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Most units of one product in a cart line.
pub const MAX_QTY_PER_LINE: u32 = 99;

/// Most distinct products in one cart.
pub const MAX_CART_LINES: usize = 30;

/// The SKU of the delivery fee's line on an order (a service, SAT 78102203, unit E48, IVA 16 %).
pub const DELIVERY_SKU: &str = "ENVIO";

/// How a branch delivers, when it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryOffer {
    /// What delivery costs (IVA included when the merchant prices so); zero for free delivery.
    #[serde(default)]
    pub fee: Centavos,
    /// Orders of at least this much (products only) are delivered free.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_from: Option<Centavos>,
    /// Where it delivers, as customers read it ("Centro, Roma y Condesa").
    #[serde(default)]
    pub zone: String,
    /// The postal codes it delivers to; empty: any address the customer gives.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub postal_codes: Vec<String>,
    /// When it arrives, as customers read it ("en 30 a 60 minutos").
    #[serde(default)]
    pub eta: String,
}

/// How an order reaches the customer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fulfilment {
    /// The customer picks it up at the branch.
    #[default]
    Pickup,
    /// Delivered to an address (written, or a location pin).
    Delivery {
        /// The address as the customer gave it, or the pin's place.
        address: String,
        /// The pin's latitude, when a location was shared.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latitude: Option<String>,
        /// The pin's longitude.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        longitude: Option<String>,
    },
}

/// A product as the branch offers it right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The catalog product (only `active` products are orderable).
    pub product: Product,
    /// Stock of the branch that is not reserved.
    pub available: u32,
}

/// A question the merchant answers, found by keywords.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faq {
    /// The question as shown in the help list ("¿Cuál es el horario?").
    pub question: String,
    /// The answer sent to the customer.
    pub answer: String,
    /// Words or phrases that trigger the answer; matched without accents or case.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Branch ids the answer applies to; empty for every branch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<String>,
}

/// One of the customer's recent orders, for "mi pedido".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSummary {
    /// The order id as the merchant API shows it.
    pub order_id: String,
    /// The lifecycle status (`awaiting_payment`, `paid`, `shipped`…); labelled by [`Texts::status_label`].
    pub status: String,
    /// What the customer pays.
    pub total: Centavos,
    /// When the order was created.
    pub created_at: DateTime<Utc>,
}

/// Everything the machine may read while handling one message; built by the app per message.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The merchant's public name ("Farmacia San Juan").
    pub merchant_name: &'a str,
    /// The branch the customer writes to ("Centro"); may be empty.
    pub branch_name: &'a str,
    /// The merchant's texts.
    pub texts: &'a Texts,
    /// The branch's catalog view, in the order products should be shown.
    pub offers: &'a [Offer],
    /// Whether shelf prices include IVA (the merchant's setting).
    pub includes_iva: bool,
    /// The merchant's frequent questions.
    pub faqs: &'a [Faq],
    /// The Meta catalog linked to the number; browsing then uses product_list messages.
    pub catalog_id: Option<&'a str>,
    /// The customer's WhatsApp profile name.
    pub customer_name: Option<&'a str>,
    /// The customer's recent orders, any order.
    pub orders: &'a [OrderSummary],
    /// The current time.
    pub now: DateTime<Utc>,
    /// The branch's timezone, for dates shown to the customer.
    pub timezone: Tz,
    /// The branch's street address ("Av. 5 de Mayo 32, Centro, CDMX"); may be empty.
    pub branch_address: &'a str,
    /// The branch's opening hours as the merchant wrote them; may be empty.
    pub branch_hours: &'a str,
    /// How the branch delivers; `None`: pickup only.
    pub delivery: Option<&'a DeliveryOffer>,
    /// The search index of `offers` (built from the same offers, in the same order); built on the
    /// spot when absent, which costs a few milliseconds with thousands of products.
    pub index: Option<&'a ProductIndex>,
    /// Promotions this customer may use now at this branch (those with a code apply only once
    /// the customer gave it).
    pub promotions: &'a [Promotion],
    /// Codes (normalized) of promotions this customer cannot use now, with why.
    pub refused_codes: &'a [(String, Unusable)],
    /// The code the customer gave for the next order, if any.
    pub code: Option<&'a str>,
    /// Whether security alerts (fraud, account access) still reach a customer who asked to stop
    /// every message (the merchant's policy); the confirmation says so.
    pub alerts_after_opt_out: bool,
}

/// A product that could not be reserved in full when the order was placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortage {
    /// The SKU.
    pub sku: String,
    /// The product name.
    pub name: String,
    /// Units in the cart.
    pub requested: u32,
    /// Units that are available now.
    pub available: u32,
}

/// What the customer (or the app, for system inputs) sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// A text message.
    Text(String),
    /// A tap on a reply button.
    ButtonReply {
        /// The button id we sent.
        id: String,
        /// The button title.
        title: String,
    },
    /// A tap on a list row.
    ListReply {
        /// The row id we sent.
        id: String,
        /// The row title.
        title: String,
    },
    /// A WhatsApp catalog `order`: (SKU, quantity) pairs. Prices from the client are deliberately absent.
    CatalogOrder {
        /// Product retailer ids (our SKUs) and quantities.
        items: Vec<(String, u32)>,
    },
    /// A document or video.
    Media,
    /// A voice note or audio file.
    Voice,
    /// A photo (often a prescription or a product).
    Image,
    /// A sticker.
    Sticker,
    /// A location pin.
    Location {
        /// Latitude as sent.
        latitude: String,
        /// Longitude as sent.
        longitude: String,
        /// The place's address, when a place was chosen.
        #[serde(default)]
        address: Option<String>,
    },
    /// A message type the machine does not handle (location, contacts, reactions…).
    Unsupported,
    /// System: the app reserved stock and created the order asked for by [`Action::PlaceOrder`].
    OrderPlaced {
        /// The new order's id.
        order_id: String,
        /// What the customer pays.
        total: Centavos,
        /// Where the customer pays.
        payment_url: String,
        /// How long the stock stays reserved.
        expires_in_minutes: u32,
    },
    /// System: stock changed between the summary and the confirmation; nothing was reserved.
    OrderRejected {
        /// The lines that could not be reserved in full.
        shortages: Vec<Shortage>,
    },
    /// System: a promotion of the order was used up (or ended) between the summary and the
    /// confirmation; nothing was reserved. The app no longer offers it.
    PromotionUnavailable {
        /// Its name.
        name: String,
    },
    /// System: the human agent gave the conversation back to the machine.
    ReleasedByAgent,
    /// System: the answer to [`Action::CancelOrder`]: cancelled (stock released), or not because
    /// it was no longer waiting for payment.
    OrderCancelled {
        /// The order.
        order_id: String,
        /// Whether it was cancelled.
        cancelled: bool,
    },
}

/// One product in a cart: only the SKU and the quantity; prices always come from the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    /// The SKU.
    pub sku: String,
    /// Units.
    pub qty: u32,
}

/// Where the conversation with one customer stands; stored by the app between messages.
///
/// Tagged by `"state"`; fields added later get defaults, and a state written by a newer version that
/// this one does not know reads as [`State::Unknown`], which behaves as [`State::Idle`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// Nothing in progress.
    #[default]
    Idle,
    /// Looking at the menu, categories, products or search results, with the cart kept.
    Browsing {
        /// The category shown last, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<String>,
        /// The cart so far.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        cart: Vec<CartLine>,
    },
    /// Asked how many units of a product.
    ChoosingQuantity {
        /// The product.
        sku: String,
        /// The cart so far.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        cart: Vec<CartLine>,
    },
    /// The summary with Agregar más / Confirmar / Cancelar was shown.
    Cart {
        /// The lines as priced in the summary.
        lines: Vec<CartLine>,
        /// The total the customer saw; confirming at another total shows the summary again.
        #[serde(default)]
        total: Centavos,
    },
    /// Asked whether to pick the order up or have it delivered.
    ChoosingFulfilment {
        /// The lines as priced in the summary.
        lines: Vec<CartLine>,
        /// The total of the summary (products only).
        #[serde(default)]
        total: Centavos,
    },
    /// Asked for the delivery address (text or a location pin).
    GivingAddress {
        /// The lines as priced in the summary.
        lines: Vec<CartLine>,
        /// The total of the summary (products only).
        #[serde(default)]
        total: Centavos,
    },
    /// [`Action::PlaceOrder`] was emitted; waiting for [`Input::OrderPlaced`] or [`Input::OrderRejected`].
    Confirming {
        /// The lines being ordered.
        lines: Vec<CartLine>,
        /// Pickup or delivery, for the confirmation message.
        #[serde(default)]
        fulfilment: Fulfilment,
    },
    /// An order was created and its payment link sent.
    AwaitingPayment {
        /// The order.
        order_id: String,
        /// The payment link, to send again on request.
        #[serde(default)]
        payment_url: String,
        /// When the stock reservation ends.
        #[serde(default)]
        expires_at: DateTime<Utc>,
    },
    /// A human agent has the conversation: no automatic replies until [`Input::ReleasedByAgent`].
    HandedOff,
    /// A state this version does not know (written by a newer one); behaves as [`State::Idle`].
    #[serde(other)]
    Unknown,
}

impl State {
    /// The cart this state carries (empty for states without one).
    pub fn cart(&self) -> &[CartLine] {
        match self {
            State::Browsing { cart, .. } | State::ChoosingQuantity { cart, .. } => cart,
            State::Cart { lines, .. }
            | State::ChoosingFulfilment { lines, .. }
            | State::GivingAddress { lines, .. }
            | State::Confirming { lines, .. } => lines,
            State::Idle | State::AwaitingPayment { .. } | State::HandedOff | State::Unknown => &[],
        }
    }
}

/// A cart line priced from the catalog, as the order is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    /// The SKU.
    pub sku: String,
    /// The product name at the time of the order.
    pub name: String,
    /// Units.
    pub qty: u32,
    /// Shelf price of one unit (IVA included when the merchant prices so).
    pub unit: Centavos,
    /// What the line costs after its discount, split into base and IVA.
    pub amounts: LineAmounts,
    /// What promotions take off the line, in the terms of `unit` (0 without promotion).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub discount: Centavos,
}

fn is_zero(c: &Centavos) -> bool {
    c.0 == 0
}

/// What the app must do, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Send this message to the customer.
    Reply(Reply),
    /// Reserve stock for every line and create the order in one transaction, then feed back
    /// [`Input::OrderPlaced`] or [`Input::OrderRejected`].
    PlaceOrder {
        /// Priced lines (with the delivery fee's line when one applies).
        lines: Vec<PricedLine>,
        /// Sum of the lines' totals.
        total: Centavos,
        /// Pickup or delivery, with the address.
        #[serde(default)]
        fulfilment: Fulfilment,
        /// The promotions given, with what each took off (free delivery: the fee waived).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        promotions: Vec<Applied>,
    },
    /// Keep this code for the customer's next order (`None`: forget it).
    RememberCode {
        /// The code, normalized.
        code: Option<String>,
    },
    /// The customer dropped the cart (cancelled it or left it for an agent).
    CancelDraft,
    /// Cancel an order that waits for payment and release its stock, then feed back
    /// [`Input::OrderCancelled`].
    CancelOrder {
        /// The order.
        order_id: String,
    },
    /// Give the conversation to a human agent.
    HandToHuman,
    /// The customer asked to receive no more messages.
    OptOut,
    /// The customer asked to receive messages again.
    OptIn,
    /// The customer asked to stop promotions only (withdraw the marketing part of their consent).
    MarketingOptOut,
    /// The customer asked to receive promotions again (a marketing opt-in in their own words).
    MarketingOptIn,
}

/// The outcome of one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The state to store.
    pub state: State,
    /// What to do, in order.
    pub actions: Vec<Action>,
}

impl Step {
    /// The messages to send, in order.
    pub fn replies(&self) -> impl Iterator<Item = &Reply> {
        self.actions.iter().filter_map(|a| match a {
            Action::Reply(r) => Some(r),
            _ => None,
        })
    }
}
