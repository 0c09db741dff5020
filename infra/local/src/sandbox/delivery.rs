//! What a simulated customer sends, checked at the edge, and the webhook body Meta would deliver for it:
//! the same envelope, field order and escaping (non-ASCII as `\uXXXX`, `/` as `\/`), so the signature
//! check and the parser see what they will see in production.

use mostrador_app::platform::error::FieldError;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Longest text message WhatsApp accepts.
const MAX_TEXT_CHARS: usize = 4096;
/// Ids and titles are the business's own values echoed back; bound them loosely.
const MAX_ID_CHARS: usize = 256;
const MAX_TITLE_CHARS: usize = 100;
const MAX_NAME_CHARS: usize = 100;
const MAX_ORDER_LINES: usize = 100;
const MAX_QUANTITY: u32 = 9_999;

/// The customer's profile name when the page sends none.
pub const DEFAULT_PROFILE_NAME: &str = "Cliente Sandbox";

/// `POST /sandbox/api/send` as the page sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    pub phone_number_id: Option<String>,
    pub wa_id: Option<String>,
    pub name: Option<String>,
    pub kind: Option<String>,
    pub text: Option<String>,
    pub id: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub items: Option<Vec<OrderLineRequest>>,
    /// The wamid of the business message this one answers (buttons and lists carry it).
    pub context_id: Option<String>,
}

/// One cart line as the page sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderLineRequest {
    pub product_retailer_id: Option<String>,
    pub quantity: Option<u32>,
    /// A decimal number or string (`45.5`, `"45.50"`); 0 when the page does not know the price.
    pub item_price: Option<Box<RawValue>>,
    pub currency: Option<String>,
}

/// A customer's message, valid by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerMessage {
    Text {
        body: String,
    },
    ButtonReply {
        id: String,
        title: String,
    },
    ListReply {
        id: String,
        title: String,
        description: Option<String>,
    },
    /// A cart from the catalog; `catalog_id` is filled in from the merchant's settings.
    Order {
        text: Option<String>,
        items: Vec<OrderLine>,
    },
}

/// One line of a catalog order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub product_retailer_id: String,
    pub quantity: u32,
    /// Exact decimal text, written into the body as a JSON number (as Meta does).
    pub item_price: String,
    pub currency: String,
}

/// A checked request: who writes to which number, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerSend {
    pub phone_number_id: String,
    /// The sender's WhatsApp id as Meta would send it (digits; Mexican mobiles keep their `521`).
    pub from: String,
    pub profile_name: String,
    pub context_id: Option<String>,
    pub message: CustomerMessage,
}

/// A WhatsApp phone number id: digits only.
pub fn phone_number_id(raw: &str) -> Option<String> {
    let raw = raw.trim();
    (!raw.is_empty() && raw.len() <= 32 && raw.bytes().all(|b| b.is_ascii_digit()))
        .then(|| raw.to_owned())
}

/// A customer's number as typed (`+52 1 55…`, `5215512345678`) → the digits Meta puts in `from`.
pub fn customer_number(raw: &str) -> Option<String> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, '+' | ' ' | '-' | '(' | ')'))
        .collect();
    mostrador_core::phone::normalize_wa_id(&digits)?;
    Some(digits)
}

fn bounded(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<String>,
    max: usize,
) -> Option<String> {
    match value {
        Some(v) if !v.trim().is_empty() && v.chars().count() <= max => Some(v),
        Some(_) => {
            errors.push(FieldError::new(
                field,
                format!("must have 1-{max} characters"),
            ));
            None
        }
        None => {
            errors.push(FieldError::new(field, "is required"));
            None
        }
    }
}

fn optional(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<String>,
    max: usize,
) -> Option<String> {
    match value {
        Some(v) if v.trim().is_empty() => None,
        Some(v) if v.chars().count() > max => {
            errors.push(FieldError::new(
                field,
                format!("must have at most {max} characters"),
            ));
            None
        }
        other => other,
    }
}

