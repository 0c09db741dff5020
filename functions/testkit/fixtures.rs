//! What every function's `tests/events.rs` shares: the fixtures of `events/<package>/` and embedded
//! dependencies in a fresh temporary directory. Not a crate (the workspace's members are fixed); each
//! test file includes it with `#[path = "../../testkit/fixtures.rs"] mod fixtures;`.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use mostrador_app::platform::config::Vars;
use mostrador_app::{Config, Deps};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

/// The app secret the fixtures' `x-hub-signature-256` headers are computed with.
pub const APP_SECRET: &str = "test-app-secret";
/// The verify token of `events/webhook-ingest/verify.json`.
pub const VERIFY_TOKEN: &str = "test-verify-token";
const ADMIN_KEY: &str = "test-admin-key-0123456789";

/// `events/<this package>/`: the package name is the function name.
pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(env!("CARGO_PKG_NAME"))
}

/// The text of one fixture of this function.
pub fn fixture(name: &str) -> String {
    let path = events_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Embedded engines in a temporary directory, configured with the fixtures' secrets. Keep the
/// directory alive as long as the dependencies.
pub async fn embedded_deps() -> (Deps, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data_dir = dir
        .path()
        .to_str()
        .expect("temporary directory path is UTF-8");
    let vars = Vars::from_pairs([
        ("MOSTRADOR_DATA_DIR", data_dir),
        ("MOSTRADOR_ADMIN_KEY", ADMIN_KEY),
        ("MOSTRADOR_WHATSAPP_APP_SECRET", APP_SECRET),
        ("MOSTRADOR_WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN),
    ]);
    let config = Config::from_vars(&vars).expect("test configuration");
    let deps = Deps::embedded(config, Arc::new(mostrador_core::SystemClock))
        .await
        .expect("embedded engines");
    (deps, dir)
}

/// Embedded engines configured as a deployed HTTP function without `MOSTRADOR_PUBLIC_URL`: the
/// public URL is unknown until a request brings API Gateway's domain name.
pub async fn embedded_deps_without_public_url() -> (Deps, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data_dir = dir
        .path()
        .to_str()
        .expect("temporary directory path is UTF-8");
    let vars = Vars::from_pairs([
        ("MOSTRADOR_DATA_DIR", data_dir),
        ("MOSTRADOR_ADMIN_KEY", ADMIN_KEY),
        ("MOSTRADOR_WHATSAPP_APP_SECRET", APP_SECRET),
        ("MOSTRADOR_WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN),
    ]);
    let mut config = Config::from_vars(&vars).expect("test configuration");
    config.public_url = mostrador_app::platform::config::PublicUrl::unknown();
    let deps = Deps::embedded(config, Arc::new(mostrador_core::SystemClock))
        .await
        .expect("embedded engines");
    (deps, dir)
}

/// The admin key the fixtures' deployments are configured with.
pub fn admin_key() -> &'static str {
    ADMIN_KEY
}

/// Fails unless every file of `events/<this package>/` is named (as the string literal `"<file>"`,
/// which the tests pass to the loaders) in `test_source`, and unless every entry of `events/` is the
/// fixture directory of a function package.
pub fn assert_every_fixture_is_loaded(test_source: &str) {
    let files: BTreeSet<String> = list(&events_dir())
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert!(
        !files.is_empty(),
        "{} has no fixtures",
        events_dir().display()
    );
    let unused: Vec<&String> = files
        .iter()
        .filter(|name| !test_source.contains(&format!("\"{name}\"")))
        .collect();
    assert!(
        unused.is_empty(),
        "fixtures in {} that no test loads: {unused:?}",
        events_dir().display()
    );

    let functions = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let events = functions.join("../events");
    let orphans: Vec<String> = list(&events)
        .into_iter()
        .filter(|(name, is_dir)| !is_dir || !functions.join(name).join("Cargo.toml").is_file())
        .map(|(name, _)| name)
        .collect();
    assert!(
        orphans.is_empty(),
        "entries of events/ that are not a function's fixture directory: {orphans:?}"
    );
}

fn list(dir: &std::path::Path) -> Vec<(String, bool)> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()));
    entries
        .map(|entry| {
            let entry = entry.expect("directory entry");
            let is_dir = entry.file_type().expect("file type").is_dir();
            (entry.file_name().to_string_lossy().into_owned(), is_dir)
        })
        .collect()
}
