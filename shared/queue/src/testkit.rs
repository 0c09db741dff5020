//! The Queue contract: the behaviours every engine shows, as async checks, and [`queue_contract!`]
//! which turns them into one `#[tokio::test]` per behaviour for an engine's fixture.
//!
//! The checks use real time with short waits only: a message is made visible again with
//! `change_visibility(0)` rather than by sleeping out its timeout, and every timeout is whole seconds
//! (what SQS takes). Where SQS and the embedded engine legitimately differ the check accepts both; the
//! comment on the check says so.
//!
//! Usage (the calling crate needs `tokio` with the `macros` and `rt` features):
//! ```ignore
//! async fn make(spec: QueueSpec) -> QueueFixture { /* fresh, uniquely named queue */ }
//! mostrador_queue::queue_contract!(make);
//! ```

use crate::port::{
    OutgoingMessage, Queue, QueueDepth, QueueError, QueueSpec, ReceivedMessage, MAX_BODY_BYTES,
};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A fresh queue for one check, and whatever must live as long as it (temp dir, client, ...).
pub struct QueueFixture {
    /// The queue under test; fresh (empty, with an empty dead-letter queue).
    pub queue: Arc<dyn Queue>,
    /// Dropped when the check ends.
    pub guard: Box<dyn std::any::Any + Send>,
}

/// What a contract check returns: engine errors propagate, broken expectations panic.
pub type Checked = Result<(), QueueError>;

/// Expands to one `#[tokio::test]` per behaviour of the Queue contract; `$make` is an
/// `async fn(QueueSpec) -> QueueFixture` returning a fresh queue of that spec.
#[macro_export]
macro_rules! queue_contract {
    ($make:path) => {
        $crate::queue_contract!(@each $make;
            send_receive_delete_roundtrip,
            deleted_message_never_comes_back,
            unacknowledged_message_reappears_with_receive_count_2,
            fifo_group_order_kept_across_sends,
            fifo_group_blocked_while_a_message_is_in_flight_other_groups_flow,
            fifo_duplicate_dedup_id_within_window_enqueued_once,
            fifo_send_without_group_id_rejected,
            delayed_message_not_visible_before_its_delay,
            redrive_to_dead_letter_queue_after_max_receives,
            dead_letter_now_moves_a_received_message_at_once,
            replay_brings_dead_letter_back_with_body_and_group,
            receipt_of_deleted_message_is_stale,
            unknown_receipt_is_stale,
            latest_receipt_deletes_after_re_receive,
            batch_receive_returns_at_most_max,
            batch_send_keeps_order_and_dedup_and_batch_delete_settles_each,
            body_over_256_kib_rejected,
            depth_counts_visible_and_in_flight,
        );
    };
    (@each $make:path; $($behaviour:ident),+ $(,)?) => {
        $(
            #[::tokio::test]
            async fn $behaviour() -> ::std::result::Result<(), $crate::QueueError> {
                $crate::testkit::$behaviour($make).await
            }
        )+
    };
}

/// Long enough that a message stays in flight for the rest of a check.
const HIDDEN: Duration = Duration::from_secs(30);

/// How long a check waits for a message it expects.
const PATIENCE: Duration = Duration::from_secs(5);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Receives until something arrives or `within` has passed (long polls of at most one second).
async fn receive_within(
    queue: &dyn Queue,
    max: u32,
    visibility: Duration,
    within: Duration,
) -> Result<Vec<ReceivedMessage>, QueueError> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let batch = queue
            .receive(max, visibility, left.min(Duration::from_secs(1)))
            .await?;
        if !batch.is_empty() || left.is_zero() {
            return Ok(batch);
        }
    }
}

/// Exactly one message, received within [`PATIENCE`] and hidden for [`HIDDEN`].
async fn receive_one(queue: &dyn Queue) -> Result<ReceivedMessage, QueueError> {
    let mut batch = receive_within(queue, 1, HIDDEN, PATIENCE).await?;
    assert_eq!(
        batch.len(),
        1,
        "expected one message within {PATIENCE:?}, got {batch:?}"
    );
    Ok(batch.remove(0))
}

/// Receives and deletes until a one-second long poll comes back empty; returns what was received.
async fn drain(queue: &dyn Queue) -> Result<Vec<ReceivedMessage>, QueueError> {
    let mut all = Vec::new();
    loop {
        let batch = queue.receive(10, HIDDEN, Duration::from_secs(1)).await?;
        if batch.is_empty() {
            return Ok(all);
        }
        for message in batch {
            queue.delete(&message.receipt).await?;
            all.push(message);
        }
    }
}

