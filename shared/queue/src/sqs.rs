//! The AWS engine: the Queue port over SQS, a queue plus its dead-letter queue (redrive is the queue's
//! own `RedrivePolicy`).
//!
//! Differences from the embedded engine that callers may notice (neither is promised by the port):
//! - SQS accepts an older receipt of a message that is still in the queue (and acts on it); the embedded
//!   engine rejects it as stale.
//! - Timeouts, waits and delays are whole seconds; sub-second values are rounded up.
//! - `dead_letters` peeks by receiving from the dead-letter queue and making the messages visible again
//!   at once, so each peek adds one to their receive count (the count reported leaves the peek out).

use crate::port::{
    validate_receive, validate_visibility, OutgoingMessage, Queue, QueueDepth, QueueError,
    QueueSpec, ReceivedMessage, MAX_BATCH,
};
use async_trait::async_trait;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client;
use std::time::Duration;

/// How long a peek or a replay keeps dead letters hidden while it works on them.
const DEAD_LETTER_HOLD: Duration = Duration::from_secs(10);

/// Dead letters are kept as long as SQS allows (14 days).
const DEAD_LETTER_RETENTION_SECS: u32 = 14 * 24 * 60 * 60;

/// A queue and its dead-letter queue on SQS.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    spec: QueueSpec,
    url: String,
    dlq_url: String,
}

impl SqsQueue {
    /// The queue at `url` whose dead-letter queue is at `dlq_url` (URLs as configured for the function).
    pub fn new(
        client: Client,
        spec: QueueSpec,
        url: impl Into<String>,
        dlq_url: impl Into<String>,
    ) -> Self {
        Self {
            client,
            spec,
            url: url.into(),
            dlq_url: dlq_url.into(),
        }
    }

    /// Creates (or finds) the queue pair for `spec` with [`ensure_queue_pair`] and returns the queue.
    pub async fn ensure(
        client: Client,
        spec: QueueSpec,
        visibility_secs: u32,
    ) -> Result<Self, QueueError> {
        let (url, dlq_url) = ensure_queue_pair(
            &client,
            &spec.name,
            spec.fifo,
            spec.max_receives,
            visibility_secs,
        )
        .await?;
        Ok(Self::new(client, spec, url, dlq_url))
    }

    /// The URL of the queue.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of the dead-letter queue.
    pub fn dlq_url(&self) -> &str {
        &self.dlq_url
    }

    /// One ReceiveMessage call on `url`.
    async fn receive_from(
        &self,
        url: &str,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(i32::try_from(max).unwrap_or(i32::MAX))
            .visibility_timeout(whole_secs_i32(visibility))
            .wait_time_seconds(whole_secs_i32(wait))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| sdk_error("ReceiveMessage", e))?;
        out.messages().iter().map(received).collect()
    }

    /// Makes a message of `url` visible again; a failure only delays it, so it is logged, not returned.
    async fn release(&self, url: &str, receipt: &str) {
        let result = self
            .client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt)
            .visibility_timeout(0)
            .send()
            .await;
        if let Err(e) = result {
            tracing::warn!(
                queue = %self.spec.name,
                error = %DisplayErrorContext(&e),
                "could not make a dead letter visible again; it reappears when its hold ends"
            );
        }
    }

    /// Sends one dead letter back to the queue (group kept, fresh dedup id) and deletes it from the DLQ.
    async fn replay_one(&self, message: &ReceivedMessage) -> Result<(), QueueError> {
        let mut send = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(&message.body);
        if self.spec.fifo {
            let group = message.group_id.as_deref().ok_or_else(|| {
                QueueError::Internal(format!(
                    "dead letter {} of a FIFO queue has no group id",
                    message.message_id
                ))
            })?;
            // A fresh dedup id: the original one may still be inside the dedup window.
            send = send
                .message_group_id(group)
                .message_deduplication_id(uuid::Uuid::new_v4().simple().to_string());
        }
        send.send().await.map_err(|e| sdk_error("SendMessage", e))?;
        self.client
            .delete_message()
            .queue_url(&self.dlq_url)
            .receipt_handle(&message.receipt)
            .send()
            .await
            .map_err(|e| sdk_error("DeleteMessage", e))?;
        Ok(())
    }

    /// Visible plus in-flight messages of `url`, as `(visible, not visible)`.
    async fn counts(&self, url: &str) -> Result<(u64, u64), QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| sdk_error("GetQueueAttributes", e))?;
        let count = |name: &QueueAttributeName| -> Result<u64, QueueError> {
            out.attributes()
                .and_then(|a| a.get(name))
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| QueueError::Internal(format!("SQS returned {name:?} = {v:?}")))
                })
                .unwrap_or(Ok(0))
        };
        Ok((
            count(&QueueAttributeName::ApproximateNumberOfMessages)?,
            count(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible)?,
        ))
    }
}

