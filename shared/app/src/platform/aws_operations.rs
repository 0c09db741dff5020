//! A record of the AWS operations a process performs, as IAM actions on resources, for auditing the
//! permissions the SAM template grants (`tests/lambda/harness.py` compares what each function did
//! with what its role allows).
//!
//! Off unless `MOSTRADOR_AWS_OPERATIONS_LOG` names a file: then every client of the AWS engine
//! appends one JSON line per distinct `{"action": "sqs:SendMessage", "resource": "<queue url>"}`
//! before the request is sent (so denied calls are recorded too). Resources are named as the call names
//! them: a queue URL, the table name (`<table>/index/<name>` for index queries), `bucket` or
//! `object` for S3, `key` for KMS, the secret id for Secrets Manager. No request content is
//! recorded.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, Input,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The variable that turns the record on.
pub const VAR: &str = "MOSTRADOR_AWS_OPERATIONS_LOG";

/// The IAM actions and resources of one call: (service prefix, operation name, input).
type Resolve = fn(&str, &Input) -> Vec<(String, String)>;

/// An SDK interceptor that appends each distinct (action, resource) to the record file.
#[derive(Clone)]
pub struct OperationLog {
    path: Arc<PathBuf>,
    service: &'static str,
    resolve: Resolve,
    seen: Arc<Mutex<BTreeSet<(String, String)>>>,
}

impl std::fmt::Debug for OperationLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperationLog")
            .field("service", &self.service)
            .finish()
    }
}

impl OperationLog {
    fn from_env(service: &'static str, resolve: Resolve) -> Option<Self> {
        let path = std::env::var_os(VAR).filter(|v| !v.is_empty())?;
        Some(Self {
            path: Arc::new(PathBuf::from(path)),
            service,
            resolve,
            seen: Arc::default(),
        })
    }

    /// For DynamoDB clients: a transaction is authorized per contained write, as IAM does.
    pub(crate) fn dynamodb() -> Option<Self> {
        Self::from_env("dynamodb", dynamodb_actions)
    }

    /// For SQS clients: the queue URL of each call.
    pub fn sqs() -> Option<Self> {
        Self::from_env("sqs", sqs_actions)
    }

    /// For S3 clients: listing is `s3:ListBucket` on the bucket, the rest act on objects.
    pub fn s3() -> Option<Self> {
        Self::from_env("s3", |op, _| match op {
            "ListObjectsV2" => vec![("ListBucket".to_owned(), "bucket".to_owned())],
            _ => vec![(op.to_owned(), "object".to_owned())],
        })
    }

    /// For KMS clients.
    pub(crate) fn kms() -> Option<Self> {
        Self::from_env("kms", |op, _| vec![(op.to_owned(), "key".to_owned())])
    }

    /// For Secrets Manager clients.
    pub(crate) fn secretsmanager() -> Option<Self> {
        Self::from_env("secretsmanager", |op, input| {
            use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueInput;
            let id = input
                .downcast_ref::<GetSecretValueInput>()
                .and_then(|i| i.secret_id())
                .unwrap_or("*");
            vec![(op.to_owned(), id.to_owned())]
        })
    }

    fn record(&self, op: &str, input: &Input) {
        for (action, resource) in (self.resolve)(op, input) {
            let action = format!("{}:{action}", self.service);
            let fresh = match self.seen.lock() {
                Ok(mut seen) => seen.insert((action.clone(), resource.clone())),
                Err(_) => true,
            };
            if !fresh {
                continue;
            }
            let line = serde_json::json!({ "action": action, "resource": resource }).to_string();
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path.as_ref())
                .and_then(|mut f| writeln!(f, "{line}"));
            if let Err(e) = written {
                tracing::warn!(error = %e, "could not append to {VAR}");
            }
        }
    }
}

