//! The one way to tell a customer something the business starts (an order update, a payment link,
//! an invoice, a reminder): inside the customer's 24-hour window a free-form message, outside it an
//! approved template — WhatsApp allows nothing else. Each message has an outbound id derived from
//! what it is about, so telling twice queues once.

use crate::parties::customers;
use crate::parties::messages::{Category, OutboundEnvelope};
use crate::platform::error::AppError;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_whatsapp::client::OutgoingMessage as CloudMessage;
use serde_json::{json, Value};

/// A document a template carries in its header (an invoice PDF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentHeader {
    pub link: String,
    pub filename: String,
}

/// An approved template (es_MX) with its header document, if any, and its body parameters in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub name: &'static str,
    pub document: Option<DocumentHeader>,
    pub body: Vec<String>,
}

/// One outbound message with its id and category.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub category: Category,
    pub message: CloudMessage,
}

/// What to tell one customer, both ways.
#[derive(Debug, Clone)]
pub struct Notice {
    /// The customer's WhatsApp id.
    pub to: String,
    /// The merchant's number that talks to them.
    pub phone_number_id: String,
    /// While the window is open: one or more free-form messages.
    pub inside: Vec<Message>,
    /// When it is closed: the template, with its outbound id and category.
    pub outside: (String, Category, Template),
}

impl Notice {
    /// A text inside the window (category `inside`), else `template` (its own category `outside`),
    /// both under the outbound id `id`.
    pub fn text(
        id: String,
        to: &str,
        phone_number_id: &str,
        text: String,
        inside: Category,
        template: Template,
        outside: Category,
    ) -> Self {
        Self {
            to: to.to_owned(),
            phone_number_id: phone_number_id.to_owned(),
            inside: vec![Message {
                id: id.clone(),
                category: inside,
                message: CloudMessage::text(to.to_owned(), text),
            }],
            outside: (id, outside, template),
        }
    }
}

/// The Cloud API message of a template.
pub(crate) fn template_message(to: &str, template: &Template) -> Result<CloudMessage, AppError> {
    let body: Vec<Value> = template
        .body
        .iter()
        .map(|p| json!({ "type": "text", "text": p }))
        .collect();
    let mut components = Vec::with_capacity(2);
    if let Some(doc) = &template.document {
        components.push(
            json!({ "type": "header", "parameters": [{ "type": "document",
            "document": { "link": doc.link, "filename": doc.filename } }] }),
        );
    }
    components.push(json!({ "type": "body", "parameters": body }));
    serde_json::from_value(json!({
        "messaging_product": "whatsapp", "to": to, "type": "template",
        "template": { "name": template.name, "language": { "code": "es_MX" }, "components": components }
    }))
    .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("building a template message")))
}

/// Which messages a notice becomes for a customer whose window is (or is not) open.
pub(crate) fn messages_for(notice: Notice, window_open: bool) -> Result<Vec<Message>, AppError> {
    if window_open {
        return Ok(notice.inside);
    }
    let (id, category, template) = notice.outside;
    Ok(vec![Message {
        id,
        category,
        message: template_message(&notice.to, &template)?,
    }])
}

/// Tells the customer: queues the notice's messages for the sender (which applies consent, caps and
/// quiet hours), as the customer's window allows.
pub(crate) async fn tell(
    deps: &Deps,
    merchant: &MerchantId,
    notice: Notice,
) -> Result<(), AppError> {
    let table = TenantTable::of(deps, merchant);
    let customer = customers::get(&table, &notice.to).await?;
    let phone_number_id = notice.phone_number_id.clone();
    for m in messages_for(notice, customer.window_open(deps.clock.now()))? {
        OutboundEnvelope {
            id: m.id,
            merchant_id: merchant.to_string(),
            phone_number_id: phone_number_id.clone(),
            category: m.category,
            kind: None,
            message: m.message,
        }
        .queue(deps)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(m: &CloudMessage) -> Value {
        serde_json::to_value(m).expect("a Cloud API message serializes")
    }

    fn notice() -> Notice {
        Notice::text(
            "O1-paid".into(),
            "5215512345678",
            "100",
            "Tu pedido ABC123 está pagado.".into(),
            Category::Service,
            Template {
                name: "mostrador_pedido_actualizado",
                document: None,
                body: vec!["ABC123".into(), "pagado".into()],
            },
            Category::Utility,
        )
    }

    #[test]
    fn inside_the_window_the_customer_gets_the_text() {
        let out = messages_for(notice(), true).expect("builds");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].id, "O1-paid");
        assert_eq!(out[0].category, Category::Service);
        let w = wire(&out[0].message);
        assert_eq!(w["type"], "text");
        assert_eq!(w["text"]["body"], "Tu pedido ABC123 está pagado.");
        assert_eq!(w["to"], "5215512345678");
    }

    #[test]
    fn outside_the_window_the_customer_gets_the_template_with_its_parameters() {
        let out = messages_for(notice(), false).expect("builds");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].category, Category::Utility);
        let w = wire(&out[0].message);
        assert_eq!(w["type"], "template");
        assert_eq!(w["template"]["name"], "mostrador_pedido_actualizado");
        assert_eq!(w["template"]["language"]["code"], "es_MX");
        let params = &w["template"]["components"][0]["parameters"];
        assert_eq!(w["template"]["components"][0]["type"], "body");
        assert_eq!(params[0]["text"], "ABC123");
        assert_eq!(params[1]["text"], "pagado");
    }

    #[test]
    fn a_template_document_goes_in_the_header_before_the_body() {
        let t = Template {
            name: "mostrador_factura",
            document: Some(DocumentHeader {
                link: "https://example.mx/f/1.pdf".into(),
                filename: "factura.pdf".into(),
            }),
            body: vec!["ABC123".into()],
        };
        let w = wire(&template_message("521", &t).expect("builds"));
        let components = &w["template"]["components"];
        assert_eq!(components[0]["type"], "header");
        assert_eq!(
            components[0]["parameters"][0]["document"]["filename"],
            "factura.pdf"
        );
        assert_eq!(components[1]["type"], "body");
    }
}
