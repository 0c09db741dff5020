//! Inputs shared by the seal benchmark and the `global_10k` example.

use chrono::NaiveDate;
use mostrador_cfdi::{CodigoPostal, Csd, Emisor, FormaPago, InvoiceHeader, Ticket, TicketPart};
use mostrador_core::money::Centavos;
use mostrador_core::tax::TaxTreatment;
use std::path::Path;

/// SAT's public test CSD.
pub fn csd() -> Csd {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/csd");
    let read = |name: &str| std::fs::read(dir.join(name)).expect("fixture CSD");
    Csd::from_der(
        &read("EKU9003173C9.cer"),
        &read("EKU9003173C9.key"),
        "12345678a",
    )
    .expect("CSD")
}

/// The test CSD's emisor at lugar de expedición 42501, on a date inside the CSD's validity.
pub fn header() -> InvoiceHeader {
    InvoiceHeader {
        emisor: Emisor::parse("EKU9003173C9", "ESCUELA KEMPER URGATE", "601").expect("emisor"),
        lugar_expedicion: CodigoPostal::parse("42501").expect("cp"),
        fecha: NaiveDate::from_ymd_opt(2025, 6, 15)
            .and_then(|d| d.and_hms_opt(12, 30, 5))
            .expect("fecha"),
        serie: Some("F".into()),
        folio: Some("1001".into()),
    }
}

/// 10,000 tickets mixing 16 %, 0 % and exento, every fifth with two treatments.
pub fn tickets_10k() -> Vec<Ticket> {
    (0..10_000i64)
        .map(|i| Ticket {
            folio: format!("T-{i:06}"),
            forma_pago: if i % 3 == 0 {
                FormaPago::TarjetaDeDebito
            } else {
                FormaPago::Efectivo
            },
            partes: match i % 5 {
                0 => vec![
                    TicketPart {
                        iva_cargado: None,
                        iva: TaxTreatment::Iva16,
                        total: Centavos(2_350 + i),
                    },
                    TicketPart {
                        iva_cargado: None,
                        iva: TaxTreatment::Iva0,
                        total: Centavos(4_550),
                    },
                ],
                1 | 2 => vec![TicketPart {
                    iva_cargado: None,
                    iva: TaxTreatment::Iva16,
                    total: Centavos(1 + i * 37 % 250_000),
                }],
                3 => vec![TicketPart {
                    iva_cargado: None,
                    iva: TaxTreatment::Iva0,
                    total: Centavos(999 + i),
                }],
                _ => vec![TicketPart {
                    iva_cargado: None,
                    iva: TaxTreatment::Exempt,
                    total: Centavos(12_000),
                }],
            },
        })
        .collect()
}
