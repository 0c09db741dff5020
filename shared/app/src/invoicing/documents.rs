//! Delivering an invoice: its PDF and XML as two WhatsApp documents. WhatsApp fetches documents from
//! a link, so each file gets a signed, expiring URL (`GET /files/{token}`) that reveals nothing and
//! cannot be guessed or altered.

use super::issue::{blob_key, InvoiceRecord};
use crate::commerce::orders::Order;
use crate::parties::messages::Category;
use crate::parties::tell::{tell, DocumentHeader, Message, Notice, Template};
use crate::platform::error::AppError;
use crate::platform::tenant::MerchantId;
use crate::platform::Deps;

/// How long a document link works (Meta downloads it within minutes; customers may reopen it).
pub const LINK_TTL_SECS: i64 = 7 * 24 * 3600;
/// The template that carries an invoice outside the 24-hour window (document header: the PDF).
pub const INVOICE_TEMPLATE: &str = "mostrador_factura";

/// A signed URL for a stored file (see [`crate::platform::files`]), for [`LINK_TTL_SECS`].
pub fn link(deps: &Deps, blob: &str, filename: &str) -> Result<String, AppError> {
    crate::platform::files::link(deps, blob, filename, LINK_TTL_SECS)
}

/// The file names customers see: `Factura-A-12.pdf`.
pub fn filename(rec: &InvoiceRecord, ext: &str) -> String {
    format!(
        "Factura-{}-{}.{ext}",
        rec.serie.as_deref().unwrap_or("A"),
        rec.folio.unwrap_or(0)
    )
}

/// Sends the stamped invoice to the order's customer: the PDF and the XML inside the 24-hour window,
/// or the invoice template with the PDF outside it. Each message is sent once per invoice.
pub async fn deliver(
    deps: &Deps,
    merchant: &MerchantId,
    order: &Order,
    rec: &InvoiceRecord,
) -> Result<(), AppError> {
    let pdf_name = filename(rec, "pdf");
    let xml_name = filename(rec, "xml");
    let pdf = link(deps, &blob_key(merchant, &rec.id, "cfdi.pdf"), &pdf_name)?;
    let xml = link(deps, &blob_key(merchant, &rec.id, "cfdi.xml"), &xml_name)?;
    let uuid = rec.uuid.clone().unwrap_or_default();
    let number = crate::commerce::fulfilment::short_id(&order.id);
    let document = |id: String, wire: serde_json::Value| -> Result<Message, AppError> {
        Ok(Message {
            id,
            category: Category::Service,
            message: serde_json::from_value(wire).map_err(|e| AppError::Internal(e.into()))?,
        })
    };
    let notice = Notice {
        to: order.wa_id.clone(),
        phone_number_id: order.phone_number_id.clone(),
        inside: vec![
            document(
                format!("{}-inv-pdf", order.id),
                serde_json::json!({ "messaging_product": "whatsapp", "to": order.wa_id, "type": "document",
                    "document": { "link": pdf, "filename": pdf_name,
                        "caption": format!("🧾 Tu factura del pedido {number} (folio fiscal {uuid}).") } }),
            )?,
            document(
                format!("{}-inv-xml", order.id),
                serde_json::json!({ "messaging_product": "whatsapp", "to": order.wa_id, "type": "document",
                    "document": { "link": xml, "filename": xml_name, "caption": "El XML de tu factura (CFDI 4.0)." } }),
            )?,
        ],
        outside: (
            format!("{}-inv-tpl", order.id),
            Category::Utility,
            Template {
                name: INVOICE_TEMPLATE,
                document: Some(DocumentHeader {
                    link: pdf,
                    filename: pdf_name,
                }),
                body: vec![number, uuid],
            },
        ),
    };
    tell(deps, merchant, notice).await
}
