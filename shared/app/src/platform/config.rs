//! Configuration: environment variables read once into one typed struct.
//!
//! A missing or malformed variable stops startup with a message naming it. Locally, unset secrets
//! are generated once and kept in `<data dir>/secrets.json` (mode 0600); in Lambda they are
//! required, given directly or through a Secrets Manager secret (`MOSTRADOR_SECRETS_ARN`).

use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A secret value: never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret string.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A fresh random secret of 32 bytes, hex-encoded.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Which engines back the ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// SQLite file, directory of blobs, local key file.
    Embedded,
    /// DynamoDB, SQS, S3, KMS (AWS or an emulator such as moto).
    Aws,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Readable lines for a terminal.
    Text,
    /// One JSON object per line, for CloudWatch.
    Json,
}

/// Names of the AWS resources, when the engine is `aws`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AwsResources {
    /// Endpoint override for every service (moto); `AWS_ENDPOINT_URL` works too.
    pub endpoint: Option<String>,
    pub table: String,
    pub bucket: String,
    pub kms_key_id: Option<String>,
    pub inbound_queue_url: String,
    pub inbound_dlq_url: String,
    pub outbound_queue_url: String,
    pub outbound_dlq_url: String,
    pub invoicing_queue_url: String,
    pub invoicing_dlq_url: String,
    /// The dead-letter queue of EventBridge Scheduler (deliveries and reminder runs that failed).
    pub scheduler_dlq_url: Option<String>,
    /// Create the table, queues, bucket and key when missing (for emulators and first runs).
    pub provision: bool,
}

/// What a deployment is for (`MOSTRADOR_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `cargo run` with no setup: the demo merchant, the customer simulator at /sandbox/chat, the
    /// sandbox checkout page, and sandbox payment links for merchants with no provider.
    Demo,
    /// Real merchants and customers: no simulator, no checkout page, no demo merchant, and a sandbox
    /// payment only for a merchant that chose it (`PUT /v1/settings/payments {"provider":"sandbox"}`).
    /// Always the mode inside Lambda.
    Production,
}

/// The configuration of every mostrador process.
#[derive(Debug, Clone)]
pub struct Config {
    /// `MOSTRADOR_ADDR`: listen address of the local stack.
    pub addr: SocketAddr,
    /// `MOSTRADOR_DATA_DIR`: where the embedded engines keep their files.
    pub data_dir: PathBuf,
    /// `MOSTRADOR_ENGINE`: `embedded` or `aws`.
    pub engine: Engine,
    /// `MOSTRADOR_MODE`: `demo` (default of the local stack) or `production` (always in Lambda).
    pub mode: Mode,
    /// `MOSTRADOR_ALLOW_LOOPBACK_URLS`: whether merchant webhooks may point at this machine's loopback
    /// (a developer's receiver, the tests' fakes). Never private or link-local ranges; never in Lambda.
    pub reach: mostrador_core::net::Reach,
    /// `MOSTRADOR_ADMIN_KEY`: platform admin key for `/v1/admin`.
    pub admin_key: Secret,
    /// `MOSTRADOR_WHATSAPP_APP_SECRET`: Meta app secret, signs webhooks.
    pub whatsapp_app_secret: Secret,
    /// `MOSTRADOR_WHATSAPP_VERIFY_TOKEN`: answers Meta's verification handshake.
    pub whatsapp_verify_token: Secret,
    /// `MOSTRADOR_GRAPH_API_BASE`: Graph API base URL.
    pub graph_api_base: String,
    /// `MOSTRADOR_{STRIPE,MERCADOPAGO,CONEKTA,OPENPAY}_API_BASE`: payment provider API base URLs
    /// (unset: the provider's own; set for a proxy or a test fake).
    pub payment_api_bases: std::collections::BTreeMap<&'static str, String>,
    /// `MOSTRADOR_{FINKOK,SW}_API_BASE`: PAC base URLs (unset: each merchant's choice of the PAC's
    /// production or test host; set for a proxy or a test fake).
    pub pac_api_bases: std::collections::BTreeMap<&'static str, String>,
    /// `MOSTRADOR_GRAPH_API_VERSION`: Graph API version, e.g. `v25.0`.
    pub graph_api_version: String,
    /// `MOSTRADOR_PUBLIC_URL`: how customers and providers reach this deployment (read it with
    /// [`Config::public_url`]).
    pub public_url: PublicUrl,
    /// `MOSTRADOR_LOG`: tracing filter, e.g. `info` or `mostrador_app=debug`.
    pub log_filter: String,
    /// `MOSTRADOR_LOG_FORMAT`: `text` or `json`.
    pub log_format: LogFormat,
    /// AWS resources (engine `aws`).
    pub aws: AwsResources,
    /// `MOSTRADOR_SECRETS_ARN`: Secrets Manager secret with the platform secrets (Lambda).
    pub secrets_arn: Option<String>,
    /// Whether this process runs inside AWS Lambda.
    pub in_lambda: bool,
    /// `MOSTRADOR_EXPORT_INLINE_MAX_BYTES`: the largest customer-data ZIP answered in the response
    /// itself (default 4 MiB, under Lambda's 6 MB response limit); a larger one is stored and
    /// answered with a signed link.
    pub export_inline_max_bytes: usize,
    /// Secrets that were generated for this local data directory (to print them at start).
    pub generated_secrets: Vec<&'static str>,
}

