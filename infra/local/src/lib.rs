//! The whole system in one process: every HTTP route, a poller per queue and the scheduler, on the
//! same app functions the Lambdas call.

pub mod backups;
pub mod checkout;
pub mod demo;
pub mod pollers;
pub mod sandbox;
pub mod schedule;
pub mod upkeep;

use mostrador_app::entry::jobs;
use mostrador_app::Deps;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a locally fired job may run (the Lambda's timeout in the template).
pub const JOB_TIMEOUT: Duration = Duration::from_secs(300);

/// A running local stack.
pub struct Running {
    /// Where the HTTP server listens.
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// What to start besides the HTTP server.
#[derive(Debug, Clone)]
pub struct Options {
    pub pollers: bool,
    pub scheduler: bool,
    /// Scheduled backups of the data directory (embedded engine).
    pub backups: Option<backups::Plan>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            pollers: true,
            scheduler: true,
            backups: None,
        }
    }
}

/// Starts the server on `listener`, the pollers and the scheduler.
pub async fn start(
    deps: Deps,
    listener: TcpListener,
    options: Options,
) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let (shutdown, rx) = watch::channel(false);
    let mut tasks = Vec::new();
    if deps.config.engine == mostrador_app::platform::config::Engine::Embedded {
        // Customers' data an earlier version keyed by their number moves under pseudonyms before
        // anything reads it (once per deployment; the AWS engine does it per merchant through the
        // operator's seal-conversations call).
        match mostrador_app::flows::privacy::move_all_customer_keys(&deps).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(items = n, "customers' keys moved under their pseudonyms"),
            Err(e) => {
                tracing::error!(error = %e, "could not move customers' keys under pseudonyms")
            }
        }
    }
    // The customer simulator and the sandbox checkout exist only here, never in a Lambda, and only
    // in demo mode: a production stack serves real customers and answers 404 there.
    let mut app = mostrador_app::entry::http::all(deps.clone());
    if deps.config.mode == mostrador_app::platform::config::Mode::Demo {
        let sandbox = sandbox::routes(deps.clone(), addr).map_err(std::io::Error::other)?;
        app = app
            .merge(sandbox)
            .merge(checkout::routes(deps.clone(), addr));
    }
    let mut server_rx = rx.clone();
    tasks.push(tokio::spawn(async move {
        let stop = async move {
            let _ = server_rx.wait_for(|stop| *stop).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(error = %e, "HTTP server failed");
        }
    }));
    if deps.config.engine == mostrador_app::platform::config::Engine::Embedded {
        // This process owns the embedded queues: what a crashed predecessor was holding is handed
        // out again now, not after its visibility timeout.
        for (name, queue) in [
            ("inbound", &deps.queues.inbound),
            ("outbound", &deps.queues.outbound),
            ("invoicing", &deps.queues.invoicing),
        ] {
            match queue.recover_after_restart().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    queue = name,
                    messages = n,
                    "messages held by the previous process released"
                ),
                Err(e) => {
                    tracing::warn!(queue = name, error = %e, "could not release messages held by the previous process")
                }
            }
        }
    }
    if options.pollers {
        tasks.extend(pollers::spawn(&deps, rx.clone()));
    }
    if let Some(plan) = options.backups {
        tasks.push(backups::spawn(plan, rx.clone()));
    }
    if options.scheduler {
        tasks.push(spawn_scheduler(deps, rx));
    }
    Ok(Running {
        addr,
        shutdown,
        tasks,
    })
}

impl Running {
    /// Stops accepting work, lets in-flight requests, batches and jobs finish, then returns.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

fn spawn_scheduler(deps: Deps, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let now = deps.clock.now();
        let mut next: Vec<_> = schedule::SCHEDULES
            .iter()
            .filter_map(|s| match schedule::parse(s.expression) {
                Ok(expr) => Some((s, expr, expr.next_after(now))),
                Err(e) => {
                    tracing::error!(schedule = s.name, error = %e, "schedule not started");
                    None
                }
            })
            .collect();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let now = deps.clock.now();
            for (s, expr, at) in next.iter_mut() {
                if now >= *at {
                    let deadline = jobs::deadline_after(&deps, JOB_TIMEOUT);
                    match jobs::run(&deps, s.job, deadline).await {
                        Ok(report) if report.processed + report.failed > 0 => {
                            tracing::info!(
                                schedule = s.name,
                                processed = report.processed,
                                failed = report.failed,
                                "job ran"
                            )
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(schedule = s.name, error = %e, "job failed; it runs again at its next firing")
                        }
                    }
                    *at = expr.next_after(now);
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::info!("scheduler stopped");
    })
}
