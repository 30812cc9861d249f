//! The commands and what they print.

use std::process::Command;
use tug_workshop::progress::Progress;
use tug_workshop::{Answer, Exercise, Report, grade, load_all, load_one, repo_dir};

#[derive(clap::Parser)]
#[command(
    name = "tug-workshop",
    about = "The tug workshop: graded exercises on containers"
)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// Every exercise: ✓ passed, ✗ failed, · not started
    List,
    /// Grade an exercise: what passed, what failed and why, the next hint
    Check { name: String },
    /// The next hint of an exercise (one at a time, most general first)
    Hint { name: String },
    /// Put the exercise's files back as they were handed out (from git)
    Reset { name: String },
    /// Re-grade on every save; on to the next exercise when green (h hint, n next, q quit)
    Watch { name: Option<String> },
}

pub type CliResult = Result<i32, String>;

pub fn run(args: Args) -> CliResult {
    if matches!(args.cmd, Cmd::Check { .. } | Cmd::Watch { .. }) {
        ensure_tug()?;
    }
    match args.cmd {
        Cmd::List => list(),
        Cmd::Check { name } => check(&name, true).map(|ok| if ok { 0 } else { 1 }),
        Cmd::Hint { name } => hint(&name).map(|_| 0),
        Cmd::Reset { name } => reset(&name).map(|_| 0),
        Cmd::Watch { name } => crate::watch::watch(name),
    }
}

/// Under `cargo run` (which sets $CARGO), a missing `tug` binary is built first, so that
/// `cargo run -p tug-workshop -- check 01-run` works on a fresh clone.
fn ensure_tug() -> Result<(), String> {
    if tug_workshop::find_tug_binary().is_ok() {
        return Ok(());
    }
    let Some(cargo) = std::env::var_os("CARGO") else {
        return tug_workshop::find_tug_binary()
            .map(drop)
            .map_err(|e| e.to_string());
    };
    eprintln!("tug-workshop: building tug first (cargo build -p tug)…");
    let release = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.ends_with("release")))
        .unwrap_or(false);
    let mut build = Command::new(cargo);
    build.args(["build", "-p", "tug"]).current_dir(repo_dir());
    if release {
        build.arg("--release");
    }
    let status = build
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("cargo build -p tug failed".into());
    }
    tug_workshop::find_tug_binary()
        .map(drop)
        .map_err(|e| e.to_string())
}

fn list() -> CliResult {
    let progress = Progress::load()?;
    let all = load_all(&repo_dir()).map_err(|e| e.to_string())?;
    for ex in &all {
        let mark = match progress.get(&ex.name).passed {
            Some(true) => "✓",
            Some(false) => "✗",
            None => "·",
        };
        println!(
            "{mark} {:<18} {:<48} book/src/{}",
            ex.name, ex.title, ex.chapter
        );
    }
    let done = all
        .iter()
        .filter(|e| progress.get(&e.name).passed == Some(true))
        .count();
    println!("\n{done}/{} done.", all.len());
    if let Some(next) = all
        .iter()
        .find(|e| progress.get(&e.name).passed != Some(true))
    {
        println!(
            "Next: {n}, its task in exercises/{n}/README.md; grade it with `tug-workshop check {n}`.",
            n = next.name
        );
    }
    Ok(0)
}

/// Grades `name`, prints the report, keeps the result, and after a failure shows the
/// next hint when `hint`; whether it passed.
pub fn check(name: &str, hint: bool) -> Result<bool, String> {
    let ex = load_one(&repo_dir(), name).map_err(|e| e.to_string())?;
    let report = grade(&ex, &Answer::Learner).map_err(|e| e.to_string())?;
    print_report(&ex, &report);
    let mut progress = Progress::load()?;
    progress.entry(name).passed = Some(report.ok());
    progress.save()?;
    if let Some(f) = &report.failure
        && f.hint_after
        && hint
    {
        next_hint(&ex, &mut progress)?;
    }
    Ok(report.ok())
}

fn print_report(ex: &Exercise, report: &Report) {
    for p in &report.passed {
        println!("  ✓ {p}");
    }
    match &report.failure {
        None => println!("✓ {}: passed ({:.1} s)", ex.name, report.took.as_secs_f64()),
        Some(f) => {
            println!("✗ {}: expected {}", ex.name, f.expected);
            println!("  but {}", f.got);
            println!("  (the task: exercises/{}/README.md)", ex.name);
        }
    }
}

fn hint(name: &str) -> Result<(), String> {
    let ex = load_one(&repo_dir(), name).map_err(|e| e.to_string())?;
    let mut progress = Progress::load()?;
    next_hint(&ex, &mut progress)
}

/// Shows the next unseen hint (or says there are no more) and remembers it.
pub fn next_hint(ex: &Exercise, progress: &mut Progress) -> Result<(), String> {
    let seen = progress.get(&ex.name).hints_seen;
    match ex.hints.get(seen) {
        Some(h) => {
            println!("hint {}/{}: {}", seen + 1, ex.hints.len(), h.text);
            progress.entry(&ex.name).hints_seen = seen + 1;
            progress.save()
        }
        None => {
            println!(
                "no more hints ({} shown); the solution is in {}",
                ex.hints.len(),
                ex.solution.display()
            );
            Ok(())
        }
    }
}

/// `git checkout HEAD -- <files>`: the handed-out files are the ones the repository holds.
fn reset(name: &str) -> Result<(), String> {
    let repo = repo_dir();
    let ex = load_one(&repo, name).map_err(|e| e.to_string())?;
    let rel = ex.dir.strip_prefix(&repo).unwrap_or(&ex.dir).to_path_buf();
    let files: Vec<String> = ex
        .files
        .iter()
        .map(|f| rel.join(f).to_string_lossy().into_owned())
        .collect();
    let status = Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args(["checkout", "HEAD", "--"])
        .args(&files)
        .status()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !status.success() {
        return Err(format!("git checkout of {} failed", files.join(" ")));
    }
    let mut progress = Progress::load()?;
    progress.exercises.remove(name);
    progress.save()?;
    println!("{name}: {} as handed out", files.join(", "));
    Ok(())
}
