//! Shared AWS SDK configuration for the AWS engines (DynamoDB, S3, KMS), on AWS or on moto.

use aws_config::meta::region::RegionProviderChain;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Region used when neither the environment nor a profile names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Environment variable naming the moto endpoint the AWS engine tests run against.
pub const TEST_ENDPOINT_VAR: &str = "MOSTRADOR_TEST_AWS_ENDPOINT";

/// Loads the SDK configuration from the environment, with `endpoint` overriding every service's URL
/// (for moto) and the region defaulting to us-east-1.
///
/// Loaded once per process and endpoint, then shared: the platform secret's client and the engines'
/// clients use one HTTPS client (one read of the trust store, one credentials chain) at cold start.
pub async fn sdk_config(endpoint: Option<&str>) -> SdkConfig {
    static LOADED: std::sync::Mutex<Vec<(Option<String>, SdkConfig)>> =
        std::sync::Mutex::new(Vec::new());
    let key = endpoint.map(str::to_owned);
    if let Ok(loaded) = LOADED.lock() {
        if let Some((_, config)) = loaded.iter().find(|(k, _)| *k == key) {
            return config.clone();
        }
    }
    let region = RegionProviderChain::default_provider().or_else(Region::new(DEFAULT_REGION));
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    let config = loader.load().await;
    if let Ok(mut loaded) = LOADED.lock() {
        loaded.push((key, config.clone()));
    }
    config
}

/// An S3 client for `config`; path-style addressing when a custom endpoint is set, because
/// `bucket.127.0.0.1` does not resolve.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let builder =
        aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some());
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// For tests: the SDK configuration pointing at the moto server named by `MOSTRADOR_TEST_AWS_ENDPOINT`,
/// with dummy credentials and region us-east-1 unless the environment already sets them.
///
/// Fails when the variable is unset: tests that need moto must fail, not skip, when it is missing.
pub async fn test_sdk_config() -> Result<SdkConfig, String> {
    let endpoint = std::env::var(TEST_ENDPOINT_VAR)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            format!("{TEST_ENDPOINT_VAR} is not set: run the tests through tests/run, which starts moto")
        })?;
    set_test_environment();
    Ok(sdk_config(Some(&endpoint)).await)
}

/// Sets moto's dummy credentials and region once per process, before any SDK client reads them.
fn set_test_environment() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for (name, value) in [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", DEFAULT_REGION),
        ] {
            if std::env::var_os(name).is_none() {
                std::env::set_var(name, value);
            }
        }
    });
}