/// Where customers and payment providers reach this deployment: payment callbacks, tracked links
/// `/l/{code}`, signed file links `/files/...`.
///
/// `MOSTRADOR_PUBLIC_URL` when set. A deployed HTTP function without it learns its API's domain
/// from API Gateway's request context (`requestContext.domainName`, set by API Gateway, not by
/// the caller) on its first request, before any handler runs; it is never a loopback address.
#[derive(Debug, Clone, Default)]
pub struct PublicUrl {
    fixed: Option<String>,
    learned: std::sync::Arc<std::sync::OnceLock<String>>,
}

/// What [`Config::public_url`] answers when no URL is configured or learned: a reserved name that
/// never resolves (RFC 6761), so a misconfigured deployment shows itself instead of sending
/// customers to a loopback address.
pub const UNKNOWN_PUBLIC_URL: &str = "https://public-url-not-configured.invalid";

impl PublicUrl {
    /// A configured base URL (a trailing slash is dropped).
    pub fn fixed(url: &str) -> Self {
        Self {
            fixed: Some(url.trim_end_matches('/').to_owned()),
            learned: Default::default(),
        }
    }

    /// Not configured: to be learned from the first request.
    pub fn unknown() -> Self {
        Self::default()
    }

    /// Records the API's domain name (from API Gateway's request context) as `https://{domain}`,
    /// unless a URL is configured or was already learned. Ignores anything that is not a plain
    /// host name (with an optional port).
    pub(crate) fn learn_domain(&self, domain: &str) {
        if self.fixed.is_some() || self.learned.get().is_some() {
            return;
        }
        let plain = !domain.is_empty()
            && domain.len() <= 253
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
            && !domain.starts_with(['.', '-', ':']);
        if plain {
            let _ = self.learned.set(format!("https://{domain}"));
        }
    }

    /// The base URL, if configured or learned.
    pub fn get(&self) -> Option<&str> {
        self.fixed
            .as_deref()
            .or_else(|| self.learned.get().map(String::as_str))
    }
}

impl Config {
    /// The public base URL (no trailing slash): see [`PublicUrl`].
    pub fn public_url(&self) -> &str {
        match self.public_url.get() {
            Some(url) => url,
            None => {
                tracing::error!(
                    "the public URL of this deployment is unknown: set MOSTRADOR_PUBLIC_URL (stack parameter PublicUrl)"
                );
                UNKNOWN_PUBLIC_URL
            }
        }
    }
}

/// A configuration variable that is missing or malformed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration variable {var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

fn err(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
    }
}

