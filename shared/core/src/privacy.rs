//! Customers' rights over their personal data under the LFPDPPP (Ley Federal de Protección de Datos
//! Personales en Posesión de los Particulares): the four ARCO requests, the period a merchant has to
//! answer them, how long conversations are kept, and what an erasure must keep.

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// The four ARCO rights (art. 22–28): access, rectification, cancellation, opposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArcoRight {
    /// Acceso: a copy of everything held about the customer.
    Acceso,
    /// Rectificación: correct inexact or incomplete data.
    Rectificacion,
    /// Cancelación: erase what the law does not oblige the merchant to keep.
    Cancelacion,
    /// Oposición: stop a use of the data (the opt-out).
    Oposicion,
}

impl ArcoRight {
    pub fn as_str(self) -> &'static str {
        match self {
            ArcoRight::Acceso => "acceso",
            ArcoRight::Rectificacion => "rectificacion",
            ArcoRight::Cancelacion => "cancelacion",
            ArcoRight::Oposicion => "oposicion",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_lowercase().as_str() {
            "acceso" | "access" => Some(ArcoRight::Acceso),
            "rectificacion" | "rectificación" | "rectification" => Some(ArcoRight::Rectificacion),
            "cancelacion" | "cancelación" | "cancellation" | "erasure" => {
                Some(ArcoRight::Cancelacion)
            }
            "oposicion" | "oposición" | "opposition" => Some(ArcoRight::Oposicion),
            _ => None,
        }
    }
}

/// Business days the merchant has to answer an ARCO request (LFPDPPP art. 32: twenty days from
/// receipt; its Reglamento counts días hábiles).
pub const ANSWER_BUSINESS_DAYS: u32 = 20;

/// Whether a day is an official rest day in Mexico (Ley Federal del Trabajo art. 74): 1 January,
/// the first Monday of February, the third Monday of March, 1 May, 16 September, the third Monday
/// of November, 25 December, and 1 October of the years a federal executive takes office (2024,
/// 2030, … every six years).
pub fn is_official_holiday(day: NaiveDate) -> bool {
    let (m, d) = (day.month(), day.day());
    let nth_monday = |n: u32| day.weekday() == Weekday::Mon && (d - 1) / 7 + 1 == n;
    matches!((m, d), (1, 1) | (5, 1) | (9, 16) | (12, 25))
        || (m == 2 && nth_monday(1))
        || (m == 3 && nth_monday(3))
        || (m == 11 && nth_monday(3))
        || (m == 10 && d == 1 && day.year() >= 2024 && (day.year() - 2024) % 6 == 0)
}

/// Whether a day is a working day (Monday to Friday and not an official holiday).
pub fn is_business_day(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !is_official_holiday(day)
}

/// The day a request received on `received` must be answered by: `n` business days after it (the
/// day of receipt does not count).
pub fn business_days_after(received: NaiveDate, n: u32) -> NaiveDate {
    let mut day = received;
    let mut left = n;
    while left > 0 {
        day = day.succ_opt().unwrap_or(day);
        if is_business_day(day) {
            left -= 1;
        }
    }
    day
}

/// How long a conversation's messages are kept unless the merchant chooses otherwise (days).
pub const DEFAULT_MESSAGE_RETENTION_DAYS: u32 = 180;
/// The shortest and longest retention a merchant may choose (a week; five years).
pub const MIN_MESSAGE_RETENTION_DAYS: u32 = 7;
pub const MAX_MESSAGE_RETENTION_DAYS: u32 = 1_825;

/// Why a retention period is refused, in the merchant's words.
pub fn retention_problem(days: u32) -> Option<String> {
    (!(MIN_MESSAGE_RETENTION_DAYS..=MAX_MESSAGE_RETENTION_DAYS).contains(&days)).then(|| {
        format!(
            "los mensajes se guardan de {MIN_MESSAGE_RETENTION_DAYS} a {MAX_MESSAGE_RETENTION_DAYS} días (5 años)"
        )
    })
}

/// What an erasure (cancelación) does with one kind of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Erasure {
    /// Personal data with no obligation to keep it: deleted.
    Delete,
    /// The record supports the merchant's accounting (a sale): kept with the customer replaced by a
    /// pseudonym and the name and address removed.
    Anonymize,
    /// A fiscal or legal record the law obliges the merchant to keep as it is (a CFDI and its
    /// record, 5 years, Código Fiscal de la Federación art. 30; the record of ARCO requests), with
    /// the customer's WhatsApp id replaced by the pseudonym where it appears.
    Keep,
}

/// The kinds of record a customer's data lives in, as the erasure sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// The customer's own partition: profile, conversation, consent, notes, saved fiscal data.
    Customer,
    /// An order: the sale the accounting is built on.
    Order,
    /// A CFDI record (individual, global, nota de crédito) and its adjustments and folios.
    Invoice,
    /// The record of ARCO requests and of who read personal data.
    PrivacyLog,
    /// Anything else that names the customer: sent messages, notifications, hook deliveries,
    /// reminders, hand-off markers.
    Other,
}

