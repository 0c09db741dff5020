//! The integrity check of what the table and the blob store hold together (`mostrador check`):
//! every stamped CFDI has its XML and PDF (the merchant must keep them five years), every file a
//! record names exists, and every file under a merchant or an invoice belongs to one that exists.
//! Works on both engines; the embedded engine's file and queue checks are added by the local stack.

use crate::invoicing::issue::{self, InvoiceRecord};
use crate::platform::error::AppError;
use crate::platform::schema;
use crate::platform::tenant::MerchantId;
use crate::platform::Deps;
use mostrador_store::Value;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something is lost or broken: restore it (from a backup) or repair it.
    Error,
    /// Worth a look; nothing is lost.
    Warning,
}

/// One thing the check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// A stable name for the kind of finding.
    pub check: &'static str,
    pub detail: String,
}

/// What the check read and found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub items: u64,
    pub merchants: u64,
    pub invoices_with_files: u64,
    pub files: u64,
    pub files_referenced: u64,
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether anything is broken.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// At most this many examples are named per kind of finding; the rest are counted.
const EXAMPLES: usize = 10;

/// Reads the whole table and the whole blob store once.
pub async fn check(deps: &Deps) -> Result<Report, AppError> {
    let mut report = Report::default();
    let mut merchants = BTreeSet::new();
    let mut invoices: BTreeMap<(String, String), InvoiceRecord> = BTreeMap::new();
    let mut named: BTreeMap<String, String> = BTreeMap::new();
    let mut cursor = None;
    loop {
        let page = deps.table.scan("", cursor, 500).await?;
        for item in &page.items {
            report.items += 1;
            let Some(pk) = item.get_s("pk") else { continue };
            let Some((merchant, logical)) = split_tenant(pk) else {
                continue;
            };
            merchants.insert(merchant.to_owned());
            if logical == schema::INVOICES {
                if let Some(doc) = item.get_s("doc") {
                    match serde_json::from_str::<InvoiceRecord>(doc) {
                        Ok(rec) => {
                            invoices.insert((merchant.to_owned(), rec.id.clone()), rec);
                        }
                        Err(e) => report.findings.push(Finding {
                            severity: Severity::Error,
                            check: "invoice_record_unreadable",
                            detail: format!(
                                "merchant {merchant}, invoice {}: {e}",
                                item.get_s("sk").unwrap_or("?")
                            ),
                        }),
                    }
                }
            }
            for (name, value) in &item.attrs {
                if let Value::S(text) = value {
                    for key in file_names(text, merchant) {
                        named.entry(key).or_insert_with(|| {
                            format!("{pk} / {} ({name})", item.get_s("sk").unwrap_or("?"))
                        });
                    }
                }
            }
        }
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    report.merchants = merchants.len() as u64;
    let files: BTreeSet<String> = deps
        .blobs
        .list("")
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .into_iter()
        .collect();
    report.files = files.len() as u64;
    report.files_referenced = named.len() as u64;

    let mut missing_cfdi = Vec::new();
    for ((merchant, id), rec) in &invoices {
        if rec.uuid.is_none() {
            continue;
        }
        report.invoices_with_files += 1;
        let Ok(merchant_id) = MerchantId::try_from(merchant.clone()) else {
            continue;
        };
        for file in ["cfdi.xml", "cfdi.pdf"] {
            let key = issue::blob_key(&merchant_id, id, file);
            if !files.contains(&key) {
                missing_cfdi.push(format!(
                    "merchant {merchant}, invoice {id} (UUID {}): {file}",
                    rec.uuid.as_deref().unwrap_or("")
                ));
            }
        }
    }
    push(
        &mut report,
        Severity::Error,
        "cfdi_file_missing",
        "stamped CFDI without its file (restore it from a backup; the PAC can also send the XML again)",
        missing_cfdi,
    );
    let missing_named: Vec<String> = named
        .iter()
        .filter(|(key, _)| !files.contains(*key))
        .map(|(key, by)| format!("{key}, named by {by}"))
        .collect();
    push(
        &mut report,
        Severity::Error,
        "named_file_missing",
        "files that records name but the blob store does not have",
        missing_named,
    );
    let mut orphans = Vec::new();
    for key in &files {
        let mut parts = key.split('/');
        let owned_by = match (parts.next(), parts.next(), parts.next()) {
            (Some("invoices"), Some(merchant), Some(id)) => {
                if invoices.contains_key(&(merchant.to_owned(), id.to_owned())) {
                    None
                } else {
                    Some(format!("{key}: no invoice {id} of merchant {merchant}"))
                }
            }
            (Some("merchants" | "exports"), Some(merchant), _) => (!merchants.contains(merchant))
                .then(|| format!("{key}: merchant {merchant} has no records")),
            _ => None,
        };
        orphans.extend(owned_by);
    }
    push(
        &mut report,
        Severity::Warning,
        "orphan_file",
        "files no record owns (left by an interrupted write or a manual copy; safe to keep)",
        orphans,
    );
    Ok(report)
}

fn push(
    report: &mut Report,
    severity: Severity,
    check: &'static str,
    what: &str,
    found: Vec<String>,
) {
    if found.is_empty() {
        return;
    }
    let mut detail = format!(
        "{} {what}: {}",
        found.len(),
        found[..found.len().min(EXAMPLES)].join("; ")
    );
    if found.len() > EXAMPLES {
        detail.push_str(&format!("; and {} more", found.len() - EXAMPLES));
    }
    report.findings.push(Finding {
        severity,
        check,
        detail,
    });
}

/// `M#{merchant}#{logical}` → (merchant, logical).
fn split_tenant(pk: &str) -> Option<(&str, &str)> {
    let rest = pk.strip_prefix("M#")?;
    rest.split_once('#')
}

/// Blob keys of the merchant's own files that a text names (`merchants/{merchant}/…`).
fn file_names(text: &str, merchant: &str) -> BTreeSet<String> {
    let prefix = format!("merchants/{merchant}/");
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find(&prefix) {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c == '"' || c == '\\' || c == '\'' || c.is_whitespace())
            .unwrap_or(tail.len());
        let key = &tail[..end];
        if mostrador_store::blobs::validate_key(key).is_ok() {
            out.insert(key.to_owned());
        }
        rest = &tail[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_name_only_their_merchants_files() {
        let text = r#"{"stored_as":"merchants/m1/inbound/ab12","x":"merchants/m2/media/9","y":"see merchants/m1/media/77 now"}"#;
        let names = file_names(text, "m1");
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            ["merchants/m1/inbound/ab12", "merchants/m1/media/77"]
        );
        assert!(
            file_names("merchants/m1/", "m1").is_empty(),
            "a bare prefix is no file"
        );
    }

    #[test]
    fn tenant_keys_split_into_merchant_and_partition() {
        assert_eq!(split_tenant("M#m1#INVOICES"), Some(("m1", "INVOICES")));
        assert_eq!(split_tenant("M#m1#CUST#521"), Some(("m1", "CUST#521")));
        assert_eq!(split_tenant("WAMID#x"), None);
    }

    #[test]
    fn findings_name_ten_examples_and_count_the_rest() {
        let mut report = Report::default();
        push(
            &mut report,
            Severity::Warning,
            "orphan_file",
            "files",
            (0..13).map(|i| format!("f{i}")).collect(),
        );
        let detail = &report.findings[0].detail;
        assert!(detail.starts_with("13 files: f0; f1"), "{detail}");
        assert!(detail.ends_with("f9; and 3 more"), "{detail}");
        assert!(!report.has_errors());
        push(&mut report, Severity::Error, "x", "y", vec!["z".into()]);
        assert!(report.has_errors());
        push(&mut report, Severity::Error, "x", "y", vec![]);
        assert_eq!(report.findings.len(), 2);
    }
}