fn message_for(spec: &QueueSpec, body: &str) -> OutgoingMessage {
    let message = OutgoingMessage::new(body);
    if spec.fifo {
        message.group("g-1")
    } else {
        message
    }
}

/// Receives and puts back the message `max_receives` times, then lets the next receive move it.
async fn drive_to_dead_letters(queue: &dyn Queue, body: &str) -> Result<(), QueueError> {
    let spec = queue.spec().clone();
    queue.send(message_for(&spec, body)).await?;
    for attempt in 1..=spec.max_receives {
        let message = receive_one(queue).await?;
        assert_eq!(
            message.receive_count, attempt,
            "receive count on attempt {attempt}"
        );
        queue
            .change_visibility(&message.receipt, Duration::ZERO)
            .await?;
    }
    let after = queue.receive(10, HIDDEN, Duration::from_secs(1)).await?;
    assert!(
        after.is_empty(),
        "a message received max_receives times was handed out again: {after:?}"
    );
    Ok(())
}

/// A message sent is received once with its body, group and count, and deleted with its receipt.
pub async fn send_receive_delete_roundtrip<F, Fut>(make: F) -> Checked
where
    F: Fn(QueueSpec) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    for spec in [
        QueueSpec::standard("roundtrip"),
        QueueSpec::fifo("roundtrip"),
    ] {
        let fixture = make(spec.clone()).await;
        let queue = fixture.queue.as_ref();
        let before = now_ms();
        let id = queue.send(message_for(&spec, "hola, ¿cómo estás?")).await?;
        let message = receive_one(queue).await?;
        assert_eq!(message.message_id, id);
        assert_eq!(message.body, "hola, ¿cómo estás?");
        assert_eq!(message.group_id.as_deref(), spec.fifo.then_some("g-1"));
        assert_eq!(message.receive_count, 1);
        assert!(
            (before - 5_000..=now_ms() + 5_000).contains(&message.sent_at_ms),
            "sent_at_ms {} is not around the send at {before}",
            message.sent_at_ms
        );
        queue.delete(&message.receipt).await?;
        assert_eq!(queue.depth().await?, QueueDepth::default());
    }
    Ok(())
}

/// After a delete, the message does not come back even once its visibility timeout has passed.
pub async fn deleted_message_never_comes_back<F, Fut>(make: F) -> Checked
where
    F: Fn(QueueSpec) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let fixture = make(QueueSpec::standard("deleted")).await;
    let queue = fixture.queue.as_ref();
    queue.send(OutgoingMessage::new("once")).await?;
    let message = receive_within(queue, 1, Duration::from_secs(1), PATIENCE).await?;
    assert_eq!(message.len(), 1);
    queue.delete(&message[0].receipt).await?;
    let again = queue.receive(10, HIDDEN, Duration::from_secs(2)).await?;
    assert!(again.is_empty(), "a deleted message came back: {again:?}");
    Ok(())
}

/// A message received and not deleted is hidden, then comes back (same id, new receipt, count 2).
pub async fn unacknowledged_message_reappears_with_receive_count_2<F, Fut>(make: F) -> Checked
where
    F: Fn(QueueSpec) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    for spec in [
        QueueSpec::standard("reappears"),
        QueueSpec::fifo("reappears"),
    ] {
        let fixture = make(spec.clone()).await;
        let queue = fixture.queue.as_ref();
        queue.send(message_for(&spec, "retry me")).await?;
        let first = receive_one(queue).await?;
        let hidden = queue.receive(10, HIDDEN, Duration::ZERO).await?;
        assert!(
            hidden.is_empty(),
            "an in-flight message was handed out again: {hidden:?}"
        );
        queue
            .change_visibility(&first.receipt, Duration::ZERO)
            .await?;
        let second = receive_one(queue).await?;
        assert_eq!(second.message_id, first.message_id);
        assert_eq!(second.body, "retry me");
        assert_eq!(second.receive_count, 2);
        assert_ne!(
            second.receipt, first.receipt,
            "each receive has its own receipt"
        );
        queue.delete(&second.receipt).await?;
    }
    Ok(())
}

