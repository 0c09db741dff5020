//! Backups of the embedded engine: how a backup is named and which ones are kept.
//!
//! A backup is named after the moment it was taken, in UTC, so names sort in time order and say
//! when they were made wherever they are copied: `mostrador-20261205T031500Z`. Retention keeps, like
//! the grandfather-father-son rotation operators know, the newest backup of each of the latest
//! `daily` days, `weekly` ISO weeks and `monthly` months (days, weeks and months in the merchant's
//! zone, so "the backup of the 1st" is the one of the merchant's 1st). A backup kept by any rule
//! stays; the newest backup always stays, whatever the policy says.

use chrono::{DateTime, Datelike, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::BTreeSet;

/// The prefix of every backup's name.
pub const NAME_PREFIX: &str = "mostrador-";

const STAMP: &str = "%Y%m%dT%H%M%SZ";

/// The name of a backup taken at `at` (second precision).
pub fn name_for(at: DateTime<Utc>) -> String {
    format!("{NAME_PREFIX}{}", at.format(STAMP))
}

/// When the backup called `name` was taken; `None` for a name [`name_for`] did not make.
pub fn taken_at(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix(NAME_PREFIX)?;
    NaiveDateTime::parse_from_str(stamp, STAMP)
        .ok()
        .map(|t| Utc.from_utc_datetime(&t))
}

/// How many backups of each period to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

impl Default for Retention {
    /// 7 daily, 4 weekly, 12 monthly: a week to notice a mistake, a year of month-ends.
    fn default() -> Self {
        Self {
            daily: 7,
            weekly: 4,
            monthly: 12,
        }
    }
}

/// Why a retention text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("retention must read like 7d,4w,12m (days, weeks, months; each 0 to 1000): {0}")]
pub struct RetentionError(pub String);

impl std::str::FromStr for Retention {
    type Err = RetentionError;

    /// `7d,4w,12m`; a period left out keeps none of that period.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = Retention {
            daily: 0,
            weekly: 0,
            monthly: 0,
        };
        let mut seen = BTreeSet::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (n, unit) = part.split_at(part.len() - 1);
            let n: u32 = n
                .trim()
                .parse()
                .ok()
                .filter(|n| *n <= 1000)
                .ok_or_else(|| RetentionError(s.into()))?;
            if !seen.insert(unit.to_owned()) {
                return Err(RetentionError(s.into()));
            }
            match unit {
                "d" => out.daily = n,
                "w" => out.weekly = n,
                "m" => out.monthly = n,
                _ => return Err(RetentionError(s.into())),
            }
        }
        if seen.is_empty() {
            return Err(RetentionError(s.into()));
        }
        Ok(out)
    }
}

impl std::fmt::Display for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}d,{}w,{}m", self.daily, self.weekly, self.monthly)
    }
}

/// The period (day, ISO week or month) a moment falls in, as a comparable pair.
type PeriodOf = fn(&DateTime<Tz>) -> (i32, u32);

