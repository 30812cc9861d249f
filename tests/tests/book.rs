//! The book's transcripts, run on tug: every ```console block of every `book/src/*.md` is
//! executed and its output compared with what the book shows, so the book cannot drift
//! from the tool.
//!
//! The format of a block:
//! - a line starting with `$ ` is a command; a line ending with `\` continues it on the
//!   next line, and a heredoc (`<<'EOF'` … `EOF`) belongs to it;
//! - the lines after a command, up to the next `$ `, are its expected output (stdout and
//!   stderr together, as a terminal shows them). Trailing spaces and trailing empty lines
//!   are ignored; a run of two or more spaces matches any run of spaces (table columns
//!   move when a value is longer); placeholders match what varies between runs: `[ID]`
//!   hex ids (short or long), `[PORT]` a port, `[IP]` an address, `[TIME]` a duration,
//!   a date, "3 seconds ago", `[NAME]` a name tug made up (`brave_turing`), `[PID]` a
//!   process id, `[NUM]` a number (`0.25`), `[SIZE]` a size (`404KiB`, `2.1MB`), `[PATH]`
//!   an absolute path (`/var/lib/tug`); a line `...` alone matches any lines (none too);
//! - the exit code is not checked: a block shows it with `echo $?` when it matters;
//! - a step that fetches a URL from the host (`curl`, `wget`, `busybox wget`, `tug exec
//!   NAME wget`) is first repeated, unseen, until it succeeds or [`READY_LIMIT`] passes: a
//!   server that `tug run -d` started may not listen yet when the next command comes,
//!   which a person typing never sees but a script does. The step then runs as shown.
//!
//! Each block runs in one `bash` session of its own, in a fresh state root holding
//! `busybox`, with `tug` first on PATH and TUG_ROOT/TUG_RUN set. The working directory is
//! one per chapter, so files made by one block are there for the next. An HTML comment
//! right before a block changes that:
//! - `<!-- transcript: needs=debian -->` also makes `debian:bookworm-slim` in the root;
//! - `<!-- transcript: continues -->` keeps the previous block's state root (its images,
//!   containers and volumes; not its shell variables);
//! - `<!-- transcript: skip reason="..." -->` does not run the block (the reason is printed);
//! - `<!-- transcript: setup` + shell lines + `-->` runs those lines first, unseen.
//!
//! Before any other fenced block, `<!-- transcript: file=PATH -->` writes the block's text
//! to PATH in the chapter's working directory (a Dockerfile a console block builds); all
//! of a chapter's files are written before its first block runs, so give each section a
//! folder of its own (and `cd` there in a setup).
//!
//! When the next block does not continue a block, everything it started goes: what is
//! left of its shell's process group (a registry it started in the background), its
//! containers, networks and volumes through tug, then the root.
//!
//! Run it with `cargo build -p tug && cargo nextest run -p tug-e2e --test book`;
//! `BOOK_CHAPTER=run.md` runs one chapter. The parsing and the matcher are in
//! `tests/src/transcript.rs`.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tug_e2e::transcript::{Item, Step, lines_match, parse_chapter, trim_trailing_empty};
use tug_e2e::{TestRoot, repo_dir, tug_bin};

/// How long one block may run before it is killed and reported.
const BLOCK_LIMIT: Duration = Duration::from_secs(240);

/// How long a step that fetches a URL waits, unseen, for its server to answer.
const READY_LIMIT: Duration = Duration::from_secs(15);

/// Whether a step fetches a URL from a server a block may just have started (see the
/// module's doc): its command starts with a web client, on the host or by `tug exec`.
fn fetches_a_url(command: &str) -> bool {
    let words: Vec<&str> = command.split_whitespace().collect();
    let client = match words.as_slice() {
        ["tug", "exec", name, rest @ ..] if !name.starts_with('-') => rest,
        w => w,
    };
    let client = match client {
        ["busybox", rest @ ..] => rest,
        c => c,
    };
    matches!(client.first(), Some(&"curl") | Some(&"wget")) && command.contains("http://")
}

/// The marker printed between commands, to cut the session's output apart.
fn marker(i: usize) -> String {
    format!("@@tug-book-transcript {i}@@\n")
}