/// A FIFO group's messages come out in send order, within one batch and across batches.
pub async fn fifo_group_order_kept_across_sends<F, Fut>(make: F) -> Checked
where
    F: Fn(QueueSpec) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let fixture = make(QueueSpec::fifo("order")).await;
    let queue = fixture.queue.as_ref();
    let sent: Vec<String> = (1..=10).map(|i| i.to_string()).collect();
    for body in &sent {
        queue
            .send(OutgoingMessage::new(body).group("customer-1"))
            .await?;
    }
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + PATIENCE * 2;
    while got.len() < sent.len() && tokio::time::Instant::now() < deadline {
        for message in receive_within(queue, 10, HIDDEN, PATIENCE).await? {
            got.push(message.body.clone());
            queue.delete(&message.receipt).await?;
        }
    }
    assert_eq!(got, sent);
    Ok(())
}

/// While a message of a FIFO group is in flight nothing else of that group is handed out, and other
/// groups keep flowing; deleting it releases the group's next message.
pub async fn fifo_group_blocked_while_a_message_is_in_flight_other_groups_flow<F, Fut>(
    make: F,
) -> Checked
where
    F: Fn(QueueSpec) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let fixture = make(QueueSpec::fifo("blocked")).await;
    let queue = fixture.queue.as_ref();
    for (body, group) in [("a1", "a"), ("a2", "a"), ("b1", "b")] {
        queue.send(OutgoingMessage::new(body).group(group)).await?;
    }
    // The engine may start with either group; whichever it is must start at its first message.
    let first = receive_one(queue).await?;
    let (mine, other_first) = match first.body.as_str() {
        "a1" => ("a", "b1"),
        "b1" => ("b", "a1"),
        other => panic!("{other} handed out before the first message of its group"),
    };
    let batch = receive_within(queue, 10, HIDDEN, PATIENCE).await?;
    assert!(
        batch.iter().all(|m| m.group_id.as_deref() != Some(mine)),
        "group {mine} handed out while {} is in flight: {batch:?}",
        first.body
    );
    assert!(
        batch.iter().any(|m| m.body == other_first),
        "the other group did not flow: {batch:?}"
    );
    queue.delete(&first.receipt).await?;
    for message in &batch {
        queue.delete(&message.receipt).await?;
    }
    if mine == "a" {
        let next = receive_one(queue).await?;
        assert_eq!(next.body, "a2", "deleting a1 releases a2");
        queue.delete(&next.receipt).await?;
    }
    Ok(())
}

/// A FIFO send repeating a dedup id (given, or the body's hash) inside the window is accepted and
/// dropped. (Whether the duplicate's returned id equals the first one differs between engines.)
pub async fn fifo_duplicate_dedup_id_within_window_enqueued_once<F, Fut>(make: F) -> Checked
where
    F: Fn(QueueSpec) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let fixture = make(QueueSpec::fifo("dedup")).await;
    let queue = fixture.queue.as_ref();
    queue
        .send(OutgoingMessage::new("first").group("g").dedup("wamid.1"))
        .await?;
    queue
        .send(OutgoingMessage::new("retry").group("g").dedup("wamid.1"))
        .await?;
    queue
        .send(OutgoingMessage::new("same body").group("g"))
        .await?;
    queue
        .send(OutgoingMessage::new("same body").group("g"))
        .await?;
    let bodies: Vec<String> = drain(queue).await?.into_iter().map(|m| m.body).collect();
    assert_eq!(bodies, ["first", "same body"]);
    Ok(())
}

