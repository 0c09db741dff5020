//! The customer corpus (`tests/corpus/customers.txt`): messages and short dialogues written the way
//! Mexican pharmacy customers write, each with the outcome a person behind the counter would give.
//! The pass rate per category is printed and the whole must stay at or above [`GOAL`].
//!
//! Run alone: `cargo test -p mostrador-core --lib corpus -- --nocapture`.

use super::understand::asks_for_invoice;
use super::*;
use crate::tax::TaxTreatment;
use chrono::{TimeZone, Utc};
use std::collections::BTreeMap;

/// Share of corpus cases that must pass.
const GOAL: f64 = 0.95;

const CORPUS: &str = include_str!("../../tests/corpus/customers.txt");

/// (alias, sku, name, price, tax, category, stock) — the demo pharmacy's Centro branch.
const CATALOG: &[(&str, &str, &str, i64, TaxTreatment, &str, u32)] = &[
    (
        "P",
        "7501008491072",
        "Paracetamol 500 mg, 10 tabletas",
        4_550,
        TaxTreatment::Iva0,
        "Analgésicos",
        40,
    ),
    (
        "I",
        "7501008400166",
        "Ibuprofeno 400 mg, 10 tabletas",
        6_200,
        TaxTreatment::Iva0,
        "Analgésicos",
        30,
    ),
    (
        "N",
        "7501109900123",
        "Naproxeno 250 mg, 20 tabletas",
        8_900,
        TaxTreatment::Iva0,
        "Analgésicos",
        18,
    ),
    (
        "L",
        "7501349021457",
        "Loratadina 10 mg, 10 tabletas",
        7_450,
        TaxTreatment::Iva0,
        "Alergias",
        20,
    ),
    (
        "O",
        "7501125109873",
        "Omeprazol 20 mg, 14 cápsulas",
        9_900,
        TaxTreatment::Iva0,
        "Digestivos",
        22,
    ),
    (
        "S",
        "7501008425015",
        "Suero oral sabor coco 625 ml",
        2_850,
        TaxTreatment::Iva0,
        "Digestivos",
        60,
    ),
    (
        "A",
        "7501022101114",
        "Alcohol etílico 70% 250 ml",
        3_900,
        TaxTreatment::Iva16,
        "Curación",
        35,
    ),
    (
        "G",
        "7501109710012",
        "Gasas estériles 10 x 10 cm, 10 piezas",
        4_200,
        TaxTreatment::Iva16,
        "Curación",
        25,
    ),
    (
        "C",
        "7501109712344",
        "Curitas, caja con 20",
        3_500,
        TaxTreatment::Iva16,
        "Curación",
        40,
    ),
    (
        "CE",
        "7501035911208",
        "Cepillo dental medio",
        3_200,
        TaxTreatment::Iva16,
        "Higiene",
        50,
    ),
    (
        "PA",
        "7501035911215",
        "Pasta dental 100 ml",
        3_890,
        TaxTreatment::Iva16,
        "Higiene",
        45,
    ),
    (
        "J",
        "7501035911222",
        "Jabón de tocador neutro 150 g",
        2_490,
        TaxTreatment::Iva16,
        "Higiene",
        70,
    ),
    (
        "PN",
        "7501943456012",
        "Pañales etapa 3, 40 piezas",
        28_900,
        TaxTreatment::Iva16,
        "Bebés",
        12,
    ),
    (
        "T",
        "7501943456029",
        "Toallitas húmedas, 80 piezas",
        6_490,
        TaxTreatment::Iva16,
        "Bebés",
        30,
    ),
    (
        "VC",
        "7501058712340",
        "Vitamina C 1 g, 10 tabletas efervescentes",
        8_450,
        TaxTreatment::Iva16,
        "Vitaminas",
        20,
    ),
    (
        "MV",
        "7501058712357",
        "Multivitamínico, 30 tabletas",
        17_900,
        TaxTreatment::Iva16,
        "Vitaminas",
        10,
    ),
    (
        "TE",
        "7501001234560",
        "Termómetro digital",
        11_900,
        TaxTreatment::Iva16,
        "Equipo",
        8,
    ),
    (
        "CB",
        "7501001234577",
        "Cubrebocas tricapa, 10 piezas",
        3_900,
        TaxTreatment::Iva16,
        "Equipo",
        80,
    ),
];

