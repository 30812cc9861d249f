//! Imports run one way, down (ARCHITECTURE.md): the Engine calls the domains, and no code
//! below it names the `Engine`. A domain gets what it needs of the engine handed down
//! (the state root, a store, `container::Ctx`); the Engine's public methods live in
//! `src/engine/`. `scripts/deps.py runtime/src` prints the whole import graph.

use std::path::{Path, PathBuf};

/// The modules below the engine.
const BELOW: &[&str] = &[
    "build",
    "compose",
    "container",
    "image",
    "network",
    "registry",
    "volume",
    "shim",
    "sandbox",
    "snapshot",
    "rootfs",
    "layer",
    "fsutil.rs",
    "digest.rs",
    "duration.rs",
    "defaults.rs",
];

/// Files that still name the Engine, each with the reason (none now).
const LEFT: &[(&str, &str)] = &[];

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            rust_files(&e.unwrap().path(), out);
        }
    } else if p.extension().is_some_and(|x| x == "rs") {
        out.push(p.to_path_buf());
    }
}

/// The code of `text` without its comments (line comments and doc comments).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `code` names the engine's `Engine` type (not `EngineConfig`, not another
/// crate's `Engine` trait such as base64's).
fn names_engine(code: &str) -> bool {
    let code = code.replace("base64::Engine", "");
    code.match_indices("Engine").any(|(i, _)| {
        let before = code[..i].chars().last();
        let after = code[i + "Engine".len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[test]
fn no_module_below_the_engine_names_it() {
    let mut files = Vec::new();
    for m in BELOW {
        rust_files(&src().join(m), &mut files);
    }
    let mut problems = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(src()).unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(f).unwrap();
        if names_engine(&code(&text)) && !LEFT.iter().any(|(l, _)| *l == rel) {
            problems.push(rel);
        }
    }
    assert!(
        problems.is_empty(),
        "these files below the engine name the Engine (move the method to src/engine/ and \
         hand the domain what it needs): {problems:?}"
    );
}

#[test]
fn the_checker_sees_the_engine() {
    assert!(names_engine(&code("use crate::Engine;")));
    assert!(names_engine(&code("impl crate::Engine {")));
    assert!(names_engine(&code("fn f(e: &Engine) {}")));
    assert!(!names_engine(&code("/// See [`Engine::open`].\nfn f() {}")));
    assert!(!names_engine(&code("use crate::EngineConfig;")));
    assert!(!names_engine(&code("use base64::Engine as _;")));
}
