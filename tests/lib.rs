//! Helpers for the end-to-end tests: a whole local stack per test on a free port, on either engine.

use mostrador_app::platform::config::Vars;
use mostrador_app::{Config, Deps};
use mostrador_core::{Clock, SystemClock};
use serde_json::{json, Value};
use std::sync::Arc;

/// Which engines back the stack under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Embedded,
    /// DynamoDB, SQS, S3 and KMS on moto (`MOSTRADOR_TEST_AWS_ENDPOINT`).
    Aws,
}

/// A running stack.
pub struct TestApp {
    pub url: String,
    pub deps: Deps,
    pub admin_key: String,
    pub app_secret: String,
    pub http: reqwest::Client,
    running: Option<mostrador_local::Running>,
    _dir: tempfile::TempDir,
}

/// Logs to the test's output at the level `TEST_LOG` names (e.g. `TEST_LOG=debug`), warnings otherwise.
pub fn init_test_log() {
    // Warnings by default: a failing test's output then says what went wrong inside the stack.
    let filter = std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".to_owned());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// The moto endpoint the test script started.
pub fn moto_endpoint() -> String {
    std::env::var("MOSTRADOR_TEST_AWS_ENDPOINT")
        .unwrap_or_else(|_| panic!("MOSTRADOR_TEST_AWS_ENDPOINT is not set: run the tests through tests/run, which starts moto"))
}

/// The configuration of a test stack.
pub fn test_config(engine: Engine, dir: &std::path::Path) -> Config {
    test_config_with(engine, dir, &[])
}

/// The configuration of a test stack with extra variables (e.g. `MOSTRADOR_GRAPH_API_BASE`).
pub fn test_config_with(engine: Engine, dir: &std::path::Path, extra: &[(&str, &str)]) -> Config {
    let data = dir.to_string_lossy().to_string();
    let prefix = format!("e2e{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let endpoint = if engine == Engine::Aws {
        moto_endpoint()
    } else {
        String::new()
    };
    let mut pairs: Vec<(&str, String)> = vec![
        ("MOSTRADOR_DATA_DIR", data),
        ("MOSTRADOR_ADMIN_KEY", "test-admin-key-0123456789".into()),
        ("MOSTRADOR_WHATSAPP_APP_SECRET", "test-app-secret".into()),
        (
            "MOSTRADOR_WHATSAPP_VERIFY_TOKEN",
            "test-verify-token".into(),
        ),
        // The merchants' webhook receivers in these tests are wiremock servers on loopback.
        ("MOSTRADOR_ALLOW_LOOPBACK_URLS", "true".into()),
    ];
    if engine == Engine::Aws {
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ] {
            if std::env::var(k).is_err() {
                std::env::set_var(k, v);
            }
        }
        pairs.extend([
            ("MOSTRADOR_ENGINE", "aws".to_owned()),
            ("MOSTRADOR_AWS_ENDPOINT", endpoint),
            ("MOSTRADOR_AWS_PROVISION", "true".to_owned()),
            ("MOSTRADOR_TABLE", prefix.clone()),
            ("MOSTRADOR_BUCKET", prefix),
        ]);
    }
    pairs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let vars = Vars::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
    Config::from_vars(&vars).expect("test config")
}

/// Opens the engines `config` names and starts the stack on a free loopback port.
async fn start_on(
    config: Config,
    clock: Arc<dyn Clock>,
    options: mostrador_local::Options,
) -> (Deps, mostrador_local::Running) {
    let deps = Deps::build_with_clock(config, clock)
        .await
        .expect("engines");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let running = mostrador_local::start(deps.clone(), listener, options)
        .await
        .expect("start");
    (deps, running)
}

impl TestApp {
    /// Starts a stack with pollers and scheduler on a free loopback port.
    pub async fn spawn(engine: Engine) -> Self {
        Self::spawn_with(
            engine,
            Arc::new(SystemClock),
            mostrador_local::Options::default(),
        )
        .await
    }

    /// Starts a stack with a given clock and options.
    pub async fn spawn_with(
        engine: Engine,
        clock: Arc<dyn Clock>,
        options: mostrador_local::Options,
    ) -> Self {
        Self::spawn_full(engine, clock, options, &[]).await
    }