/// Whole seconds, rounded up (SQS takes seconds; rounding down could turn a short wait into none).
fn whole_secs_i32(d: Duration) -> i32 {
    let secs = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
    i32::try_from(secs).unwrap_or(i32::MAX)
}

/// Bodies of one SendMessageBatch call at most (SQS refuses a batch over 256 KiB).
const BATCH_BYTES: usize = 250 * 1024;

/// One failed entry of a batch call, as the port's error.
fn batch_entry_error(code: &str, message: &str, sender_fault: bool) -> QueueError {
    let detail = format!("{code}: {message}");
    match code {
        "ReceiptHandleIsInvalid" | "MessageNotInflight" => QueueError::StaleReceipt,
        "InvalidParameterValue" if message.contains("ReceiptHandle") => QueueError::StaleReceipt,
        _ if sender_fault => QueueError::Invalid(detail),
        _ => QueueError::Unavailable(detail),
    }
}

impl SqsQueue {
    /// One SendMessageBatch call for `pending` (index in the caller's list, message); writes each
    /// entry's result at its index.
    async fn send_entries(
        &self,
        pending: Vec<(usize, OutgoingMessage)>,
        results: &mut [Result<String, QueueError>],
    ) {
        let mut entries = Vec::with_capacity(pending.len());
        for (n, (_, message)) in pending.iter().enumerate() {
            let mut entry = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id(n.to_string())
                .message_body(&message.body);
            if self.spec.fifo {
                entry = entry
                    .set_message_group_id(message.group_id.clone())
                    .message_deduplication_id(message.dedup_id_or_body_hash());
            } else if let Some(delay) = message.delay.filter(|d| !d.is_zero()) {
                entry = entry.delay_seconds(whole_secs_i32(delay));
            }
            match entry.build() {
                Ok(entry) => entries.push(entry),
                Err(e) => {
                    for (i, _) in &pending {
                        results[*i] = Err(QueueError::Invalid(e.to_string()));
                    }
                    return;
                }
            }
        }
        let answer = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await;
        match answer {
            Ok(out) => {
                for sent in out.successful() {
                    if let Some((i, _)) =
                        sent.id().parse::<usize>().ok().and_then(|n| pending.get(n))
                    {
                        results[*i] = Ok(sent.message_id().to_owned());
                    }
                }
                for failed in out.failed() {
                    if let Some((i, _)) = failed
                        .id()
                        .parse::<usize>()
                        .ok()
                        .and_then(|n| pending.get(n))
                    {
                        results[*i] = Err(batch_entry_error(
                            failed.code(),
                            failed.message().unwrap_or_default(),
                            failed.sender_fault(),
                        ));
                    }
                }
            }
            Err(e) => {
                let e = sdk_error("SendMessageBatch", e);
                for (i, _) in &pending {
                    results[*i] = Err(e.clone());
                }
            }
        }
    }
}

