//! Helpers of the `tug build` tests: contexts from file lists, builds with plain
//! progress, and which steps came from the cache.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use crate::{TestRoot, stderr, text};

/// Writes `files` (path, content) under `dir`.
pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (p, content) in files {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

/// A context dir in the test's temp dir with `files`.
pub fn context(t: &TestRoot, name: &str, files: &[(&str, &str)]) -> String {
    let dir = t.host_dir(name);
    write_files(&dir, files);
    dir.display().to_string()
}

/// `tug build --progress plain ARGS`.
pub fn build(t: &TestRoot, args: &[&str]) -> Output {
    let mut all = vec!["build", "--progress", "plain"];
    all.extend_from_slice(args);
    t.run(&all)
}

pub fn build_ok(t: &TestRoot, args: &[&str]) -> String {
    let out = build(t, args);
    assert!(out.status.success(), "tug build {args:?}: {}", text(&out));
    stderr(&out)
}

/// From plain progress: each step's instruction text → whether it came from the cache.
pub fn cached_steps(progress: &str) -> BTreeMap<String, bool> {
    let mut names = BTreeMap::new();
    let mut out = BTreeMap::new();
    for line in progress.lines() {
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let (n, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        if let Some(step) = tail.strip_prefix('[') {
            let text = step.split_once("] ").map(|(_, t)| t).unwrap_or("");
            names.insert(n.to_string(), text.to_string());
            out.insert(text.to_string(), false);
        } else if tail == "CACHED"
            && let Some(text) = names.get(n)
        {
            out.insert(text.clone(), true);
        }
    }
    out
}

pub fn config(t: &TestRoot, image: &str) -> serde_json::Value {
    t.inspect_first(&["image", "inspect", image])["Config"].clone()
}
