//! The fixtures of `events/reminders/` through the function's handler, on embedded engines.

#[path = "../../testkit/fixtures.rs"]
mod fixtures;

use fixtures::{embedded_deps, fixture};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use mostrador_app::entry::jobs::{self, DueAction, Job};
use mostrador_app::platform::tenant::MerchantId;
use mostrador_app::Deps;
use reminders::{handler, ReminderError};

fn event(name: &str, context: Context) -> LambdaEvent<serde_json::Value> {
    let input = serde_json::from_str(&fixture(name)).expect("scheduler input is JSON");
    LambdaEvent::new(input, context)
}

/// An order's expiry that came due a second ago: it notifies the customer through outbound.
async fn schedule_due_expiry(deps: &Deps) {
    let merchant =
        MerchantId::try_from("01KAK7Q9ZT5Y0V3M8R2N4P6W1X".to_owned()).expect("merchant id");
    let action = DueAction::Enqueue {
        queue: "outbound".into(),
        body: r#"{"order_id":"01KAKA1M3N5P7Q9R1S3T5V7W9X"}"#.into(),
        group_id: Some("525512345678".into()),
        dedup_id: Some("expire-01KAKA1M3N5P7Q9R1S3T5V7W9X".into()),
    };
    let due = deps.clock.now_ms() - 1_000;
    jobs::schedule(
        deps,
        &merchant,
        Job::ExpireOrders,
        "01KAKA1M3N5P7Q9R1S3T5V7W9X",
        due,
        &action,
    )
    .await
    .expect("schedule");
}

async fn outbound_visible(deps: &Deps) -> u64 {
    deps.queues
        .outbound
        .depth()
        .await
        .expect("queue depth")
        .visible
}

#[tokio::test]
async fn expire_orders_runs_what_has_come_due_once() {
    let (deps, _dir) = embedded_deps().await;
    schedule_due_expiry(&deps).await;

    let report = handler(&deps, event("expire-orders.json", Context::default()))
        .await
        .expect("job report");

    assert_eq!(report.job, "expire_orders");
    assert_eq!(
        (report.processed, report.failed, report.more),
        (1, 0, false)
    );
    assert_eq!(outbound_visible(&deps).await, 1);

    // EventBridge Scheduler may fire twice: the second run finds nothing due.
    let again = handler(&deps, event("expire-orders.json", Context::default()))
        .await
        .expect("job report");
    assert_eq!((again.processed, again.failed, again.more), (0, 0, false));
    assert_eq!(outbound_visible(&deps).await, 1);
}

#[tokio::test]
async fn run_stops_at_the_invocations_deadline_and_leaves_the_work_due() {
    let (deps, _dir) = embedded_deps().await;
    schedule_due_expiry(&deps).await;
    let mut context = Context::default();
    // An invocation whose deadline has already come does nothing and leaves the work due.
    context.deadline = u64::try_from(deps.clock.now_ms()).expect("epoch ms");

    let report = handler(&deps, event("expire-orders.json", context))
        .await
        .expect("job report");

    assert_eq!((report.processed, report.more), (0, true));
    assert_eq!(outbound_visible(&deps).await, 0);
    let next = handler(&deps, event("expire-orders.json", Context::default()))
        .await
        .expect("job report");
    assert_eq!(
        next.processed, 1,
        "the next run does what the cut-off one left"
    );
}

#[tokio::test]
async fn unknown_job_is_refused_as_malformed_input() {
    let (deps, _dir) = embedded_deps().await;

    let error = handler(&deps, event("unknown-job.json", Context::default()))
        .await
        .expect_err("refused");

    assert!(
        matches!(error, ReminderError::MalformedInput(_)),
        "{error:?}"
    );
    assert_eq!(Diagnostic::from(error).error_type, "MalformedInput");
}

#[test]
fn every_fixture_is_loaded_by_a_test() {
    fixtures::assert_every_fixture_is_loaded(include_str!("events.rs"));
}
