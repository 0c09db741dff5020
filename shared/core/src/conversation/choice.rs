//! Ids of the buttons and list rows the machine sends, and what a tap on each means.
//!
//! An id carries everything needed to act on it (the SKU, the page, the category), so a tap on an old
//! message still works after the state moved on.

/// A tap on a button or row, parsed from its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// `menu`: the greeting and main menu.
    Menu,
    /// `catalogo` / `catalogo:{page}`: the categories (or the products when there is one category).
    Catalog {
        /// Page of the categories list, from 0.
        page: u32,
    },
    /// `cat:{page}:{name}`: the products of a category.
    Category {
        /// Page of the products list, from 0.
        page: u32,
        /// The category name as in the catalog.
        name: String,
    },
    /// `sku:{sku}`: a product, to ask how many.
    Product {
        /// The SKU.
        sku: String,
    },
    /// `qty:{qty}:{sku}`: add units of a product to the cart.
    Quantity {
        /// The SKU.
        sku: String,
        /// Units.
        qty: u32,
    },
    /// `pedido`: the customer's recent orders.
    OrderStatus,
    /// `ayuda`: the help list (FAQs, agent, menu).
    Help,
    /// `faq:{index}`: the answer of the merchant's FAQ at that position.
    Faq {
        /// Position in the merchant's FAQs.
        index: usize,
    },
    /// `asesor`: talk to a person.
    Agent,
    /// `carrito`: the cart summary.
    ViewCart,
    /// `confirmar`: place the order shown in the summary.
    Confirm,
    /// `cancelar`: drop the cart.
    Cancel,
    /// `entrega:recoger`: the customer picks the order up at the branch.
    Pickup,
    /// `entrega:envio`: the order is delivered to the customer.
    Delivery,
}

impl Choice {
    /// The id to put on a button or row.
    pub fn id(&self) -> String {
        match self {
            Choice::Menu => "menu".into(),
            Choice::Catalog { page: 0 } => "catalogo".into(),
            Choice::Catalog { page } => format!("catalogo:{page}"),
            Choice::Category { page, name } => format!("cat:{page}:{name}"),
            Choice::Product { sku } => format!("sku:{sku}"),
            Choice::Quantity { sku, qty } => format!("qty:{qty}:{sku}"),
            Choice::OrderStatus => "pedido".into(),
            Choice::Help => "ayuda".into(),
            Choice::Faq { index } => format!("faq:{index}"),
            Choice::Agent => "asesor".into(),
            Choice::ViewCart => "carrito".into(),
            Choice::Confirm => "confirmar".into(),
            Choice::Cancel => "cancelar".into(),
            Choice::Pickup => "entrega:recoger".into(),
            Choice::Delivery => "entrega:envio".into(),
        }
    }

    /// Reads an id we sent; `None` for ids of someone else (templates, older versions).
    pub fn parse(id: &str) -> Option<Choice> {
        let (head, rest) = match id.split_once(':') {
            Some((h, r)) => (h, Some(r)),
            None => (id, None),
        };
        let choice = match (head, rest) {
            ("menu", None) => Choice::Menu,
            ("catalogo", None) => Choice::Catalog { page: 0 },
            ("catalogo", Some(page)) => Choice::Catalog {
                page: page.parse().ok()?,
            },
            ("cat", Some(rest)) => {
                let (page, name) = rest.split_once(':')?;
                if name.is_empty() {
                    return None;
                }
                Choice::Category {
                    page: page.parse().ok()?,
                    name: name.to_string(),
                }
            }
            ("sku", Some(sku)) if !sku.is_empty() => Choice::Product {
                sku: sku.to_string(),
            },
            ("qty", Some(rest)) => {
                let (qty, sku) = rest.split_once(':')?;
                if sku.is_empty() {
                    return None;
                }
                Choice::Quantity {
                    sku: sku.to_string(),
                    qty: qty.parse().ok()?,
                }
            }
            ("pedido", None) => Choice::OrderStatus,
            ("ayuda", None) => Choice::Help,
            ("faq", Some(index)) => Choice::Faq {
                index: index.parse().ok()?,
            },
            ("asesor", None) => Choice::Agent,
            ("carrito", None) => Choice::ViewCart,
            ("confirmar", None) => Choice::Confirm,
            ("cancelar", None) => Choice::Cancel,
            ("entrega", Some("recoger")) => Choice::Pickup,
            ("entrega", Some("envio")) => Choice::Delivery,
            _ => return None,
        };
        Some(choice)
    }
}
