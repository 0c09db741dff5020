use mostrador_app::{platform::telemetry, Config, Deps};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load().await?;
    telemetry::init(&config);
    // Built once at init; every request shares them.
    let deps = Deps::build(config).await?;
    lambda_http::run(merchant_api::app(deps))
        .await
        .map_err(anyhow::Error::from_boxed)
}