const ADDRESS: &str = "Av. 5 de Mayo 32, Centro, Cuauhtémoc, CDMX";
const HOURS: &str = "Lun a sáb 8:00–22:00, dom 9:00–15:00";
const ORDER: &str = "01JV00000000000000000ABCDE";

fn sku(alias: &str) -> &'static str {
    CATALOG
        .iter()
        .find(|row| row.0 == alias)
        .map(|row| row.1)
        .unwrap_or_else(|| panic!("unknown alias {alias}"))
}

fn offers() -> Vec<Offer> {
    CATALOG
        .iter()
        .map(|(_, sku, name, price, tax, category, stock)| Offer {
            product: Product {
                sku: (*sku).into(),
                name: (*name).into(),
                description: String::new(),
                price: Centavos(*price),
                tax: *tax,
                clave_prod_serv: "51142001".into(),
                clave_unidad: "XBX".into(),
                image_url: None,
                categories: vec![(*category).into()],
                active: true,
                min_stock: None,
            },
            available: *stock,
        })
        .collect()
}

struct Case<'a> {
    line: usize,
    category: &'a str,
    state: &'a str,
    messages: Vec<&'a str>,
    expected: &'a str,
}

fn cases() -> Vec<Case<'static>> {
    CORPUS
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| {
            let parts: Vec<&str> = l.split(" | ").map(str::trim).collect();
            assert_eq!(parts.len(), 4, "line {}: {l}", i + 1);
            Case {
                line: i + 1,
                category: parts[0],
                state: parts[1],
                messages: parts[2].split(" >> ").collect(),
                expected: parts[3],
            }
        })
        .collect()
}

fn summary(status: &str, now: chrono::DateTime<Utc>) -> OrderSummary {
    OrderSummary {
        order_id: ORDER.into(),
        status: status.into(),
        total: Centavos(13_650),
        created_at: now - chrono::Duration::hours(1),
    }
}

/// The state and the customer's orders a case starts from.
fn start(name: &str, now: chrono::DateTime<Utc>) -> (State, Vec<OrderSummary>) {
    let line = |alias: &str| CartLine {
        sku: sku(alias).into(),
        qty: 1,
    };
    match name {
        "idle" => (State::Idle, Vec::new()),
        "cart" => (
            State::Cart {
                lines: vec![line("P"), line("I")],
                total: Centavos(10_750),
            },
            Vec::new(),
        ),
        "asking" => (
            State::ChoosingQuantity {
                sku: sku("P").into(),
                cart: Vec::new(),
            },
            Vec::new(),
        ),
        "awaiting" => (
            State::AwaitingPayment {
                order_id: ORDER.into(),
                payment_url: "https://pagos.example/l/ABCDE".into(),
                expires_at: now + chrono::Duration::minutes(20),
            },
            vec![summary("awaiting_payment", now)],
        ),
        "paid" => (State::Idle, vec![summary("paid", now)]),
        "shipped" => (State::Idle, vec![summary("shipped", now)]),
        "ready" => (State::Idle, vec![summary("ready_for_pickup", now)]),
        other => panic!("unknown state {other}"),
    }
}

