//! Wiring: the ports built once from [`Config`], for a Lambda's init or the local stack.

use crate::platform::aws_operations::OperationLog;
use crate::platform::config::{Config, Engine};
use anyhow::Context;
use mostrador_core::{Clock, SystemClock};
use mostrador_queue::{Queue, QueueSpec};
use mostrador_store::idempotency::Idempotency;
#[cfg(feature = "embedded")]
use mostrador_store::sqlite::{Database, SqliteTable};
use mostrador_store::{Blobs, Keys, Pseudonyms, Table};
#[cfg(feature = "embedded")]
use mostrador_store::{DirBlobs, LocalKeys};
use mostrador_whatsapp::client::CloudApi;
use std::sync::Arc;
use std::time::Duration;

/// How long idempotency records of inbound events are kept: Meta retries for up to 7 days.
pub const IDEMPOTENCY_RETENTION: Duration = Duration::from_secs(8 * 24 * 3600);

/// Logical queue names and kinds.
pub fn queue_specs() -> [QueueSpec; 3] {
    [
        QueueSpec::fifo("inbound"),
        QueueSpec::fifo("outbound"),
        QueueSpec::standard("invoicing"),
    ]
}

/// The three queues of the system.
#[derive(Clone)]
pub struct Queues {
    /// Customer messages, FIFO per `{phone_number_id}:{wa_id}`.
    pub inbound: Arc<dyn Queue>,
    /// Messages to send, FIFO per recipient.
    pub outbound: Arc<dyn Queue>,
    /// Invoices to stamp.
    pub invoicing: Arc<dyn Queue>,
}

impl Queues {
    /// A queue by its logical name.
    pub fn by_name(&self, name: &str) -> Option<&Arc<dyn Queue>> {
        match name {
            "inbound" => Some(&self.inbound),
            "outbound" => Some(&self.outbound),
            "invoicing" => Some(&self.invoicing),
            _ => None,
        }
    }

    /// All queues with their names.
    pub fn all(&self) -> [(&'static str, &Arc<dyn Queue>); 3] {
        [
            ("inbound", &self.inbound),
            ("outbound", &self.outbound),
            ("invoicing", &self.invoicing),
        ]
    }
}

/// Everything a use case needs; cheap to clone.
#[derive(Clone)]
pub struct Deps {
    pub config: Arc<Config>,
    pub table: Arc<dyn Table>,
    /// Documents, sealed through `keys` on their way to the engine (see `sealed_blobs`).
    pub blobs: Arc<dyn Blobs>,
    /// The same documents, for sealing those an earlier version wrote in clear.
    pub sealed_blobs: Arc<mostrador_store::SealedBlobs>,
    pub keys: Arc<dyn Keys>,
    /// The keyed hashes that stand for customers' numbers in table keys (one key per deployment).
    pub pseudonyms: Arc<Pseudonyms>,
    pub queues: Queues,
    pub clock: Arc<dyn Clock>,
    pub idempotency: Idempotency,
    /// The WhatsApp Cloud API client (one HTTP connection pool per process).
    pub cloud: CloudApi,
    /// HTTP client for payment providers and PACs (same pool, timeouts set).
    pub http: reqwest::Client,
    /// HTTP for URLs merchants give (webhook deliveries): public addresses only, checked at every
    /// connection and redirect (`platform::urls::callable_client`).
    pub callable_http: reqwest::Client,
    /// The embedded engine's database file (none on AWS), made whole as the process stops.
    #[cfg(feature = "embedded")]
    database: Option<Database>,
}

impl Deps {
    /// How the table's keys name the customer `wa_id`: its pseudonym (see `TenantTable::customer`).
    pub fn customer_key(&self, wa_id: &str) -> crate::platform::schema::CustomerKey {
        crate::platform::schema::CustomerKey::from_pseudonym(self.pseudonyms.of(wa_id))
    }

