//! The faces (the CLI in `src/cli`, the testkit library in `../testkit/src`, the workshop
//! grader in `../workshop/src`) reach the engine only through its public API: the
//! crate-root items below, the [`entry`] points, and the types re-exported at the root of
//! a domain module (`tug::container::X`), never a domain's submodule
//! (`tug::container::record::X`) nor a hidden module (`layer`).
//! Most internals are `pub(crate)`, so the compiler refuses them; this test keeps the
//! rest (submodules still public for the package's own tests) out of the faces.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The crate root's public API for a face.
const ROOT: &[&str] = &[
    "Engine",
    "EngineConfig",
    "Error",
    "Result",
    "StorageDriver",
    "Digest",
    "ImageSummary",
    "DiskUsage",
    "HostInfo",
    "Info",
    // The one printer of an error's chain (`what: why: why`), and the parsers' error.
    "Report",
    "report",
    "InvalidValue",
    // Docker's words for a duration (go-units), for every face's "5 minutes ago".
    "human_duration",
    "entry",
    "container",
    "image",
    "network",
    "volume",
    "registry",
    "build",
    "compose",
    "events",
];
/// The domains whose root re-exports the types of the Engine's methods.
const DOMAINS: &[&str] = &[
    "container",
    "image",
    "network",
    "volume",
    "registry",
    "build",
    "compose",
    "events",
];

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The names of the submodules a domain declares (`pub mod x;`, `mod x;`, ...).
fn submodules(domain: &str) -> BTreeSet<String> {
    let dir = manifest().join("src").join(domain);
    // A domain of one file (`events.rs`) has no submodules.
    let Ok(text) = std::fs::read_to_string(dir.join("mod.rs")) else {
        return BTreeSet::new();
    };
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let l = line.trim_start();
        let l = l
            .strip_prefix("pub ")
            .or_else(|| l.strip_prefix("pub(crate) "))
            .unwrap_or(l);
        if let Some(rest) = l.strip_prefix("mod ") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    // A function re-exported at the root under its module's name (`pub use load::{load,
    // ..}`) is the root's item, not the submodule.
    for item in text.split("pub use ").skip(1) {
        let item = &item[..item.find(';').unwrap_or(item.len())];
        for name in item.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
            if out.contains(name) && item.matches(name).count() > 1 {
                out.remove(name);
            }
        }
    }
    out
}

/// Each path a file names from `tug`, with `{a, b}` groups expanded one level.
fn tug_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("tug::") {
        let before = rest[..i].chars().last();
        rest = &rest[i..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let path = rest[..end].trim_end_matches(':').to_string();
        let after = &rest[end..];
        rest = &rest[end..];
        // `tug_testkit::` or `my_tug::` are other crates.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if after.starts_with('{') && path.matches("::").count() >= 1 {
            let close = after.find('}').unwrap_or(after.len());
            for item in after[1..close].split(',') {
                let item = item.split_whitespace().next().unwrap_or("");
                if !item.is_empty() && item != "self" {
                    out.push(format!("{path}::{item}"));
                }
            }
        }
        out.push(path);
    }
    out
}

/// Why `path` is outside the public API, or `None`.
fn violation(path: &str, modules: &[(&str, BTreeSet<String>)]) -> Option<String> {
    let segs: Vec<&str> = path.split("::").collect();
    let first = segs.get(1)?;
    if !ROOT.contains(first) {
        return Some(format!("`tug::{first}` is not part of the public API"));
    }
    if let (Some((_, subs)), Some(second)) = (modules.iter().find(|(d, _)| d == first), segs.get(2))
        && subs.contains(*second)
    {
        return Some(format!(
            "`tug::{first}::{second}` is a submodule: use the type re-exported as `tug::{first}::X`"
        ));
    }
    None
}

/// Aliased submodule paths (`use tug::container; container::record::Status`).
fn aliased_violations(text: &str, modules: &[(&str, BTreeSet<String>)]) -> Vec<String> {
    let mut out = Vec::new();
    for (domain, subs) in modules {
        let aliases: &[&str] = if *domain == "image" {
            &["image", "img"]
        } else {
            &[domain]
        };
        for alias in aliases {
            let pat = format!("{alias}::");
            let mut at = 0;
            while let Some(i) = text[at..].find(&pat) {
                let start = at + i;
                at = start + pat.len();
                let prev = text[..start].chars().last();
                if prev.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    continue; // `tug::container::` is checked above; `super::container::` is the CLI's.
                }
                let seg: String = text[at..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if subs.contains(&seg) && text[at + seg.len()..].starts_with("::") {
                    out.push(format!(
                        "`{alias}::{seg}::` reaches a submodule of `tug::{domain}`"
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn faces_use_only_the_public_api() {
    let modules: Vec<(&str, BTreeSet<String>)> =
        DOMAINS.iter().map(|d| (*d, submodules(d))).collect();
    let mut files = Vec::new();
    rust_files(&manifest().join("src/cli"), &mut files);
    files.push(manifest().join("src/main.rs"));
    rust_files(&manifest().join("../testkit/src"), &mut files);
    // The workshop grader is a face too (not built yet: this keeps it to the public API
    // from its first line).
    rust_files(&manifest().join("../workshop/src"), &mut files);
    let mut problems = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let is_cli = f.starts_with(manifest().join("src"));
        for p in tug_paths(&text) {
            if let Some(why) = violation(&p, &modules) {
                problems.push(format!("{}: {why}", f.display()));
            }
        }
        if is_cli {
            for why in aliased_violations(&text, &modules) {
                problems.push(format!("{}: {why}", f.display()));
            }
        }
        // The CLI is the binary's: it names the library `tug::`, never `crate::` (which
        // would mean it went back into the library).
        if is_cli && f.ends_with("main.rs") {
            assert!(text.contains("mod cli;"), "main.rs declares the cli module");
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_submodule_paths() {
    let modules: Vec<(&str, BTreeSet<String>)> =
        DOMAINS.iter().map(|d| (*d, submodules(d))).collect();
    let bad = "use tug::container::record::Status;\nuse tug::network::{store::X, Network};\nuse tug::snapshot::Rootfs;";
    let found: Vec<String> = tug_paths(bad)
        .iter()
        .filter_map(|p| violation(p, &modules))
        .collect();
    assert_eq!(found.len(), 3, "{found:?}");
    let good = "use tug::container::{self, Status};\nuse tug::Engine;\nuse tug_testkit::x;";
    assert!(
        tug_paths(good)
            .iter()
            .all(|p| violation(p, &modules).is_none())
    );
    assert_eq!(
        aliased_violations("let s = container::record::Status::Exited;", &modules).len(),
        1
    );
    assert!(aliased_violations("super::container::run(e, a)", &modules).is_empty());
}
