//! Test support, not for production: checks CFDI XML with an independent implementation, the
//! Python package satcfdi (SAT's XSD and cadena XSLT, sello verification, SAT's arithmetic), by
//! running `shared/cfdi/tests/oracle.py` once over a batch of documents.
//!
//! Python comes from `MOSTRADOR_TEST_PYTHON` (exported by `bash tests/run`), else
//! `<workspace>/.venv/bin/python`. A missing Python or satcfdi is a failure that says to run
//! `bash tests/run`, never a silent skip. Set `MOSTRADOR_ORACLE_KEEP=1` to keep the checked files
//! of passing batches too (failing batches are always kept).
//!
//! ```no_run
//! use mostrador_cfdi::oracle::{self, CfdiFile};
//! # let stamped_xml = String::new();
//! oracle::assert_verified(&[CfdiFile::xml("factura-fetched", stamped_xml)]);
//! ```

use crate::csd::SealedCfdi;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

/// The oracle script, embedded so the helper works from any crate's tests.
const SCRIPT: &str = include_str!("../../tests/oracle.py");

/// One document to check: its XML and, when known, the cadena original we computed for it.
#[derive(Debug, Clone)]
pub struct CfdiFile {
    /// Short name used in the report (letters, digits, `-` and `_` are kept).
    pub name: String,
    /// The XML as sent to or received from the PAC.
    pub xml: String,
    /// Our cadena original, compared byte for byte with SAT's XSLT output when present.
    pub cadena: Option<String>,
}

impl CfdiFile {
    /// A sealed CFDI with its cadena original.
    pub fn sealed(name: &str, sealed: &SealedCfdi) -> CfdiFile {
        CfdiFile {
            name: name.to_owned(),
            xml: sealed.xml().to_owned(),
            cadena: Some(sealed.cadena_original().to_owned()),
        }
    }

    /// Any CFDI XML (e.g. a stamped one fetched through the app's API).
    pub fn xml(name: &str, xml: String) -> CfdiFile {
        CfdiFile {
            name: name.to_owned(),
            xml,
            cadena: None,
        }
    }
}

/// The Python that has satcfdi: `MOSTRADOR_TEST_PYTHON`, else `<workspace>/.venv/bin/python`.
pub fn python() -> Result<PathBuf, String> {
    let from_env = std::env::var_os("MOSTRADOR_TEST_PYTHON").filter(|v| !v.is_empty());
    let path = match from_env {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"),
    };
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "CFDI oracle: no Python with satcfdi at {} (MOSTRADOR_TEST_PYTHON unset or wrong). \
             Run the tests with `bash tests/run`, which creates the venv and exports it.",
            path.display()
        ))
    }
}

fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    if cleaned.is_empty() {
        "cfdi".to_owned()
    } else {
        cleaned
    }
}

/// Checks every file in one Python run. `Ok` carries the oracle's summary line; `Err` the full
/// report (per failing file) or why the oracle could not run. On failure the files are kept and
/// their directory is named in the report.
pub fn verify(files: &[CfdiFile]) -> Result<String, String> {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let python = python()?;
    let dir = std::env::temp_dir().join(format!(
        "mostrador-cfdi-oracle-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("CFDI oracle: cannot create {}: {e}", dir.display()))?;
    let write = |path: &Path, data: &str| {
        std::fs::write(path, data)
            .map_err(|e| format!("CFDI oracle: cannot write {}: {e}", path.display()))
    };
    let script = dir.join("oracle.py");
    write(&script, SCRIPT)?;
    let mut paths = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        let path = dir.join(format!("{i:05}-{}.xml", safe_name(&f.name)));
        write(&path, &f.xml)?;
        if let Some(cadena) = &f.cadena {
            write(&PathBuf::from(format!("{}.cadena", path.display())), cadena)?;
        }
        paths.push(path);
    }
    let output = Command::new(&python)
        .arg(&script)
        .args(&paths)
        .output()
        .map_err(|e| {
            format!(
                "CFDI oracle: cannot run {}: {e}. Run `bash tests/run`.",
                python.display()
            )
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if output.status.success() {
        let summary = stdout.lines().last().unwrap_or_default().to_owned();
        if std::env::var_os("MOSTRADOR_ORACLE_KEEP").is_some() {
            return Ok(format!("{summary} (files kept in {})", dir.display()));
        }
        let _ = std::fs::remove_dir_all(&dir);
        return Ok(summary);
    }
    if stderr.contains("No module named") {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(format!(
            "CFDI oracle: {} cannot import satcfdi ({}). Run the tests with `bash tests/run`, which installs infra/requirements-test.txt.",
            python.display(),
            stderr.lines().last().unwrap_or_default()
        ));
    }
    Err(format!(
        "CFDI oracle (satcfdi) rejected documents; files kept in {}\n{stdout}{stderr}",
        dir.display()
    ))
}

/// Panics with the oracle's report unless every file passes.
pub fn assert_verified(files: &[CfdiFile]) {
    if let Err(report) = verify(files) {
        panic!("{report}");
    }
}
