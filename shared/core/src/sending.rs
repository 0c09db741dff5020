//! Whether an outbound message goes now: the sender's rule, from what it knows of the message, the
//! customer and the merchant's policy. The sender reads those facts, asks [`decide`], and then
//! counts the message against the caps it names (a conditional write, so two sends cannot both
//! take the last place of a day).
//!
//! In order: a customer who opted out gets only the reply confirming it and, when the merchant
//! keeps them, security alerts; free-form text needs the 24-hour window (a template does not);
//! marketing waits for the end of the customer's quiet hours; a business-initiated message counts
//! against the daily caps of [`crate::caps`].

use chrono::{DateTime, Duration, TimeZone, Timelike, Utc};

/// What the sender knows of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outbound<'a> {
    /// Meta's category: `utility`, `marketing`, `authentication`, `security`, `service`.
    pub category: &'a str,
    /// The notification's kind (`transaction_alert`…), absent for chat replies.
    pub kind: Option<&'a str>,
    /// A template (allowed outside the 24-hour window), not free-form text.
    pub template: bool,
    /// Sent on the business's initiative (not a reply inside a conversation).
    pub business_initiated: bool,
    /// The reply confirming an opt-out or opt-in (what stops, how to resume).
    pub consent_confirmation: bool,
}

/// What the sender knows of the customer at the time of sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipient {
    pub opted_out: bool,
    /// The customer wrote within the last 24 hours.
    pub window_open: bool,
    /// The end of the customer's quiet hours, when it is quiet hours where they are.
    pub quiet_until: Option<DateTime<Utc>>,
}

/// The merchant's policy, as far as sending is concerned.
pub struct Policy<'a> {
    /// Security alerts still reach a customer who opted out.
    pub security_after_opt_out: bool,
    /// The general daily cap (messages a customer did not ask for).
    pub daily_cap: u32,
    /// The ceiling of a bucket (`marketing`, `transactional`, `security`…), when it has one.
    pub bucket_cap: &'a dyn Fn(&str) -> Option<u32>,
}

/// Why a message is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    OptedOut,
    OutsideWindow,
}

impl Refusal {
    /// The reason as recorded and reported.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::OptedOut => "opted_out",
            Refusal::OutsideWindow => "outside_24h_window",
        }
    }
}

/// The daily caps a message counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// The merchant's general cap, when it applies.
    pub general: Option<u32>,
    /// The bucket's own ceiling, when it has one: its name and the ceiling.
    pub bucket: Option<(&'static str, u32)>,
}

/// What the sender does with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Refuse(Refusal),
    /// Hold it until then (quiet hours).
    WaitUntil(DateTime<Utc>),
    /// Send it, after counting it against these caps (business-initiated messages only).
    Send(Option<Caps>),
}

/// The sender's rule.
pub fn decide(message: &Outbound<'_>, recipient: &Recipient, policy: &Policy<'_>) -> Decision {
    let rule = crate::caps::rule(message.category, message.kind);
    if recipient.opted_out {
        let confirmation = message.category == "service" && message.consent_confirmation;
        let security = rule.bucket == Some("security") && policy.security_after_opt_out;
        if !(confirmation || security) {
            return Decision::Refuse(Refusal::OptedOut);
        }
    }
    if !message.template && !recipient.window_open {
        return Decision::Refuse(Refusal::OutsideWindow);
    }
    if message.category == "marketing" {
        if let Some(until) = recipient.quiet_until {
            return Decision::WaitUntil(until);
        }
    }
    if !message.business_initiated {
        return Decision::Send(None);
    }
    // Alerts a customer relies on (security, a bank's transactional alerts) are never crowded out
    // by promotions: they have ceilings of their own.
    Decision::Send(Some(Caps {
        general: rule.general.then_some(policy.daily_cap),
        bucket: rule
            .bucket
            .and_then(|b| (policy.bucket_cap)(b).map(|cap| (b, cap))),
    }))
}