/// Which of the backups taken at `taken` to keep under `policy`, judged in `zone`: the indexes of
/// `taken` to keep. The order of `taken` does not matter; equal times count once.
pub fn keep(taken: &[DateTime<Utc>], policy: Retention, zone: Tz) -> BTreeSet<usize> {
    let mut newest_first: Vec<usize> = (0..taken.len()).collect();
    newest_first.sort_by(|a, b| taken[*b].cmp(&taken[*a]).then(a.cmp(b)));
    let mut kept = BTreeSet::new();
    if let Some(first) = newest_first.first() {
        kept.insert(*first);
    }
    let periods: [(u32, PeriodOf); 3] = [
        (policy.daily, |t| (t.year(), t.ordinal())),
        (policy.weekly, |t| {
            let w = t.iso_week();
            (w.year(), w.week())
        }),
        (policy.monthly, |t| (t.year(), t.month())),
    ];
    for (count, period_of) in periods {
        let mut seen = BTreeSet::new();
        for &i in &newest_first {
            if seen.len() as u32 >= count {
                break;
            }
            // The newest backup of each period is the one met first.
            if seen.insert(period_of(&taken[i].with_timezone(&zone))) {
                kept.insert(i);
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    const MX: Tz = chrono_tz::America::Mexico_City;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn names_sort_in_time_order_and_read_back() {
        let a = at("2026-12-05T03:15:00Z");
        let b = at("2027-01-02T00:00:09Z");
        assert_eq!(name_for(a), "mostrador-20261205T031500Z");
        assert!(name_for(a) < name_for(b));
        assert_eq!(taken_at(&name_for(b)), Some(b));
        assert_eq!(taken_at("mostrador-2026"), None);
        assert_eq!(taken_at("otra-20261205T031500Z"), None);
        assert_eq!(taken_at("mostrador-20261305T031500Z"), None);
    }

    #[test]
    fn retention_reads_and_writes_its_text() {
        assert_eq!("7d,4w,12m".parse(), Ok(Retention::default()));
        assert_eq!(
            " 3d , 1m".parse(),
            Ok(Retention {
                daily: 3,
                weekly: 0,
                monthly: 1
            })
        );
        assert_eq!(Retention::default().to_string(), "7d,4w,12m");
        for bad in ["", "7", "7x", "d", "7d,8d", "-1d", "5000m", "7d;4w"] {
            assert!(bad.parse::<Retention>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_year_of_nightly_backups_keeps_7_days_4_weeks_and_12_months() {
        // Nightly at 03:00 Mexico City (09:00 UTC) from 2026-01-01 to 2026-12-31.
        let start = at("2026-01-01T09:00:00Z");
        let taken: Vec<_> = (0..365).map(|d| start + Duration::days(d)).collect();
        let kept = keep(&taken, Retention::default(), MX);
        let days: Vec<String> = kept
            .iter()
            .map(|i| taken[*i].with_timezone(&MX).format("%Y-%m-%d").to_string())
            .collect();
        // The last 7 days; the newest of the last 4 ISO weeks (Sunday is a week's last day: the
        // 27th, the 20th and the 13th, the current week's newest being the 31st); the newest of
        // each of the 12 months (the last day of each month).
        let expected: BTreeSet<&str> = [
            "2026-12-25",
            "2026-12-26",
            "2026-12-27",
            "2026-12-28",
            "2026-12-29",
            "2026-12-30",
            "2026-12-31",
            "2026-12-20",
            "2026-12-13",
            "2026-01-31",
            "2026-02-28",
            "2026-03-31",
            "2026-04-30",
            "2026-05-31",
            "2026-06-30",
            "2026-07-31",
            "2026-08-31",
            "2026-09-30",
            "2026-10-31",
            "2026-11-30",
        ]
        .into_iter()
        .collect();
        assert_eq!(
            days.iter().map(String::as_str).collect::<BTreeSet<_>>(),
            expected
        );
    }

    #[test]
    fn days_are_the_merchants_days() {
        // 23:30 and 00:30 Mexico City on the 4th/5th are the same UTC day (05:30 and 06:30).
        let evening = at("2026-12-05T05:30:00Z");
        let night = at("2026-12-05T06:30:00Z");
        let kept = keep(
            &[evening, night],
            Retention {
                daily: 2,
                weekly: 0,
                monthly: 0,
            },
            MX,
        );
        assert_eq!(kept, [0, 1].into_iter().collect());
        let utc_day = keep(
            &[at("2026-12-05T07:00:00Z"), at("2026-12-05T08:00:00Z")],
            Retention {
                daily: 2,
                weekly: 0,
                monthly: 0,
            },
            MX,
        );
        // Both are the 5th in Mexico City: only the newest of that day stays.
        assert_eq!(utc_day, [1].into_iter().collect());
    }

    #[test]
    fn the_newest_backup_stays_even_when_nothing_is_to_be_kept() {
        let none = Retention {
            daily: 0,
            weekly: 0,
            monthly: 0,
        };
        let t = [at("2026-12-01T09:00:00Z"), at("2026-12-03T09:00:00Z")];
        assert_eq!(keep(&t, none, MX), [1].into_iter().collect());
        assert!(keep(&[], Retention::default(), MX).is_empty());
    }

    #[test]
    fn several_backups_a_day_keep_the_newest_of_the_day() {
        let t = [
            at("2026-12-04T15:00:00Z"),
            at("2026-12-04T20:00:00Z"),
            at("2026-12-04T10:00:00Z"),
            at("2026-12-03T10:00:00Z"),
        ];
        let policy = Retention {
            daily: 7,
            weekly: 0,
            monthly: 0,
        };
        assert_eq!(keep(&t, policy, MX), [1, 3].into_iter().collect());
    }
}