/// A price as exact decimal text: non-negative, at most 2 decimals.
fn price_text(raw: &RawValue) -> Option<String> {
    let text = raw.get().trim();
    let text = if text.starts_with('"') {
        serde_json::from_str::<String>(text).ok()?
    } else {
        text.to_owned()
    };
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let ok = !int.is_empty()
        && int.len() <= 10
        && digits(int)
        && frac.len() <= 2
        && digits(frac)
        && !(text.contains('.') && frac.is_empty());
    ok.then_some(text)
}

fn order_lines(
    errors: &mut Vec<FieldError>,
    items: Option<Vec<OrderLineRequest>>,
) -> Vec<OrderLine> {
    let items = match items {
        Some(items) if !items.is_empty() && items.len() <= MAX_ORDER_LINES => items,
        Some(_) => {
            errors.push(FieldError::new(
                "items",
                format!("must have 1-{MAX_ORDER_LINES} lines"),
            ));
            return Vec::new();
        }
        None => {
            errors.push(FieldError::new("items", "is required for an order"));
            return Vec::new();
        }
    };
    let mut lines = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let sku = bounded(
            errors,
            &format!("items[{i}].product_retailer_id"),
            item.product_retailer_id,
            MAX_ID_CHARS,
        );
        let quantity = match item.quantity {
            Some(q) if (1..=MAX_QUANTITY).contains(&q) => Some(q),
            _ => {
                errors.push(FieldError::new(
                    format!("items[{i}].quantity"),
                    format!("must be a whole number from 1 to {MAX_QUANTITY}"),
                ));
                None
            }
        };
        let price = match &item.item_price {
            None => Some("0".to_owned()),
            Some(raw) => {
                let price = price_text(raw);
                if price.is_none() {
                    errors.push(FieldError::new(
                        format!("items[{i}].item_price"),
                        "must be a non-negative amount with at most 2 decimals, e.g. 45.50",
                    ));
                }
                price
            }
        };
        let currency = item.currency.unwrap_or_else(|| "MXN".to_owned());
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            errors.push(FieldError::new(
                format!("items[{i}].currency"),
                "must be an ISO 4217 code such as MXN",
            ));
        }
        if let (Some(product_retailer_id), Some(quantity), Some(item_price)) =
            (sku, quantity, price)
        {
            lines.push(OrderLine {
                product_retailer_id,
                quantity,
                item_price,
                currency: currency.clone(),
            });
        }
    }
    lines
}

impl TryFrom<SendRequest> for CustomerSend {
    type Error = Vec<FieldError>;

    fn try_from(req: SendRequest) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let phone = match req.phone_number_id.as_deref().map(phone_number_id) {
            Some(Some(p)) => Some(p),
            _ => {
                errors.push(FieldError::new(
                    "phone_number_id",
                    "must be the numeric WhatsApp phone number id of a branch",
                ));
                None
            }
        };
        let from = match req.wa_id.as_deref().map(customer_number) {
            Some(Some(f)) => Some(f),
            _ => {
                errors.push(FieldError::new(
                    "wa_id",
                    "must be a WhatsApp number with country code, e.g. 5215512345678",
                ));
                None
            }
        };
        let profile_name = optional(&mut errors, "name", req.name, MAX_NAME_CHARS)
            .map(|n| n.trim().to_owned())
            .unwrap_or_else(|| DEFAULT_PROFILE_NAME.to_owned());
        let context_id = match req.context_id {
            Some(c) if c.is_empty() => None,
            Some(c) if c.len() <= 256 && c.bytes().all(|b| b.is_ascii_graphic()) => Some(c),
            Some(_) => {
                errors.push(FieldError::new(
                    "context_id",
                    "must be the wamid of the message answered",
                ));
                None
            }
            None => None,
        };
        let message = match req.kind.as_deref() {
            Some("text") => bounded(&mut errors, "text", req.text, MAX_TEXT_CHARS)
                .map(|body| CustomerMessage::Text { body }),
            Some("button_reply") => {
                let id = bounded(&mut errors, "id", req.id, MAX_ID_CHARS);
                let title = bounded(&mut errors, "title", req.title, MAX_TITLE_CHARS);
                id.zip(title)
                    .map(|(id, title)| CustomerMessage::ButtonReply { id, title })
            }
            Some("list_reply") => {
                let id = bounded(&mut errors, "id", req.id, MAX_ID_CHARS);
                let title = bounded(&mut errors, "title", req.title, MAX_TITLE_CHARS);
                let description =
                    optional(&mut errors, "description", req.description, MAX_TITLE_CHARS);
                id.zip(title).map(|(id, title)| CustomerMessage::ListReply {
                    id,
                    title,
                    description,
                })
            }
            Some("order") => {
                let text = optional(&mut errors, "text", req.text, MAX_TEXT_CHARS);
                let items = order_lines(&mut errors, req.items);
                (!items.is_empty()).then_some(CustomerMessage::Order { text, items })
            }
            _ => {
                errors.push(FieldError::new(
                    "kind",
                    "must be one of text, button_reply, list_reply, order",
                ));
                None
            }
        };
        match (phone, from, message) {
            (Some(phone_number_id), Some(from), Some(message)) if errors.is_empty() => Ok(Self {
                phone_number_id,
                from,
                profile_name,
                context_id,
                message,
            }),
            _ => Err(errors),
        }
    }
}