fn said(step: &Step) -> String {
    step.replies()
        .map(|r| match r {
            Reply::Text(t) => t.clone(),
            Reply::Buttons { body, .. } => body.clone(),
            Reply::List { body, sections, .. } => {
                let rows: Vec<String> = sections
                    .iter()
                    .flat_map(|s| s.rows.iter().map(|r| r.id.clone()))
                    .collect();
                format!("{body} [{}]", rows.join(" "))
            }
            other => format!("{other:?}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn has_action(step: &Step, f: impl Fn(&Action) -> bool) -> bool {
    step.actions.iter().any(f)
}

/// Whether the last step meets the expected outcome.
fn meets(expected: &str, last: &Step, message: &str, texts: &Texts) -> bool {
    let text = said(last);
    let cart = last.state.cart();
    let qty_of = |alias: &str| cart.iter().find(|l| l.sku == sku(alias)).map(|l| l.qty);
    let (kind, arg) = expected.split_once(':').unwrap_or((expected, ""));
    match kind {
        "add" => arg.split(',').all(|pair| {
            let (alias, n) = pair.split_once('=').unwrap_or((pair, "1"));
            qty_of(alias) == n.parse().ok()
        }),
        "ask" => matches!(&last.state, State::ChoosingQuantity { sku: s, .. } if s == sku(arg)),
        "list" => arg
            .split('/')
            .all(|alias| text.contains(&format!("sku:{}", sku(alias)))),
        "remove" => qty_of(arg).is_none(),
        "qty" => {
            let (alias, n) = arg.split_once('=').unwrap_or((arg, "1"));
            qty_of(alias) == n.parse().ok()
        }
        "not_carried" => text.contains("No manejamos"),
        "agent" => has_action(last, |a| *a == Action::HandToHuman),
        "opt_out" => has_action(last, |a| *a == Action::OptOut),
        "opt_out_marketing" => has_action(last, |a| *a == Action::MarketingOptOut),
        "opt_in" => has_action(last, |a| *a == Action::OptIn),
        "hours" => text.contains(HOURS),
        "location" => text.contains(ADDRESS) && text.contains("maps"),
        "delivery" => text.contains("entregamos"),
        "payment_methods" => text.contains(&texts.payment_methods),
        "paid_status" => text.contains("pago de tu pedido"),
        "order_status" => text.contains("Tu pedido") || text.contains("Aún no tienes pedidos"),
        "cancel_order" => has_action(last, |a| matches!(a, Action::CancelOrder { .. })),
        "cancel_cart" => has_action(last, |a| *a == Action::CancelDraft) && cart.is_empty(),
        "cancel_cart_any" => cart.is_empty(),
        "confirm" => has_action(last, |a| matches!(a, Action::PlaceOrder { .. })),
        "invoice" => asks_for_invoice(message),
        "thanks" => text.contains(&texts.thanks),
        "goodbye" => text.contains(&texts.goodbye),
        "menu" => text.contains("Soy el asistente"),
        "catalog" => text.contains("cat:"),
        "cart_view" => text.contains(&texts.cart_title),
        "payment_link" => text.contains("Paga aquí"),
        "help" => text.contains("[") && text.contains("asesor"),
        "fallback" => text.contains("no entendí"),
        "quiet_menu" => text.contains(&texts.nothing_to_cancel),
        other => panic!("unknown outcome {other}"),
    }
}

#[test]
fn the_customer_corpus_is_understood() {
    let offers = offers();
    let texts = Texts::default();
    let now = Utc.with_ymd_and_hms(2026, 12, 4, 18, 0, 0).unwrap();
    let index = crate::search::ProductIndex::build(offers.iter().map(|o| &o.product), &[]);
    let mut by_category: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    let cases = cases();
    assert!(cases.len() >= 300, "the corpus has {} cases", cases.len());
    for case in &cases {
        let (mut state, orders) = start(case.state, now);
        let ctx = Context {
            merchant_name: "Farmacia San Juan",
            branch_name: "Centro",
            texts: &texts,
            offers: &offers,
            includes_iva: true,
            faqs: &[],
            catalog_id: None,
            customer_name: Some("Don Beto"),
            orders: &orders,
            now,
            timezone: chrono_tz::America::Mexico_City,
            branch_address: ADDRESS,
            branch_hours: HOURS,
            delivery: None,
            index: Some(&index),
            promotions: &[],
            refused_codes: &[],
            code: None,
            alerts_after_opt_out: false,
        };
        let mut last = None;
        for message in &case.messages {
            let out = step(&state, &Input::Text((*message).into()), &ctx);
            state = out.state.clone();
            last = Some(out);
        }
        let Some(last) = last else { continue };
        let message = case.messages.last().copied().unwrap_or_default();
        let ok = meets(case.expected, &last, message, &texts);
        let entry = by_category.entry(case.category).or_insert((0, 0));
        entry.1 += 1;
        if ok {
            entry.0 += 1;
        } else {
            failures.push(format!(
                "line {} [{}] {:?} → expected {}, got state {:?}: {}",
                case.line,
                case.state,
                case.messages,
                case.expected,
                last.state,
                said(&last).replace('\n', " ⏎ ")
            ));
        }
    }
    let passed: usize = by_category.values().map(|(p, _)| p).sum();
    let rate = passed as f64 / cases.len() as f64;
    println!(
        "customer corpus: {passed}/{} = {:.1} %",
        cases.len(),
        rate * 100.0
    );
    for (category, (p, n)) in &by_category {
        println!(
            "  {category:<14} {p:>3}/{n:<3} {:>5.1} %",
            *p as f64 * 100.0 / *n as f64
        );
    }
    for failure in &failures {
        println!("FAIL {failure}");
    }
    assert!(
        rate >= GOAL,
        "corpus pass rate {:.1} % below {:.0} %",
        rate * 100.0,
        GOAL * 100.0
    );
}
