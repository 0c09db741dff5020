//! One conversation step (pure: no I/O), with a 5,000-product branch catalog and its search index
//! built once (as the app builds it per message, measured apart as `index_build`).
//! Run: `cargo bench -p mostrador-core --bench conversation`.

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use mostrador_core::catalog::Product;
use mostrador_core::conversation::{step, CartLine, Context, Input, Offer, State, Texts};
use mostrador_core::money::Centavos;
use mostrador_core::search::ProductIndex;
use mostrador_core::tax::TaxTreatment;
use std::hint::black_box;

/// Words product names are made of, so the index holds a realistic vocabulary.
const WORDS: &[&str] = &[
    "paracetamol",
    "ibuprofeno",
    "naproxeno",
    "loratadina",
    "omeprazol",
    "suero",
    "alcohol",
    "gasas",
    "curitas",
    "cepillo",
    "pasta",
    "jabon",
    "panales",
    "toallitas",
    "vitamina",
    "multivitaminico",
    "termometro",
    "cubrebocas",
    "amoxicilina",
    "metformina",
    "losartan",
    "aspirina",
    "diclofenaco",
    "ketorolaco",
    "ranitidina",
    "clonazepam",
    "shampoo",
    "crema",
    "gel",
    "pomada",
    "jarabe",
    "gotas",
    "tabletas",
    "capsulas",
    "infantil",
    "adulto",
    "sabor",
    "coco",
    "fresa",
    "uva",
    "naranja",
    "limon",
    "menta",
    "neutro",
    "dental",
    "facial",
    "corporal",
    "antibacterial",
    "esteril",
    "digital",
];

fn offers() -> Vec<Offer> {
    (0..5_000)
        .map(|i| Offer {
            product: Product {
                sku: format!("750100{i:07}"),
                name: format!(
                    "{} {} {} {} mg",
                    WORDS[i as usize % WORDS.len()],
                    WORDS[(i as usize / 7) % WORDS.len()],
                    WORDS[(i as usize / 49) % WORDS.len()],
                    100 + i % 9 * 50
                ),
                description: String::new(),
                price: Centavos(1_000 + i * 37),
                tax: if i % 2 == 0 {
                    TaxTreatment::Iva0
                } else {
                    TaxTreatment::Iva16
                },
                clave_prod_serv: "51142001".into(),
                clave_unidad: "XBX".into(),
                image_url: None,
                categories: vec![format!("Categoría {}", i % 8)],
                active: true,
                min_stock: None,
            },
            available: 50,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let offers = offers();
    let texts = Texts::default();
    let index = ProductIndex::build(offers.iter().map(|o| &o.product), &[]);
    let ctx = Context {
        merchant_name: "Farmacia San Juan",
        branch_name: "Centro",
        texts: &texts,
        offers: &offers,
        includes_iva: true,
        faqs: &[],
        catalog_id: None,
        customer_name: Some("Mariana López"),
        orders: &[],
        now: Utc::now(),
        timezone: chrono_tz::America::Mexico_City,
        branch_address: "Av. 5 de Mayo 32, Centro, CDMX",
        branch_hours: "Lun a sáb 8:00–22:00",
        delivery: None,
        index: Some(&index),
        promotions: &[],
        refused_codes: &[],
        code: None,
        alerts_after_opt_out: false,
    };
    let mut g = c.benchmark_group("conversation_step");
    g.measurement_time(std::time::Duration::from_secs(3));
    g.bench_function("greeting", |b| {
        b.iter(|| {
            step(
                black_box(&State::Idle),
                black_box(&Input::Text("Hola".into())),
                &ctx,
            )
        })
    });
    let order = Input::CatalogOrder {
        items: (0..5).map(|i| (format!("750100{:07}", i * 3), 2)).collect(),
    };
    g.bench_function("catalog_order_5_lines", |b| {
        b.iter(|| step(black_box(&State::Idle), black_box(&order), &ctx))
    });
    let summary = step(&State::Idle, &order, &ctx).state;
    let confirm = Input::ButtonReply {
        id: "confirmar".into(),
        title: "Confirmar".into(),
    };
    g.bench_function("confirm", |b| {
        b.iter(|| step(black_box(&summary), black_box(&confirm), &ctx))
    });
    g.bench_function("browse_category", |b| {
        let state = State::Browsing {
            category: None,
            cart: vec![CartLine {
                sku: "7501000000001".into(),
                qty: 1,
            }],
        };
        let input = Input::ListReply {
            id: "cat:0:Categoría 3".into(),
            title: "Categoría 3".into(),
        };
        b.iter(|| step(black_box(&state), black_box(&input), &ctx))
    });
    for (name, text) in [
        (
            "search_order_with_quantity",
            "me vende 2 cajas de paracetamol infantil porfa",
        ),
        ("search_typo", "tmb quiero ibuprofeo"),
        ("search_two_typos", "kiero paresetamool"),
        ("two_products", "2 loratadina y un suero de coco"),
        ("not_carried", "tienen insulina?"),
        ("question", "a que hora abren?"),
    ] {
        let input = Input::Text(text.into());
        g.bench_function(name, |b| {
            b.iter(|| step(black_box(&State::Idle), black_box(&input), &ctx))
        });
    }
    g.finish();
    let mut build = c.benchmark_group("catalog_index");
    build.sample_size(10);
    build.bench_function("index_build_5000", |b| {
        b.iter(|| ProductIndex::build(black_box(&offers).iter().map(|o| &o.product), &[]))
    });
    build.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
