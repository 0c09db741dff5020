//! One conversation step (pure: no I/O), with a 200-product branch catalog.
//! Run: `cargo bench -p mostrador-core --bench conversation`.

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use mostrador_core::catalog::Product;
use mostrador_core::conversation::{step, CartLine, Context, Input, Offer, State, Texts};
use mostrador_core::money::Centavos;
use mostrador_core::tax::TaxTreatment;
use std::hint::black_box;

fn offers() -> Vec<Offer> {
    (0..200)
        .map(|i| Offer {
            product: Product {
                sku: format!("750100{i:07}"),
                name: format!("Producto de farmacia número {i}"),
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
            },
            available: 50,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let offers = offers();
    let texts = Texts::default();
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
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
