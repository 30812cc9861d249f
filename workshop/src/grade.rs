//! One grading: copy the answer, give it a fresh root, run it, call its checks.

use crate::ctx::{CommandsRun, Ctx, Failure, last_lines};
use crate::exercise::{Exercise, GradeKind, repo_dir};
use crate::root::GradeRoot;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Which answer to grade.
#[derive(Debug, Clone)]
pub enum Answer {
    /// The learner's folder as it is (`exercises/NN-name/`).
    Learner,
    /// The exercise's folder with its reference solution laid over it.
    Solution,
}

/// The outcome of one grading.
#[derive(Debug, Clone)]
pub struct Report {
    /// The checks that held, in order.
    pub passed: Vec<String>,
    /// The first check that did not, if any.
    pub failure: Option<Failure>,
    pub took: Duration,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }
}

/// The grading could not run at all (no tug binary, no root, unknown grade function).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GradeError(pub String);

/// The `tug` binary: `$TUG_BIN`, else beside this executable (or one directory up, as
/// for test binaries in `deps/`), else on PATH.
pub fn find_tug_binary() -> Result<PathBuf, GradeError> {
    if let Some(p) = std::env::var_os("TUG_BIN").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(GradeError(format!("TUG_BIN={} is not a file", p.display())))
        };
    }
    let exe = std::env::current_exe().ok();
    let beside = exe.iter().flat_map(|e| e.ancestors().skip(1).take(2));
    let path = std::env::var_os("PATH").unwrap_or_default();
    beside
        .map(Path::to_path_buf)
        .chain(std::env::split_paths(&path))
        .map(|d| d.join("tug"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            GradeError("no tug binary: run `cargo build -p tug` first, or set TUG_BIN".into())
        })
}

/// Grades the solution of `ex` (for the dev check).
pub fn grade_solution(ex: &Exercise) -> Result<Report, GradeError> {
    grade(ex, &Answer::Solution)
}

/// Grades `answer` to `ex` in a fresh root, removed afterwards.
pub fn grade(ex: &Exercise, answer: &Answer) -> Result<Report, GradeError> {
    let started = Instant::now();
    let check = crate::exercises::grader(&ex.name).ok_or_else(|| {
        GradeError(format!(
            "{}: no grade function in workshop/src/exercises/mod.rs",
            ex.name
        ))
    })?;
    let tug_bin = find_tug_binary()?;
    let root = GradeRoot::new(&tug_bin)
        .map_err(|e| GradeError(format!("cannot make a state root: {e}")))?;
    let work = root.dir().join("work");
    copy_answer(ex, answer, &work)
        .map_err(|e| GradeError(format!("cannot copy {}: {e}", ex.name)))?;
    for image in &ex.images {
        add_image(&root, &tug_bin, image)?;
    }
    let mut ctx = Ctx::new(ex, &root, work, tug_bin);
    let setup = crate::exercises::setup(&ex.name);
    let result = setup
        .map_or(Ok(()), |f| f(&ctx))
        .and_then(|()| run_answer(&mut ctx))
        .and_then(|()| check(&ctx));
    let (passed, failure) = (ctx.passed(), result.err());
    drop(ctx);
    drop(root);
    Ok(Report {
        passed,
        failure,
        took: started.elapsed(),
    })
}

/// The exercise's folder (without its exercise.toml and README.md) into `to`, then the
/// solution's files over it when grading the solution.
fn copy_answer(ex: &Exercise, answer: &Answer, to: &Path) -> std::io::Result<()> {
    copy_tree(&ex.dir, to, &["exercise.toml", "README.md"])?;
    if let Answer::Solution = answer {
        copy_tree(&repo_dir().join(&ex.solution), to, &[])?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type()?.is_dir() {
            copy_tree(&src, &dst, &[])?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

/// Puts `image` into the root: busybox from the host's busybox-static, through the
/// engine; another image through its script under images/ (cached there).
fn add_image(root: &GradeRoot, tug_bin: &Path, image: &str) -> Result<(), GradeError> {
    if image.starts_with("busybox") {
        return root
            .engine()
            .create_busybox_image(image)
            .map(drop)
            .map_err(|e| {
                GradeError(format!(
                    "cannot make the busybox image: {}",
                    tug::report(&e)
                ))
            });
    }
    let script = match image.split(':').next() {
        Some(name) => repo_dir().join("images").join(name).join("build.sh"),
        None => unreachable!("split yields at least one piece"),
    };
    let out = Command::new("bash")
        .arg(&script)
        .arg(image)
        .env("TUG", tug_bin)
        .envs(root.envs())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| GradeError(format!("cannot run {}: {e}", script.display())))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(GradeError(format!(
            "cannot make the image {image} ({}):\n{}",
            script.display(),
            last_lines(&String::from_utf8_lossy(&out.stderr), 6)
        )))
    }
}

/// Runs the answer before its checks: commands.sh (a Dockerfile is built by its grade
/// function, through `Ctx::build`, after it has changed the context as it likes).
fn run_answer(ctx: &mut Ctx<'_>) -> Result<(), Failure> {
    let budget = Duration::from_secs(ctx.exercise.time_budget);
    match ctx.exercise.grade.kind {
        GradeKind::Commands => {
            let run = run_commands(ctx, budget)?;
            let stopped = run.code.is_none();
            ctx.commands = Some(run);
            if stopped {
                return Err(Failure::new(
                    format!("commands.sh to finish within {} s", budget.as_secs()),
                    "it was still running: does a command wait for a container that never ends (a missing -d)?",
                ));
            }
            Ok(())
        }
        // The grade function prepares the context if it wants to, then calls Ctx::build.
        GradeKind::Dockerfile => Ok(()),
        // The grade function runs the test (Ctx::cargo_test), as often as it needs.
        GradeKind::RustTest => write_test_package(ctx),
        kind => Err(Failure::setup(
            format!("a grader for answers of kind {kind:?}"),
            "this kind is not graded yet",
        )),
    }
}

/// `bash commands.sh` in the working copy, `tug` first on PATH, the root in TUG_ROOT and
/// TUG_RUN, stdin null; stopped (its whole process group) at the time budget.
fn run_commands(ctx: &Ctx<'_>, budget: Duration) -> Result<CommandsRun, Failure> {
    let bin_dir = ctx.tug_bin.parent().unwrap_or(Path::new("/")).to_path_buf();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(&path)))
        .map_err(|e| Failure::setup("a PATH with tug on it", e.to_string()))?;
    let mut cmd = Command::new("bash");
    cmd.arg("commands.sh")
        .current_dir(&ctx.work)
        .env("PATH", path)
        .envs(ctx.root.envs())
        .envs(ctx.env());
    run_limited(ctx, cmd, "commands", budget)
}