    /// Starts a stack with a given clock, options and extra configuration variables.
    pub async fn spawn_full(
        engine: Engine,
        clock: Arc<dyn Clock>,
        options: mostrador_local::Options,
        extra: &[(&str, &str)],
    ) -> Self {
        init_test_log();
        let dir = tempfile::tempdir().expect("tempdir");
        let config = test_config_with(engine, dir.path(), extra);
        let admin_key = config.admin_key.expose().to_owned();
        let app_secret = config.whatsapp_app_secret.expose().to_owned();
        let (deps, running) = start_on(config, clock, options).await;
        let url = format!("http://{}", running.addr);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            url,
            deps,
            admin_key,
            app_secret,
            http,
            running: Some(running),
            _dir: dir,
        }
    }

    /// Stops the stack and starts it again on the same data (a new process would: the engines
    /// opened again, the deployment's keys read again).
    pub async fn restart(mut self, options: mostrador_local::Options) -> Self {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        let config = (*self.deps.config).clone();
        let (deps, running) = start_on(config, self.deps.clock.clone(), options).await;
        self.url = format!("http://{}", running.addr);
        self.deps = deps;
        self.running = Some(running);
        self
    }

    /// Stops the stack, draining in-flight work.
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    /// A request with the admin key.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.admin_key)
    }

    /// A request with a merchant's API key.
    pub fn as_merchant(
        &self,
        key: &str,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(key)
    }

    /// Creates a merchant and an unrestricted API key; returns (merchant id, api key).
    pub async fn merchant(&self, name: &str) -> (String, String) {
        let r = self
            .admin(reqwest::Method::POST, "/v1/admin/merchants")
            .json(&json!({ "name": name }))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 201);
        let id = r.json::<Value>().await.expect("json")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let r = self
            .admin(
                reqwest::Method::POST,
                &format!("/v1/admin/merchants/{id}/api-keys"),
            )
            .json(&json!({}))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 201);
        let key = r.json::<Value>().await.expect("json")["api_key"]
            .as_str()
            .expect("key")
            .to_owned();
        (id, key)
    }

    /// Creates a branch for a merchant; returns its id.
    pub async fn branch(&self, key: &str, name: &str, phone_number_id: Option<&str>) -> String {
        let body = json!({ "name": name, "postal_code": "06700", "phone_number_id": phone_number_id, "address": "Av. Álvaro Obregón 1, Roma Nte." });
        let r = self
            .as_merchant(key, reqwest::Method::POST, "/v1/branches")
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        r.json::<Value>().await.expect("json")["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// Posts a webhook body signed with the app secret.
    pub async fn post_webhook(&self, body: &[u8]) -> reqwest::Response {
        let sig = mostrador_whatsapp::signature::sign(self.app_secret.as_bytes(), body);
        self.http
            .post(format!("{}/webhooks/whatsapp", self.url))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", sig)
            .body(body.to_vec())
            .send()
            .await
            .expect("send")
    }
}

/// Issues `order`'s payment link through the merchant's provider, as the chat does at "Confirmar"
/// (the sandbox for a demo-mode merchant with none). The sandbox pays only orders it issued a link
/// for, so a test that places an order directly issues its link with this before paying it.
pub async fn issue_link(
    deps: &Deps,
    merchant: &mostrador_app::platform::tenant::MerchantId,
    order: &mostrador_app::commerce::orders::Order,
) {
    use mostrador_app::commerce::payment_links;
    let (provider, methods) = payment_links::issuer(deps, merchant)
        .await
        .expect("the merchant's payment provider");
    let request = payment_links::request_for(
        deps,
        merchant,
        provider.as_ref(),
        methods,
        order,
        "Farmacia",
    );
    let link = provider.create(&request).await.expect("a payment link");
    let table = mostrador_app::platform::tenant::TenantTable::of(deps, merchant);
    payment_links::store_on_order(&table, &order.id, provider.name(), &link)
        .await
        .expect("the link recorded on the order");
}

impl TestApp {
    /// Pays an order by card through the sandbox provider's signed callback, as its checkout page
    /// does (`event_id` names the provider's event); the callback must be accepted.
    pub async fn pay_in_sandbox(
        &self,
        merchant: &mostrador_app::platform::tenant::MerchantId,
        order_id: &str,
        amount: i64,
        event_id: &str,
    ) {
        let body = serde_json::to_vec(&mostrador_payments::sandbox::SandboxEvent {
            id: event_id.into(),
            kind: "payment.paid".into(),
            order_id: order_id.into(),
            amount,
            currency: "MXN".into(),
            method: mostrador_payments::Method::Card,
        })
        .expect("json");
        let sig = mostrador_app::flows::paying::sandbox(&self.deps, merchant)
            .sign(&body, self.deps.clock.now_secs());
        let r = self
            .http
            .post(format!(
                "{}/webhooks/payments/sandbox?m={merchant}",
                self.url
            ))
            .header("x-sandbox-signature", sig)
            .body(body)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200, "the sandbox payment of {order_id}");
    }
}

/// A WhatsApp text message delivery as Meta sends it, sent now.
pub fn text_webhook(phone_number_id: &str, from: &str, wamid: &str, text: &str) -> Vec<u8> {
    text_webhook_at(
        phone_number_id,
        from,
        wamid,
        text,
        chrono::Utc::now().timestamp(),
    )
}

/// A WhatsApp text message delivery as Meta sends it, sent at `timestamp` (unix seconds).
pub fn text_webhook_at(
    phone_number_id: &str,
    from: &str,
    wamid: &str,
    text: &str,
    timestamp: i64,
) -> Vec<u8> {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "102290129340398", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": phone_number_id },
            "contacts": [{ "profile": { "name": "Mariana López" }, "wa_id": from }],
            "messages": [{ "from": from, "id": wamid, "timestamp": timestamp.to_string(), "type": "text", "text": { "body": text } }]
        }}]}]
    });
    serde_json::to_vec(&body).expect("json")
}

/// Polls `check` every 50 ms for up to 10 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Waits (up to 10 s) until `check` finds a value, and returns it.
pub async fn eventually_value<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..200 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Generates `embedded` and `aws` variants of an async test body `fn(Engine)`.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::Engine::Embedded).await }
            )*
        }
        mod aws {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::Engine::Aws).await }
            )*
        }
    };
}
