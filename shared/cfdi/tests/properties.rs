//! Random orders and random factura-global tickets: every invoice satisfies SAT's arithmetic
//! (checked by the independent checker in `common/sat_rules.rs`) and its Total is exactly what was
//! paid. A deterministic sample of 200 random invoices is also validated by satcfdi in one run.

mod common;

use common::{fixture_csd, header, sat_rules};
use mostrador_cfdi::amounts::split_line;
use mostrador_cfdi::oracle::{self, CfdiFile};
use mostrador_cfdi::{
    Comprobante, Csd, DatosFiscales, FormaPago, InformacionGlobal, Meses, OrderLine, Pago,
    Periodicidad, Receptor, Ticket, TicketPart,
};
use mostrador_core::money::Centavos;
use mostrador_core::tax::{line_amounts, TaxTreatment};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use std::sync::OnceLock;

const CLAVES: &[&str] = &[
    "51142001", "51191905", "53131608", "53131502", "42311505", "50202306", "01010101",
];
const UNIDADES: &[&str] = &["H87", "KGM", "LTR", "XBX", "E48", "ACT"];
const DESCRIPCIONES: &[&str] = &[
    "Paracetamol 500 mg",
    "Jabón de tocador \"neutro\" & suave",
    "Refresco <600 ml> — edición Año Nuevo",
    "Tortillas de maíz 1 kg",
    "Servicio de reparación | ajuste",
    "  Gasas   estériles ",
];
const FORMAS: &[FormaPago] = &[
    FormaPago::Efectivo,
    FormaPago::Transferencia,
    FormaPago::TarjetaDeCredito,
    FormaPago::TarjetaDeDebito,
    FormaPago::IntermediarioPagos,
];

fn csd() -> &'static Csd {
    static CSD: OnceLock<Csd> = OnceLock::new();
    CSD.get_or_init(fixture_csd)
}

fn tax() -> impl Strategy<Value = TaxTreatment> {
    prop_oneof![
        Just(TaxTreatment::Iva16),
        Just(TaxTreatment::Iva8),
        Just(TaxTreatment::Iva0),
        Just(TaxTreatment::Exempt),
    ]
}

/// A line: 1–50 units of 1 centavo to 50,000 pesos, with or without IVA, sometimes discounted.
fn order_line() -> impl Strategy<Value = OrderLine> {
    (
        0..CLAVES.len(),
        0..UNIDADES.len(),
        0..DESCRIPCIONES.len(),
        1u32..=50,
        prop_oneof![1i64..=100, 1i64..=5_000_000],
        any::<bool>(),
        tax(),
        prop_oneof![3 => Just(0i64), 1 => 1i64..1_000],
    )
        .prop_map(|(c, u, d, qty, unit, includes, iva, permille)| {
            let gross = unit * i64::from(qty);
            OrderLine {
                iva_cargado: None,
                clave_prod_serv: CLAVES[c].into(),
                no_identificacion: (c % 2 == 0).then(|| format!("SKU-{c}-{u}")),
                cantidad: qty,
                clave_unidad: UNIDADES[u].into(),
                unidad: (u % 3 != 0).then(|| "Unidad".to_owned()),
                descripcion: DESCRIPCIONES[d].into(),
                precio_unitario: Centavos(unit),
                precio_incluye_iva: includes,
                iva,
                descuento: Centavos(gross * permille / 1_000),
            }
        })
}

fn receptor(which: usize) -> Receptor {
    let (rfc, nombre, cp, regimen, uso) = [
        (
            "CACX7605101P8",
            "Xochilt Casas Chavez",
            "36257",
            "626",
            "G03",
        ),
        (
            "XIA190128J61",
            "Xenon Industrial Articles SA de CV",
            "76343",
            "601",
            "G01",
        ),
        (
            "XAXX010101000",
            "Cliente de mostrador",
            "42501",
            "616",
            "S01",
        ),
        ("GODE561231GR8", "Diego Gómez", "06600", "605", "D01"),
    ][which % 4];
    Receptor::parse(&DatosFiscales {
        residencia_fiscal: None,
        num_reg_id_trib: None,
        rfc: rfc.into(),
        nombre: nombre.into(),
        codigo_postal: cp.into(),
        regimen_fiscal: regimen.into(),
        uso_cfdi: uso.into(),
    })
    .expect("receptor")
}

fn pago(which: usize) -> Pago {
    if which.is_multiple_of(7) {
        Pago::ppd()
    } else {
        Pago::pue(FORMAS[which % FORMAS.len()]).expect("pue")
    }
}

/// What the customer paid, computed independently: shelf amounts are paid as is; prices before
/// IVA get IVA on the discounted amount, rounded half up.
fn expected_paid(lines: &[OrderLine]) -> i64 {
    lines
        .iter()
        .map(|l| {
            let net = l.precio_unitario.0 * i64::from(l.cantidad) - l.descuento.0;
            if l.precio_incluye_iva {
                net
            } else {
                net + (net * l.iva.rate_bp() + 5_000) / 10_000
            }
        })
        .sum()
}

fn order(max_lines: usize) -> impl Strategy<Value = (Vec<OrderLine>, usize)> {
    (
        prop::collection::vec(order_line(), 1..=max_lines),
        0usize..28,
    )
}

