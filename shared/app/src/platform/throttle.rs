//! Throughput limits shared by every consumer, kept on the Table with conditional writes (so two
//! Lambdas or pollers never both take the last slot):
//! - per WhatsApp number: at most N messages per second (Meta's default 80/s), a counter per second;
//! - per customer: about one message per 6 s with a small burst (Meta's pair rate limit), as a
//!   generic cell rate algorithm (one "theoretical arrival time" per pair).

use crate::platform::schema::CustomerKey;
use mostrador_store::{Condition, Item, StoreError, Table, Update};
use std::time::Duration;

/// Per-pair spacing and burst, after Meta's ~1 message per 6 s with burst allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairLimit {
    pub interval_ms: i64,
    /// Messages that may go at once before the spacing applies.
    pub burst: i64,
}

impl Default for PairLimit {
    fn default() -> Self {
        Self {
            interval_ms: 6_000,
            burst: 5,
        }
    }
}

/// Whether a send may go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    Granted,
    /// Try again after this long.
    Wait(Duration),
}

/// Takes one slot of `phone_number_id`'s per-second budget.
pub(crate) async fn take_number_slot(
    table: &dyn Table,
    phone_number_id: &str,
    per_second: u32,
    now_ms: i64,
) -> Result<Permit, StoreError> {
    let second = now_ms.div_euclid(1000);
    let key = crate::platform::schema::send_rate_window(phone_number_id, second);
    let room =
        Condition::AttrNotExists("n".into()).or(Condition::Lt("n".into(), i64::from(per_second)));
    let update = Update::new().add("n", 1).set_if_absent("ttl", second + 120);
    match table.update(&key, update, Some(room)).await {
        Ok(_) => Ok(Permit::Granted),
        Err(StoreError::ConditionFailed { .. }) => {
            let wait = 1000 - now_ms.rem_euclid(1000);
            Ok(Permit::Wait(Duration::from_millis(wait.max(1) as u64)))
        }
        Err(e) => Err(e),
    }
}

/// The pair's (number, customer) clock as stored, for [`take_pair_slot`] (read beside the other
/// reads of a send).
pub(crate) async fn read_pair(
    table: &dyn Table,
    phone_number_id: &str,
    customer: &CustomerKey,
) -> Result<Option<i64>, StoreError> {
    let key = crate::platform::schema::pair_pacing(phone_number_id, customer);
    Ok(table.get(&key).await?.and_then(|i| i.get_n("tat")))
}