/// Converts an SQS message into the port's form.
fn received(m: &aws_sdk_sqs::types::Message) -> Result<ReceivedMessage, QueueError> {
    let missing =
        |what: &str| QueueError::Internal(format!("SQS returned a message without {what}"));
    let attribute = |name: MessageSystemAttributeName| m.attributes().and_then(|a| a.get(&name));
    Ok(ReceivedMessage {
        message_id: m.message_id().ok_or_else(|| missing("an id"))?.to_owned(),
        receipt: m
            .receipt_handle()
            .ok_or_else(|| missing("a receipt handle"))?
            .to_owned(),
        body: m.body().unwrap_or_default().to_owned(),
        group_id: attribute(MessageSystemAttributeName::MessageGroupId).cloned(),
        receive_count: attribute(MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|v| v.parse().ok())
            .unwrap_or(1),
        sent_at_ms: attribute(MessageSystemAttributeName::SentTimestamp)
            .and_then(|v| v.parse().ok())
            .unwrap_or_default(),
    })
}

/// Maps an SDK failure of `operation` onto the port's errors.
fn sdk_error<E>(operation: &str, err: SdkError<E>) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let detail = || format!("{operation}: {}", DisplayErrorContext(&err));
    if matches!(
        err,
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
    ) {
        return QueueError::Unavailable(detail());
    }
    let code = err.code().unwrap_or_default();
    let message = err.message().unwrap_or_default();
    match code {
        "ReceiptHandleIsInvalid" | "MessageNotInflight" => QueueError::StaleReceipt,
        // Real SQS reports an expired receipt as an invalid ReceiptHandle parameter.
        "InvalidParameterValue" if message.contains("ReceiptHandle") => QueueError::StaleReceipt,
        "InvalidParameterValue"
        | "InvalidMessageContents"
        | "MissingParameter"
        | "InvalidAttributeName"
        | "InvalidAttributeValue" => QueueError::Invalid(detail()),
        c if c.contains("Throttl")
            || c == "ServiceUnavailable"
            || c == "InternalError"
            || c == "InternalFailure" =>
        {
            QueueError::Unavailable(detail())
        }
        _ => {
            if matches!(err, SdkError::ResponseError(_)) {
                QueueError::Unavailable(detail())
            } else {
                QueueError::Internal(detail())
            }
        }
    }
}

#[async_trait]
impl Queue for SqsQueue {
    fn spec(&self) -> &QueueSpec {
        &self.spec
    }

    async fn send(&self, message: OutgoingMessage) -> Result<String, QueueError> {
        message.validate(&self.spec)?;
        let mut send = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(&message.body);
        if self.spec.fifo {
            send = send
                .set_message_group_id(message.group_id.clone())
                .message_deduplication_id(message.dedup_id_or_body_hash());
        } else if let Some(delay) = message.delay.filter(|d| !d.is_zero()) {
            send = send.delay_seconds(whole_secs_i32(delay));
        }
        let out = send.send().await.map_err(|e| sdk_error("SendMessage", e))?;
        out.message_id
            .ok_or_else(|| QueueError::Internal("SQS accepted a message without an id".into()))
    }

    async fn send_batch(&self, messages: Vec<OutgoingMessage>) -> Vec<Result<String, QueueError>> {
        let mut results: Vec<Result<String, QueueError>> = Vec::with_capacity(messages.len());
        // SendMessageBatch: at most ten entries and 256 KiB of bodies per call; entries of a
        // FIFO group keep their order within a call and calls go one after the other.
        let mut pending: Vec<(usize, OutgoingMessage)> = Vec::new();
        let mut bytes = 0usize;
        for (i, message) in messages.into_iter().enumerate() {
            results.push(Err(QueueError::Internal("not sent".into())));
            if let Err(e) = message.validate(&self.spec) {
                results[i] = Err(e);
                continue;
            }
            if pending.len() == MAX_BATCH as usize || bytes + message.body.len() > BATCH_BYTES {
                self.send_entries(std::mem::take(&mut pending), &mut results)
                    .await;
                bytes = 0;
            }
            bytes += message.body.len();
            pending.push((i, message));
        }
        if !pending.is_empty() {
            self.send_entries(pending, &mut results).await;
        }
        results
    }

