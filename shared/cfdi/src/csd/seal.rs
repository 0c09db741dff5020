//! Sealing: the cadena original signed with the CSD, written into the XML with the certificate.

use super::Csd;
use crate::cadena::cadena_original;
use crate::catalogs::TipoDeComprobante;
use crate::model::Comprobante;
use crate::rfc::Rfc;
use crate::xml::{self, SealAttributes};
use chrono::{DateTime, NaiveDateTime, Utc};
use mostrador_core::money::Centavos;
use rust_decimal::Decimal;

/// Why an invoice could not be sealed with a CSD. Messages are for the merchant, in Spanish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The CSD belongs to another RFC than the invoice's emisor.
    #[error(
        "El CSD es del RFC {csd} y la factura la emite el RFC {emisor}: sube el CSD de {emisor}."
    )]
    RfcMismatch {
        /// RFC of the certificate.
        csd: Rfc,
        /// RFC of the emisor.
        emisor: Rfc,
    },
    /// The invoice date is before the certificate's validity.
    #[error("El CSD {no_certificado} es válido a partir del {} (UTC) y la factura tiene fecha {}.", valid_from.format("%Y-%m-%d %H:%M"), fecha.format("%Y-%m-%d %H:%M"))]
    NotYetValid {
        /// NoCertificado.
        no_certificado: String,
        /// Start of validity.
        valid_from: DateTime<Utc>,
        /// Invoice date (local).
        fecha: NaiveDateTime,
    },
    /// The certificate expired before the invoice date.
    #[error("El CSD {no_certificado} venció el {} (UTC) y la factura tiene fecha {}: renuévalo en CertiSAT para seguir facturando.", valid_until.format("%Y-%m-%d %H:%M"), fecha.format("%Y-%m-%d %H:%M"))]
    Expired {
        /// NoCertificado.
        no_certificado: String,
        /// End of validity.
        valid_until: DateTime<Utc>,
        /// Invoice date (local).
        fecha: NaiveDateTime,
    },
    /// The signing library failed (not the merchant's fault).
    #[error("No se pudo firmar la factura con el CSD.")]
    Signing,
}

/// A sealed CFDI: the XML to send to the PAC, with the cadena original and sello it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedCfdi {
    xml: String,
    cadena_original: String,
    sello: String,
    no_certificado: String,
    tipo: TipoDeComprobante,
    fecha: NaiveDateTime,
    emisor_rfc: Rfc,
    receptor_rfc: Rfc,
    total: Decimal,
    total_centavos: Centavos,
}

impl SealedCfdi {
    /// The sealed XML (UTF-8), ready for the PAC.
    pub fn xml(&self) -> &str {
        &self.xml
    }

    /// The XML, consuming the value.
    pub fn into_xml(self) -> String {
        self.xml
    }

    /// The cadena original that was signed.
    pub fn cadena_original(&self) -> &str {
        &self.cadena_original
    }

    /// The Sello (base64); its last 8 characters go on the printed QR code.
    pub fn sello(&self) -> &str {
        &self.sello
    }

    /// NoCertificado of the CSD that sealed it.
    pub fn no_certificado(&self) -> &str {
        &self.no_certificado
    }

    /// Ingreso or Egreso.
    pub fn tipo(&self) -> TipoDeComprobante {
        self.tipo
    }

    /// Fecha of the invoice (local time at the lugar de expedición).
    pub fn fecha(&self) -> NaiveDateTime {
        self.fecha
    }

    /// RFC of the emisor.
    pub fn emisor_rfc(&self) -> &Rfc {
        &self.emisor_rfc
    }

    /// RFC of the receptor.
    pub fn receptor_rfc(&self) -> &Rfc {
        &self.receptor_rfc
    }

    /// Total in pesos.
    pub fn total(&self) -> Decimal {
        self.total
    }

    /// Total in centavos.
    pub fn total_centavos(&self) -> Centavos {
        self.total_centavos
    }
}

impl Comprobante {
    /// Seals the invoice with `csd`: checks that the CSD is the emisor's and valid at Fecha, signs
    /// the cadena original and writes the XML. Deterministic: the same invoice and CSD always give
    /// the same bytes.
    pub fn seal(&self, csd: &Csd) -> Result<SealedCfdi, SealError> {
        if csd.rfc() != self.emisor().rfc() {
            return Err(SealError::RfcMismatch {
                csd: csd.rfc().clone(),
                emisor: self.emisor().rfc().clone(),
            });
        }
        csd.check_vigencia(self.fecha())?;
        let cadena = cadena_original(self, csd.no_certificado());
        let sello = csd.sello(&cadena)?;
        let xml = xml::write(
            self,
            &SealAttributes {
                no_certificado: csd.no_certificado(),
                certificado: csd.certificado_base64(),
                sello: &sello,
            },
        );
        Ok(SealedCfdi {
            xml,
            cadena_original: cadena,
            sello,
            no_certificado: csd.no_certificado().to_owned(),
            tipo: self.tipo(),
            fecha: self.fecha(),
            emisor_rfc: self.emisor().rfc().clone(),
            receptor_rfc: self.receptor().rfc().clone(),
            total: self.total(),
            total_centavos: self.total_centavos(),
        })
    }
}