/// Takes a slot of the pair (number, customer) budget; `known` is the pair's clock if it was just
/// read ([`read_pair`]): the write is conditional on it, so a stale one only costs a read again.
pub(crate) async fn take_pair_slot(
    table: &dyn Table,
    phone_number_id: &str,
    customer: &CustomerKey,
    limit: PairLimit,
    now_ms: i64,
    mut known: Option<Option<i64>>,
) -> Result<Permit, StoreError> {
    let key = crate::platform::schema::pair_pacing(phone_number_id, customer);
    let tolerance = limit.interval_ms * (limit.burst - 1).max(0);
    // Optimistic concurrency: retry when another consumer moved the pair's clock first.
    for _ in 0..8 {
        let stored = match known.take() {
            Some(stored) => stored,
            None => read_pair(table, phone_number_id, customer).await?,
        };
        let tat = stored.unwrap_or(now_ms).max(now_ms);
        if tat - now_ms > tolerance {
            let wait = tat - now_ms - tolerance;
            return Ok(Permit::Wait(Duration::from_millis(wait as u64)));
        }
        let next = tat + limit.interval_ms;
        let condition = match stored {
            Some(old) => Condition::Eq("tat".into(), old.into()),
            None => Condition::NotExists,
        };
        let item = Item::new(&key)
            .with("tat", next)
            .with("ttl", next / 1000 + 3600);
        match table.put(item, Some(condition)).await {
            Ok(()) => return Ok(Permit::Granted),
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(Permit::Wait(Duration::from_millis(200)))
}

/// Forgets the pair budget of a customer on a number (the customer's data is being erased).
pub(crate) async fn forget_pair(
    table: &dyn Table,
    phone_number_id: &str,
    customer: &CustomerKey,
) -> Result<(), StoreError> {
    table
        .delete(
            &crate::platform::schema::pair_pacing(phone_number_id, customer),
            None,
        )
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mostrador_core::FixedClock;
    use mostrador_store::sqlite::{Database, SqliteTable};
    use std::sync::Arc;

    /// A table and "now" in ms from the same clock, so that counters' ttl is judged consistently.
    fn table() -> (Arc<dyn Table>, i64) {
        use chrono::TimeZone;
        use mostrador_core::Clock;
        let clock = FixedClock::at(
            chrono::Utc
                .timestamp_millis_opt(1_795_262_400_250)
                .single()
                .unwrap_or_default(),
        );
        let now = clock.now_ms();
        (
            Arc::new(SqliteTable::new(
                Database::in_memory().expect("db"),
                Arc::new(clock),
            )),
            now,
        )
    }

    #[tokio::test]
    async fn number_budget_is_shared_and_refills_each_second() {
        let (t, now) = table();
        let mut granted = 0;
        for _ in 0..100 {
            if take_number_slot(&*t, "1065", 80, now).await.expect("slot") == Permit::Granted {
                granted += 1;
            }
        }
        assert_eq!(granted, 80);
        assert_eq!(
            take_number_slot(&*t, "1065", 80, now).await.expect("slot"),
            Permit::Wait(Duration::from_millis(750))
        );
        assert_eq!(
            take_number_slot(&*t, "1065", 80, now + 750)
                .await
                .expect("slot"),
            Permit::Granted
        );
        assert_eq!(
            take_number_slot(&*t, "other", 80, now).await.expect("slot"),
            Permit::Granted
        );
    }

    #[tokio::test]
    async fn concurrent_consumers_never_exceed_the_number_budget() {
        let (t, now) = table();
        let now = now - 250;
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let t = t.clone();
            tasks.push(tokio::spawn(async move {
                take_number_slot(&*t, "1065", 25, now).await.expect("slot") == Permit::Granted
            }));
        }
        let mut granted = 0;
        for task in tasks {
            granted += usize::from(task.await.expect("task"));
        }
        assert_eq!(granted, 25);
    }

    #[tokio::test]
    async fn pair_allows_a_burst_then_one_message_every_six_seconds() {
        let (t, now) = table();
        let (a, b) = (
            CustomerKey::from_pseudonym("5255".into()),
            CustomerKey::from_pseudonym("5266".into()),
        );
        let limit = PairLimit::default();
        for i in 0..5 {
            assert_eq!(
                take_pair_slot(&*t, "1065", &a, limit, now, None)
                    .await
                    .expect("slot"),
                Permit::Granted,
                "burst message {i}"
            );
        }
        assert_eq!(
            take_pair_slot(&*t, "1065", &a, limit, now, None)
                .await
                .expect("slot"),
            Permit::Wait(Duration::from_secs(6))
        );
        assert_eq!(
            take_pair_slot(&*t, "1065", &a, limit, now + 6_000, None)
                .await
                .expect("slot"),
            Permit::Granted
        );
        assert!(matches!(
            take_pair_slot(&*t, "1065", &a, limit, now + 7_000, None)
                .await
                .expect("slot"),
            Permit::Wait(_)
        ));
        // A clock read before another consumer moved it (a stale read) is caught by the write's
        // condition and read again: still no slot beyond the burst.
        assert!(matches!(
            take_pair_slot(&*t, "1065", &a, limit, now + 7_000, Some(None))
                .await
                .expect("slot"),
            Permit::Wait(_)
        ));
        assert!(matches!(
            take_pair_slot(&*t, "1065", &a, limit, now + 7_000, Some(Some(now)))
                .await
                .expect("slot"),
            Permit::Wait(_)
        ));
        // Another customer is not affected.
        assert_eq!(
            take_pair_slot(&*t, "1065", &b, limit, now, None)
                .await
                .expect("slot"),
            Permit::Granted
        );
        // After a quiet minute the burst is available again.
        for _ in 0..5 {
            assert_eq!(
                take_pair_slot(&*t, "1065", &a, limit, now + 120_000, None)
                    .await
                    .expect("slot"),
                Permit::Granted
            );
        }
    }
}