/// Runs `cmd` (stdin null, stdout and stderr kept in files named after `what`) in a
/// process group of its own, killed whole at `budget`.
pub(crate) fn run_limited(
    ctx: &Ctx<'_>,
    mut cmd: Command,
    what: &str,
    budget: Duration,
) -> Result<CommandsRun, Failure> {
    let (out_path, err_path) = (
        ctx.root.dir().join(format!("{what}.out")),
        ctx.root.dir().join(format!("{what}.err")),
    );
    let file = |p: &Path| {
        std::fs::File::create(p).map_err(|e| Failure::setup("an output file", e.to_string()))
    };
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file(&out_path)?)
        .stderr(file(&err_path)?)
        .process_group(0)
        .spawn()
        .map_err(|e| Failure::setup(format!("to run {what}"), e.to_string()))?;
    let deadline = Instant::now() + budget;
    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status.code().unwrap_or(128)),
            Ok(None) if Instant::now() >= deadline => {
                // SAFETY: kill(2) of the process group this grader made (the child's pid).
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(Failure::setup(format!("to wait for {what}"), e.to_string())),
        }
    };
    let read = |p: &Path| {
        let mut s = String::new();
        let _ = std::fs::File::open(p).and_then(|mut f| f.read_to_string(&mut s));
        s
    };
    Ok(CommandsRun {
        code,
        stdout: read(&out_path),
        stderr: read(&err_path),
    })
}

/// For `rust-test`: a package around the learner's test file (`[grade] test_file`), with
/// tug_testkit from this repository and the repository's Cargo.lock (the versions the
/// workspace uses; no network once the crates are fetched). The grader writes it: the
/// learner's answer is the test file alone.
fn write_test_package(ctx: &Ctx<'_>) -> Result<(), Failure> {
    let repo = repo_dir();
    let test_file = ctx
        .exercise
        .grade
        .params
        .get("test_file")
        .and_then(|v| v.as_str());
    let test_file =
        test_file.ok_or_else(|| Failure::setup("[grade] test_file", "exercise.toml has none"))?;
    let manifest = format!(
        "[package]\nname = \"workshop-answer\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dev-dependencies]\ntug-testkit = {{ path = {:?} }}\n\n\
         [[test]]\nname = \"answer\"\npath = {test_file:?}\n\n[workspace]\n",
        repo.join("testkit").display().to_string()
    );
    std::fs::write(ctx.work.join("Cargo.toml"), manifest)
        .and_then(|()| {
            std::fs::copy(repo.join("Cargo.lock"), ctx.work.join("Cargo.lock")).map(drop)
        })
        .and_then(|()| std::fs::create_dir_all(ctx.work.join("src")))
        .and_then(|()| std::fs::write(ctx.work.join("src/lib.rs"), ""))
        .map_err(|e| Failure::setup("the test package", e.to_string()))
}

/// Where rust-test answers are compiled: `$CARGO_TARGET_DIR` (else the repository's
/// target/) + `workshop-rust-test`, kept between gradings so that only the answer
/// recompiles.
fn rust_test_target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| repo_dir().join("target"), PathBuf::from)
        .join("workshop-rust-test")
}

/// `cargo test` of the answer's package, on the grading's root. Not `--offline`: a
/// learner who built only tug-workshop may lack testkit's crates, fetched once then.
pub(crate) fn cargo_test(ctx: &Ctx<'_>) -> Result<CommandsRun, Failure> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["test", "--quiet", "--test", "answer"])
        .current_dir(&ctx.work)
        .env("CARGO_TARGET_DIR", rust_test_target())
        // Backtraces name file:line; full debug info would only fill the disk.
        .env("CARGO_PROFILE_DEV_DEBUG", "line-tables-only")
        .env("TUG_BIN", &ctx.tug_bin)
        .env("RUST_BACKTRACE", "0")
        .envs(ctx.root.envs());
    run_limited(
        ctx,
        cmd,
        "cargo-test",
        Duration::from_secs(ctx.exercise.time_budget),
    )
}