/// What the envelope needs besides the customer's message.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    pub send: &'a CustomerSend,
    pub wamid: &'a str,
    /// Unix seconds.
    pub timestamp: i64,
    /// The merchant's Meta catalog id (orders carry it).
    pub catalog_id: &'a str,
}

/// The webhook body Meta would POST for this message, byte for byte in Meta's style.
pub fn webhook_body(envelope: &Envelope<'_>) -> Result<Vec<u8>, serde_json::Error> {
    let send = envelope.send;
    // The local stack has no display number for a branch; its id stands in for it.
    let business = send.phone_number_id.as_str();
    let content = match &send.message {
        CustomerMessage::Text { body } => (Content::Text { body }, "text"),
        CustomerMessage::ButtonReply { id, title } => (
            Content::Interactive(Interactive::ButtonReply {
                button_reply: Reply {
                    id,
                    title,
                    description: None,
                },
            }),
            "interactive",
        ),
        CustomerMessage::ListReply {
            id,
            title,
            description,
        } => (
            Content::Interactive(Interactive::ListReply {
                list_reply: Reply {
                    id,
                    title,
                    description: description.as_deref(),
                },
            }),
            "interactive",
        ),
        CustomerMessage::Order { text, items } => (
            Content::Order {
                catalog_id: envelope.catalog_id,
                text: text.as_deref(),
                product_items: items
                    .iter()
                    .map(|l| {
                        Ok(WireItem {
                            product_retailer_id: &l.product_retailer_id,
                            quantity: l.quantity,
                            item_price: RawValue::from_string(l.item_price.clone())?,
                            currency: &l.currency,
                        })
                    })
                    .collect::<Result<_, serde_json::Error>>()?,
            },
            "order",
        ),
    };
    let body = WireBody {
        object: "whatsapp_business_account",
        entry: [WireEntry {
            // Nor a WhatsApp Business Account id.
            id: "0",
            changes: [WireChange {
                value: WireValue {
                    messaging_product: "whatsapp",
                    metadata: WireMetadata {
                        display_phone_number: business,
                        phone_number_id: business,
                    },
                    contacts: [WireContact {
                        profile: WireProfile {
                            name: &send.profile_name,
                        },
                        wa_id: &send.from,
                    }],
                    messages: [WireMessage {
                        context: send
                            .context_id
                            .as_deref()
                            .map(|id| WireContext { from: business, id }),
                        from: &send.from,
                        id: envelope.wamid,
                        timestamp: envelope.timestamp.to_string(),
                        content: content.0,
                        kind: content.1,
                    }],
                },
                field: "messages",
            }],
        }],
    };
    Ok(meta_escape(&serde_json::to_string(&body)?).into_bytes())
}

