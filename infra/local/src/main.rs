//! `cargo run`: the local stack on 127.0.0.1:3000 with embedded storage (see README).

use anyhow::Context;
use mostrador_app::platform::config::{Engine, Mode};
use mostrador_app::{Config, Deps};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = match Config::load().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mostrador: {e}");
            std::process::exit(2);
        }
    };
    mostrador_app::platform::telemetry::init(&config);
    let addr = config.addr;
    let banner = banner(&config);
    let data_dir = config.data_dir.clone();
    let deps = Deps::build(config)
        .await
        .context("building the storage and queue engines")?;
    let demo_mode = deps.config.mode == Mode::Demo;
    let demo = if demo_mode {
        Some(
            mostrador_local::demo::seed(&deps, &data_dir)
                .await
                .context("seeding the demo merchant")?,
        )
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr} (MOSTRADOR_ADDR)"))?;
    let running =
        mostrador_local::start(deps, listener, mostrador_local::Options::default()).await?;
    println!("{banner}");
    if let Some(demo) = &demo {
        // Keys are never printed (a terminal's output ends up in log collectors): say where they are.
        println!(
            "Demo merchant \"Farmacia San Juan\" ({}):\n  API key:       in {} (api_key, mode 0600)",
            demo.merchant_id,
            data_dir.join("demo.json").display()
        );
        for b in &demo.branches {
            println!(
                "  branch {:<8} {} (WhatsApp phone_number_id {})",
                b.name, b.id, b.phone_number_id
            );
        }
        println!("  try it:        http://{addr}/sandbox/chat");
        // The password stays in the file, like the keys.
        println!(
            "  console:       http://{addr}/panel as {} (owner_email and owner_password in {})\n",
            demo.owner_email,
            data_dir.join("demo.json").display()
        );
    } else {
        println!("Production mode: no demo merchant, no simulator, no sandbox checkout; create merchants with the admin key (POST /v1/admin/merchants).\n");
    }
    shutdown_signal().await?;
    println!("mostrador: stopping — finishing in-flight requests, batches and jobs…");
    running.stop().await;
    println!("mostrador: stopped");
    Ok(())
}

/// Ctrl-C (SIGINT) or SIGTERM — what docker, systemd and every deploy send to stop a process.
async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("listening for SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
            _ = term.recv() => {}
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")
    }
}

/// What a developer needs at start: where it listens, the engines, and the local secrets.
fn banner(config: &Config) -> String {
    let engine = match config.engine {
        Engine::Embedded => format!("embedded (data in {})", config.data_dir.display()),
        Engine::Aws => format!("aws (table {})", config.aws.table),
    };
    let mode = match config.mode {
        Mode::Demo => "demo (MOSTRADOR_MODE=production for real customers)",
        Mode::Production => "production",
    };
    let mut out = format!(
        "\nmostrador is running on http://{addr}\n  mode:          {mode}\n  engine:        {engine}\n  health:        http://{addr}/healthz\n  OpenAPI:       http://{addr}/v1/openapi.json\n  webhook:       http://{addr}/webhooks/whatsapp\n",
        addr = config.addr
    );
    if !config.in_lambda {
        // Secret values are never printed: only where each one comes from.
        let file = config.data_dir.join("secrets.json");
        for (name, field) in [
            ("MOSTRADOR_ADMIN_KEY", "admin_key"),
            ("MOSTRADOR_WHATSAPP_APP_SECRET", "whatsapp_app_secret"),
            ("MOSTRADOR_WHATSAPP_VERIFY_TOKEN", "whatsapp_verify_token"),
        ] {
            if std::env::var_os(name).is_some() {
                out.push_str(&format!("  {field:<22} from {name}\n"));
            } else {
                let fresh = if config.generated_secrets.contains(&name) {
                    ", generated now"
                } else {
                    ""
                };
                out.push_str(&format!(
                    "  {field:<22} in {} (mode 0600{fresh})\n",
                    file.display()
                ));
            }
        }
    }
    out.push_str("Press Ctrl-C to stop.\n");
    out
}
