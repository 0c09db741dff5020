//! The Queue port: SQS semantics (FIFO groups and dedup ids, visibility, redrive to a dead-letter queue).

use async_trait::async_trait;
use std::time::Duration;

/// After this many receives without a delete, a message moves to the dead-letter queue.
pub const MAX_RECEIVES: u32 = 5;

/// SQS's deduplication window for FIFO queues.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(300);

/// SQS's largest per-message delay.
pub const MAX_DELAY: Duration = Duration::from_secs(900);

/// SQS's largest message body.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// SQS's largest batch of received messages.
pub const MAX_BATCH: u32 = 10;

/// SQS's longest long-poll wait.
pub const MAX_WAIT: Duration = Duration::from_secs(20);

/// SQS's longest visibility timeout.
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);

/// What a queue is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// Logical name: `inbound`, `outbound`, `invoicing`.
    pub name: String,
    /// FIFO queues order messages per group and drop duplicates within the dedup window.
    pub fifo: bool,
    /// Receives before redrive to the dead-letter queue.
    pub max_receives: u32,
}

impl QueueSpec {
    /// A FIFO queue with the standard redrive rule.
    pub fn fifo(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            fifo: true,
            max_receives: MAX_RECEIVES,
        }
    }

    /// A standard queue with the standard redrive rule.
    pub fn standard(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            fifo: false,
            max_receives: MAX_RECEIVES,
        }
    }
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutgoingMessage {
    /// The payload (UTF-8, at most 256 KiB).
    pub body: String,
    /// FIFO only (required there): messages of one group are delivered in order, one batch at a time.
    pub group_id: Option<String>,
    /// FIFO only: a second send with the same id within five minutes is accepted and dropped.
    /// Defaults to the SHA-256 of the body.
    pub dedup_id: Option<String>,
    /// Standard queues only: the message becomes visible after this delay (at most 15 minutes).
    pub delay: Option<Duration>,
}

impl OutgoingMessage {
    /// A message with a body only.
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            ..Self::default()
        }
    }

    /// Builder: FIFO group.
    ///
    /// An id SQS would refuse (over 128 characters, e.g. one naming a customer by a long
    /// business-scoped user id, or not printable ASCII) is replaced by its SHA-256 (lowercase hex):
    /// the same id always lands in the same group, so order within the group is kept.
    pub fn group(mut self, group_id: impl Into<String>) -> Self {
        let id = group_id.into();
        self.group_id = Some(if valid_fifo_id(&id) {
            id
        } else {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(id.as_bytes()))
        });
        self
    }

    /// Builder: FIFO deduplication id.
    pub fn dedup(mut self, dedup_id: impl Into<String>) -> Self {
        self.dedup_id = Some(dedup_id.into());
        self
    }

    /// Builder: delivery delay.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// The FIFO deduplication id: the given one, or the SHA-256 (lowercase hex) of the body.
    pub fn dedup_id_or_body_hash(&self) -> String {
        match &self.dedup_id {
            Some(id) => id.clone(),
            None => {
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(self.body.as_bytes()))
            }
        }
    }

    /// Checks the message against the queue's kind and SQS's limits.
    pub fn validate(&self, spec: &QueueSpec) -> Result<(), QueueError> {
        if self.body.is_empty() {
            return Err(QueueError::Invalid("message body must not be empty".into()));
        }
        if self.body.len() > MAX_BODY_BYTES {
            return Err(QueueError::Invalid(format!(
                "message body is {} bytes, over the 256 KiB limit",
                self.body.len()
            )));
        }
        if spec.fifo {
            match &self.group_id {
                Some(g) if valid_fifo_id(g) => {}
                _ => {
                    return Err(QueueError::Invalid(
                        "a FIFO message needs a group id of 1-128 printable ASCII characters"
                            .into(),
                    ))
                }
            }
            if let Some(d) = &self.dedup_id {
                if !valid_fifo_id(d) {
                    return Err(QueueError::Invalid(
                        "a dedup id has 1-128 printable ASCII characters".into(),
                    ));
                }
            }
            if self.delay.is_some_and(|d| !d.is_zero()) {
                return Err(QueueError::Invalid(
                    "FIFO queues do not take per-message delays".into(),
                ));
            }
        } else if self.delay.is_some_and(|d| d > MAX_DELAY) {
            return Err(QueueError::Invalid("a delay is at most 15 minutes".into()));
        }
        Ok(())
    }
}

/// Checks receive arguments against SQS's limits: 1-10 messages, visibility up to 12 hours, wait up to 20 s.
pub fn validate_receive(max: u32, visibility: Duration, wait: Duration) -> Result<(), QueueError> {
    if !(1..=MAX_BATCH).contains(&max) {
        return Err(QueueError::Invalid(format!(
            "receive takes 1-{MAX_BATCH} messages, not {max}"
        )));
    }
    validate_visibility(visibility)?;
    if wait > MAX_WAIT {
        return Err(QueueError::Invalid(
            "a receive waits at most 20 seconds".into(),
        ));
    }
    Ok(())
}

