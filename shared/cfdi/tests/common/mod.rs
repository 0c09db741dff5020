//! Shared fixtures of the CFDI core tests: SAT's public test CSD, self-made certificates, an
//! independent checker of SAT's arithmetic and builders of typical invoices.
// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

pub mod certs;
pub mod sat_rules;

use chrono::{NaiveDate, NaiveDateTime};
use mostrador_cfdi::{
    CodigoPostal, Csd, DatosFiscales, Emisor, FormaPago, InvoiceHeader, OrderLine, Pago, Receptor,
};
use mostrador_core::money::Centavos;
use mostrador_core::tax::TaxTreatment;
use std::path::PathBuf;

/// SAT's public test CSD (EKU9003173C9), valid 2023-05-18 to 2027-05-18.
pub const FIXTURE_PASSWORD: &str = "12345678a";

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/csd")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `.cer` of SAT's test CSD.
pub fn fixture_cer() -> Vec<u8> {
    fixture("EKU9003173C9.cer")
}

/// The `.key` of SAT's test CSD.
pub fn fixture_key() -> Vec<u8> {
    fixture("EKU9003173C9.key")
}

/// SAT's test CSD, loaded.
pub fn fixture_csd() -> Csd {
    Csd::from_der(&fixture_cer(), &fixture_key(), FIXTURE_PASSWORD).expect("SAT test CSD loads")
}

/// A local date-time.
pub fn fecha(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|d| d.and_hms_opt(h, mi, s))
        .expect("valid date")
}

/// A date within the fixture CSD's validity; tests never depend on the clock.
pub fn fecha_fija() -> NaiveDateTime {
    fecha(2025, 6, 15, 12, 30, 5)
}

/// The emisor of SAT's test CSD.
pub fn emisor_eku() -> Emisor {
    Emisor::parse("EKU9003173C9", "ESCUELA KEMPER URGATE SA DE CV", "601").expect("emisor")
}

/// A header for the test emisor at lugar de expedición 42501.
pub fn header() -> InvoiceHeader {
    InvoiceHeader {
        emisor: emisor_eku(),
        lugar_expedicion: CodigoPostal::parse("42501").expect("cp"),
        fecha: fecha_fija(),
        serie: Some("F".into()),
        folio: Some("1001".into()),
    }
}

/// A self-made CSD of the RESICO persona física of [`header_resico`].
pub fn resico_csd() -> Csd {
    let spec = certs::Spec {
        rfc: "CACX7605101P8".into(),
        ..certs::Spec::csd()
    };
    Csd::from_der(
        &certs::certificate(&spec),
        &certs::encrypted_key(0, certs::PASSWORD),
        certs::PASSWORD,
    )
    .expect("csd")
}

/// A persona física in RESICO (626) as the merchant, at lugar de expedición 42501.
pub fn header_resico() -> InvoiceHeader {
    InvoiceHeader {
        emisor: Emisor::parse("CACX7605101P8", "Xochilt Casas Chavez", "626").expect("emisor"),
        ..header()
    }
}

/// A persona moral customer (general régimen).
pub fn receptor_moral() -> Receptor {
    Receptor::parse(&DatosFiscales {
        rfc: "EKU9003173C9".into(),
        nombre: "Escuela Kemper Urgate SA de CV".into(),
        codigo_postal: "42501".into(),
        regimen_fiscal: "601".into(),
        uso_cfdi: "G03".into(),
        residencia_fiscal: None,
        num_reg_id_trib: None,
    })
    .expect("receptor")
}

/// A persona física customer in RESICO.
pub fn receptor_fisica() -> Receptor {
    Receptor::parse(&DatosFiscales {
        residencia_fiscal: None,
        num_reg_id_trib: None,
        rfc: "CACX7605101P8".into(),
        nombre: "Xochilt Casas Chavez".into(),
        codigo_postal: "36257".into(),
        regimen_fiscal: "626".into(),
        uso_cfdi: "G03".into(),
    })
    .expect("receptor")
}

/// Paid by card, in one exhibition.
pub fn pago_tarjeta() -> Pago {
    Pago::pue(FormaPago::TarjetaDeDebito).expect("pue")
}

/// An order line with the usual defaults (H87, shelf price with IVA).
pub fn line(clave: &str, desc: &str, qty: u32, unit: i64, iva: TaxTreatment) -> OrderLine {
    OrderLine {
        iva_cargado: None,
        clave_prod_serv: clave.into(),
        no_identificacion: Some(format!("SKU-{clave}")),
        cantidad: qty,
        clave_unidad: "H87".into(),
        unidad: Some("Pieza".into()),
        descripcion: desc.into(),
        precio_unitario: Centavos(unit),
        precio_incluye_iva: true,
        iva,
        descuento: Centavos::ZERO,
    }
}

/// A typical 5-line pharmacy order (mixed IVA, one discount).
pub fn typical_order() -> Vec<OrderLine> {
    let mut with_discount = line(
        "53131608",
        "Jabón de tocador 150 g",
        3,
        2_350,
        TaxTreatment::Iva16,
    );
    with_discount.descuento = Centavos(500);
    vec![
        line(
            "51142001",
            "Paracetamol 500 mg, 10 tabletas",
            2,
            4_550,
            TaxTreatment::Iva0,
        ),
        line(
            "51191905",
            "Suero oral 625 ml",
            4,
            2_890,
            TaxTreatment::Iva0,
        ),
        with_discount,
        line(
            "53131502",
            "Pasta dental 100 ml",
            1,
            5_490,
            TaxTreatment::Iva16,
        ),
        line(
            "42311505",
            "Gasas estériles 10 x 10 cm",
            5,
            1_275,
            TaxTreatment::Iva16,
        ),
    ]
}

/// What the customer paid for `lines`, computed the way the cart shows it.
pub fn paid(lines: &[OrderLine]) -> Centavos {
    Centavos(
        lines
            .iter()
            .map(|l| {
                let gross = l.precio_unitario.0 * i64::from(l.cantidad) - l.descuento.0;
                if l.precio_incluye_iva {
                    gross
                } else {
                    // IVA added on top, half up to the centavo.
                    gross + (gross * l.iva.rate_bp() + 5_000) / 10_000
                }
            })
            .sum(),
    )
}