/// Runs a block's commands in one bash session and returns each command's output, or
/// what went wrong.
fn run_session(
    t: &TestRoot,
    workdir: &Path,
    bindir: &Path,
    setup: &str,
    steps: &[Step],
    groups: &mut Vec<i32>,
) -> Result<Vec<String>, String> {
    let mut script = String::from("exec 2>&1\n");
    if !setup.is_empty() {
        script.push_str(&format!(
            "{{\n{setup}\n}} > .transcript-setup.log 2>&1 || {{ echo 'setup failed:'; cat .transcript-setup.log; }}\nrm -f .transcript-setup.log\n"
        ));
    }
    // The marker keeps `$?`, so that a step `echo $?` shows the code of the one before.
    let mark = |i: usize| format!("__rc=$?; printf %s '{}'; (exit $__rc)\n", marker(i));
    for (i, s) in steps.iter().enumerate() {
        script.push_str(&mark(i));
        if fetches_a_url(&s.command) && !s.command.contains('\n') {
            script.push_str(&format!(
                "__deadline=$((SECONDS + {})); until {{ {}\n}} > /dev/null 2>&1 || [ $SECONDS -ge $__deadline ]; do sleep 0.05; done\n",
                READY_LIMIT.as_secs(),
                s.command
            ));
        }
        script.push_str(&s.command);
        script.push('\n');
    }
    script.push_str(&mark(steps.len()));
    let path = std::env::var("PATH").unwrap_or_default();
    // The output goes to a file, not a pipe: a process the block leaves in the background
    // (a registry) keeps running for the blocks that continue this one, and must not
    // hold up the reading.
    let out_path = t.path().join("transcript.out");
    let out_file = std::fs::File::create(&out_path).map_err(|e| format!("output file: {e}"))?;
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(workdir)
        .envs(t.envs())
        .env("PATH", format!("{}:{path}", bindir.display()))
        .stdin(Stdio::null())
        .stdout(out_file)
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("spawn bash: {e}"))?;
    let pgid = child.id() as i32;
    groups.push(pgid);
    let start = Instant::now();
    let mut timed_out = false;
    loop {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break;
        }
        if start.elapsed() > BLOCK_LIMIT {
            timed_out = true;
            kill_group(pgid);
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = std::fs::read(&out_path).map_err(|e| format!("read the output: {e}"))?;
    let out = String::from_utf8_lossy(&out).into_owned();
    let mut outputs = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let (a, b) = (marker(i), marker(i + 1));
        let Some(from) = out.find(&a).map(|p| p + a.len()) else {
            return Err(format!("the session ended early: {out}"));
        };
        let Some(to) = out[from..].find(&b).map(|p| p + from) else {
            let why = if timed_out {
                format!("timed out after {BLOCK_LIMIT:?}")
            } else {
                "the shell exited".to_string()
            };
            return Err(format!(
                "{why} in the command at line {}:\n{}\n--- its output so far:\n{}",
                step.line,
                step.command,
                &out[from..]
            ));
        };
        outputs.push(out[from..to].to_string());
    }
    Ok(outputs)
}

/// SIGKILL to every process of a session's process group (the containers' shims are in
/// sessions of their own, and go with `tug rm -f`).
fn kill_group(pgid: i32) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Removes what a block left in its root that would outlive the root's directory: the
/// containers (their processes and mounts), then networks (bridges and firewall rules)
/// and volumes.
fn clean_root(t: &TestRoot, groups: &mut Vec<i32>) {
    for g in groups.drain(..) {
        kill_group(g);
    }
    let tug = |args: &[&str]| {
        let _ = t
            .tug()
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    };
    let ids = t.run(&["ps", "-aq"]);
    let ids: Vec<String> = String::from_utf8_lossy(&ids.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(ids.iter().map(String::as_str));
        tug(&args);
    }
    tug(&["network", "prune", "-f"]);
    tug(&["volume", "prune", "-a", "-f"]);
}