/// When the quiet hours `start`..`end` (local hours; equal means none; they may span midnight)
/// end for a customer in `tz`, if it is quiet hours there at `now`.
pub fn quiet_until(
    start: u32,
    end: u32,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if start == end {
        return None;
    }
    let local = now.with_timezone(&tz);
    let hour = local.hour();
    let quiet = if start < end {
        hour >= start && hour < end
    } else {
        hour >= start || hour < end
    };
    if !quiet {
        return None;
    }
    let mut day = local.date_naive();
    if hour >= end && start > end {
        day = day.succ_opt()?;
    }
    let naive = day.and_hms_opt(end, 0, 0)?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .or(Some(now + Duration::hours(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::Mexico_City;

    fn message(category: &str) -> Outbound<'_> {
        Outbound {
            category,
            kind: None,
            template: true,
            business_initiated: category != "service",
            consent_confirmation: false,
        }
    }

    const OPEN: Recipient = Recipient {
        opted_out: false,
        window_open: true,
        quiet_until: None,
    };

    fn caps(bucket: &str) -> Option<u32> {
        match bucket {
            "marketing" => Some(2),
            "transactional" => Some(30),
            "security" => Some(10),
            _ => None,
        }
    }

    fn policy(security_after_opt_out: bool) -> Policy<'static> {
        Policy {
            security_after_opt_out,
            daily_cap: 3,
            bucket_cap: &caps,
        }
    }

    #[test]
    fn an_opted_out_customer_gets_only_the_confirmation_and_kept_security_alerts() {
        let out = Recipient {
            opted_out: true,
            ..OPEN
        };
        let refused = Decision::Refuse(Refusal::OptedOut);
        assert_eq!(decide(&message("marketing"), &out, &policy(true)), refused);
        assert_eq!(decide(&message("utility"), &out, &policy(true)), refused);
        assert_eq!(decide(&message("service"), &out, &policy(true)), refused);
        let confirmation = Outbound {
            consent_confirmation: true,
            template: false,
            ..message("service")
        };
        assert_eq!(
            decide(&confirmation, &out, &policy(false)),
            Decision::Send(None)
        );
        assert!(matches!(
            decide(&message("security"), &out, &policy(true)),
            Decision::Send(Some(_))
        ));
        assert_eq!(decide(&message("security"), &out, &policy(false)), refused);
    }

    #[test]
    fn free_form_text_needs_the_window_and_a_template_does_not() {
        let closed = Recipient {
            window_open: false,
            ..OPEN
        };
        let text = Outbound {
            template: false,
            ..message("service")
        };
        assert_eq!(
            decide(&text, &closed, &policy(true)),
            Decision::Refuse(Refusal::OutsideWindow)
        );
        assert_eq!(decide(&text, &OPEN, &policy(true)), Decision::Send(None));
        assert!(matches!(
            decide(&message("utility"), &closed, &policy(true)),
            Decision::Send(Some(_))
        ));
        assert_eq!(Refusal::OutsideWindow.as_str(), "outside_24h_window");
        assert_eq!(Refusal::OptedOut.as_str(), "opted_out");
    }

    #[test]
    fn only_marketing_waits_for_quiet_hours() {
        let until = Utc.with_ymd_and_hms(2026, 12, 6, 15, 0, 0).unwrap();
        let night = Recipient {
            quiet_until: Some(until),
            ..OPEN
        };
        assert_eq!(
            decide(&message("marketing"), &night, &policy(true)),
            Decision::WaitUntil(until)
        );
        for category in ["utility", "security", "authentication"] {
            assert!(
                matches!(
                    decide(&message(category), &night, &policy(true)),
                    Decision::Send(Some(_))
                ),
                "{category}"
            );
        }
    }

    #[test]
    fn business_initiated_messages_count_against_the_caps_of_their_rule() {
        let marketing = decide(&message("marketing"), &OPEN, &policy(true));
        assert_eq!(
            marketing,
            Decision::Send(Some(Caps {
                general: Some(3),
                bucket: Some(("marketing", 2))
            }))
        );
        let alert = Outbound {
            kind: Some("transaction_alert"),
            ..message("utility")
        };
        assert_eq!(
            decide(&alert, &OPEN, &policy(true)),
            Decision::Send(Some(Caps {
                general: None,
                bucket: Some(("transactional", 30))
            }))
        );
        // A bucket without a ceiling counts only against what applies.
        assert_eq!(
            decide(&message("authentication"), &OPEN, &policy(true)),
            Decision::Send(Some(Caps {
                general: None,
                bucket: None
            }))
        );
        let reply = Outbound {
            template: false,
            ..message("service")
        };
        assert_eq!(decide(&reply, &OPEN, &policy(true)), Decision::Send(None));
    }

    #[test]
    fn quiet_hours_end_at_their_end_in_the_customers_time_zone() {
        // 23:30 in Mexico City (UTC-6) with quiet hours 21–9: quiet until 9:00 the next day.
        let late = Utc.with_ymd_and_hms(2026, 12, 7, 5, 30, 0).unwrap();
        assert_eq!(
            quiet_until(21, 9, Mexico_City, late),
            Some(Utc.with_ymd_and_hms(2026, 12, 7, 15, 0, 0).unwrap())
        );
        // 3:00 the same night: until 9:00 that morning.
        let early = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
        assert_eq!(
            quiet_until(21, 9, Mexico_City, early),
            Some(Utc.with_ymd_and_hms(2026, 12, 7, 15, 0, 0).unwrap())
        );
        // Noon is not quiet; equal hours mean no quiet hours.
        let noon = Utc.with_ymd_and_hms(2026, 12, 7, 18, 0, 0).unwrap();
        assert_eq!(quiet_until(21, 9, Mexico_City, noon), None);
        assert_eq!(quiet_until(9, 9, Mexico_City, late), None);
        // Hours within one day (13–15): quiet at 14:00, until 15:00.
        let two = Utc.with_ymd_and_hms(2026, 12, 7, 20, 0, 0).unwrap();
        assert_eq!(
            quiet_until(13, 15, Mexico_City, two),
            Some(Utc.with_ymd_and_hms(2026, 12, 7, 21, 0, 0).unwrap())
        );
    }
}
