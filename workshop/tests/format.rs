//! exercise.toml and the progress file: what is read, and what is refused with a clear
//! error (no engine needed).

use tug_workshop::progress::Progress;
use tug_workshop::{GradeKind, load_all, load_one, repo_dir};

fn exercise_dir(toml: &str, folder: &str) -> tempfile::TempDir {
    let repo = tempfile::tempdir().expect("tempdir");
    let dir = repo.path().join("exercises").join(folder);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("exercise.toml"), toml).expect("write");
    repo
}

const GOOD: &str = r#"
name = "01-x"
title = "X"
chapter = "run.md"
files = ["commands.sh"]
solution = "workshop/solutions/01-x"
time_budget = 5
[grade]
kind = "commands"
max_bytes = 7
[[hints]]
text = "one"
[[hints]]
text = "two"
"#;

#[test]
fn an_exercise_toml_is_read_with_its_defaults_and_parameters() {
    let repo = exercise_dir(GOOD, "01-x");
    let ex = load_one(repo.path(), "01-x").expect("load");
    assert_eq!(ex.grade.kind, GradeKind::Commands);
    assert_eq!(ex.images, vec!["busybox:latest".to_string()]);
    assert_eq!(ex.grade.params["max_bytes"].as_integer(), Some(7));
    assert_eq!(ex.hints.len(), 2);
}

#[test]
fn a_name_that_is_not_the_folders_is_refused() {
    let repo = exercise_dir(GOOD, "02-y");
    let err = load_all(repo.path()).expect_err("refused").to_string();
    assert!(err.contains("is not the folder's name"), "{err}");
}

#[test]
fn an_unknown_field_is_refused_with_the_file_named() {
    let repo = exercise_dir(&GOOD.replace("time_budget", "time_budgt"), "01-x");
    let err = load_all(repo.path()).expect_err("refused").to_string();
    assert!(
        err.contains("exercise.toml") && err.contains("time_budgt"),
        "{err}"
    );
}

#[test]
fn an_unknown_exercise_lists_the_known_ones() {
    let err = load_one(&repo_dir(), "99-nope")
        .expect_err("none")
        .to_string();
    assert!(err.contains("01-run"), "{err}");
}

#[test]
fn progress_is_kept_across_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state/progress.json");
    // SAFETY: no other test of this binary reads the environment.
    unsafe { std::env::set_var("TUG_WORKSHOP_STATE", &path) };
    let mut p = Progress::load().expect("empty");
    p.entry("01-run").passed = Some(true);
    p.entry("02-detached").hints_seen = 2;
    p.save().expect("save");
    let again = Progress::load().expect("load");
    assert_eq!(again.get("01-run").passed, Some(true));
    assert_eq!(again.get("02-detached").hints_seen, 2);
    std::fs::write(&path, "not json").expect("write");
    assert!(
        Progress::load().is_err(),
        "a broken file is an error, not overwritten"
    );
}

/// Every exercise's README names its chapter (the file exercise.toml names) on line 3,
/// and its check command names the exercise itself; every file the learner edits exists,
/// and so does the solution's folder.
#[test]
fn every_readme_and_file_of_every_exercise_is_where_it_says() {
    let repo = repo_dir();
    for ex in load_all(&repo).expect("load the exercises") {
        let readme = std::fs::read_to_string(ex.dir.join("README.md")).expect("README.md");
        let third = readme.lines().nth(2).unwrap_or("");
        assert!(
            third.starts_with("Chapter: [") && third.contains(&format!("book/src/{})", ex.chapter)),
            "{}: line 3 of README.md names another chapter than {}: {third}",
            ex.name,
            ex.chapter
        );
        assert!(
            readme.contains(&format!("tug-workshop -- check {}\n", ex.name)),
            "{}: README.md has no `cargo run -p tug-workshop -- check {}`",
            ex.name,
            ex.name
        );
        for f in &ex.files {
            assert!(ex.dir.join(f).is_file(), "{}: {f} is missing", ex.name);
        }
        assert!(
            repo.join(&ex.solution).is_dir(),
            "{}: no solution folder",
            ex.name
        );
    }
}