/// The variables as read from the environment (or given by a test).
#[derive(Debug, Clone, Default)]
pub struct Vars(HashMap<String, String>);

impl Vars {
    /// The process environment.
    pub fn from_env() -> Self {
        Self(std::env::vars().collect())
    }

    /// Given pairs; for tests.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    fn get(&self, var: &str) -> Option<&str> {
        self.0
            .get(var)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    fn required(&self, var: &'static str) -> Result<String, ConfigError> {
        self.get(var)
            .map(str::to_owned)
            .ok_or_else(|| err(var, "is required but not set"))
    }

    fn or(&self, var: &str, default: &str) -> String {
        self.get(var).unwrap_or(default).to_owned()
    }
}

/// Secrets persisted for a local data directory.
#[derive(Debug, Default, Serialize, Deserialize)]
struct LocalSecrets {
    admin_key: Option<Secret>,
    whatsapp_app_secret: Option<Secret>,
    whatsapp_verify_token: Option<Secret>,
}

/// The platform secrets as stored in Secrets Manager.
#[derive(Debug, Deserialize)]
pub struct PlatformSecrets {
    pub admin_key: Secret,
    pub whatsapp_app_secret: Secret,
    pub whatsapp_verify_token: Secret,
}

impl Config {
    /// Reads the configuration; locally generates and persists missing secrets.
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let in_lambda = vars.get("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let addr: SocketAddr = vars
            .or("MOSTRADOR_ADDR", "127.0.0.1:3000")
            .parse()
            .map_err(|_| {
                err(
                    "MOSTRADOR_ADDR",
                    "is not a socket address such as 127.0.0.1:3000",
                )
            })?;
        let data_dir = PathBuf::from(vars.or("MOSTRADOR_DATA_DIR", ".mostrador"));
        let engine = match vars
            .or(
                "MOSTRADOR_ENGINE",
                if in_lambda { "aws" } else { "embedded" },
            )
            .as_str()
        {
            "embedded" => Engine::Embedded,
            "aws" => Engine::Aws,
            other => {
                return Err(err(
                    "MOSTRADOR_ENGINE",
                    format!("must be `embedded` or `aws`, not `{other}`"),
                ))
            }
        };
        if in_lambda && engine == Engine::Embedded {
            return Err(err("MOSTRADOR_ENGINE", "must be `aws` inside Lambda"));
        }
        let log_format = match vars
            .or(
                "MOSTRADOR_LOG_FORMAT",
                if in_lambda { "json" } else { "text" },
            )
            .as_str()
        {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(err(
                    "MOSTRADOR_LOG_FORMAT",
                    format!("must be `text` or `json`, not `{other}`"),
                ))
            }
        };
        let graph_api_base = vars.or("MOSTRADOR_GRAPH_API_BASE", "https://graph.facebook.com");
        check_url("MOSTRADOR_GRAPH_API_BASE", &graph_api_base)?;
        let graph_api_version = vars.or("MOSTRADOR_GRAPH_API_VERSION", "v25.0");
        let version_ok = graph_api_version.strip_prefix('v').is_some_and(|v| {
            !v.is_empty()
                && v.split('.')
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        });
        if !version_ok {
            return Err(err("MOSTRADOR_GRAPH_API_VERSION", "must look like v25.0"));
        }
        let mut payment_api_bases = std::collections::BTreeMap::new();
        for (provider, var) in [
            ("stripe", "MOSTRADOR_STRIPE_API_BASE"),
            ("mercadopago", "MOSTRADOR_MERCADOPAGO_API_BASE"),
            ("conekta", "MOSTRADOR_CONEKTA_API_BASE"),
            ("openpay", "MOSTRADOR_OPENPAY_API_BASE"),
        ] {
            if let Some(base) = vars.get(var) {
                check_url(var, base)?;
                payment_api_bases.insert(provider, base.trim_end_matches('/').to_owned());
            }
        }
        let mut pac_api_bases = std::collections::BTreeMap::new();
        for (pac, var) in [
            ("finkok", "MOSTRADOR_FINKOK_API_BASE"),
            ("sw", "MOSTRADOR_SW_API_BASE"),
        ] {
            if let Some(base) = vars.get(var) {
                check_url(var, base)?;
                pac_api_bases.insert(pac, base.trim_end_matches('/').to_owned());
            }
        }
        // Inside Lambda there is no listen address to fall back to: without the variable, the HTTP
        // functions learn the API's domain from the first request (see `PublicUrl`).
        let mode = match vars.or("MOSTRADOR_MODE", if in_lambda { "production" } else { "demo" }).as_str() {
            "production" => Mode::Production,
            "demo" if in_lambda => {
                return Err(err(
                    "MOSTRADOR_MODE",
                    "must be production inside Lambda (the simulator and the sandbox checkout exist only in the local stack)",
                ))
            }
            "demo" => Mode::Demo,
            other => {
                return Err(err(
                    "MOSTRADOR_MODE",
                    format!("must be demo or production, not `{other}`"),
                ))
            }
        };
        let reach = match vars.or("MOSTRADOR_ALLOW_LOOPBACK_URLS", "false").as_str() {
            "true" | "1" if in_lambda => {
                return Err(err(
                    "MOSTRADOR_ALLOW_LOOPBACK_URLS",
                    "cannot be set inside Lambda",
                ))
            }
            "true" | "1" => mostrador_core::net::Reach::PublicAndLoopback,
            "false" | "0" => mostrador_core::net::Reach::PublicOnly,
            _ => {
                return Err(err(
                    "MOSTRADOR_ALLOW_LOOPBACK_URLS",
                    "must be true or false",
                ))
            }
        };
        let public_url = match vars.get("MOSTRADOR_PUBLIC_URL") {
            Some(url) => {
                check_url("MOSTRADOR_PUBLIC_URL", url)?;
                PublicUrl::fixed(url)
            }
            None if in_lambda => PublicUrl::unknown(),
            None => PublicUrl::fixed(&format!("http://{addr}")),
        };
        let secrets_arn = vars.get("MOSTRADOR_SECRETS_ARN").map(str::to_owned);
        let aws = if engine == Engine::Aws {
            aws_resources(vars)?
        } else {
            AwsResources::default()
        };

