//! How many business-initiated messages a customer gets in a day, by what they are.
//!
//! Two kinds of ceiling: the merchant's general daily cap (3 by default) for what a customer did not
//! ask to be told — promotions, reminders, anything unclassified — and a ceiling of each bucket's
//! own for alerts a customer relies on. A bank's transaction alerts, statements and payment-due
//! notices are transactional: the fourth card purchase of the day must still be announced, so they
//! are outside the general cap, under a generous ceiling of their own that only stops a runaway
//! integration. Fraud and security alerts have their own bucket too, and never wait for quiet
//! hours (the sender's rule).

/// Which ceilings a message counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapRule {
    /// Whether the merchant's general daily cap applies.
    pub general: bool,
    /// The bucket with a ceiling of its own, if any (its counter and its setting's name).
    pub bucket: Option<&'static str>,
}

/// The ceiling of the transactional bucket when the merchant sets none: far above what a person
/// does in a day, low enough to stop a loop.
pub const DEFAULT_TRANSACTIONAL_CAP: u32 = 30;

/// Kinds of notification that are transactional: the customer's own money moving, or owed.
pub const TRANSACTIONAL_KINDS: [&str; 3] =
    ["transaction_alert", "account_statement", "payment_reminder"];

/// The rule for a message of `category` (`utility`, `marketing`, `authentication`, `security`,
/// `service`) and notification `kind` (absent for messages that are not notifications).
pub fn rule(category: &str, kind: Option<&str>) -> CapRule {
    match category {
        "service" => CapRule {
            general: false,
            bucket: None,
        },
        "security" => CapRule {
            general: false,
            bucket: Some("security"),
        },
        // One-time codes are asked for by the customer; their own ceiling only, if one is set.
        "authentication" => CapRule {
            general: false,
            bucket: Some("authentication"),
        },
        "utility" if kind.is_some_and(|k| TRANSACTIONAL_KINDS.contains(&k)) => CapRule {
            general: false,
            bucket: Some("transactional"),
        },
        // Marketing is always under the general cap, whatever kind the request claims.
        other => CapRule {
            general: true,
            bucket: match other {
                "marketing" => Some("marketing"),
                "utility" => Some("utility"),
                _ => None,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_banks_alerts_are_outside_the_general_cap_under_their_own() {
        for kind in TRANSACTIONAL_KINDS {
            assert_eq!(
                rule("utility", Some(kind)),
                CapRule {
                    general: false,
                    bucket: Some("transactional")
                },
                "{kind}"
            );
        }
        assert_eq!(
            rule("security", Some("fraud_alert")),
            CapRule {
                general: false,
                bucket: Some("security")
            }
        );
    }

    #[test]
    fn promotions_reminders_and_the_unclassified_count_against_the_general_cap() {
        assert!(rule("marketing", Some("loan_preapproval")).general);
        assert!(
            rule("marketing", Some("transaction_alert")).general,
            "a marketing template is marketing whatever its kind says"
        );
        assert!(rule("utility", Some("kyc_reminder")).general);
        assert!(rule("utility", Some("other")).general);
        assert!(rule("utility", None).general);
        assert_eq!(rule("utility", None).bucket, Some("utility"));
    }

    #[test]
    fn replies_and_one_time_codes_are_not_under_the_general_cap() {
        assert_eq!(
            rule("service", None),
            CapRule {
                general: false,
                bucket: None
            }
        );
        assert!(!rule("authentication", None).general);
    }
}
