//! The dev check (what CI runs): every exercise fails as handed out and passes with its
//! solution, has at least two hints, and has its task included in a chapter of the book.
//! Grades run one after the other (some exercises publish fixed host ports); the whole
//! set's time is printed and must stay under two minutes.

use std::time::{Duration, Instant};
use tug_workshop::{Answer, grade, load_all, repo_dir};

#[test]
fn every_exercise_fails_as_handed_out_and_passes_solved() {
    let repo = repo_dir();
    let all = load_all(&repo).expect("load the exercises");
    assert!(!all.is_empty(), "no exercise under exercises/");
    let only = std::env::var("WORKSHOP_ONLY").ok();
    // A rust-test exercise compiles tug_testkit once (minutes), then only the answer.
    let cold = !std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| repo.join("target"), std::path::PathBuf::from)
        .join("workshop-rust-test")
        .exists();
    let started = Instant::now();
    let mut problems = Vec::new();
    for ex in all
        .iter()
        .filter(|e| only.as_deref().is_none_or(|o| e.name == o))
    {
        if ex.hints.len() < 2 {
            problems.push(format!(
                "{}: {} hint(s), at least 2 wanted",
                ex.name,
                ex.hints.len()
            ));
        }
        let handed_out = grade(ex, &Answer::Learner).expect("grade as handed out");
        match &handed_out.failure {
            None => problems.push(format!("{}: passes as handed out", ex.name)),
            Some(f) if !f.hint_after => problems.push(format!(
                "{}: could not grade: {} / {}",
                ex.name, f.expected, f.got
            )),
            Some(_) => {}
        }
        let solved = grade(ex, &Answer::Solution).expect("grade the solution");
        if let Some(f) = &solved.failure {
            problems.push(format!(
                "{}: the solution fails: expected {}\n  but {}",
                ex.name, f.expected, f.got
            ));
        }
        let mark = |passed: bool| if passed { '✓' } else { '✗' };
        println!(
            "{}: handed out {} in {:.1} s, solved {} in {:.1} s",
            ex.name,
            mark(handed_out.failure.is_none()),
            handed_out.took.as_secs_f64(),
            mark(solved.failure.is_none()),
            solved.took.as_secs_f64()
        );
    }
    let took = started.elapsed();
    println!(
        "the whole set graded (twice) in {:.1} s",
        took.as_secs_f64()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    if cold {
        println!(
            "(tug_testkit was compiled for the rust-test exercises: not timed against 2 minutes)"
        );
    } else {
        assert!(
            took < Duration::from_secs(120),
            "grading took {took:?}, over 2 minutes"
        );
    }
}

/// Every exercise's README is included by some file of book/src
/// (`{{#include ../../exercises/NAME/README.md}}`, with or without a line range). An
/// exercise whose chapter file is not in this tree yet (the book is written beside the
/// exercises) is let through with a note; once the chapter exists, it must include it.
#[test]
fn every_exercise_is_in_the_book() {
    let repo = repo_dir();
    let src = repo.join("book/src");
    let mut book = String::new();
    for entry in std::fs::read_dir(&src).expect("book/src").flatten() {
        book.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    let mut missing = Vec::new();
    for ex in load_all(&repo).expect("load the exercises") {
        if book.contains(&format!(
            "{{{{#include ../../exercises/{}/README.md",
            ex.name
        )) {
            continue;
        }
        if src.join(&ex.chapter).exists() {
            missing.push(format!("{} (chapter {})", ex.name, ex.chapter));
        } else {
            println!(
                "note: {}: its chapter book/src/{} is not written yet",
                ex.name, ex.chapter
            );
        }
    }
    assert!(
        missing.is_empty(),
        "not included in their chapters: {}",
        missing.join(", ")
    );
}
