//! The CFDI 4.0 model: parsed fiscal data (emisor, receptor, text), the Comprobante with its
//! conceptos and taxes, and the constructors the app calls (individual invoice from an order,
//! factura global from tickets, nota de crédito).
//!
//! Parse, don't validate: every value here was checked when it was built, so an invalid invoice
//! cannot be represented and sealing never fails for a fiscal reason.

mod build;
mod comprobante;
mod error;
mod parties;
mod text;

pub use build::{InvoiceHeader, OrderLine, Ticket, TicketPart};
pub use comprobante::{
    CfdiRelacionados, Comprobante, Concepto, Impuestos, InformacionGlobal, Pago, Retencion,
    Traslado,
};
pub(crate) use error::Problems;
pub use error::{FiscalError, FiscalErrors};
pub use parties::{DatosFiscales, Emisor, Receptor};
pub use text::{Nombre, Texto};
