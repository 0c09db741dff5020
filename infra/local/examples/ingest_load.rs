//! Load on the WhatsApp webhook from a second process: signed deliveries, each with a new wamid.
//!
//! Open loop at a fixed rate; each latency is measured from the request's intended start, so a slow
//! server cannot hide its queueing (no coordinated omission). With `--rate 0` it runs closed loop
//! (`--connections` workers back to back) to find the maximum throughput.
//!
//! ```sh
//! cargo run --release                     # terminal 1: the local stack (prints the admin key)
//! cargo run --release -p mostrador-local --example ingest_load -- \
//!     --admin-key <key> --app-secret <secret> --rate 1000 --seconds 20
//! ```

use std::time::{Duration, Instant};

struct Args {
    url: String,
    admin_key: String,
    app_secret: String,
    rate: u64,
    seconds: u64,
    connections: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: "http://127.0.0.1:3000".into(),
        admin_key: String::new(),
        app_secret: String::new(),
        rate: 1000,
        seconds: 20,
        connections: 64,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => args.url = value,
            "--admin-key" => args.admin_key = value,
            "--app-secret" => args.app_secret = value,
            "--rate" => args.rate = value.parse().map_err(|_| "bad --rate")?,
            "--seconds" => args.seconds = value.parse().map_err(|_| "bad --seconds")?,
            "--connections" => args.connections = value.parse().map_err(|_| "bad --connections")?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if args.admin_key.is_empty() || args.app_secret.is_empty() {
        return Err("--admin-key and --app-secret are required (cargo run prints them)".into());
    }
    Ok(args)
}

/// Creates a merchant with a branch on a fresh phone number id; returns the number.
async fn setup(client: &reqwest::Client, args: &Args) -> Result<String, String> {
    let post = |path: &str, key: &str, body: serde_json::Value| {
        client
            .post(format!("{}{path}", args.url))
            .bearer_auth(key.to_owned())
            .json(&body)
            .send()
    };
    let merchant: serde_json::Value = post(
        "/v1/admin/merchants",
        &args.admin_key,
        serde_json::json!({ "name": "Carga" }),
    )
    .await
    .map_err(|e| e.to_string())?
    .json()
    .await
    .map_err(|e| e.to_string())?;
    let id = merchant["id"]
        .as_str()
        .ok_or("no merchant id (wrong admin key?)")?
        .to_owned();
    let key: serde_json::Value = post(
        &format!("/v1/admin/merchants/{id}/api-keys"),
        &args.admin_key,
        serde_json::json!({}),
    )
    .await
    .map_err(|e| e.to_string())?
    .json()
    .await
    .map_err(|e| e.to_string())?;
    let api_key = key["api_key"].as_str().ok_or("no api key")?.to_owned();
    let phone = format!(
        "9{}",
        std::process::id() as u64 * 1000 + (Instant::now().elapsed().subsec_nanos() as u64 % 1000)
    );
    let r = post(
        "/v1/branches",
        &api_key,
        serde_json::json!({ "name": "Carga", "postal_code": "06700", "phone_number_id": phone }),
    )
    .await
    .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("branch: {}", r.status()));
    }
    Ok(phone)
}

fn delivery(phone: &str, i: u64) -> Vec<u8> {
    let from = format!("52155{:08}", i % 100_000_000);
    serde_json::to_vec(&serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "102290129340398", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "5215550000000", "phone_number_id": phone },
            "contacts": [{ "profile": { "name": "Cliente de prueba" }, "wa_id": from }],
            "messages": [{ "from": from, "id": format!("wamid.load.{}.{i}", std::process::id()), "timestamp": "1795262400", "type": "text", "text": { "body": "Hola, ¿tienen paracetamol de 500 mg? 🙂" } }]
        }}]}]
    }))
    .unwrap_or_default()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ingest_load: {e}");
            std::process::exit(2);
        }
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .build()
        .unwrap_or_default();
    let phone = match setup(&client, &args).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ingest_load: setup failed: {e}");
            std::process::exit(1);
        }
    };
    let total = if args.rate == 0 {
        u64::MAX
    } else {
        args.rate * args.seconds
    };
    let url = format!("{}/webhooks/whatsapp", args.url);
    let secret = args.app_secret.clone().into_bytes();
    // Bodies and signatures are prepared ahead so the generator measures the server, not itself.
    let prepared: Vec<(Vec<u8>, String)> = (0..total.min(2_000_000))
        .take(if args.rate == 0 { 400_000 } else { usize::MAX })
        .map(|i| {
            let body = delivery(&phone, i);
            let sig = mostrador_whatsapp::signature::sign(&secret, &body);
            (body, sig)
        })
        .collect();
    let prepared = std::sync::Arc::new(prepared);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.seconds);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Duration, bool)>();
    if args.rate == 0 {
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for _ in 0..args.connections {
            let (client, url, prepared, next, tx) = (
                client.clone(),
                url.clone(),
                prepared.clone(),
                next.clone(),
                tx.clone(),
            );
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((body, sig)) = prepared.get(i) else {
                        break;
                    };
                    let t0 = Instant::now();
                    let ok = client
                        .post(&url)
                        .header("x-hub-signature-256", sig)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    let _ = tx.send((t0.elapsed(), ok));
                }
            });
        }
    } else {
        let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
        let (client, url, prepared, tx) =
            (client.clone(), url.clone(), prepared.clone(), tx.clone());
        tokio::spawn(async move {
            for i in 0..prepared.len() {
                let intended = start + interval * i as u32;
                tokio::time::sleep_until(intended.into()).await;
                let (client, url, prepared, tx) =
                    (client.clone(), url.clone(), prepared.clone(), tx.clone());
                tokio::spawn(async move {
                    let (body, sig) = &prepared[i];
                    let ok = client
                        .post(&url)
                        .header("x-hub-signature-256", sig)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    let _ = tx.send((intended.elapsed(), ok));
                });
            }
        });
    }
    drop(tx);
    let mut latencies = Vec::new();
    let mut errors = 0u64;
    while let Some((latency, ok)) = rx.recv().await {
        latencies.push(latency);
        if !ok {
            errors += 1;
        }
    }
    let elapsed = start.elapsed();
    latencies.sort();
    let n = latencies.len();
    println!(
        "mode:        {}",
        if args.rate == 0 {
            format!("closed loop, {} connections", args.connections)
        } else {
            format!("open loop at {} req/s", args.rate)
        }
    );
    println!(
        "requests:    {n} in {:.1} s = {:.0} req/s, {errors} errors",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    for p in [50.0, 90.0, 99.0, 99.9] {
        println!(
            "p{p:<5}      {:.2} ms",
            percentile(&latencies, p).as_secs_f64() * 1000.0
        );
    }
    println!(
        "max:         {:.2} ms",
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
}
