//! Invoice throughput: build + seal + serialize a typical 5-line invoice, a factura global of
//! 10,000 tickets, and the bare RSA-2048 signature for comparison with `openssl speed rsa2048`
//! (see `compare_openssl.sh`).

#[path = "support/fixtures.rs"]
mod fixtures;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fixtures::{csd, header, tickets_10k};
use mostrador_cfdi::{
    Comprobante, DatosFiscales, FormaPago, InformacionGlobal, Meses, OrderLine, Pago, Periodicidad,
    Receptor,
};
use mostrador_core::money::Centavos;
use mostrador_core::tax::TaxTreatment;
use std::hint::black_box;

fn line(clave: &str, desc: &str, qty: u32, unit: i64, iva: TaxTreatment) -> OrderLine {
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

fn typical_order() -> Vec<OrderLine> {
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
        line(
            "53131608",
            "Jabón de tocador 150 g",
            3,
            2_350,
            TaxTreatment::Iva16,
        ),
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

fn receptor() -> Receptor {
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

fn benches(c: &mut Criterion) {
    let csd = csd();
    let header = header();
    let receptor = receptor();
    let lines = typical_order();
    let pago = Pago::pue(FormaPago::TarjetaDeDebito).expect("pue");

    let mut group = c.benchmark_group("seal");
    group.throughput(Throughput::Elements(1));
    group.bench_function("typical_5_lines", |b| {
        b.iter(|| {
            let c = Comprobante::ingreso(&header, receptor.clone(), pago, black_box(&lines))
                .expect("invoice");
            black_box(c.seal(&csd).expect("sealed").into_xml())
        })
    });
    group.bench_function("typical_5_lines_without_signature", |b| {
        b.iter(|| {
            let c = Comprobante::ingreso(&header, receptor.clone(), pago, black_box(&lines))
                .expect("invoice");
            black_box(mostrador_cfdi::cadena::cadena_original(
                &c,
                csd.no_certificado(),
            ))
        })
    });
    let cadena = Comprobante::ingreso(&header, receptor.clone(), pago, &lines)
        .expect("invoice")
        .seal(&csd)
        .expect("sealed")
        .cadena_original()
        .to_owned();
    group.bench_function("rsa2048_sign_only", |b| {
        b.iter(|| black_box(csd.sello(black_box(&cadena)).expect("sello")))
    });
    group.finish();

    let tickets = tickets_10k();
    let periodo = InformacionGlobal::new(Periodicidad::Diario, Meses::new(6).expect("mes"), 2025)
        .expect("periodo");
    let mut global = c.benchmark_group("global");
    global.sample_size(20);
    global.throughput(Throughput::Elements(tickets.len() as u64));
    global.bench_function("10k_tickets", |b| {
        b.iter(|| {
            let c = Comprobante::global(&header, periodo, black_box(&tickets)).expect("global");
            black_box(c.seal(&csd).expect("sealed").into_xml())
        })
    });
    global.finish();
}

criterion_group!(seal, benches);
criterion_main!(seal);