/// `send_batch` answers each message on its own (a message without a group refused, a repeated
/// dedup id accepted and dropped), keeps a group's order across more than one SQS batch, and
/// `delete_batch` settles each receipt, refusing one the queue never issued.
pub async fn batch_send_keeps_order_and_dedup_and_batch_delete_settles_each<F, Fut>(
    make: F,
) -> Checked
where
    F: Fn(QueueSpec) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let fixture = make(QueueSpec::fifo("batches")).await;
    let queue = fixture.queue.as_ref();
    let mut messages: Vec<OutgoingMessage> = (1..=12)
        .map(|i| {
            OutgoingMessage::new(format!("m{i}"))
                .group("customer-1")
                .dedup(format!("id-{i}"))
        })
        .collect();
    messages.insert(3, OutgoingMessage::new("no group"));
    messages.push(
        OutgoingMessage::new("repeat of m3")
            .group("customer-1")
            .dedup("id-3"),
    );
    let results = queue.send_batch(messages).await;
    assert_eq!(results.len(), 14, "{results:?}");
    assert!(
        matches!(results[3], Err(QueueError::Invalid(_))),
        "{results:?}"
    );
    assert!(
        results.iter().enumerate().all(|(i, r)| i == 3 || r.is_ok()),
        "{results:?}"
    );
    let mut got = Vec::new();
    let mut first = true;
    let deadline = tokio::time::Instant::now() + PATIENCE * 2;
    while got.len() < 12 && tokio::time::Instant::now() < deadline {
        let batch = receive_within(queue, 10, HIDDEN, PATIENCE).await?;
        let mut receipts: Vec<String> = batch.iter().map(|m| m.receipt.clone()).collect();
        got.extend(batch.into_iter().map(|m| m.body));
        if first {
            receipts.push("not-a-receipt".into());
        }
        let settled = queue.delete_batch(receipts.clone()).await;
        assert_eq!(settled.len(), receipts.len(), "{settled:?}");
        for (receipt, result) in receipts.iter().zip(&settled) {
            if receipt == "not-a-receipt" {
                assert!(
                    matches!(
                        result,
                        Err(QueueError::StaleReceipt | QueueError::Invalid(_))
                    ),
                    "{result:?}"
                );
            } else {
                assert!(result.is_ok(), "{settled:?}");
            }
        }
        first = false;
    }
    let sent: Vec<String> = (1..=12).map(|i| format!("m{i}")).collect();
    assert_eq!(got, sent);
    let after = queue.receive(10, HIDDEN, Duration::from_secs(1)).await?;
    assert!(after.is_empty(), "deleted messages came back: {after:?}");
    assert!(queue.delete_batch(Vec::new()).await.is_empty());
    Ok(())
}

/// A FIFO queue rejects a message without a group id, and one with a delay.
pub async fn fifo_send_without_group_id_rejected<F, Fut>(make: F) -> Checked
where
    F: Fn(QueueSpec) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let fixture = make(QueueSpec::fifo("nogroup")).await;
    let queue = fixture.queue.as_ref();
    let missing = queue.send(OutgoingMessage::new("no group")).await;
    assert!(
        matches!(missing, Err(QueueError::Invalid(_))),
        "{missing:?}"
    );
    let delayed = queue
        .send(
            OutgoingMessage::new("late")
                .group("g")
                .delay(Duration::from_secs(1)),
        )
        .await;
    assert!(
        matches!(delayed, Err(QueueError::Invalid(_))),
        "{delayed:?}"
    );
    assert_eq!(queue.depth().await?, QueueDepth::default());
    Ok(())
}

/// A delayed message on a standard queue stays invisible until its delay has passed.
pub async fn delayed_message_not_visible_before_its_delay<F, Fut>(make: F) -> Checked
where
    F: Fn(QueueSpec) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let fixture = make(QueueSpec::standard("delayed")).await;
    let queue = fixture.queue.as_ref();
    let sent = tokio::time::Instant::now();
    queue
        .send(OutgoingMessage::new("later").delay(Duration::from_secs(2)))
        .await?;
    let early = queue.receive(10, HIDDEN, Duration::ZERO).await?;
    assert!(
        early.is_empty(),
        "a delayed message was visible at once: {early:?}"
    );
    let message = receive_one(queue).await?;
    assert_eq!(message.body, "later");
    let waited = sent.elapsed();
    assert!(
        waited >= Duration::from_millis(1_500),
        "received after {waited:?}, before its 2 s delay"
    );
    Ok(())
}

/// A message received `max_receives` times moves to the dead-letter queue on the next receive, and
/// shows there (peeking does not remove it).
pub async fn redrive_to_dead_letter_queue_after_max_receives<F, Fut>(make: F) -> Checked
where
    F: Fn(QueueSpec) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    for spec in [QueueSpec::fifo("redrive"), QueueSpec::standard("redrive")] {
        let fixture = make(spec.clone()).await;
        let queue = fixture.queue.as_ref();
        drive_to_dead_letters(queue, "poison").await?;
        let dead = queue.dead_letters(10).await?;
        assert_eq!(dead.len(), 1, "{dead:?}");
        assert_eq!(dead[0].body, "poison");
        assert_eq!(dead[0].group_id.as_deref(), spec.fifo.then_some("g-1"));
        assert!(dead[0].receive_count >= spec.max_receives, "{:?}", dead[0]);
        assert_eq!(
            queue.dead_letters(10).await?.len(),
            1,
            "peeking keeps dead letters"
        );
        assert_eq!(
            queue.depth().await?,
            QueueDepth {
                visible: 0,
                in_flight: 0,
                dead: 1
            }
        );
    }
    Ok(())
}