/// The blocks of one chapter, run in order; the mismatches found.
fn run_chapter(file: &Path, bindir: &Path) -> Vec<String> {
    let name = file
        .strip_prefix(repo_dir())
        .unwrap_or(file)
        .display()
        .to_string();
    let text = std::fs::read_to_string(file).expect("read chapter");
    let workdir = tempfile::Builder::new()
        .prefix("book")
        .tempdir_in("/var/tmp")
        .expect("chapter workdir");
    let mut failures = Vec::new();
    let mut root: Option<TestRoot> = None;
    // The process groups of the sessions run on `root`.
    let mut groups: Vec<i32> = Vec::new();
    // BOOK_BLESS=1, for the writer of a chapter: the output that differs is written into
    // the chapter in place of what it showed (then put placeholders where it varies).
    let bless = std::env::var_os("BOOK_BLESS").is_some();
    let mut blessed: Vec<(usize, usize, Vec<String>)> = Vec::new();
    let items = parse_chapter(&text);
    // The chapter's files first: a block may list a folder before the text shows its
    // Dockerfile.
    for item in &items {
        if let Item::File { path, text } = item {
            let p = workdir.path().join(path);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).expect("create a file's folder");
            }
            std::fs::write(&p, text).expect("write a file of the chapter");
        }
    }
    for item in items {
        let (line, directives, steps) = match item {
            Item::File { .. } => continue,
            Item::Block {
                line,
                directives,
                steps,
            } => (line, directives, steps),
        };
        if let Some(reason) = &directives.skip {
            eprintln!("{name}:{line}: skipped: {reason}");
            continue;
        }
        if !directives.continues || root.is_none() {
            if let Some(old) = root.take() {
                clean_root(&old, &mut groups);
            }
            root = Some(TestRoot::with_busybox());
        }
        let t = root.as_ref().expect("a root");
        if directives.needs_debian {
            t.add_debian();
        }
        let started = Instant::now();
        match run_session(
            t,
            workdir.path(),
            bindir,
            &directives.setup,
            &steps,
            &mut groups,
        ) {
            Err(e) => failures.push(format!("{name}:{line}: {e}")),
            Ok(outputs) => {
                for (step, got) in steps.iter().zip(outputs) {
                    let got: Vec<String> = got.lines().map(str::to_string).collect();
                    let got = trim_trailing_empty(got);
                    let mut expected = trim_trailing_empty(step.expected.clone());
                    if !tug_e2e::net::host_has_ipv6() {
                        expected = tug_e2e::transcript::without_ipv6_ports(expected);
                    }
                    if !lines_match(&expected, &got) {
                        failures.push(format!(
                            "{name}:{}: $ {}\n--- expected:\n{}\n--- got:\n{}\n",
                            step.line,
                            step.command,
                            expected.join("\n"),
                            got.join("\n")
                        ));
                        if bless {
                            let from = step.line + step.command.lines().count() - 1;
                            let n = trim_trailing_empty(step.expected.clone()).len();
                            blessed.push((from, n, got));
                            continue;
                        }
                        break; // what follows in the block depends on this step
                    }
                }
            }
        }
        eprintln!("{name}:{line}: ran in {:?}", started.elapsed());
    }
    if let Some(old) = root.take() {
        clean_root(&old, &mut groups);
    }
    if bless && !blessed.is_empty() {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        blessed.sort_by_key(|b| std::cmp::Reverse(b.0));
        for (from, n, got) in blessed {
            lines.splice(from..from + n, got);
        }
        std::fs::write(file, lines.join("\n") + "\n").expect("bless the chapter");
    }
    failures
}