        let direct = |var: &str| vars.get(var).map(Secret::new);
        let mut config = Config {
            addr,
            data_dir,
            engine,
            mode,
            reach,
            admin_key: Secret::new(""),
            whatsapp_app_secret: Secret::new(""),
            whatsapp_verify_token: Secret::new(""),
            graph_api_base: graph_api_base.trim_end_matches('/').to_owned(),
            graph_api_version,
            payment_api_bases,
            pac_api_bases,
            public_url,
            log_filter: vars.or("MOSTRADOR_LOG", "info"),
            log_format,
            aws,
            secrets_arn,
            in_lambda,
            export_inline_max_bytes: match vars.get("MOSTRADOR_EXPORT_INLINE_MAX_BYTES") {
                None => 4 * 1024 * 1024,
                Some(v) => v.parse().map_err(|_| {
                    err(
                        "MOSTRADOR_EXPORT_INLINE_MAX_BYTES",
                        "is not a number of bytes",
                    )
                })?,
            },
            generated_secrets: Vec::new(),
        };
        let given = [
            direct("MOSTRADOR_ADMIN_KEY"),
            direct("MOSTRADOR_WHATSAPP_APP_SECRET"),
            direct("MOSTRADOR_WHATSAPP_VERIFY_TOKEN"),
        ];
        if in_lambda {
            if config.secrets_arn.is_none() {
                let [admin, app, verify] = given;
                config.admin_key = admin.ok_or_else(|| {
                    err(
                        "MOSTRADOR_ADMIN_KEY",
                        "is required in Lambda (or set MOSTRADOR_SECRETS_ARN)",
                    )
                })?;
                config.whatsapp_app_secret = app.ok_or_else(|| {
                    err(
                        "MOSTRADOR_WHATSAPP_APP_SECRET",
                        "is required in Lambda (or set MOSTRADOR_SECRETS_ARN)",
                    )
                })?;
                config.whatsapp_verify_token = verify.ok_or_else(|| {
                    err(
                        "MOSTRADOR_WHATSAPP_VERIFY_TOKEN",
                        "is required in Lambda (or set MOSTRADOR_SECRETS_ARN)",
                    )
                })?;
            }
        } else {
            config.fill_local_secrets(given)?;
        }
        for (var, secret) in [("MOSTRADOR_ADMIN_KEY", &config.admin_key)] {
            if !secret.expose().is_empty() && secret.expose().len() < 16 {
                return Err(err(var, "must be at least 16 characters"));
            }
        }
        Ok(config)
    }

    /// Reads the process environment; in Lambda with `MOSTRADOR_SECRETS_ARN`, fetches the secrets.
    pub async fn load() -> Result<Self, anyhow::Error> {
        let mut config = Self::from_vars(&Vars::from_env())?;
        if config.in_lambda {
            if let Some(arn) = config.secrets_arn.clone() {
                let secrets = fetch_platform_secrets(&config, &arn).await?;
                config.admin_key = secrets.admin_key;
                config.whatsapp_app_secret = secrets.whatsapp_app_secret;
                config.whatsapp_verify_token = secrets.whatsapp_verify_token;
            }
        }
        Ok(config)
    }

    fn fill_local_secrets(&mut self, given: [Option<Secret>; 3]) -> Result<(), ConfigError> {
        let path = self.data_dir.join("secrets.json");
        let mut stored: LocalSecrets = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                err(
                    "MOSTRADOR_DATA_DIR",
                    format!("{} is unreadable: {e}", path.display()),
                )
            })?,
            Err(_) => LocalSecrets::default(),
        };
        let [admin, app, verify] = given;
        let mut changed = false;
        let mut pick = |given: Option<Secret>,
                        slot: &mut Option<Secret>,
                        name: &'static str,
                        generated: &mut Vec<&'static str>| {
            given.unwrap_or_else(|| {
                slot.clone().unwrap_or_else(|| {
                    let fresh = Secret::generate();
                    *slot = Some(fresh.clone());
                    changed = true;
                    generated.push(name);
                    fresh
                })
            })
        };
        let mut generated = Vec::new();
        self.admin_key = pick(
            admin,
            &mut stored.admin_key,
            "MOSTRADOR_ADMIN_KEY",
            &mut generated,
        );
        self.whatsapp_app_secret = pick(
            app,
            &mut stored.whatsapp_app_secret,
            "MOSTRADOR_WHATSAPP_APP_SECRET",
            &mut generated,
        );
        self.whatsapp_verify_token = pick(
            verify,
            &mut stored.whatsapp_verify_token,
            "MOSTRADOR_WHATSAPP_VERIFY_TOKEN",
            &mut generated,
        );
        self.generated_secrets = generated;
        if changed {
            write_private_json(&path, &stored).map_err(|e| err("MOSTRADOR_DATA_DIR", e))?;
        }
        Ok(())
    }
}