    async fn delete_batch(&self, receipts: Vec<String>) -> Vec<Result<(), QueueError>> {
        let mut results = Vec::with_capacity(receipts.len());
        for chunk in receipts.chunks(MAX_BATCH as usize) {
            let entries: Result<Vec<_>, _> = chunk
                .iter()
                .enumerate()
                .map(|(i, receipt)| {
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(receipt)
                        .build()
                })
                .collect();
            let entries = match entries {
                Ok(entries) => entries,
                Err(e) => {
                    results.extend(
                        chunk
                            .iter()
                            .map(|_| Err(QueueError::Invalid(e.to_string()))),
                    );
                    continue;
                }
            };
            let answer = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await;
            match answer {
                Ok(out) => {
                    let mut outcome: Vec<Result<(), QueueError>> =
                        chunk.iter().map(|_| Ok(())).collect();
                    for failed in out.failed() {
                        if let Some(slot) = failed
                            .id()
                            .parse::<usize>()
                            .ok()
                            .and_then(|i| outcome.get_mut(i))
                        {
                            *slot = Err(batch_entry_error(
                                failed.code(),
                                failed.message().unwrap_or_default(),
                                failed.sender_fault(),
                            ));
                        }
                    }
                    results.extend(outcome);
                }
                Err(e) => {
                    let e = sdk_error("DeleteMessageBatch", e);
                    results.extend(chunk.iter().map(|_| Err(e.clone())));
                }
            }
        }
        results
    }

    async fn receive(
        &self,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        validate_receive(max, visibility, wait)?;
        self.receive_from(&self.url, max, visibility, wait).await
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| sdk_error("DeleteMessage", e))?;
        Ok(())
    }

    async fn dead_letter(
        &self,
        receipt: &str,
        body: &str,
        group_id: Option<&str>,
    ) -> Result<(), QueueError> {
        let mut send = self
            .client
            .send_message()
            .queue_url(&self.dlq_url)
            .message_body(body);
        if self.spec.fifo {
            let group = group_id.ok_or_else(|| {
                QueueError::Invalid("a FIFO message needs its group id to be dead-lettered".into())
            })?;
            send = send
                .message_group_id(group)
                .message_deduplication_id(uuid::Uuid::new_v4().simple().to_string());
        }
        send.send().await.map_err(|e| sdk_error("SendMessage", e))?;
        // Kept in the DLQ first, then removed here: a crash in between leaves a copy in each, never none.
        self.delete(receipt).await
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        validate_visibility(timeout)?;
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(whole_secs_i32(timeout))
            .send()
            .await
            .map_err(|e| sdk_error("ChangeMessageVisibility", e))?;
        Ok(())
    }

    /// Best effort: a FIFO dead-letter queue shows at most one batch per group per peek. Receipts are
    /// empty (dead letters cannot be deleted through the port).
    async fn dead_letters(&self, max: u32) -> Result<Vec<ReceivedMessage>, QueueError> {
        let mut peeked: Vec<ReceivedMessage> = Vec::new();
        let mut receipts = Vec::new();
        let mut outcome = Ok(());
        while peeked.len() < max as usize {
            let want = (max - peeked.len() as u32).min(MAX_BATCH);
            let batch = match self
                .receive_from(&self.dlq_url, want, DEAD_LETTER_HOLD, Duration::ZERO)
                .await
            {
                Ok(batch) => batch,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            };
            if batch.is_empty() {
                break;
            }
            for mut message in batch {
                receipts.push(std::mem::take(&mut message.receipt));
                if peeked.iter().all(|p| p.message_id != message.message_id) {
                    message.receive_count = message.receive_count.saturating_sub(1);
                    peeked.push(message);
                }
            }
        }
        for receipt in &receipts {
            self.release(&self.dlq_url, receipt).await;
        }
        outcome.map(|()| peeked)
    }

    async fn replay_dead_letters(&self, max: u32) -> Result<u32, QueueError> {
        let mut moved = 0_u32;
        while moved < max {
            let want = (max - moved).min(MAX_BATCH);
            let batch = self
                .receive_from(&self.dlq_url, want, DEAD_LETTER_HOLD, Duration::ZERO)
                .await?;
            if batch.is_empty() {
                break;
            }
            let mut pending = batch.iter();
            for message in pending.by_ref() {
                if let Err(e) = self.replay_one(message).await {
                    // Hand back what this call still holds; the failed one stays in the DLQ too.
                    self.release(&self.dlq_url, &message.receipt).await;
                    for rest in pending {
                        self.release(&self.dlq_url, &rest.receipt).await;
                    }
                    return Err(e);
                }
                moved += 1;
            }
        }
        if moved > 0 {
            tracing::info!(queue = %self.spec.name, moved, "dead letters replayed");
        }
        Ok(moved)
    }

    async fn depth(&self) -> Result<QueueDepth, QueueError> {
        let (visible, in_flight) = self.counts(&self.url).await?;
        let (dead_visible, dead_hidden) = self.counts(&self.dlq_url).await?;
        Ok(QueueDepth {
            visible,
            in_flight,
            dead: dead_visible + dead_hidden,
        })
    }
}