    /// Builds the engines the configuration names, with the system clock.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Builds the engines the configuration names, with the given clock.
    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        match config.engine {
            #[cfg(feature = "embedded")]
            Engine::Embedded => Self::embedded(config, clock).await,
            #[cfg(not(feature = "embedded"))]
            Engine::Embedded => anyhow::bail!(
                "this build has no embedded engine (built without the `embedded` feature); \
                 set MOSTRADOR_ENGINE=aws"
            ),
            Engine::Aws => Self::aws(config, clock).await,
        }
    }

    /// SQLite file, blob directory and key file under the data directory.
    #[cfg(feature = "embedded")]
    pub async fn embedded(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let dir = config.data_dir.clone();
        // A database without its key file would be opened with a new key, under which nothing
        // stored opens: refuse instead.
        anyhow::ensure!(
            dir.join("master.key").is_file() || !dir.join("mostrador.db").is_file(),
            "{} holds a database but no master.key: everything in it is sealed with that key; \
             restore it from a backup (README, Backups)",
            dir.display()
        );
        let keys = Arc::new(
            LocalKeys::open(dir.join("master.key")).context("opening the local key file")?,
        );
        let rows = mostrador_store::sqlite::RowKey::with_secret(keys.row_key());
        let db = Database::open(dir.join("mostrador.db"), rows)
            .with_context(|| format!("opening the database in {}", dir.display()))?;
        let table: Arc<dyn Table> = Arc::new(SqliteTable::new(db.clone(), clock.clone()));
        let blobs =
            Arc::new(DirBlobs::open(dir.join("blobs")).context("opening the blob directory")?);
        let [inbound, outbound, invoicing] = queue_specs();
        let queue = |spec: QueueSpec| -> Arc<dyn Queue> {
            Arc::new(mostrador_queue::sqlite::SqliteQueue::new(
                db.clone(),
                spec,
                clock.clone(),
            ))
        };
        let queues = Queues {
            inbound: queue(inbound),
            outbound: queue(outbound),
            invoicing: queue(invoicing),
        };
        let pseudonyms = pseudonyms_stored(table.as_ref(), keys.as_ref())
            .await
            .context("reading the deployment's pseudonym key")?;
        let mut deps = Self::assemble(config, table, blobs, keys, pseudonyms, queues, clock);
        deps.database = Some(db);
        Ok(deps)
    }