/// A received message dead-lettered at once (input no retry can help) leaves the queue, shows in the
/// dead-letter queue with its body and group, frees its FIFO group, and its receipt goes stale.
pub async fn dead_letter_now_moves_a_received_message_at_once<F, Fut>(make: F) -> Checked
where
    F: Fn(QueueSpec) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    for spec in [QueueSpec::fifo("poison"), QueueSpec::standard("poison")] {
        let fixture = make(spec.clone()).await;
        let queue = fixture.queue.as_ref();
        let group = spec.fifo.then(|| "g-1".to_owned());
        for body in ["invalid", "next in line"] {
            queue.send(message_for(&spec, body)).await?;
        }
        let first = receive_one(queue).await?;
        assert_eq!(first.body, "invalid");
        queue
            .dead_letter(&first.receipt, &first.body, first.group_id.as_deref())
            .await?;
        let dead = queue.dead_letters(10).await?;
        assert_eq!(dead.len(), 1, "{dead:?}");
        assert_eq!(dead[0].body, "invalid");
        assert_eq!(dead[0].group_id, group);
        assert!(
            matches!(
                queue.delete(&first.receipt).await,
                Err(QueueError::StaleReceipt) | Ok(())
            ),
            "the receipt no longer names a live message"
        );
        let next = receive_one(queue).await?;
        assert_eq!(next.body, "next in line", "the group goes on");
        queue.delete(&next.receipt).await?;
        assert_eq!(
            queue.depth().await?,
            QueueDepth {
                visible: 0,
                in_flight: 0,
                dead: 1
            }
        );
    }
    Ok(())
}

/// Replaying the dead-letter queue brings a message back with its body and group and a fresh count.
pub async fn replay_brings_dead_letter_back_with_body_and_group<F, Fut>(make: F) -> Checked
where
    F: Fn(QueueSpec) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    for spec in [QueueSpec::fifo("replay"), QueueSpec::standard("replay")] {
        let fixture = make(spec.clone()).await;
        let queue = fixture.queue.as_ref();
        drive_to_dead_letters(queue, "second chance").await?;
        assert_eq!(queue.replay_dead_letters(10).await?, 1);
        let message = receive_one(queue).await?;
        assert_eq!(message.body, "second chance");
        assert_eq!(message.group_id.as_deref(), spec.fifo.then_some("g-1"));
        assert_eq!(message.receive_count, 1, "replay resets the receive count");
        queue.delete(&message.receipt).await?;
        assert_eq!(queue.depth().await?, QueueDepth::default());
        assert_eq!(queue.replay_dead_letters(10).await?, 0);
    }
    Ok(())
}

/// The receipt of a deleted message is rejected.
pub async fn receipt_of_deleted_message_is_stale<F, Fut>(make: F) -> Checked
where
    F: Fn(QueueSpec) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let fixture = make(QueueSpec::fifo("deletedreceipt")).await;
    let queue = fixture.queue.as_ref();
    queue.send(OutgoingMessage::new("done").group("g")).await?;
    let message = receive_one(queue).await?;
    queue.delete(&message.receipt).await?;
    let changed = queue
        .change_visibility(&message.receipt, Duration::ZERO)
        .await;
    assert!(
        matches!(changed, Err(QueueError::StaleReceipt)),
        "{changed:?}"
    );
    Ok(())
}

/// A receipt the queue never issued is rejected.
pub async fn unknown_receipt_is_stale<F, Fut>(make: F) -> Checked
where
    F: Fn(QueueSpec) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let fixture = make(QueueSpec::standard("unknownreceipt")).await;
    let queue = fixture.queue.as_ref();
    let deleted = queue.delete("not-a-receipt").await;
    assert!(
        matches!(deleted, Err(QueueError::StaleReceipt)),
        "{deleted:?}"
    );
    let changed = queue
        .change_visibility("not-a-receipt", Duration::ZERO)
        .await;
    assert!(
        matches!(changed, Err(QueueError::StaleReceipt)),
        "{changed:?}"
    );
    Ok(())
}

