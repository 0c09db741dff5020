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
            let Some((merchant, logical)) = schema::tenant_of(pk) else {
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

/// Blob keys of the merchant's own files that a text names (`merchants/{merchant}/…`).
pub(crate) fn file_names(text: &str, merchant: &str) -> BTreeSet<String> {
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

/// How a move between engines may go.
#[derive(Debug, Clone, Copy, Default)]
pub struct MoveOptions {
    /// Write into a target that already holds one of the merchants (a second run after a partial
    /// one; items are written whole, so running again converges).
    pub into_nonempty: bool,
    /// Move although dead letters are waiting (they stay where they are).
    pub leave_dead_letters: bool,
}

/// What a move did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Moved {
    pub merchants: Vec<String>,
    pub items: u64,
    /// Sealed values opened with the source's keys and sealed again with the target's.
    pub resealed: u64,
    pub files: u64,
    pub files_resealed: u64,
    /// Queue messages moved, per queue.
    pub queued: BTreeMap<String, u64>,
    /// Items read back from the target and found equal (sealed values compared opened).
    pub verified: u64,
}

/// Why a move stopped; nothing is written before the checks that can refuse it.
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    #[error("the target already holds merchant {0}; pass --into-nonempty to write into it anyway")]
    TargetNotEmpty(String),
    #[error("{0} dead letters wait in the source's queues; replay or read them first (GET /v1/admin/queues/{{queue}}/dead-letters), or pass --leave-dead-letters")]
    DeadLetters(u64),
    #[error("the sealed attribute {attribute} of {key} opens under none of its possible contexts (another deployment's key?)")]
    CannotOpen { key: String, attribute: String },
    #[error("after the move, {0}")]
    Mismatch(String),
    #[error("{0}")]
    Engine(String),
}

fn engine(e: impl std::fmt::Display) -> MoveError {
    MoveError::Engine(e.to_string())
}

/// Whether an item is the deployment's own (its pseudonym key, sealed under the deployment's
/// context): the move writes the target's from the source's key instead of copying it.
fn deployments_own(item: &mostrador_store::Item) -> bool {
    item.key() == Some(schema::pseudonym_key())
}

/// Whether a stored value is an envelope of the Keys port (`MKE1…`, the same on every engine).
fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(b"MKE1")
}

/// Every item of a table, a page at a time.
struct Pages<'a> {
    table: &'a dyn mostrador_store::Table,
    cursor: Option<String>,
    done: bool,
}

impl<'a> Pages<'a> {
    fn of(table: &'a dyn mostrador_store::Table) -> Self {
        Self {
            table,
            cursor: None,
            done: false,
        }
    }

    async fn next(&mut self) -> Result<Option<Vec<mostrador_store::Item>>, MoveError> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .table
            .scan("", self.cursor.take(), 500)
            .await
            .map_err(engine)?;
        self.cursor = page.cursor;
        self.done = self.cursor.is_none();
        Ok(Some(page.items))
    }
}

fn describe_key(item: &mostrador_store::Item) -> String {
    format!(
        "{} / {}",
        item.get_s("pk").unwrap_or("?"),
        item.get_s("sk").unwrap_or("?")
    )
}

/// The merchants an item may belong to, and the ids its sealed values may be bound to.
fn owners<'a>(
    item: &'a mostrador_store::Item,
    merchants: &'a BTreeSet<String>,
) -> (Vec<&'a str>, Vec<&'a str>) {
    let pk = item.get_s("pk").unwrap_or("");
    let sk = item.get_s("sk").unwrap_or("");
    let ids: Vec<&str> = pk.split('#').chain(sk.split('#')).collect();
    match schema::tenant_of(pk) {
        Some((merchant, _)) => (vec![merchant], ids),
        None => (merchants.iter().map(String::as_str).collect(), ids),
    }
}