/// Creates (or finds, when the attributes match) `{name}-dlq` and `{name}` (with `.fifo` for FIFO
/// queues), the queue redriving to the dead-letter queue after `max_receives` receives.
/// Returns `(queue url, dead-letter queue url)`.
pub async fn ensure_queue_pair(
    client: &Client,
    name: &str,
    fifo: bool,
    max_receives: u32,
    visibility_secs: u32,
) -> Result<(String, String), QueueError> {
    let suffix = if fifo { ".fifo" } else { "" };
    let queue_name = format!("{name}{suffix}");
    let dlq_name = format!("{name}-dlq{suffix}");
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    // The dead-letter queue's name is the longer one.
    if name.is_empty() || !valid_chars || dlq_name.len() > 80 {
        return Err(QueueError::Invalid(format!(
            "{name:?} does not make an SQS queue name (letters, digits, - and _, 80 characters with suffixes)"
        )));
    }
    if !(1..=1000).contains(&max_receives) {
        return Err(QueueError::Invalid("maxReceiveCount is 1-1000".into()));
    }
    let with_fifo =
        |req: aws_sdk_sqs::operation::create_queue::builders::CreateQueueFluentBuilder| {
            if fifo {
                req.attributes(QueueAttributeName::FifoQueue, "true")
            } else {
                req
            }
        };

    let dlq_url = with_fifo(client.create_queue().queue_name(&dlq_name))
        .attributes(
            QueueAttributeName::MessageRetentionPeriod,
            DEAD_LETTER_RETENTION_SECS.to_string(),
        )
        .send()
        .await
        .map_err(|e| sdk_error("CreateQueue", e))?
        .queue_url
        .ok_or_else(|| QueueError::Internal(format!("no URL for created queue {dlq_name}")))?;
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sdk_error("GetQueueAttributes", e))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| QueueError::Internal(format!("no ARN for queue {dlq_name}")))?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": max_receives,
    });
    let url = with_fifo(client.create_queue().queue_name(&queue_name))
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_secs.to_string(),
        )
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .map_err(|e| sdk_error("CreateQueue", e))?
        .queue_url
        .ok_or_else(|| QueueError::Internal(format!("no URL for created queue {queue_name}")))?;
    Ok((url, dlq_url))
}