/// Escapes as Meta does: every non-ASCII character as `\uXXXX` (surrogate pairs above the BMP) and
/// `/` as `\/`. Both occur only inside JSON strings, so the text stays the same JSON.
fn meta_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 8);
    for c in json.chars() {
        if c == '/' {
            out.push_str("\\/");
        } else if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[derive(Serialize)]
struct WireBody<'a> {
    object: &'static str,
    entry: [WireEntry<'a>; 1],
}

#[derive(Serialize)]
struct WireEntry<'a> {
    id: &'static str,
    changes: [WireChange<'a>; 1],
}

#[derive(Serialize)]
struct WireChange<'a> {
    value: WireValue<'a>,
    field: &'static str,
}

#[derive(Serialize)]
struct WireValue<'a> {
    messaging_product: &'static str,
    metadata: WireMetadata<'a>,
    contacts: [WireContact<'a>; 1],
    messages: [WireMessage<'a>; 1],
}

#[derive(Serialize)]
struct WireMetadata<'a> {
    display_phone_number: &'a str,
    phone_number_id: &'a str,
}

#[derive(Serialize)]
struct WireContact<'a> {
    profile: WireProfile<'a>,
    wa_id: &'a str,
}

#[derive(Serialize)]
struct WireProfile<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<WireContext<'a>>,
    from: &'a str,
    id: &'a str,
    timestamp: String,
    #[serde(flatten)]
    content: Content<'a>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct WireContext<'a> {
    from: &'a str,
    id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Content<'a> {
    Text {
        body: &'a str,
    },
    Interactive(Interactive<'a>),
    Order {
        catalog_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<&'a str>,
        product_items: Vec<WireItem<'a>>,
    },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Interactive<'a> {
    ButtonReply { button_reply: Reply<'a> },
    ListReply { list_reply: Reply<'a> },
}

#[derive(Serialize)]
struct Reply<'a> {
    id: &'a str,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
}

#[derive(Serialize)]
struct WireItem<'a> {
    product_retailer_id: &'a str,
    quantity: u32,
    item_price: Box<RawValue>,
    currency: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use mostrador_whatsapp::webhook::{self, Interactive as In, MessageKind};
    use serde_json::json;

    fn request(value: serde_json::Value) -> Result<CustomerSend, Vec<FieldError>> {
        let req: SendRequest = serde_json::from_value(value).expect("request shape");
        CustomerSend::try_from(req)
    }

    fn delivered(send: &CustomerSend) -> (Vec<u8>, webhook::Delivery) {
        let body = webhook_body(&Envelope {
            send,
            wamid: "wamid.sandbox.01TEST",
            timestamp: 1_763_721_600,
            catalog_id: "cat-1",
        })
        .expect("body");
        let delivery = webhook::parse(&body).expect("Meta-shaped body");
        (body, delivery)
    }

    #[test]
    fn a_text_is_delivered_as_meta_sends_it() {
        let send = request(json!({
            "phone_number_id": "106540352242922", "wa_id": "+52 1 55 1234 5678",
            "name": "María Guadalupe", "kind": "text", "text": "¿Tienen paracetamol? 🌮 https://x.mx"
        }))
        .expect("valid");
        let (body, delivery) = delivered(&send);
        let text = String::from_utf8(body.clone()).expect("utf8");
        assert!(text.is_ascii(), "non-ASCII is escaped as Meta does: {text}");
        assert!(text.contains(r"https:\/\/x.mx"), "{text}");
        assert!(text.starts_with(r#"{"object":"whatsapp_business_account","entry":[{"id":"0","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"106540352242922","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Mar\u00eda Guadalupe"},"wa_id":"5215512345678"}],"messages":[{"from":"5215512345678","id":"wamid.sandbox.01TEST","timestamp":"1763721600","text":{"body":"#), "{text}");
        assert!(
            text.ends_with(r#""},"type":"text"}]},"field":"messages"}]}]}"#),
            "{text}"
        );
        let change = &delivery.changes[0];
        assert_eq!(change.phone_number_id, "106540352242922");
        assert_eq!(
            change.profile_name("5215512345678"),
            Some("María Guadalupe")
        );
        let message = &change.messages[0];
        assert_eq!(message.timestamp, 1_763_721_600);
        assert_eq!(
            message.kind,
            MessageKind::Text {
                body: "¿Tienen paracetamol? 🌮 https://x.mx".into()
            }
        );
        // The signature covers these bytes, as the webhook checks it.
        let header = mostrador_whatsapp::signature::sign(b"secret", &body);
        assert_eq!(
            mostrador_whatsapp::signature::verify(b"secret", &body, Some(&header)),
            Ok(())
        );
    }

    #[test]
    fn replies_carry_the_answered_message_as_context() {
        let send = request(json!({
            "phone_number_id": "1", "wa_id": "5215512345678", "kind": "button_reply",
            "id": "confirm", "title": "Confirmar", "context_id": "sandbox.01OUT"
        }))
        .expect("valid");
        let (_, delivery) = delivered(&send);
        let message = &delivery.changes[0].messages[0];
        assert_eq!(
            message.kind,
            MessageKind::Interactive(In::ButtonReply {
                id: "confirm".into(),
                title: "Confirmar".into()
            })
        );
        let context = message.context.as_ref().expect("context");
        assert_eq!(context.id.as_deref(), Some("sandbox.01OUT"));
        assert_eq!(send.profile_name, DEFAULT_PROFILE_NAME);

        let send = request(json!({
            "phone_number_id": "1", "wa_id": "5215512345678", "kind": "list_reply",
            "id": "cat-analgesicos", "title": "Analgésicos", "description": "Dolor y fiebre"
        }))
        .expect("valid");
        let (_, delivery) = delivered(&send);
        assert_eq!(
            delivery.changes[0].messages[0].kind,
            MessageKind::Interactive(In::ListReply {
                id: "cat-analgesicos".into(),
                title: "Analgésicos".into(),
                description: Some("Dolor y fiebre".into())
            })
        );
    }

    #[test]
    fn an_order_keeps_exact_prices_as_json_numbers() {
        let send = request(json!({
            "phone_number_id": "1", "wa_id": "525512345678", "kind": "order",
            "items": [
                {"product_retailer_id": "PARA-500", "quantity": 2, "item_price": "45.50", "currency": "MXN"},
                {"product_retailer_id": "AGUA-1L", "quantity": 1}
            ]
        }))
        .expect("valid");
        let (body, delivery) = delivered(&send);
        let text = String::from_utf8(body).expect("utf8");
        assert!(text.contains(r#""item_price":45.50,"#), "{text}");
        let MessageKind::Order {
            catalog_id, items, ..
        } = &delivery.changes[0].messages[0].kind
        else {
            panic!("not an order: {text}");
        };
        assert_eq!(catalog_id, "cat-1");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].item_price, "45.50");
        assert_eq!(items[0].quantity, 2);
        assert_eq!(items[1].item_price, "0");
        assert_eq!(items[1].currency, "MXN");
    }

    #[test]
    fn malformed_requests_name_every_bad_field() {
        let errors = request(json!({
            "phone_number_id": "abc", "wa_id": "12", "kind": "order",
            "items": [{"product_retailer_id": "", "quantity": 0, "item_price": "-3", "currency": "pesos"}]
        }))
        .expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "phone_number_id",
                "wa_id",
                "items[0].product_retailer_id",
                "items[0].quantity",
                "items[0].item_price",
                "items[0].currency"
            ]
        );
        let errors =
            request(json!({"phone_number_id": "1", "wa_id": "5215512345678", "kind": "sticker"}))
                .expect_err("invalid");
        assert_eq!(errors[0].field, "kind");
        let errors = request(
            json!({"phone_number_id": "1", "wa_id": "5215512345678", "kind": "text", "text": "  "}),
        )
        .expect_err("blank");
        assert_eq!(errors[0].field, "text");
        for price in ["1e3", "4.555", "-3", "\"4.\"", "\".5\"", "\"\"", "\"1,5\""] {
            let raw = RawValue::from_string(price.to_owned()).expect("raw");
            assert_eq!(price_text(&raw), None, "{price}");
        }
    }
}
