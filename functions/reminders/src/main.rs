use lambda_runtime::service_fn;
use mostrador_app::{platform::telemetry, Config, Deps};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load().await?;
    telemetry::init(&config);
    // Built once at init; every invocation borrows them.
    let deps = Deps::build(config).await?;
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event| reminders::handler(deps, event)))
        .await
        .map_err(anyhow::Error::from_boxed)
}
