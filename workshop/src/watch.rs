//! `watch`: grades the current exercise on every save of its folder; when it passes,
//! moves on to the next one not yet done. On a terminal, keys: h hint, n next, q quit.

use crate::cli::{CliResult, check, next_hint};
use notify_debouncer_mini::{new_debouncer, notify::RecursiveMode};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};
use tug_workshop::progress::Progress;
use tug_workshop::{Exercise, load_all, repo_dir};

enum Event {
    Saved(Vec<std::path::PathBuf>),
    Key(u8),
}

pub fn watch(start: Option<String>) -> CliResult {
    let all = load_all(&repo_dir()).map_err(|e| e.to_string())?;
    let progress = Progress::load()?;
    let mut at = match start {
        Some(name) => all
            .iter()
            .position(|e| e.name == name)
            .ok_or_else(|| format!("no exercise {name:?}"))?,
        None => all
            .iter()
            .position(|e| progress.get(&e.name).passed != Some(true))
            .unwrap_or(0),
    };
    let (tx, rx) = mpsc::channel();
    let saved = tx.clone();
    let mut debouncer = new_debouncer(
        Duration::from_millis(150),
        move |res: notify_debouncer_mini::DebounceEventResult| {
            if let Ok(events) = res {
                let _ = saved.send(Event::Saved(events.into_iter().map(|e| e.path).collect()));
            }
        },
    )
    .map_err(|e| format!("cannot watch: {e}"))?;
    debouncer
        .watcher()
        .watch(&repo_dir().join("exercises"), RecursiveMode::Recursive)
        .map_err(|e| format!("cannot watch exercises/: {e}"))?;
    let _raw = keys(tx);
    let interactive = _raw.is_some();

    grade_now(&all[at], interactive)?;
    let mut seen = fingerprint(&all[at].dir);
    loop {
        if crate::interrupted() {
            return Ok(130);
        }
        let event = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(e) => e,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(0),
        };
        match event {
            Event::Saved(paths) => {
                let dir = &all[at].dir;
                // Reading the files (the grader's own copy) makes events too: only a
                // change of a file's size or time counts as a save.
                if !paths.iter().any(|p| p.starts_with(dir)) || fingerprint(dir) == seen {
                    continue;
                }
                seen = fingerprint(dir);
                if grade_now(&all[at], interactive)? {
                    match next_open(&all, at) {
                        Some(n) => {
                            at = n;
                            println!(
                                "\n→ on to {}: exercises/{}/README.md",
                                all[at].name, all[at].name
                            );
                            grade_now(&all[at], interactive)?;
                            seen = fingerprint(&all[at].dir);
                        }
                        None => {
                            println!("\nEvery exercise passes. Well done!");
                            return Ok(0);
                        }
                    }
                }
            }
            Event::Key(b'h') => next_hint(&all[at], &mut Progress::load()?)?,
            Event::Key(b'n') => {
                at = (at + 1) % all.len();
                println!("\n→ {}: exercises/{}/README.md", all[at].name, all[at].name);
                grade_now(&all[at], interactive)?;
                seen = fingerprint(&all[at].dir);
            }
            Event::Key(b'q') => return Ok(0),
            Event::Key(_) => {}
        }
    }
}

/// Every file under `dir` with its size and modification time, sorted.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                out.push((entry.path(), meta.len(), meta.modified().ok()));
            }
        }
    }
    out.sort();
    out
}

fn grade_now(ex: &Exercise, interactive: bool) -> Result<bool, String> {
    println!("\n── {} · {} ── grading…", ex.name, ex.title);
    // No hint after a failure here: `h` asks for one.
    let ok = check(&ex.name, false)?;
    if interactive {
        println!(
            "(save a file of exercises/{}/ to re-grade · h hint · n next · q quit)",
            ex.name
        );
    }
    Ok(ok)
}

/// The next exercise after `at` that has not passed yet.
fn next_open(all: &[Exercise], at: usize) -> Option<usize> {
    let progress = Progress::load().ok()?;
    (1..all.len())
        .map(|i| (at + i) % all.len())
        .find(|&i| progress.get(&all[i].name).passed != Some(true))
}

/// When stdin is a terminal: one key at a time (no line editing, no echo) sent as
/// Event::Key; the guard restores the terminal. None otherwise (then only saves count).
fn keys(tx: mpsc::Sender<Event>) -> Option<RawGuard> {
    // SAFETY: isatty and tcgetattr only read the state of fd 0 into a local struct.
    let mut term: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::isatty(0) } != 1 || unsafe { libc::tcgetattr(0, &mut term) } != 0 {
        return None;
    }
    let saved = term;
    term.c_lflag &= !(libc::ICANON | libc::ECHO);
    // SAFETY: sets fd 0's attributes from a termios that tcgetattr filled.
    unsafe { libc::tcsetattr(0, libc::TCSANOW, &term) };
    std::thread::spawn(move || {
        let mut b = [0u8; 1];
        while std::io::stdin().read(&mut b).is_ok_and(|n| n == 1) {
            if tx.send(Event::Key(b[0])).is_err() {
                break;
            }
        }
    });
    Some(RawGuard(saved))
}

struct RawGuard(libc::termios);

impl Drop for RawGuard {
    fn drop(&mut self) {
        // SAFETY: restores the attributes saved from fd 0.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &self.0) };
    }
}
