//! `cargo run`: the local stack on 127.0.0.1:3000 with embedded storage (see README), and the
//! commands that keep its data safe: `backup`, `backups`, `verify`, `restore` and `check`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use mostrador_app::platform::config::{Engine, Mode};
use mostrador_app::{Config, Deps};
use mostrador_local::{backups, upkeep};
use std::path::PathBuf;

/// mostrador: WhatsApp commerce for Mexican merchants, in one process with embedded storage.
///
/// Configuration comes from the environment (README, "Configuration"); MOSTRADOR_DATA_DIR names
/// the data directory every command works on (default .mostrador).
#[derive(Parser)]
#[command(name = "mostrador", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the stack (what `cargo run` does with no command).
    Serve,
    /// Take a verified backup of the data directory now; safe while the stack runs.
    Backup {
        /// Where to put it (default MOSTRADOR_BACKUP_DIR, else <data dir>/backups).
        #[arg(long)]
        to: Option<PathBuf>,
    },
    /// List the backups, with what each holds and whether it carries its key.
    Backups,
    /// Check a backup (a directory, or s3:NAME from MOSTRADOR_BACKUP_S3_BUCKET) without restoring it.
    Verify { backup: String },
    /// Restore a backup into the data directory; the stack must be stopped. What it replaces is
    /// moved to <data dir>/before-restore-<moment>/, never deleted.
    Restore {
        /// A backup directory, or s3:NAME to fetch it from MOSTRADOR_BACKUP_S3_BUCKET.
        backup: String,
        /// The backup's master key, kept apart from it (for backups taken without a passphrase).
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Replace this data directory's master key with the backup's when they differ.
        #[arg(long)]
        replace_key: bool,
    },
    /// Move everything of the data directory into the AWS engine that MOSTRADOR_ENGINE=aws and its
    /// variables name (table, bucket, KMS key, queues); the stack must be stopped.
    MoveToAws {
        /// Write into a table that already holds one of the merchants.
        #[arg(long)]
        into_nonempty: bool,
        /// Move although dead letters wait in the queues (they stay behind).
        #[arg(long)]
        leave_dead_letters: bool,
    },
    /// Check the data directory: the SQLite file, the queues, and the records against the files.
    Check {
        /// The report as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mostrador: starting the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve().await.map(|()| true),
            Command::Backup { to } => upkeep::backup(to).await.map(|()| true),
            Command::Backups => upkeep::list().await.map(|()| true),
            Command::Verify { backup } => upkeep::verify(&backup).await.map(|()| true),
            Command::Restore {
                backup,
                key_file,
                replace_key,
            } => upkeep::restore(&backup, key_file, replace_key)
                .await
                .map(|()| true),
            Command::Check { json } => upkeep::check(json).await,
            Command::MoveToAws {
                into_nonempty,
                leave_dead_letters,
            } => upkeep::move_to_aws(into_nonempty, leave_dead_letters)
                .await
                .map(|()| true),
        }
    });
    match result {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("mostrador: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve() -> anyhow::Result<()> {
    let config = match Config::load().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mostrador: {e}");
            std::process::exit(2);
        }
    };
    mostrador_app::platform::telemetry::init(&config);
    let addr = config.addr;
    let data_dir = config.data_dir.clone();
    if config.engine == Engine::Embedded && data_dir.join(upkeep::MOVED).exists() {
        anyhow::bail!(
            "{} was moved to the AWS engine ({}); its messages and records live there now. Remove that file to run this copy anyway",
            data_dir.display(),
            data_dir.join(upkeep::MOVED).display()
        );
    }
    // One stack per data directory: a second one (or a restore) would fight over the queues.
    let _lock = if config.engine == Engine::Embedded {
        Some(mostrador_store::backup::DirLock::acquire(&data_dir)?)
    } else {
        None
    };
    let plan = if config.engine == Engine::Embedded {
        Some(backups::Plan::from_env(&data_dir)?)
    } else {
        None
    };
    let banner = banner(&config, plan.as_ref());
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
    let options = mostrador_local::Options {
        backups: plan.filter(|p| p.scheduled),
        ..Default::default()
    };
    let running = mostrador_local::start(deps.clone(), listener, options).await?;
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
    if let Err(e) = deps.close().await {
        eprintln!("mostrador: {e:#} (the next start replays the log)");
    }
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
fn banner(config: &Config, backups: Option<&backups::Plan>) -> String {
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
    if let Some(plan) = backups {
        out.push_str(&format!("  backups:       {}\n", plan.describe()));
    }
    out.push_str("Press Ctrl-C to stop.\n");
    out
}