    /// DynamoDB, S3, KMS and SQS; creates them first when `MOSTRADOR_AWS_PROVISION` is set.
    pub async fn aws(mut config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        use mostrador_store::{dynamodb, kms, s3};
        let sdk = mostrador_store::aws::sdk_config(config.aws.endpoint.as_deref()).await;
        // Each client records its calls when MOSTRADOR_AWS_OPERATIONS_LOG is set (permission audits).
        let mut dynamo = aws_sdk_dynamodb::config::Builder::from(&sdk);
        if let Some(log) = OperationLog::dynamodb() {
            dynamo = dynamo.interceptor(log);
        }
        let dynamo = aws_sdk_dynamodb::Client::from_conf(dynamo.build());
        let s3_client = s3_client(&sdk, config.aws.endpoint.is_some());
        let mut kms_conf = aws_sdk_kms::config::Builder::from(&sdk);
        if let Some(log) = OperationLog::kms() {
            kms_conf = kms_conf.interceptor(log);
        }
        let kms_client = aws_sdk_kms::Client::from_conf(kms_conf.build());
        let mut sqs_conf = aws_sdk_sqs::config::Builder::from(&sdk);
        if let Some(log) = OperationLog::sqs() {
            sqs_conf = sqs_conf.interceptor(log);
        }
        let sqs = aws_sdk_sqs::Client::from_conf(sqs_conf.build());
        let res = &mut config.aws;
        if res.provision {
            dynamodb::ensure_table(&dynamo, &res.table)
                .await
                .context("creating the table")?;
            s3::ensure_bucket(&s3_client, &res.bucket)
                .await
                .context("creating the bucket")?;
            if res.kms_key_id.is_none() {
                res.kms_key_id = Some(
                    kms::create_test_key(&kms_client)
                        .await
                        .context("creating a KMS key")?,
                );
            }
            let prefix = res.table.clone();
            for spec in queue_specs() {
                let name = format!("{prefix}-{}", spec.name);
                let (url, dlq) = mostrador_queue::sqs::ensure_queue_pair(
                    &sqs,
                    &name,
                    spec.fifo,
                    spec.max_receives,
                    180,
                )
                .await
                .with_context(|| format!("creating queue {name}"))?;
                match spec.name.as_str() {
                    "inbound" => (res.inbound_queue_url, res.inbound_dlq_url) = (url, dlq),
                    "outbound" => (res.outbound_queue_url, res.outbound_dlq_url) = (url, dlq),
                    _ => (res.invoicing_queue_url, res.invoicing_dlq_url) = (url, dlq),
                }
            }
        }
        let key_id = res.kms_key_id.clone().context(
            "configuration variable MOSTRADOR_KMS_KEY_ID: is required with the aws engine",
        )?;
        let table: Arc<dyn Table> = Arc::new(dynamodb::DynamoTable::new(
            dynamo,
            res.table.clone(),
            clock.clone(),
        ));
        let blobs: Arc<dyn Blobs> = Arc::new(s3::S3Blobs::new(s3_client, res.bucket.clone()));
        let keys: Arc<dyn Keys> = Arc::new(kms::KmsKeys::new(kms_client, key_id));
        let [inbound, outbound, invoicing] = queue_specs();
        let queue = |spec: QueueSpec, url: &str, dlq: &str| -> Arc<dyn Queue> {
            Arc::new(mostrador_queue::sqs::SqsQueue::new(
                sqs.clone(),
                spec,
                url.to_owned(),
                dlq.to_owned(),
            ))
        };
        let queues = Queues {
            inbound: queue(inbound, &res.inbound_queue_url, &res.inbound_dlq_url),
            outbound: queue(outbound, &res.outbound_queue_url, &res.outbound_dlq_url),
            invoicing: queue(invoicing, &res.invoicing_queue_url, &res.invoicing_dlq_url),
        };
        let pseudonyms = pseudonyms_stored(table.as_ref(), keys.as_ref())
            .await
            .context("reading the deployment's pseudonym key")?;
        Ok(Self::assemble(
            config, table, blobs, keys, pseudonyms, queues, clock,
        ))
    }

    fn assemble(
        config: Config,
        table: Arc<dyn Table>,
        blobs: Arc<dyn Blobs>,
        keys: Arc<dyn Keys>,
        pseudonyms: Pseudonyms,
        queues: Queues,
        clock: Arc<dyn Clock>,
    ) -> Self {
        // Every document is sealed at rest (LFPDPPP): invoices, KYC documents, media, exports.
        let sealed_blobs = Arc::new(mostrador_store::SealedBlobs::new(blobs, keys.clone()));
        let blobs: Arc<dyn Blobs> = sealed_blobs.clone();
        let idempotency = Idempotency::new(table.clone(), clock.clone(), IDEMPOTENCY_RETENTION);
        // One process owns the embedded engine: claims a crashed predecessor left in progress are
        // taken over at once, so nothing is refused while the stack recovers.
        let idempotency = match config.engine {
            Engine::Embedded => idempotency.owned_by_this_process(),
            Engine::Aws => idempotency,
        };
        // Building the client only fails if TLS cannot initialise; fall back to reqwest's defaults.
        let http = CloudApi::http_client().unwrap_or_default();
        // Building the client only fails if TLS cannot initialise; refuse every call then.
        let callable_http = crate::platform::urls::callable_client(config.reach)
            .unwrap_or_else(|_| refusing_client());
        let cloud = CloudApi::new(
            http.clone(),
            config.graph_api_base.clone(),
            config.graph_api_version.clone(),
        )
        // A media URL comes in Meta's answer and the download carries the merchant's token:
        // public addresses only, like merchants' webhooks.
        .with_download_client(callable_http.clone(), {
            let reach = config.reach;
            std::sync::Arc::new(move |url: &reqwest::Url| {
                crate::platform::urls::check_callable(url, reach)
            })
        });
        Self {
            config: Arc::new(config),
            table,
            blobs,
            sealed_blobs,
            keys,
            pseudonyms: Arc::new(pseudonyms),
            queues,
            clock,
            idempotency,
            cloud,
            http,
            callable_http,
            #[cfg(feature = "embedded")]
            database: None,
        }
    }