fn dynamodb_actions(op: &str, input: &Input) -> Vec<(String, String)> {
    use aws_sdk_dynamodb::operation::{
        query::QueryInput, transact_write_items::TransactWriteItemsInput,
    };
    if let Some(q) = input.downcast_ref::<QueryInput>() {
        let table = q.table_name().unwrap_or_default();
        let resource = match q.index_name() {
            Some(index) => format!("{table}/index/{index}"),
            None => table.to_owned(),
        };
        return vec![(op.to_owned(), resource)];
    }
    if let Some(t) = input.downcast_ref::<TransactWriteItemsInput>() {
        let mut out = Vec::new();
        for item in t.transact_items() {
            let (action, table) = if let Some(p) = item.put() {
                ("PutItem", p.table_name())
            } else if let Some(u) = item.update() {
                ("UpdateItem", u.table_name())
            } else if let Some(d) = item.delete() {
                ("DeleteItem", d.table_name())
            } else if let Some(c) = item.condition_check() {
                ("ConditionCheckItem", c.table_name())
            } else {
                continue;
            };
            out.push((action.to_owned(), table.to_owned()));
        }
        return out;
    }
    vec![(op.to_owned(), "table".to_owned())]
}

fn sqs_actions(op: &str, input: &Input) -> Vec<(String, String)> {
    use aws_sdk_sqs::operation::{
        change_message_visibility::ChangeMessageVisibilityInput,
        delete_message::DeleteMessageInput, get_queue_attributes::GetQueueAttributesInput,
        receive_message::ReceiveMessageInput, send_message::SendMessageInput,
    };
    let url = input
        .downcast_ref::<SendMessageInput>()
        .and_then(|i| i.queue_url())
        .or_else(|| {
            input
                .downcast_ref::<ReceiveMessageInput>()
                .and_then(|i| i.queue_url())
        })
        .or_else(|| {
            input
                .downcast_ref::<DeleteMessageInput>()
                .and_then(|i| i.queue_url())
        })
        .or_else(|| {
            input
                .downcast_ref::<ChangeMessageVisibilityInput>()
                .and_then(|i| i.queue_url())
        })
        .or_else(|| {
            input
                .downcast_ref::<GetQueueAttributesInput>()
                .and_then(|i| i.queue_url())
        })
        .unwrap_or("*");
    vec![(op.to_owned(), url.to_owned())]
}

impl Intercept for OperationLog {
    fn name(&self) -> &'static str {
        "mostrador-operation-log"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<Metadata>() {
            self.record(meta.name(), context.input());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_at(path: &std::path::Path, resolve: Resolve, service: &'static str) -> OperationLog {
        OperationLog {
            path: Arc::new(path.to_owned()),
            service,
            resolve,
            seen: Arc::default(),
        }
    }

    fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }

    #[test]
    fn a_transaction_is_recorded_as_the_writes_it_contains_once_each() {
        use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem, Update};
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ops.jsonl");
        let log = log_at(&path, dynamodb_actions, "dynamodb");
        let input =
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput::builder()
                .transact_items(
                    TransactWriteItem::builder()
                        .put(
                            Put::builder()
                                .table_name("t")
                                .set_item(Some(Default::default()))
                                .build()
                                .expect("put"),
                        )
                        .build(),
                )
                .transact_items(
                    TransactWriteItem::builder()
                        .update(
                            Update::builder()
                                .table_name("t")
                                .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("a".into()))
                                .update_expression("SET a = :a")
                                .build()
                                .expect("update"),
                        )
                        .build(),
                )
                .transact_items(
                    TransactWriteItem::builder()
                        .condition_check(
                            ConditionCheck::builder()
                                .table_name("t")
                                .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("b".into()))
                                .condition_expression("attribute_exists(pk)")
                                .build()
                                .expect("check"),
                        )
                        .build(),
                )
                .build()
                .expect("input");
        let input = Input::erase(input);
        log.record("TransactWriteItems", &input);
        log.record("TransactWriteItems", &input);
        let got: Vec<String> = lines(&path)
            .iter()
            .map(|l| {
                format!(
                    "{} {}",
                    l["action"].as_str().unwrap_or(""),
                    l["resource"].as_str().unwrap_or("")
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                "dynamodb:PutItem t",
                "dynamodb:UpdateItem t",
                "dynamodb:ConditionCheckItem t"
            ]
        );
    }
}
