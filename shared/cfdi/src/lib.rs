//! CFDI 4.0: the typed model of an invoice, its XML, cadena original and sello, the PAC clients that
//! stamp it, and its printed representation (PDF).

// Model, amounts, XML, cadena original and sello.
pub mod amounts;
pub mod cadena;
pub mod catalogs;
pub mod csd;
pub mod model;
pub mod rfc;
pub mod xml;

// Stamping and the printed representation.
pub mod pac;
pub mod pdf;
pub mod stamped;

// The CFDI core API, re-exported for the app.
pub use catalogs::{
    ClaveProdServ, ClaveUnidad, CodigoPostal, FormaPago, Meses, MetodoPago, Pais, Periodicidad,
    RegimenFiscal, TipoDeComprobante, TipoRelacion, UsoCfdi,
};
pub use csd::{Csd, CsdError, SealError, SealedCfdi};
pub use model::{
    CfdiRelacionados, Comprobante, DatosFiscales, Emisor, FiscalError, FiscalErrors,
    InformacionGlobal, InvoiceHeader, OrderLine, Pago, Receptor, Ticket, TicketPart,
};
pub use rfc::{Rfc, TipoPersona};
#[cfg(feature = "oracle")]
#[doc(hidden)]
pub use xml::oracle;