#[test]
fn every_console_block_of_the_book_runs_on_tug() {
    let src = repo_dir().join("book/src");
    let only = std::env::var("BOOK_CHAPTER").ok();
    let mut chapters: Vec<PathBuf> = std::fs::read_dir(&src)
        .expect("read book/src")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .filter(|p| {
            only.as_deref()
                .is_none_or(|o| p.file_name().is_some_and(|n| n == o))
        })
        .collect();
    chapters.sort();
    assert!(
        !chapters.is_empty(),
        "no chapter to run in {}",
        src.display()
    );
    // `tug` first on PATH, under that name.
    let bindir = tempfile::Builder::new()
        .prefix("book-bin")
        .tempdir()
        .expect("bin dir");
    std::os::unix::fs::symlink(tug_bin(), bindir.path().join("tug")).expect("link tug");
    // The chapters in parallel (their blocks in order): most of a block's time is
    // waiting on containers.
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = chapters
            .iter()
            .map(|c| {
                let bin = bindir.path();
                s.spawn(move || run_chapter(c, bin))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a chapter's thread panicked"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} transcript(s) differ from the book:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_chapter_is_in_the_summary() {
    let src = repo_dir().join("book/src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).expect("read SUMMARY.md");
    let missing: Vec<String> = std::fs::read_dir(&src)
        .expect("read book/src")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md") && n != "SUMMARY.md")
        .filter(|n| !summary.contains(&format!("({n})")))
        .collect();
    assert!(
        missing.is_empty(),
        "chapters that SUMMARY.md does not list (mdbook would leave them out): {missing:?}"
    );
}

/// The book builds with mdbook (0.5, installed by scripts/setup.sh), without a warning: a
/// missing `{{#include}}` only warns in mdbook, so a warning fails the build here.
#[test]
fn the_book_builds_with_mdbook() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = Command::new("mdbook")
        .arg("build")
        .arg(repo_dir().join("book"))
        .arg("-d")
        .arg(out_dir.path())
        .output()
        .unwrap_or_else(|e| panic!("mdbook (scripts/setup.sh installs it): {e}"));
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "mdbook build failed:\n{log}");
    assert!(!log.contains("WARN") && !log.contains("ERROR"), "{log}");
    assert!(out_dir.path().join("build.html").is_file(), "{log}");
}

#[test]
fn steps_that_fetch_a_url_are_told_apart() {
    for yes in [
        "curl -s http://localhost:45680/",
        "busybox wget -qO- http://127.0.0.1:4000/",
        "curl -s \"http://$(tug port web 80)/\"",
        "tug exec web wget -qO- http://localhost/",
    ] {
        assert!(fetches_a_url(yes), "{yes}");
    }
    for no in [
        "tug run --rm busybox wget -qO- http://db/",
        "until curl -s http://127.0.0.1:5000/v2/ > /dev/null; do sleep 0.1; done",
        "echo hi | tug run -i --rm --network host busybox nc 127.0.0.1 45678",
        "tug exec -it web sh",
        "curl --version",
    ] {
        assert!(!fetches_a_url(no), "{no}");
    }
}

/// Every fixed host port that the book, the exercises or their solutions publish
/// (`-p 45678:45678`, `"45690:80"`) in the kernel's ephemeral range is in the list that
/// scripts/test.sh reserves for the run (`fixed_ports=`): a port left out can be taken
/// by any test's outgoing connection (its TIME_WAIT holds it for a minute), and its `-p`
/// then fails at random.
#[test]
fn every_fixed_host_port_in_the_ephemeral_range_is_reserved_by_test_sh() {
    let repo = repo_dir();
    let script = std::fs::read_to_string(repo.join("scripts/test.sh")).expect("scripts/test.sh");
    let list = script
        .lines()
        .find_map(|l| l.strip_prefix("fixed_ports="))
        .expect("scripts/test.sh sets fixed_ports=");
    let reserved: Vec<(u32, u32)> = list
        .split(',')
        .map(|item| {
            let (a, b) = item.split_once('-').unwrap_or((item, item));
            (a.parse().expect(item), b.parse().expect(item))
        })
        .collect();
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .unwrap_or_else(|_| "32768 60999".into());
    let mut bounds = range.split_whitespace().map(|n| n.parse::<u32>().unwrap());
    let (lo, hi) = (bounds.next().unwrap(), bounds.next().unwrap());

    let mut files = Vec::new();
    let mut dirs = vec![
        repo.join("book/src"),
        repo.join("exercises"),
        repo.join("workshop/solutions"),
    ];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("read a dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                files.push(p);
            }
        }
    }
    let mut missing = Vec::new();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for port in published_host_ports(&text) {
            if (lo..=hi).contains(&port) && !reserved.iter().any(|(a, b)| (*a..=*b).contains(&port))
            {
                missing.push(format!(
                    "{port} ({})",
                    f.strip_prefix(&repo).unwrap_or(f).display()
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "fixed host ports in the ephemeral range {lo}-{hi} that scripts/test.sh does not reserve \
         (add them to its fixed_ports=): {missing:?}"
    );
}

/// The host ports of `HOST:CONTAINER` pairs in `text` (`-p 8080:80`, `"8080:80"`,
/// `-p 127.0.0.1:8080:80`): a run of 4 or 5 digits, a colon and a digit, with nothing
/// before it but a non-digit or an IPv4 address and a colon (so that times and a bare
/// `127.0.0.1:45678` are not taken for one).
fn published_host_ports(text: &str) -> Vec<u32> {
    let b = text.as_bytes();
    let after_address = |i: usize| {
        // `i` follows a colon: is what comes before it an IPv4 address?
        let head = &text[..i - 1];
        let start = head
            .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
            .map_or(0, |k| k + 1);
        head[start..].parse::<std::net::Ipv4Addr>().is_ok()
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts = i == 0
            || match b[i - 1] {
                b'0'..=b'9' | b'.' => false,
                b':' => after_address(i),
                _ => true,
            };
        if b[i].is_ascii_digit() && starts {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let len = i - start;
            if (4..=5).contains(&len)
                && b.get(i) == Some(&b':')
                && b.get(i + 1).is_some_and(u8::is_ascii_digit)
            {
                out.push(text[start..i].parse().unwrap());
            }
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn host_ports_are_read_from_published_pairs_only() {
    assert_eq!(
        published_host_ports(
            "tug run -p 45678:45678 -p 8080:80 x; \"45690:80\"; - 48084:80; -p 127.0.0.1:45681:80"
        ),
        vec![45678, 8080, 45690, 48084, 45681]
    );
    assert!(
        published_host_ports("nc 127.0.0.1 45678; at 12:30; 127.0.0.1:45679; 2026-12-03")
            .is_empty()
    );
}