fn check_url(var: &'static str, value: &str) -> Result<(), ConfigError> {
    if value.starts_with("http://") || value.starts_with("https://") {
        Ok(())
    } else {
        Err(err(var, format!("must be an http(s) URL, not `{value}`")))
    }
}

fn aws_resources(vars: &Vars) -> Result<AwsResources, ConfigError> {
    let provision = match vars.or("MOSTRADOR_AWS_PROVISION", "false").as_str() {
        "true" | "1" => true,
        "false" | "0" => false,
        _ => return Err(err("MOSTRADOR_AWS_PROVISION", "must be true or false")),
    };
    let endpoint = vars.get("MOSTRADOR_AWS_ENDPOINT").map(str::to_owned);
    if let Some(e) = &endpoint {
        check_url("MOSTRADOR_AWS_ENDPOINT", e)?;
    }
    // When provisioning, queue URLs are discovered from their names; otherwise they are required.
    let queue = |var: &'static str| -> Result<String, ConfigError> {
        if provision {
            Ok(vars.or(var, ""))
        } else {
            vars.required(var)
        }
    };
    Ok(AwsResources {
        endpoint,
        table: vars.required("MOSTRADOR_TABLE")?,
        bucket: vars.required("MOSTRADOR_BUCKET")?,
        kms_key_id: vars.get("MOSTRADOR_KMS_KEY_ID").map(str::to_owned),
        inbound_queue_url: queue("MOSTRADOR_INBOUND_QUEUE_URL")?,
        inbound_dlq_url: queue("MOSTRADOR_INBOUND_DLQ_URL")?,
        outbound_queue_url: queue("MOSTRADOR_OUTBOUND_QUEUE_URL")?,
        outbound_dlq_url: queue("MOSTRADOR_OUTBOUND_DLQ_URL")?,
        invoicing_queue_url: queue("MOSTRADOR_INVOICING_QUEUE_URL")?,
        invoicing_dlq_url: queue("MOSTRADOR_INVOICING_DLQ_URL")?,
        scheduler_dlq_url: vars.get("MOSTRADOR_SCHEDULER_DLQ_URL").map(str::to_owned),
        provision,
    })
}

