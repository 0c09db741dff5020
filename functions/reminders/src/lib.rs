//! reminders: EventBridge Scheduler fires `{"job": "..."}`; the job runs what has come due until
//! nothing is left or the invocation's deadline is near (the rest stays due for the next run).

use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use mostrador_app::entry::jobs::{self, JobInput, JobReport};
use mostrador_app::Deps;
use mostrador_store::StoreError;
use std::time::Duration;

/// How long a run may take when the context names no deadline (`Context::default()` in tests).
const DEFAULT_RUN: Duration = Duration::from_secs(60);

/// Why a scheduled invocation did nothing or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReminderError {
    /// The scheduler's input is not `{"job": "<known job>"}`: the schedule is misconfigured, and
    /// retrying the same input cannot help.
    #[error("the scheduler input is not a known job: {0}")]
    MalformedInput(#[source] serde_json::Error),
    /// The table failed during the run; what was not done stays due for the next run.
    #[error("job {job} stopped: {source}")]
    Store {
        job: &'static str,
        #[source]
        source: StoreError,
    },
}

impl From<ReminderError> for Diagnostic {
    fn from(e: ReminderError) -> Self {
        let error_type = match e {
            ReminderError::MalformedInput(_) => "MalformedInput",
            ReminderError::Store { .. } => "StoreFailure",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// Runs the job the scheduler names, until its work is done or the invocation's deadline is near.
pub async fn handler(
    deps: &Deps,
    event: LambdaEvent<serde_json::Value>,
) -> Result<JobReport, ReminderError> {
    let (payload, context) = event.into_parts();
    let input: JobInput = serde_json::from_value(payload).map_err(|e| {
        tracing::error!(request_id = %context.request_id, error = %e, "scheduler input refused");
        ReminderError::MalformedInput(e)
    })?;
    let job = input.job.name();
    jobs::run(deps, input.job, deadline_ms(deps, &context)).await.map_err(|source| {
        tracing::error!(request_id = %context.request_id, job, error = %source, "job run failed");
        ReminderError::Store { job, source }
    })
}

/// The invocation's deadline (epoch ms); an empty context (0) gets [`DEFAULT_RUN`] from now.
fn deadline_ms(deps: &Deps, context: &Context) -> i64 {
    match i64::try_from(context.deadline) {
        Ok(deadline) if deadline > 0 => deadline,
        _ => jobs::deadline_after(deps, DEFAULT_RUN),
    }
}