fn tickets(max: usize) -> impl Strategy<Value = Vec<Ticket>> {
    // A part is a ticket's lines of one rate, split as the order splits them; half the parts say
    // the IVA charged (the sum of the lines' IVA), the others only what was paid.
    let part = (
        tax(),
        prop::collection::vec(prop_oneof![1i64..=100, 1i64..=5_000_000], 1..=30),
        any::<bool>(),
    )
        .prop_map(|(iva, lines, charged)| {
            let splits: Vec<_> = lines
                .iter()
                .map(|l| mostrador_cfdi::amounts::split_paid(Centavos(*l), iva).expect("split"))
                .collect();
            TicketPart {
                iva,
                total: Centavos(splits.iter().map(|s| s.pagado).sum()),
                iva_cargado: charged.then(|| Centavos(splits.iter().map(|s| s.iva).sum())),
            }
        });
    prop::collection::vec(
        (prop::collection::vec(part, 1..=3), 0..FORMAS.len()),
        1..=max,
    )
    .prop_map(|ts| {
        ts.into_iter()
            .enumerate()
            .map(|(i, (partes, f))| Ticket {
                folio: format!("T-{i:06}"),
                forma_pago: FORMAS[f],
                partes,
            })
            .collect()
    })
}

fn ingreso(lines: &[OrderLine], which: usize) -> Comprobante {
    Comprobante::ingreso(&header(), receptor(which), pago(which), lines).expect("valid order")
}

fn global(tickets: &[Ticket]) -> Comprobante {
    let periodo =
        InformacionGlobal::new(Periodicidad::Quincenal, Meses::new(6).expect("mes"), 2025)
            .expect("periodo");
    Comprobante::global(&header(), periodo, tickets).expect("valid tickets")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_orders_obey_sat_arithmetic_and_total_what_was_paid((lines, which) in order(60)) {
        let c = ingreso(&lines, which);
        prop_assert_eq!(c.total_centavos(), Centavos(expected_paid(&lines)));
        let sealed = c.seal(csd()).expect("seals");
        let checked = sat_rules::check(sealed.xml()).map_err(|p| TestCaseError::fail(format!("{p:#?}")))?;
        prop_assert_eq!(checked.conceptos, lines.len());
        prop_assert_eq!(checked.total, c.total());
    }

    #[test]
    fn random_global_invoices_obey_sat_arithmetic_and_total_the_tickets(ts in tickets(300)) {
        let c = global(&ts);
        let paid: i64 = ts.iter().flat_map(|t| &t.partes).map(|p| p.total.0).sum();
        prop_assert_eq!(c.total_centavos(), Centavos(paid));
        let sealed = c.seal(csd()).expect("seals");
        let checked = sat_rules::check(sealed.xml()).map_err(|p| TestCaseError::fail(format!("{p:#?}")))?;
        prop_assert!(checked.conceptos >= ts.len());
        // Each ticket declares the IVA charged on its lines, whatever conceptos that takes.
        for t in &ts {
            let declared: rust_decimal::Decimal = c
                .conceptos()
                .iter()
                .filter(|k| k.no_identificacion().map(|f| f.as_str()) == Some(t.folio.as_str()))
                .flat_map(|k| k.traslados())
                .filter_map(|x| x.importe())
                .sum();
            let charged: Option<i64> = t.partes.iter().map(|p| p.iva_cargado.map(|c| c.0)).sum();
            if let Some(charged) = charged {
                prop_assert_eq!(declared, rust_decimal::Decimal::new(charged, 2));
            }
        }
        // FormaPago is the one of the largest ticket (the first of equals).
        let largest = ts.iter().rev().max_by_key(|t| t.total()).map(|t| t.forma_pago);
        prop_assert_eq!(Some(c.pago().forma()), largest);
    }

    #[test]
    fn lines_split_exactly_like_the_cart(unit in 1i64..=5_000_000, qty in 1u32..=50, iva in tax(), includes in any::<bool>()) {
        let cart = line_amounts(Centavos(unit), qty, iva, includes).expect("cart");
        let cfdi = split_line(Centavos(unit), qty, iva, includes, Centavos::ZERO).expect("split");
        prop_assert_eq!((cfdi.pagado, cfdi.base, cfdi.iva), (cart.total.0, cart.base.0, cart.iva.0));
    }
}

/// Smaller documents than the property tests: libxml2 checks each ClaveProdServ against the 52,000
/// values of SAT's catalog enumeration one by one (~0.7 ms per concepto), and the breadth of cases
/// matters here more than the size of each invoice.
#[test]
fn a_sample_of_random_invoices_passes_satcfdi() {
    let mut runner = TestRunner::deterministic();
    let mut files = Vec::with_capacity(200);
    for i in 0..150 {
        let (lines, which) = order(12).new_tree(&mut runner).expect("sample").current();
        let c = ingreso(&lines, which);
        assert_eq!(c.total_centavos(), Centavos(expected_paid(&lines)));
        files.push(CfdiFile::sealed(
            &format!("order-{i}"),
            &c.seal(csd()).expect("seals"),
        ));
    }
    for i in 0..50 {
        let ts = tickets(25).new_tree(&mut runner).expect("sample").current();
        files.push(CfdiFile::sealed(
            &format!("global-{i}"),
            &global(&ts).seal(csd()).expect("seals"),
        ));
    }
    oracle::assert_verified(&files);
}
