//! Builds, seals and serializes a factura global of 10,000 tickets and prints how long it took;
//! `benches/compare_openssl.sh` runs it under `/usr/bin/time -v` for the peak memory.
//!
//!     cargo run --profile bench -p mostrador-cfdi --example global_10k

#[path = "../benches/support/fixtures.rs"]
mod fixtures;

use mostrador_cfdi::{Comprobante, InformacionGlobal, Meses, Periodicidad};
use std::time::Instant;

fn main() {
    let csd = fixtures::csd();
    let header = fixtures::header();
    let tickets = fixtures::tickets_10k();
    let periodo = InformacionGlobal::new(Periodicidad::Diario, Meses::new(6).expect("mes"), 2025)
        .expect("periodo");
    let mut runs = Vec::new();
    let mut xml_len = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let comprobante = Comprobante::global(&header, periodo, &tickets).expect("global");
        let xml = comprobante.seal(&csd).expect("sealed").into_xml();
        runs.push(start.elapsed());
        xml_len = xml.len();
    }
    runs.sort();
    println!(
        "global_10k: {} tickets, XML {} bytes, build+seal+serialize min {:.1} ms, median {:.1} ms",
        tickets.len(),
        xml_len,
        runs[0].as_secs_f64() * 1e3,
        runs[runs.len() / 2].as_secs_f64() * 1e3
    );
}
