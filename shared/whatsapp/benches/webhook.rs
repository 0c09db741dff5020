//! Parse + verify per webhook: what the webhook endpoint spends on a delivery before answering 200.
//!
//! `cargo bench -p mostrador-whatsapp --bench webhook`. Each iteration handles one whole webhook body,
//! so the reported time is the time per webhook; throughput is in messages.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mostrador_whatsapp::{signature, webhook};
use std::hint::black_box;
use std::time::Duration;

const SECRET: &[u8] = b"app-secret-de-prueba";

/// A typical inbound text delivery, compact and escaped as Meta sends it.
const ONE_TEXT: &[u8] = include_bytes!("../tests/fixtures/text.json");

/// `n` inbound text messages with their contacts in one change, escaped as Meta escapes them.
fn texts(n: usize) -> Vec<u8> {
    let contacts: Vec<String> = (0..n)
        .map(|i| {
            format!(r#"{{"profile":{{"name":"Cliente N\u00fam. {i}"}},"wa_id":"52155{i:08}"}}"#)
        })
        .collect();
    let messages: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"from":"52155{i:08}","id":"wamid.HBgNNTIxNTU4NzY1NDMyMRUCABIYFjNFQjBDMDQ4RjFBMjM0{i:06}","timestamp":"1767225600","text":{{"body":"Hola! \u00bfTienen tortas de cochinita? \ud83c\udf2e Quiero {i} para las 14:00, men\u00fa en https:\/\/tacos.mx\/menu"}},"type":"text"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102938475610293","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"525512345678","phone_number_id":"109876543210987"}},"contacts":[{}],"messages":[{}]}},"field":"messages"}}]}}]}}"#,
        contacts.join(","),
        messages.join(",")
    )
    .into_bytes()
}

fn parse_and_verify(c: &mut Criterion) {
    let cases = [
        ("1 message", ONE_TEXT.to_vec(), 1),
        ("100 messages", texts(100), 100),
    ];
    let mut group = c.benchmark_group("webhook");
    for (name, body, messages) in &cases {
        let header = signature::sign(SECRET, body);
        assert_eq!(signature::verify(SECRET, body, Some(&header)), Ok(()));
        assert_eq!(
            webhook::parse(body).map(|d| d.message_count()),
            Ok(*messages)
        );
        eprintln!("webhook/{name}: {} bytes", body.len());

        group.throughput(Throughput::Elements(*messages as u64));
        group.bench_with_input(BenchmarkId::new("verify+parse", name), body, |b, body| {
            b.iter(|| {
                let verified = signature::verify(SECRET, black_box(body), Some(&header));
                (verified, webhook::parse(black_box(body)))
            })
        });
        group.bench_with_input(BenchmarkId::new("verify", name), body, |b, body| {
            b.iter(|| signature::verify(SECRET, black_box(body), Some(&header)))
        });
        group.bench_with_input(BenchmarkId::new("parse", name), body, |b, body| {
            b.iter(|| webhook::parse(black_box(body)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = parse_and_verify
}
criterion_main!(benches);