/// The rule: what an erasure does with a kind of record.
pub fn erasure_of(kind: RecordKind) -> Erasure {
    match kind {
        RecordKind::Customer | RecordKind::Other => Erasure::Delete,
        RecordKind::Order => Erasure::Anonymize,
        RecordKind::Invoice | RecordKind::PrivacyLog => Erasure::Keep,
    }
}

/// Why a kind of record outlives an erasure, in the merchant's and customer's words.
pub fn kept_because(kind: RecordKind) -> Option<&'static str> {
    match kind {
        RecordKind::Order => Some(
            "Las ventas se conservan sin tu nombre, número ni dirección: son soporte de la contabilidad del comercio (Código Fiscal de la Federación, art. 28 y 30).",
        ),
        RecordKind::Invoice => Some(
            "Las facturas (CFDI) emitidas se conservan 5 años como lo exige el Código Fiscal de la Federación (art. 30); incluyen el RFC y el nombre que se timbraron.",
        ),
        RecordKind::PrivacyLog => Some(
            "El registro de tus solicitudes ARCO y de quién consultó tus datos se conserva, sin tu número, para acreditar que se atendieron (LFPDPPP art. 32).",
        ),
        RecordKind::Customer | RecordKind::Other => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("a date")
    }

    #[test]
    fn official_holidays_follow_the_ley_federal_del_trabajo() {
        for day in [
            d(2026, 1, 1),
            d(2026, 2, 2),  // first Monday of February
            d(2026, 3, 16), // third Monday of March
            d(2026, 5, 1),
            d(2026, 9, 16),
            d(2026, 11, 16), // third Monday of November
            d(2026, 12, 25),
            d(2030, 10, 1), // a president takes office
        ] {
            assert!(is_official_holiday(day), "{day} is a holiday");
        }
        for day in [
            d(2026, 2, 5), // the Constitution's day, moved to the Monday
            d(2026, 3, 21),
            d(2026, 11, 20),
            d(2026, 10, 1),
            d(2026, 2, 9),
        ] {
            assert!(!is_official_holiday(day), "{day} is a working day");
        }
    }

    #[test]
    fn twenty_business_days_skip_weekends_and_holidays() {
        // Received Monday 2 November 2026: the 16th (third Monday) is a holiday.
        assert_eq!(business_days_after(d(2026, 11, 2), 20), d(2026, 12, 1));
        // Received on a Saturday: counting starts on Monday.
        assert_eq!(business_days_after(d(2026, 12, 5), 1), d(2026, 12, 7));
        // Across Christmas and New Year.
        assert_eq!(business_days_after(d(2026, 12, 18), 5), d(2026, 12, 28));
        assert_eq!(business_days_after(d(2026, 12, 30), 2), d(2027, 1, 4));
        assert_eq!(business_days_after(d(2026, 12, 30), 0), d(2026, 12, 30));
    }

    #[test]
    fn retention_is_between_a_week_and_five_years() {
        assert!(retention_problem(DEFAULT_MESSAGE_RETENTION_DAYS).is_none());
        assert!(retention_problem(7).is_none());
        assert!(retention_problem(1_825).is_none());
        assert!(retention_problem(6).is_some());
        assert!(retention_problem(0).is_some());
        assert!(retention_problem(1_826).is_some());
    }

    #[test]
    fn erasure_deletes_personal_records_and_keeps_fiscal_ones_with_a_reason() {
        assert_eq!(erasure_of(RecordKind::Customer), Erasure::Delete);
        assert_eq!(erasure_of(RecordKind::Other), Erasure::Delete);
        assert_eq!(erasure_of(RecordKind::Order), Erasure::Anonymize);
        assert_eq!(erasure_of(RecordKind::Invoice), Erasure::Keep);
        assert_eq!(erasure_of(RecordKind::PrivacyLog), Erasure::Keep);
        for kind in [
            RecordKind::Order,
            RecordKind::Invoice,
            RecordKind::PrivacyLog,
        ] {
            assert!(kept_because(kind).is_some(), "{kind:?} says why it is kept");
        }
        assert!(kept_because(RecordKind::Customer).is_none());
    }

    #[test]
    fn rights_parse_in_spanish_and_english() {
        assert_eq!(
            ArcoRight::parse("Cancelación"),
            Some(ArcoRight::Cancelacion)
        );
        assert_eq!(ArcoRight::parse("access"), Some(ArcoRight::Acceso));
        assert_eq!(ArcoRight::parse("borrar"), None);
        for r in [
            ArcoRight::Acceso,
            ArcoRight::Rectificacion,
            ArcoRight::Cancelacion,
            ArcoRight::Oposicion,
        ] {
            assert_eq!(ArcoRight::parse(r.as_str()), Some(r));
        }
    }
}