/// Opens a sealed value with the first context that fits.
async fn open_any(
    keys: &dyn mostrador_store::Keys,
    sealed: &[u8],
    merchants: &[&str],
    ids: &[&str],
) -> Result<Option<(Vec<u8>, String)>, MoveError> {
    for merchant in merchants {
        for context in crate::platform::sealed::Sealing::candidates(merchant, ids) {
            match keys.open(sealed, &context).await {
                Ok(plain) => return Ok(Some((plain, context))),
                Err(mostrador_store::KeysError::CannotOpen) => continue,
                Err(e) => return Err(engine(e)),
            }
        }
    }
    Ok(None)
}

/// Moves everything `source` holds into `target`: every item (sealed values opened with the
/// source's keys and sealed again with the target's under the same context), every file, and the
/// messages waiting in the queues; then reads every item back from the target. Meant for the one
/// box outgrowing its machine (embedded → AWS), and works between any two engines. The source
/// must be stopped; it is left as it was, but for its queues, whose messages now are the target's.
pub async fn move_all(
    source: &Deps,
    target: &Deps,
    options: MoveOptions,
) -> Result<Moved, MoveError> {
    let mut moved = Moved::default();
    // 1. Whose data it is, and whether the target already has any of it.
    let mut merchants = BTreeSet::new();
    let mut pages = Pages::of(source.table.as_ref());
    while let Some(items) = pages.next().await? {
        for item in &items {
            if let Some((m, _)) = item.get_s("pk").and_then(schema::tenant_of) {
                merchants.insert(m.to_owned());
            }
        }
    }
    for merchant in &merchants {
        let prefix = schema::merchant_prefix(merchant);
        let page = target.table.scan(&prefix, None, 1).await.map_err(engine)?;
        if !page.items.is_empty() && !options.into_nonempty {
            return Err(MoveError::TargetNotEmpty(merchant.clone()));
        }
    }
    let queues = [
        ("inbound", &source.queues.inbound, &target.queues.inbound),
        ("outbound", &source.queues.outbound, &target.queues.outbound),
        (
            "invoicing",
            &source.queues.invoicing,
            &target.queues.invoicing,
        ),
    ];
    let mut dead = 0;
    for (_, from, _) in &queues {
        dead += from.depth().await.map_err(engine)?.dead;
    }
    if dead > 0 && !options.leave_dead_letters {
        return Err(MoveError::DeadLetters(dead));
    }
    // 2. Every sealed value opens before anything is written.
    let mut pages = Pages::of(source.table.as_ref());
    while let Some(items) = pages.next().await? {
        for item in &items {
            if deployments_own(item) {
                continue;
            }
            let (owners, ids) = owners(item, &merchants);
            for (name, value) in &item.attrs {
                let Value::B(bytes) = value else { continue };
                if is_sealed(bytes)
                    && open_any(source.keys.as_ref(), bytes, &owners, &ids)
                        .await?
                        .is_none()
                {
                    return Err(MoveError::CannotOpen {
                        key: describe_key(item),
                        attribute: name.clone(),
                    });
                }
            }
        }
    }
    // 3. The source's pseudonym key (customers' keys are its hashes: the target must compute the
    // same ones), then files (a record never names a file the target lacks), then items.
    crate::platform::deps::adopt_pseudonym_key(
        target.table.as_ref(),
        target.keys.as_ref(),
        &source.pseudonyms,
    )
    .await
    .map_err(engine)?;
    let files = source.blobs.list("").await.map_err(engine)?;
    for key in &files {
        let Some(blob) = source.blobs.get(key).await.map_err(engine)? else {
            continue;
        };
        let mut body = blob.body;
        let inbound = key
            .strip_prefix("merchants/")
            .and_then(|rest| rest.split_once('/'))
            .filter(|(_, rest)| rest.starts_with("inbound/"))
            .map(|(merchant, _)| merchant.to_owned());
        if let (Some(merchant), true) = (inbound, is_sealed(&body)) {
            let context = crate::platform::sealed::Sealing::Inbound.context(&merchant);
            let plain =
                source
                    .keys
                    .open(&body, &context)
                    .await
                    .map_err(|_| MoveError::CannotOpen {
                        key: key.clone(),
                        attribute: "file".into(),
                    })?;
            body = target
                .keys
                .seal(&plain, &context)
                .await
                .map_err(engine)?
                .into();
            moved.files_resealed += 1;
        }
        target
            .blobs
            .put(key, body, &blob.content_type)
            .await
            .map_err(engine)?;
        moved.files += 1;
    }
    let mut pages = Pages::of(source.table.as_ref());
    while let Some(items) = pages.next().await? {
        for mut item in items {
            if deployments_own(&item) {
                continue;
            }
            let (owners, ids) = owners(&item, &merchants);
            let (owners, ids): (Vec<String>, Vec<String>) = (
                owners.into_iter().map(str::to_owned).collect(),
                ids.into_iter().map(str::to_owned).collect(),
            );
            let owners: Vec<&str> = owners.iter().map(String::as_str).collect();
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            let names: Vec<String> = item.attrs.keys().cloned().collect();
            for name in names {
                let Some(Value::B(bytes)) = item.attrs.get(&name) else {
                    continue;
                };
                if !is_sealed(bytes) {
                    continue;
                }
                let Some((plain, context)) =
                    open_any(source.keys.as_ref(), bytes, &owners, &ids).await?
                else {
                    return Err(MoveError::CannotOpen {
                        key: describe_key(&item),
                        attribute: name,
                    });
                };
                let again = target.keys.seal(&plain, &context).await.map_err(engine)?;
                item.attrs.insert(name, Value::B(again));
                moved.resealed += 1;
            }
            target.table.put(item, None).await.map_err(engine)?;
            moved.items += 1;
        }
    }
    // 4. The messages waiting in the queues (what a stopped process held is released first).
    for (name, from, to) in &queues {
        from.recover_after_restart().await.map_err(engine)?;
        let mut count = 0;
        loop {
            let batch = from
                .receive(
                    10,
                    std::time::Duration::from_secs(300),
                    std::time::Duration::ZERO,
                )
                .await
                .map_err(engine)?;
            if batch.is_empty() {
                break;
            }
            for message in batch {
                to.send(mostrador_queue::OutgoingMessage {
                    body: message.body,
                    group_id: message.group_id,
                    dedup_id: None,
                    delay: None,
                })
                .await
                .map_err(engine)?;
                from.delete(&message.receipt).await.map_err(engine)?;
                count += 1;
            }
        }
        moved.queued.insert((*name).to_owned(), count);
    }
    // 5. Read back: every item there, equal, sealed values opening to the same text.
    let mut problems = Vec::new();
    let mut pages = Pages::of(source.table.as_ref());
    while let Some(items) = pages.next().await? {
        for item in &items {
            if deployments_own(item) {
                continue;
            }
            let (owners, ids) = owners(item, &merchants);
            let key = item
                .key()
                .ok_or_else(|| engine("an item without its key"))?;
            let Some(there) = target.table.get(&key).await.map_err(engine)? else {
                problems.push(format!("{} is missing", describe_key(item)));
                continue;
            };
            let mut same = there.attrs.len() == item.attrs.len();
            for (name, value) in &item.attrs {
                same &= match (value, there.attrs.get(name)) {
                    (Value::B(a), Some(Value::B(b))) if is_sealed(a) => {
                        let mine = open_any(source.keys.as_ref(), a, &owners, &ids).await?;
                        let theirs = open_any(target.keys.as_ref(), b, &owners, &ids).await?;
                        mine.is_some() && mine == theirs
                    }
                    (a, Some(b)) => a == b,
                    (_, None) => false,
                };
            }
            if same {
                moved.verified += 1;
            } else {
                problems.push(format!("{} differs", describe_key(item)));
            }
        }
    }
    if !problems.is_empty() {
        return Err(MoveError::Mismatch(format!(
            "{} items are not as in the source: {}",
            problems.len(),
            problems[..problems.len().min(EXAMPLES)].join("; ")
        )));
    }
    moved.merchants = merchants.into_iter().collect();
    Ok(moved)
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
