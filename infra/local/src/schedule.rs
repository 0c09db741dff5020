//! The schedules of the SAM template, fired locally on the same expressions in America/Mexico_City.

use chrono::{DateTime, Duration, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use mostrador_app::entry::jobs::Job;

/// One schedule: the template's logical name, its expression and the job it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub name: &'static str,
    pub expression: &'static str,
    pub job: Job,
}

/// Must match the `ScheduleV2` events of `RemindersFunction` in infra/template.yaml (a test checks).
pub const SCHEDULES: [Schedule; 6] = [
    Schedule {
        name: "PaymentReminders",
        expression: "rate(5 minutes)",
        job: Job::PaymentReminders,
    },
    Schedule {
        name: "ExpireOrders",
        expression: "rate(1 minute)",
        job: Job::ExpireOrders,
    },
    Schedule {
        name: "AbandonedCarts",
        expression: "rate(15 minutes)",
        job: Job::AbandonedCarts,
    },
    Schedule {
        name: "GlobalInvoices",
        expression: "cron(30 0 * * ? *)",
        job: Job::GlobalInvoices,
    },
    Schedule {
        name: "DueNotifications",
        expression: "rate(1 minute)",
        job: Job::DueNotifications,
    },
    Schedule {
        name: "CatalogSync",
        expression: "rate(1 minute)",
        job: Job::CatalogSync,
    },
];

/// The timezone of every schedule.
pub const TIMEZONE: Tz = chrono_tz::America::Mexico_City;

/// A parsed schedule expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expression {
    /// `rate(N minutes|hours)`.
    Every(Duration),
    /// `cron(M H * * ? *)`: daily at a fixed local time (`None` means every minute/hour).
    Daily {
        minute: Option<u32>,
        hour: Option<u32>,
    },
}

/// Parses the subset of EventBridge expressions the template uses.
pub fn parse(expression: &str) -> Result<Expression, String> {
    if let Some(inner) = expression
        .strip_prefix("rate(")
        .and_then(|s| s.strip_suffix(')'))
    {
        let (n, unit) = inner
            .split_once(' ')
            .ok_or_else(|| format!("bad rate: {expression}"))?;
        let n: i64 = n.parse().map_err(|_| format!("bad rate: {expression}"))?;
        let step = match unit {
            "minute" | "minutes" => Duration::minutes(n),
            "hour" | "hours" => Duration::hours(n),
            "day" | "days" => Duration::days(n),
            _ => return Err(format!("bad rate unit: {expression}")),
        };
        if n <= 0 {
            return Err(format!("bad rate: {expression}"));
        }
        return Ok(Expression::Every(step));
    }
    if let Some(inner) = expression
        .strip_prefix("cron(")
        .and_then(|s| s.strip_suffix(')'))
    {
        let f: Vec<&str> = inner.split_whitespace().collect();
        if f.len() != 6 || f[2] != "*" || f[3] != "*" || f[4] != "?" || f[5] != "*" {
            return Err(format!(
                "only daily cron(M H * * ? *) is supported locally: {expression}"
            ));
        }
        let field = |s: &str, max: u32| -> Result<Option<u32>, String> {
            if s == "*" {
                return Ok(None);
            }
            let v: u32 = s.parse().map_err(|_| format!("bad cron field {s}"))?;
            if v > max {
                return Err(format!("bad cron field {s}"));
            }
            Ok(Some(v))
        };
        return Ok(Expression::Daily {
            minute: field(f[0], 59)?,
            hour: field(f[1], 23)?,
        });
    }
    Err(format!("unknown schedule expression: {expression}"))
}

impl Expression {
    /// The first firing strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> DateTime<Utc> {
        match *self {
            Expression::Every(step) => after + step,
            Expression::Daily { minute, hour } => {
                let local = after.with_timezone(&TIMEZONE);
                let mut t = local
                    .with_second(0)
                    .and_then(|t| t.with_nanosecond(0))
                    .unwrap_or(local)
                    + Duration::minutes(1);
                // At most two days of minutes; DST gaps are skipped naturally.
                for _ in 0..(2 * 24 * 60) {
                    if minute.is_none_or(|m| t.minute() == m) && hour.is_none_or(|h| t.hour() == h)
                    {
                        return t.with_timezone(&Utc);
                    }
                    t += Duration::minutes(1);
                }
                after + Duration::days(1)
            }
        }
    }
}

/// Mexico City time of an instant, for logs.
pub fn local(at: DateTime<Utc>) -> DateTime<Tz> {
    TIMEZONE.from_utc_datetime(&at.naive_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schedule_parses() {
        for s in SCHEDULES {
            assert!(parse(s.expression).is_ok(), "{}", s.expression);
        }
        assert!(parse("cron(0 8 ? * MON-FRI *)").is_err());
        assert!(parse("rate(0 minutes)").is_err());
    }

    #[test]
    fn daily_cron_fires_at_local_time() {
        // 2026-11-21 12:00 UTC is 06:00 in Mexico City (UTC-6, no DST since 2022).
        let now = Utc
            .with_ymd_and_hms(2026, 11, 21, 12, 0, 0)
            .single()
            .expect("time");
        let next = parse("cron(30 0 * * ? *)").expect("parse").next_after(now);
        assert_eq!(
            local(next).format("%Y-%m-%d %H:%M").to_string(),
            "2026-11-22 00:30"
        );
        assert_eq!(
            next,
            Utc.with_ymd_and_hms(2026, 11, 22, 6, 30, 0)
                .single()
                .expect("time")
        );
    }

    #[test]
    fn rates_step_from_the_last_firing() {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 21, 12, 0, 0)
            .single()
            .expect("time");
        assert_eq!(
            parse("rate(5 minutes)").expect("parse").next_after(now),
            now + Duration::minutes(5)
        );
    }
}