/// After a message is received again, its latest receipt deletes it for good. An older receipt is
/// either rejected as stale (embedded engine) or accepted and acts on the same message (SQS, moto):
/// both engines promise only that it is one of these and that the message never comes back.
pub async fn latest_receipt_deletes_after_re_receive<F, Fut>(make: F) -> Checked
where
    F: Fn(QueueSpec) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    for spec in [
        QueueSpec::standard("rereceive"),
        QueueSpec::fifo("rereceive"),
    ] {
        let fixture = make(spec.clone()).await;
        let queue = fixture.queue.as_ref();
        queue.send(message_for(&spec, "twice")).await?;
        let first = receive_one(queue).await?;
        queue
            .change_visibility(&first.receipt, Duration::ZERO)
            .await?;
        let second = receive_one(queue).await?;
        assert_eq!(second.message_id, first.message_id);
        let old = queue.delete(&first.receipt).await;
        assert!(
            matches!(old, Ok(()) | Err(QueueError::StaleReceipt)),
            "{old:?}"
        );
        queue.delete(&second.receipt).await?;
        let again = queue.receive(10, HIDDEN, Duration::from_secs(1)).await?;
        assert!(again.is_empty(), "a deleted message came back: {again:?}");
        assert_eq!(queue.depth().await?, QueueDepth::default());
    }
    Ok(())
}

/// A receive returns at most `max` messages; `max` outside 1-10 is rejected.
pub async fn batch_receive_returns_at_most_max<F, Fut>(make: F) -> Checked
where
    F: Fn(QueueSpec) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let fixture = make(QueueSpec::standard("batch")).await;
    let queue = fixture.queue.as_ref();
    for i in 0..5 {
        queue.send(OutgoingMessage::new(format!("m{i}"))).await?;
    }
    let batch = receive_within(queue, 3, HIDDEN, PATIENCE).await?;
    assert!(
        (1..=3).contains(&batch.len()),
        "asked for 3, got {}",
        batch.len()
    );
    for message in &batch {
        queue.delete(&message.receipt).await?;
    }
    for max in [0, 11] {
        let wrong = queue.receive(max, HIDDEN, Duration::ZERO).await;
        assert!(
            matches!(wrong, Err(QueueError::Invalid(_))),
            "max {max}: {wrong:?}"
        );
    }
    let mut bodies: Vec<String> = batch
        .into_iter()
        .chain(drain(queue).await?)
        .map(|m| m.body)
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["m0", "m1", "m2", "m3", "m4"]);
    Ok(())
}

/// A body of exactly 256 KiB goes through; one byte more is rejected.
pub async fn body_over_256_kib_rejected<F, Fut>(make: F) -> Checked
where
    F: Fn(QueueSpec) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let fixture = make(QueueSpec::standard("large")).await;
    let queue = fixture.queue.as_ref();
    let too_big = queue
        .send(OutgoingMessage::new("x".repeat(MAX_BODY_BYTES + 1)))
        .await;
    assert!(
        matches!(too_big, Err(QueueError::Invalid(_))),
        "{:?}",
        too_big.map(|_| ())
    );
    queue
        .send(OutgoingMessage::new("x".repeat(MAX_BODY_BYTES)))
        .await?;
    let message = receive_one(queue).await?;
    assert_eq!(message.body.len(), MAX_BODY_BYTES);
    queue.delete(&message.receipt).await?;
    Ok(())
}

/// Depth counts visible and in-flight messages (dead letters are counted in the redrive check).
pub async fn depth_counts_visible_and_in_flight<F, Fut>(make: F) -> Checked
where
    F: Fn(QueueSpec) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let fixture = make(QueueSpec::standard("depth")).await;
    let queue = fixture.queue.as_ref();
    assert_eq!(queue.depth().await?, QueueDepth::default());
    for i in 0..3 {
        queue.send(OutgoingMessage::new(format!("m{i}"))).await?;
    }
    assert_eq!(
        queue.depth().await?,
        QueueDepth {
            visible: 3,
            in_flight: 0,
            dead: 0
        }
    );
    let message = receive_one(queue).await?;
    assert_eq!(
        queue.depth().await?,
        QueueDepth {
            visible: 2,
            in_flight: 1,
            dead: 0
        }
    );
    queue.delete(&message.receipt).await?;
    assert_eq!(
        queue.depth().await?,
        QueueDepth {
            visible: 2,
            in_flight: 0,
            dead: 0
        }
    );
    Ok(())
}