/// Checks a visibility timeout against SQS's 12-hour limit.
pub fn validate_visibility(visibility: Duration) -> Result<(), QueueError> {
    if visibility > MAX_VISIBILITY {
        return Err(QueueError::Invalid(
            "a visibility timeout is at most 12 hours".into(),
        ));
    }
    Ok(())
}

fn valid_fifo_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_graphic())
}

/// A received message; delete it with its receipt when done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The engine's id of the message.
    pub message_id: String,
    /// Valid for this receive only.
    pub receipt: String,
    /// The payload as sent.
    pub body: String,
    /// The FIFO group the message was sent in.
    pub group_id: Option<String>,
    /// How many times the message has been received, this time included.
    pub receive_count: u32,
    /// When the message was first sent, epoch milliseconds.
    pub sent_at_ms: i64,
}

/// Approximate counts for operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct QueueDepth {
    /// Messages ready to be received (delayed messages are not counted).
    pub visible: u64,
    /// Messages received and neither deleted nor visible again.
    pub in_flight: u64,
    /// Messages in the dead-letter queue.
    pub dead: u64,
}

/// Errors of the Queue port.
#[derive(Debug, Clone, thiserror::Error)]
pub enum QueueError {
    /// The request is wrong: missing group id, body too large, delay on a FIFO queue.
    #[error("invalid queue request: {0}")]
    Invalid(String),
    /// The receipt is unknown or expired (the message was received again by someone else).
    #[error("receipt is no longer valid")]
    StaleReceipt,
    /// The engine is unreachable or throttling.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("queue error: {0}")]
    Internal(String),
}

/// The Queue port: one queue together with its dead-letter queue.
#[async_trait]
pub trait Queue: Send + Sync {
    /// What this queue is.
    fn spec(&self) -> &QueueSpec;

    /// Sends a message; returns its id (for a FIFO duplicate, the id of the first send may differ).
    async fn send(&self, message: OutgoingMessage) -> Result<String, QueueError>;

    /// Receives up to `max` (1-10) messages, hiding them for `visibility`; waits up to `wait` for one.
    /// Messages received `max_receives` times before are moved to the dead-letter queue instead.
    async fn receive(
        &self,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError>;

    /// Sends several messages, answering each one's result in order (as [`Queue::send`] would):
    /// the embedded engine stores them in one file commit, SQS in batches of ten. A FIFO group's
    /// messages keep their order within the call.
    async fn send_batch(&self, messages: Vec<OutgoingMessage>) -> Vec<Result<String, QueueError>> {
        let mut results = Vec::with_capacity(messages.len());
        for message in messages {
            results.push(self.send(message).await);
        }
        results
    }

    /// Deletes a received message.
    async fn delete(&self, receipt: &str) -> Result<(), QueueError>;

    /// Deletes several received messages, answering each one's result in order (as
    /// [`Queue::delete`] would).
    async fn delete_batch(&self, receipts: Vec<String>) -> Vec<Result<(), QueueError>> {
        let mut results = Vec::with_capacity(receipts.len());
        for receipt in receipts {
            results.push(self.delete(&receipt).await);
        }
        results
    }

    /// Changes how long a received message stays hidden (zero makes it visible at once).
    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError>;

    /// For an engine owned by one process (the embedded one): after a restart, messages that a
    /// receive of the previous process was holding are visible again at once instead of after their
    /// visibility timeout; messages held back on purpose (a delayed retry) stay where they are.
    /// Returns how many were released. Engines shared by many consumers (SQS) do nothing.
    async fn recover_after_restart(&self) -> Result<u64, QueueError> {
        Ok(0)
    }

    /// Moves a received message to the dead-letter queue at once, without waiting for its receives to
    /// run out: for a record no retry can help (invalid input). `body` and `group_id` are the
    /// message's own (SQS needs them to send the dead letter; the embedded engine marks it in place).
    async fn dead_letter(
        &self,
        receipt: &str,
        body: &str,
        group_id: Option<&str>,
    ) -> Result<(), QueueError>;

    /// Up to `max` messages of the dead-letter queue, without removing them.
    async fn dead_letters(&self, max: u32) -> Result<Vec<ReceivedMessage>, QueueError>;

    /// Moves up to `max` dead-letter messages back to this queue (group ids kept); returns how many.
    async fn replay_dead_letters(&self, max: u32) -> Result<u32, QueueError>;

    /// Approximate counts.
    async fn depth(&self) -> Result<QueueDepth, QueueError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_id_sqs_would_refuse_is_hashed_the_same_way_every_time() {
        let short = OutgoingMessage::new("x").group("109876543210987:525512345678");
        assert_eq!(
            short.group_id.as_deref(),
            Some("109876543210987:525512345678")
        );
        let long_id = format!("109876543210987:MX.{}", "7".repeat(120));
        let a = OutgoingMessage::new("x").group(long_id.clone());
        let b = OutgoingMessage::new("y").group(long_id);
        let hashed = a.group_id.clone().unwrap_or_default();
        assert_eq!(hashed.len(), 64);
        assert!(valid_fifo_id(&hashed));
        assert_eq!(a.group_id, b.group_id);
        let other =
            OutgoingMessage::new("x").group(format!("109876543210987:MX.{}", "8".repeat(120)));
        assert_ne!(other.group_id, a.group_id);
    }
}
