//! The learner's commands that need no engine: list, hint (one at a time, remembered),
//! and a clear error for an unknown exercise.

use std::process::Command;

fn workshop(state: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tug-workshop"))
        .args(args)
        .env("TUG_WORKSHOP_STATE", state)
        .output()
        .expect("run tug-workshop");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn hints_come_one_at_a_time_and_are_remembered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("progress.json");
    let (code, out, _) = workshop(&state, &["hint", "01-run"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("hint 1/3: "), "{out}");
    let (_, out, _) = workshop(&state, &["hint", "01-run"]);
    assert!(out.starts_with("hint 2/3: "), "{out}");
    let (_, out, _) = workshop(&state, &["hint", "02-detached"]);
    assert!(
        out.starts_with("hint 1/3: "),
        "another exercise has its own ladder: {out}"
    );
}

#[test]
fn list_shows_every_exercise_not_started_and_the_next_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, _) = workshop(&dir.path().join("p.json"), &["list"]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.starts_with("· 01-run ")), "{out}");
    assert!(out.contains("Next: 01-run"), "{out}");
}

#[test]
fn an_unknown_exercise_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, _, err) = workshop(&dir.path().join("p.json"), &["hint", "99-nope"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no exercise \"99-nope\"") && err.contains("01-run"),
        "{err}"
    );
}