/// Writes `value` as JSON readable only by this user (0600), atomically (a temporary file and a rename).
pub fn write_private_json<T: Serialize>(path: &Path, value: &T) -> Result<(), String> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let text = serde_json::to_vec_pretty(value).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    file.write_all(&text).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| format!("writing {}: {e}", path.display()))
}

async fn fetch_platform_secrets(
    config: &Config,
    arn: &str,
) -> Result<PlatformSecrets, anyhow::Error> {
    use anyhow::Context;
    let sdk = mostrador_store::aws::sdk_config(config.aws.endpoint.as_deref()).await;
    let mut conf = aws_sdk_secretsmanager::config::Builder::from(&sdk);
    if let Some(log) = crate::platform::aws_operations::OperationLog::secretsmanager() {
        conf = conf.interceptor(log);
    }
    let client = aws_sdk_secretsmanager::Client::from_conf(conf.build());
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .context("reading MOSTRADOR_SECRETS_ARN from Secrets Manager")?;
    let text = out
        .secret_string()
        .context("MOSTRADOR_SECRETS_ARN holds no string")?;
    serde_json::from_str(text).context(
        "MOSTRADOR_SECRETS_ARN must hold JSON with admin_key, whatsapp_app_secret and whatsapp_verify_token",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_defaults_generate_and_persist_secrets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().to_string_lossy().to_string();
        let vars = Vars::from_pairs([("MOSTRADOR_DATA_DIR", data.as_str())]);
        let first = Config::from_vars(&vars).expect("config");
        assert_eq!(first.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(first.engine, Engine::Embedded);
        assert_eq!(first.mode, Mode::Demo, "cargo run works with no setup");
        assert_eq!(first.generated_secrets.len(), 3);
        let again = Config::from_vars(&vars).expect("config");
        assert!(
            again.generated_secrets.is_empty(),
            "secrets are generated once per data dir"
        );
        assert_eq!(again.admin_key, first.admin_key);
        assert_eq!(again.whatsapp_app_secret, first.whatsapp_app_secret);
    }

    #[test]
    fn malformed_values_name_their_variable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().to_string_lossy().to_string();
        for (var, value) in [
            ("MOSTRADOR_ADDR", "localhost"),
            ("MOSTRADOR_ENGINE", "postgres"),
            ("MOSTRADOR_LOG_FORMAT", "xml"),
            ("MOSTRADOR_GRAPH_API_VERSION", "25"),
            ("MOSTRADOR_GRAPH_API_BASE", "graph.facebook.com"),
            ("MOSTRADOR_ADMIN_KEY", "short"),
            ("MOSTRADOR_MODE", "staging"),
        ] {
            let vars = Vars::from_pairs([("MOSTRADOR_DATA_DIR", data.as_str()), (var, value)]);
            let e = Config::from_vars(&vars).expect_err(var);
            assert_eq!(e.var, var);
            assert!(e.to_string().contains(var));
        }
    }

    #[test]
    fn lambda_requires_secrets_and_aws_resources() {
        let base = [("AWS_LAMBDA_FUNCTION_NAME", "webhook-ingest")];
        let e = Config::from_vars(&Vars::from_pairs(base)).expect_err("no table");
        assert_eq!(e.var, "MOSTRADOR_TABLE");
        let mut full: Vec<(&str, &str)> = vec![
            ("AWS_LAMBDA_FUNCTION_NAME", "webhook-ingest"),
            ("MOSTRADOR_TABLE", "t"),
            ("MOSTRADOR_BUCKET", "b"),
            ("MOSTRADOR_INBOUND_QUEUE_URL", "http://q/1"),
            ("MOSTRADOR_INBOUND_DLQ_URL", "http://q/2"),
            ("MOSTRADOR_OUTBOUND_QUEUE_URL", "http://q/3"),
            ("MOSTRADOR_OUTBOUND_DLQ_URL", "http://q/4"),
            ("MOSTRADOR_INVOICING_QUEUE_URL", "http://q/5"),
            ("MOSTRADOR_INVOICING_DLQ_URL", "http://q/6"),
        ];
        let e = Config::from_vars(&Vars::from_pairs(full.clone())).expect_err("no secrets");
        assert_eq!(e.var, "MOSTRADOR_ADMIN_KEY");
        full.push((
            "MOSTRADOR_SECRETS_ARN",
            "arn:aws:secretsmanager:us-east-1:1:secret:x",
        ));
        let c = Config::from_vars(&Vars::from_pairs(full.clone())).expect("config");
        assert_eq!(c.engine, Engine::Aws);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.mode, Mode::Production, "Lambda is always production");
        let mut demo = full.clone();
        demo.push(("MOSTRADOR_MODE", "demo"));
        let e = Config::from_vars(&Vars::from_pairs(demo)).expect_err("no demo in Lambda");
        assert_eq!(e.var, "MOSTRADOR_MODE");
        // No loopback default inside Lambda: unknown until configured or learned.
        assert_eq!(c.public_url.get(), None);
        assert_eq!(c.public_url(), UNKNOWN_PUBLIC_URL);
        full.push(("MOSTRADOR_PUBLIC_URL", "https://api.farmacia.mx/"));
        let c = Config::from_vars(&Vars::from_pairs(full)).expect("config");
        assert_eq!(c.public_url(), "https://api.farmacia.mx");
    }

    #[test]
    fn the_public_url_is_learned_once_from_a_plain_domain_and_never_over_a_configured_one() {
        let url = PublicUrl::unknown();
        let shared = url.clone();
        for bad in [
            "",
            "evil.mx/path",
            "a b",
            "-x.mx",
            "user@evil.mx",
            "evil.mx?x",
        ] {
            url.learn_domain(bad);
            assert_eq!(url.get(), None, "{bad:?} is not a plain domain");
        }
        url.learn_domain("k3x9pd2m4q.execute-api.us-east-1.amazonaws.com");
        assert_eq!(
            shared.get(),
            Some("https://k3x9pd2m4q.execute-api.us-east-1.amazonaws.com"),
            "clones share what was learned"
        );
        url.learn_domain("other.example.com");
        assert_eq!(
            url.get(),
            Some("https://k3x9pd2m4q.execute-api.us-east-1.amazonaws.com"),
            "the first domain stays"
        );
        let fixed = PublicUrl::fixed("https://api.farmacia.mx");
        fixed.learn_domain("k3x9pd2m4q.execute-api.us-east-1.amazonaws.com");
        assert_eq!(fixed.get(), Some("https://api.farmacia.mx"));
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let s = Secret::new("super-secret-value");
        assert!(!format!("{s:?}").contains("super"));
    }
}
