//! Keeps the layers of this crate one way (see the crate documentation): reads every source file
//! under `src/` and fails on an import that goes up a layer, across the two side-by-side layers
//! (invoicing and notifications), or through the crate root's re-exports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The folders, lowest first, with their rank. Folders of the same rank may not import each other.
const LAYERS: [(&str, u8); 7] = [
    ("platform", 0),
    ("parties", 1),
    ("commerce", 2),
    ("invoicing", 3),
    ("notifications", 3),
    ("flows", 4),
    ("entry", 5),
];

fn rank(folder: &str) -> Option<u8> {
    LAYERS.iter().find(|(f, _)| *f == folder).map(|(_, r)| *r)
}

/// An import that breaks the rule.
#[derive(Debug, PartialEq, Eq)]
struct Violation {
    file: String,
    line: usize,
    from: String,
    to: String,
}

/// The crate-level paths a source text names: `crate::x::...` and each member of `crate::{x, y}`.
fn crate_paths(source: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let before = &rest[..at];
            rest = &rest[at + "crate::".len()..];
            // `mostrador_crate::` or `some_crate::` are other names, not this crate.
            if before
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for member in group[..end].split(',') {
                    let name: String = member
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.push((n + 1, name));
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push((n + 1, name));
                }
            }
        }
    }
    out
}

/// Checks one file of folder `from`.
fn check(file: &str, from: &str, source: &str) -> Vec<Violation> {
    let Some(own) = rank(from) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (line, to) in crate_paths(source) {
        if to == from {
            continue;
        }
        let bad = match rank(&to) {
            // Root re-exports (`crate::Deps`) hide which layer a name comes from.
            None => true,
            Some(r) => r > own || (r == own && to != from),
        };
        if bad {
            out.push(Violation {
                file: file.to_owned(),
                line,
                from: from.to_owned(),
                to,
            });
        }
    }
    out
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The folder-to-folder import graph of the crate and every violation in it.
fn scan(src: &Path) -> (BTreeMap<String, BTreeSet<String>>, Vec<Violation>) {
    let mut files = Vec::new();
    sources(src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut violations = Vec::new();
    for path in files {
        let rel = path.strip_prefix(src).unwrap_or(&path);
        let mut parts = rel.components();
        let (Some(first), Some(_)) = (parts.next(), parts.next()) else {
            continue; // lib.rs and this file sit at the root, above every layer
        };
        let folder = first.as_os_str().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(&path).unwrap_or_default();
        for (_, to) in crate_paths(&source) {
            if to != folder && rank(&to).is_some() {
                graph.entry(folder.clone()).or_default().insert(to);
            }
        }
        violations.extend(check(&rel.to_string_lossy(), &folder, &source));
    }
    (graph, violations)
}

/// A cycle in the folder graph, if any (depth-first search).
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut c = path[at..].to_vec();
            c.push(node.to_owned());
            return Some(c);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(c) = visit(node, graph, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn every_import_goes_down_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (graph, violations) = scan(&src);
    assert!(
        graph.len() >= 6,
        "the scan found too few folders: {graph:?}"
    );
    let report: Vec<String> = violations
        .iter()
        .map(|v| format!("{}:{}: {} imports {}", v.file, v.line, v.from, v.to))
        .collect();
    assert!(
        report.is_empty(),
        "imports against the layers:\n{}",
        report.join("\n")
    );
    assert_eq!(cycle(&graph), None, "folders import each other in a cycle");
}

#[test]
fn every_folder_is_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(&src).into_iter().flatten().flatten() {
        if entry.path().is_dir() {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(
                rank(&name).is_some(),
                "folder {name} has no place in LAYERS"
            );
        }
    }
}

#[test]
fn the_checker_sees_upward_sideways_and_root_imports() {
    let src = "use crate::flows::chat;\nuse crate::{platform, notifications::stats};\n\
               let d: crate::Deps; // crate::entry in a comment\nuse mostrador_crate::entry;";
    let found: Vec<String> = check("commerce/x.rs", "commerce", src)
        .into_iter()
        .map(|v| format!("{}:{}", v.line, v.to))
        .collect();
    assert_eq!(found, ["1:flows", "2:notifications", "3:Deps"]);
    let sideways = check(
        "invoicing/x.rs",
        "invoicing",
        "use crate::notifications::send;",
    );
    assert_eq!(sideways.len(), 1);
    assert!(check("entry/x.rs", "entry", src)
        .iter()
        .all(|v| v.to == "Deps"));
}

#[test]
fn the_checker_finds_a_cycle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    assert_eq!(cycle(&graph), None);
    graph.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

/// Lines of production code (before the file's `#[cfg(test)]` module) that spell a table key by
/// hand: a `Key::new`, a query partition or prefix, or a `format!` starting with an upper-case
/// `WORD#` (the shape of every stored key). Keys belong to `platform/schema.rs`, where tests pin them.
fn hand_spelled_keys(file: &str, source: &str) -> Vec<String> {
    let production = source.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = Vec::new();
    for (n, line) in production.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        let spelled = code.contains("Key::new(")
            || ["partition(\"", "prefix(\"", "scan(\"", "format!(\""]
                .iter()
                .any(|call| {
                    code.match_indices(call).any(|(at, _)| {
                        let word: String = code[at + call.len()..]
                            .chars()
                            .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                            .collect();
                        word.len() >= 3
                            && code[at + call.len() + word.len()..].starts_with(['#', '"'])
                    })
                });
        if spelled {
            found.push(format!("{file}:{}: {}", n + 1, line.trim()));
        }
    }
    found
}

#[test]
fn keys_are_spelled_only_in_the_schema() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut found = Vec::new();
    for path in files {
        let rel = path
            .strip_prefix(&src)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        // The schema spells them; the tenant wrapper rebuilds a key under its merchant.
        if rel.ends_with("schema.rs") || rel.ends_with("tenant.rs") || rel == "layers.rs" {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap_or_default();
        found.extend(hand_spelled_keys(&rel, &source));
    }
    assert!(
        found.is_empty(),
        "keys spelled outside platform/schema.rs:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_key_checker_sees_hand_spelled_keys_but_not_messages_or_tests() {
    let src = "let k = Key::new(x, y);\nQuery::partition(\"OUTBOX\");\nlet s = format!(\"CUST#{w}\");\n\
               let e = format!(\"PAC no disponible: {e}\");\nlet t = format!(\"API: {l}\");\n\
               // Key::new(\"A\", \"B\") in a comment\n#[cfg(test)]\nmod tests { Key::new(\"A\", \"B\"); }";
    let found = hand_spelled_keys("x.rs", src);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].starts_with("x.rs:1:"));
    assert!(found[1].starts_with("x.rs:2:"));
    assert!(found[2].starts_with("x.rs:3:"));
}