    /// As the process stops, after its last write: the embedded engine's log is copied into the
    /// database file and emptied, so the file alone holds everything (a copy of it, or a check of
    /// it, sees every write). Nothing to do on AWS.
    pub async fn close(&self) -> anyhow::Result<()> {
        #[cfg(feature = "embedded")]
        if let Some(db) = &self.database {
            db.flush()
                .await
                .context("writing the database log into its file")?;
        }
        Ok(())
    }
}

/// A client that cannot connect anywhere (a resolver that answers nothing).
fn refusing_client() -> reqwest::Client {
    reqwest::Client::builder()
        .dns_resolver(std::sync::Arc::new(NoResolver))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

struct NoResolver;

impl reqwest::dns::Resolve for NoResolver {
    fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async { Err("outbound calls are unavailable".into()) })
    }
}

/// Path-style addressing when an endpoint override (an emulator) is in use.
fn s3_client(sdk: &aws_config::SdkConfig, path_style: bool) -> aws_sdk_s3::Client {
    let mut conf = aws_sdk_s3::config::Builder::from(sdk).force_path_style(path_style);
    if let Some(log) = OperationLog::s3() {
        conf = conf.interceptor(log);
    }
    aws_sdk_s3::Client::from_conf(conf.build())
}

/// The context the deployment's pseudonym key is sealed under.
const PSEUDONYM_CONTEXT: &str = "deployment:pseudonyms";

/// The deployment's pseudonym key: a random key kept in the table sealed through Keys (the local
/// key file, or KMS), made by the first process that needs it (a conditional put: every function
/// of a deployment reads the same one). It travels with the table: a backup restores it, and a
/// move to another engine takes it along ([`adopt_pseudonym_key`]).
async fn pseudonyms_stored(table: &dyn Table, keys: &dyn Keys) -> anyhow::Result<Pseudonyms> {
    use mostrador_store::{Condition, Item, Value};
    let key = crate::platform::schema::pseudonym_key();
    let context = PSEUDONYM_CONTEXT;
    for _ in 0..3 {
        if let Some(item) = table.get(&key).await? {
            let sealed = match item.get("sealed") {
                Some(Value::B(b)) => b.clone(),
                _ => anyhow::bail!("the stored pseudonym key is malformed"),
            };
            let opened = keys.open(&sealed, context).await?;
            let key: [u8; 32] = opened
                .as_slice()
                .try_into()
                .map_err(|_| anyhow::anyhow!("the stored pseudonym key is malformed"))?;
            return Ok(Pseudonyms::new(key));
        }
        let fresh = mostrador_store::keys::envelope::data_key();
        let sealed = keys.seal(&fresh, context).await?;
        match table
            .put(
                Item::new(&key).with("sealed", Value::B(sealed)),
                Some(Condition::NotExists),
            )
            .await
        {
            Ok(()) => return Ok(Pseudonyms::new(fresh)),
            // Another process made it first: read theirs.
            Err(e) if e.is_condition_failed() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::bail!("the pseudonym key could not be read")
}

/// Makes `key` the pseudonym key of the deployment `table` belongs to (a move between engines
/// takes the source's key along, so every customer key it copies is found again). Processes that
/// already read the target's own key must start again.
pub(crate) async fn adopt_pseudonym_key(
    table: &dyn Table,
    keys: &dyn Keys,
    key: &Pseudonyms,
) -> anyhow::Result<()> {
    use mostrador_store::{Item, Value};
    let sealed = keys.seal(&key.secret(), PSEUDONYM_CONTEXT).await?;
    table
        .put(
            Item::new(&crate::platform::schema::pseudonym_key()).with("sealed", Value::B(sealed)),
            None,
        )
        .await?;
    Ok(())
}
