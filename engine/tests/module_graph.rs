//! The engine's modules form layers: no two of them import each other, directly or through
//! others. This test reads `engine/src`, finds every `crate::…`, `super::…` and child-module
//! path in code (comments excluded), and fails on any cycle, naming it.
//!
//! A node is a top-level module (`arena`, `flashcache`, `dm_core`, …), or one level deeper
//! inside `services/` and `target/` (`services::dm_io`, `target::linear`, …), whose files
//! are the layers of those folders. Files of one node (a state machine's `impl` blocks split
//! by concept) may use each other freely.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Folders whose sub-modules are nodes of their own.
const LAYERED_FOLDERS: [&str; 2] = ["services", "target"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("engine/src is readable")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file (`services/dm_io/complete.rs` → `["services", "dm_io", "complete"]`).
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The node a module path belongs to.
fn node_of(path: &[String]) -> String {
    match path {
        [] => "crate".to_string(),
        [first, second, ..] if LAYERED_FOLDERS.contains(&first.as_str()) => {
            format!("{first}::{second}")
        }
        [first, ..] => first.clone(),
    }
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Every path in `code` starting with `prefix` (e.g. `crate::`), as its segments after it.
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before_ok = at == 0 || !is_path_char(rest[..at].chars().last().unwrap_or(' '));
        let tail = &rest[at + prefix.len()..];
        let end = tail.find(|c: char| !is_path_char(c)).unwrap_or(tail.len());
        if before_ok {
            out.push(tail[..end].split("::").filter(|s| !s.is_empty()).collect());
        }
        rest = &tail[end..];
    }
    out
}

fn module_graph() -> BTreeMap<String, BTreeMap<String, String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<Vec<String>> = files
        .iter()
        .map(|f| module_path(f.strip_prefix(&src).expect("under src")))
        .collect();
    // Resolves the longest prefix of `segments` that names a module.
    let resolve = |segments: &[String]| -> String {
        let mut best: &[String] = &[];
        for len in 0..=segments.len() {
            if modules.contains(&segments[..len]) {
                best = &segments[..len];
            }
        }
        node_of(best)
    };
    // edges[from][to] = one file:line that makes the edge, for the failure message.
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src");
        let here = module_path(relative);
        // A `mod.rs` is its module; another file's `super` is its folder.
        let parent: Vec<String> = if relative.ends_with("mod.rs") || relative.ends_with("lib.rs") {
            here.iter()
                .take(here.len().saturating_sub(1))
                .cloned()
                .collect()
        } else {
            here.iter().take(here.len() - 1).cloned().collect()
        };
        let from = node_of(&here);
        let text = std::fs::read_to_string(file).expect("source is readable");
        let children: Vec<&str> = text
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                let l = l
                    .strip_prefix("pub(crate) ")
                    .or_else(|| l.strip_prefix("pub "))
                    .unwrap_or(l);
                l.strip_prefix("mod ")?.strip_suffix(';')
            })
            .collect();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let mut targets: Vec<Vec<String>> = Vec::new();
            for segments in paths_after(code, "crate::") {
                targets.push(segments.iter().map(|s| s.to_string()).collect());
            }
            for segments in paths_after(code, "super::") {
                let mut path = parent.clone();
                path.extend(segments.iter().map(|s| s.to_string()));
                targets.push(path);
            }
            for child in &children {
                for segments in paths_after(code, &format!("{child}::")) {
                    let mut path = here.clone();
                    path.push(child.to_string());
                    path.extend(segments.iter().map(|s| s.to_string()));
                    targets.push(path);
                }
            }
            for target in targets {
                let to = resolve(&target);
                if to != from && to != "crate" && from != "crate" {
                    edges
                        .entry(from.clone())
                        .or_default()
                        .entry(to)
                        .or_insert_with(|| format!("{}:{}", relative.display(), number + 1));
                }
            }
        }
    }
    edges
}

/// A cycle through `start`, if any (depth-first, deterministic order).
fn find_cycle(
    edges: &BTreeMap<String, BTreeMap<String, String>>,
    node: &str,
    stack: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(at) = stack.iter().position(|n| n == node) {
        let mut cycle = stack[at..].to_vec();
        cycle.push(node.to_string());
        return Some(cycle);
    }
    if done.contains(node) {
        return None;
    }
    stack.push(node.to_string());
    for next in edges.get(node).into_iter().flat_map(|m| m.keys()) {
        if let Some(cycle) = find_cycle(edges, next, stack, done) {
            return Some(cycle);
        }
    }
    stack.pop();
    done.insert(node.to_string());
    None
}

#[test]
fn engine_modules_import_each_other_in_one_direction_only() {
    let edges = module_graph();
    assert!(
        edges.contains_key("services::dm_io") && edges.contains_key("engine"),
        "the scan found the engine's modules: {edges:?}"
    );
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(cycle) = find_cycle(&edges, node, &mut Vec::new(), &mut done) {
            let steps: Vec<String> = cycle
                .windows(2)
                .map(|w| format!("{} -> {} ({})", w[0], w[1], edges[&w[0]][&w[1]]))
                .collect();
            panic!("module cycle:\n  {}", steps.join("\n  "));
        }
    }
}

#[test]
fn the_scan_sees_a_cycle_when_there_is_one() {
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    edges
        .entry("a".into())
        .or_default()
        .insert("b".into(), "a.rs:1".into());
    edges
        .entry("b".into())
        .or_default()
        .insert("a".into(), "b.rs:1".into());
    let cycle = find_cycle(&edges, "a", &mut Vec::new(), &mut BTreeSet::new());
    assert_eq!(cycle, Some(vec!["a".into(), "b".into(), "a".into()]));
}
