//! Tracing set up once per process: JSON lines in Lambda, readable lines locally.

use crate::platform::config::{Config, LogFormat};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; a second call is a no-op.
pub fn init(config: &Config) {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = match config.log_format {
        // Lambda adds its own timestamps and request ids to each line.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .without_time()
            .try_init(),
        LogFormat::Text => builder.compact().try_init(),
    };
    let _ = result;
}

/// The last four characters of a phone number or id, for logs that must not carry full PII.
pub(crate) fn redact(value: &str) -> String {
    let tail: String = value
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_keeps_only_the_tail() {
        assert_eq!(super::redact("5215512345678"), "…5678");
        assert_eq!(super::redact("12"), "…12");
    }
}
