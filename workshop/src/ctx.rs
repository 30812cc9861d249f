//! What an exercise's grade function gets: the engine on the fresh root, the working
//! copy, what the answer printed, and helpers to check behaviour.

use crate::exercise::Exercise;
use crate::net::{self, HttpAnswer};
use crate::root::GradeRoot;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tug::Engine;
use tug::container::{Container, LogsOptions};

/// A check that did not hold: what was expected and what happened instead.
#[derive(Debug, Clone)]
pub struct Failure {
    pub expected: String,
    pub got: String,
    /// Whether the next hint helps here (false when the grader itself could not run).
    pub hint_after: bool,
}

impl Failure {
    pub fn new(expected: impl Into<String>, got: impl Into<String>) -> Failure {
        Failure {
            expected: expected.into(),
            got: got.into(),
            hint_after: true,
        }
    }

    /// A failure of the grading itself (not the learner's), shown without a hint.
    pub fn setup(what: impl Into<String>, why: impl Into<String>) -> Failure {
        Failure {
            hint_after: false,
            ..Failure::new(what, why)
        }
    }
}

/// What `commands.sh` did: its exit code (None: stopped at the time budget) and output.
#[derive(Debug, Clone, Default)]
pub struct CommandsRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// The grade function's view of one grading.
pub struct Ctx<'a> {
    pub exercise: &'a Exercise,
    pub root: &'a GradeRoot,
    /// The working copy of the learner's folder (the answer ran from here).
    pub work: PathBuf,
    /// The `tug` binary.
    pub tug_bin: PathBuf,
    /// For `commands`: what commands.sh did.
    pub commands: Option<CommandsRun>,
    passed: RefCell<Vec<String>>,
    /// Variables a setup function gives commands.sh (e.g. REGISTRY).
    env: RefCell<Vec<(String, String)>>,
    /// Host processes a setup function started (a registry): killed when grading ends.
    children: RefCell<Vec<std::process::Child>>,
}

impl Drop for Ctx<'_> {
    fn drop(&mut self) {
        for mut child in self.children.borrow_mut().drain(..) {
            // Only processes this grading started, by their own handle.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        exercise: &'a Exercise,
        root: &'a GradeRoot,
        work: PathBuf,
        tug_bin: PathBuf,
    ) -> Ctx<'a> {
        Ctx {
            exercise,
            root,
            work,
            tug_bin,
            commands: None,
            passed: RefCell::new(Vec::new()),
            env: RefCell::new(Vec::new()),
            children: RefCell::new(Vec::new()),
        }
    }

    pub fn engine(&self) -> &Engine {
        self.root.engine()
    }

    /// Records a check that held (shown as ✓).
    pub fn pass(&self, what: impl Into<String>) {
        self.passed.borrow_mut().push(what.into());
    }

    pub(crate) fn passed(&self) -> Vec<String> {
        self.passed.borrow().clone()
    }

    /// Gives commands.sh the variable `key` (for a setup function).
    pub fn set_env(&self, key: &str, value: &str) {
        self.env.borrow_mut().push((key.into(), value.into()));
    }

    /// The variables given to commands.sh.
    pub fn env(&self) -> Vec<(String, String)> {
        self.env.borrow().clone()
    }

    /// Keeps a host process a setup function started; it is killed when grading ends.
    pub fn keep_child(&self, child: std::process::Child) {
        self.children.borrow_mut().push(child);
    }

    /// An integer from `[grade]` in exercise.toml.
    pub fn param_u64(&self, key: &str) -> Option<u64> {
        self.exercise
            .grade
            .params
            .get(key)?
            .as_integer()
            .map(|v| v as u64)
    }

    /// `tug ARGS` on the fresh root (stdin null), its output.
    pub fn tug(&self, args: &[&str]) -> Result<Output, Failure> {
        Command::new(&self.tug_bin)
            .args(args)
            .envs(self.root.envs())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                Failure::setup(format!("to run {}", self.tug_bin.display()), e.to_string())
            })
    }

    /// `tug ARGS`, which must succeed; its stdout.
    pub fn tug_ok(&self, args: &[&str]) -> Result<String, Failure> {
        let out = self.tug(args)?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(Failure::new(
                format!("`tug {}` to succeed", args.join(" ")),
                format!("it failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
            ))
        }
    }

    /// For `dockerfile`: builds the working copy (its Dockerfile, the folder as the
    /// context) with the tag of `[grade] tag` (default `answer`); that tag.
    pub fn build(&self) -> Result<String, Failure> {
        let tag = self
            .exercise
            .grade
            .tag
            .clone()
            .unwrap_or_else(|| "answer".into());
        let work = self.work.to_string_lossy().into_owned();
        let out = self.tug(&["build", "-t", &tag, "--progress", "plain", &work])?;
        if !out.status.success() {
            let mut log = String::from_utf8_lossy(&out.stdout).into_owned();
            log.push_str(&String::from_utf8_lossy(&out.stderr));
            return Err(Failure::new(
                "`tug build` to succeed",
                format!("it failed; its last lines:\n{}", last_lines(&log, 12)),
            ));
        }
        self.pass("the build succeeds");
        Ok(tag)
    }

    /// For `rust-test`: runs the learner's test with `cargo test` on the fresh root; its
    /// exit code (0 passed, 101 failed or did not compile; None: stopped at the time
    /// budget) and output.
    pub fn cargo_test(&self) -> Result<CommandsRun, Failure> {
        crate::grade::cargo_test(self)
    }

    /// Every container in the root.
    pub fn containers(&self) -> Vec<Container> {
        self.engine().containers().unwrap_or_default()
    }

    /// The container `name`, or a failure that lists what there is.
    pub fn container(&self, name: &str) -> Result<Container, Failure> {
        self.engine().container(name).map_err(|_| {
            Failure::new(
                format!("a container named {name:?}"),
                format!("there is none; {}", self.describe_containers()),
            )
        })
    }

    /// The containers in words: "the containers are: web (exited 0), …".
    pub fn describe_containers(&self) -> String {
        let cs = self.containers();
        if cs.is_empty() {
            return format!("no container is left{}", self.commands_said());
        }
        let list: Vec<String> = cs
            .iter()
            .map(|c| format!("{} ({})", c.short_name(), status(c)))
            .collect();
        format!("the containers are: {}", list.join(", "))
    }

    /// ", and commands.sh printed …" (or exited …): context for a failure message.
    pub fn commands_said(&self) -> String {
        let Some(run) = &self.commands else {
            return String::new();
        };
        let mut s = match run.code {
            Some(0) => String::new(),
            Some(c) => format!("; commands.sh exited with {c}"),
            None => "; commands.sh was stopped at its time budget".into(),
        };
        let err = last_lines(&run.stderr, 4);
        if !err.is_empty() {
            s.push_str(&format!("; its errors:\n{err}"));
        }
        s
    }

    /// The container's logs (stdout and stderr), as `tug logs` prints them.
    pub fn logs(&self, name: &str) -> String {
        let mut text = String::new();
        let _ = self
            .engine()
            .container_logs(name, &LogsOptions::default(), &mut |e| {
                text.push_str(&e.log)
            });
        text
    }

    /// Waits until `ready` says yes (Ok(true)), up to `within`; `ready` fails early by
    /// returning Err (a container that exited will never answer).
    pub fn wait_for(
        &self,
        within: Duration,
        mut ready: impl FnMut() -> Result<bool, Failure>,
    ) -> Result<bool, Failure> {
        let deadline = Instant::now() + within;
        loop {
            if ready()? {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// GET `path` from 127.0.0.1:port, retried up to `within` while nothing answers; fails
    /// at once when `container` (if any) is not running.
    pub fn http_get(
        &self,
        port: u16,
        path: &str,
        container: Option<&str>,
        within: Duration,
    ) -> Result<HttpAnswer, Failure> {
        let mut last = String::new();
        let mut answer = None;
        self.wait_for(within, || {
            match net::http_get(port, path) {
                Ok(a) => {
                    answer = Some(a);
                    return Ok(true);
                }
                Err(e) => last = e.to_string(),
            }
            if let Some(name) = container {
                self.must_run(
                    name,
                    &format!("a server that keeps running and answers on port {port}"),
                )?;
            }
            Ok(false)
        })?;
        answer.ok_or_else(|| {
            Failure::new(
                format!(
                    "an HTTP answer on 127.0.0.1:{port} within {} s",
                    within.as_secs()
                ),
                format!("nothing answered ({last}); {}", self.describe_containers()),
            )
        })
    }

    /// Fails (with the container's state and logs) unless `name` is running.
    pub fn must_run(&self, name: &str, expected: &str) -> Result<Container, Failure> {
        let c = self.container(name)?;
        if c.state.running {
            return Ok(c);
        }
        let logs = last_lines(&self.logs(name), 8);
        let mut got = format!(
            "container {name:?} is not running ({}); its logs:\n{}",
            status(&c),
            if logs.is_empty() {
                "    (none)".into()
            } else {
                logs
            }
        );
        // A container that never started (a port already taken, a missing file): what
        // tug said about it is in commands.sh's error output.
        if let Some(said) = self
            .commands
            .as_ref()
            .map(|run| last_lines(&run.stderr, 8))
            .filter(|said| !said.is_empty())
        {
            got.push_str("\ncommands.sh printed on stderr:\n");
            got.push_str(&said);
        }
        Err(Failure::new(expected, got))
    }

    /// The host port published for `container_port` (`80/tcp`) of container `name`, as
    /// the engine's record has it (`NetworkSettings.Ports`).
    pub fn host_port(&self, name: &str, container_port: &str) -> Option<u16> {
        let c = self.engine().container(name).ok()?;
        let bindings = c.network_settings.ports.get(container_port)?.as_ref()?;
        bindings.iter().find_map(|b| b.host_port.parse().ok())
    }

    /// Fails unless commands.sh printed the line `line` (trailing blanks aside); `what`
    /// says whose line it is, e.g. "the client's answer".
    pub fn expect_output_line(&self, line: &str, what: &str) -> Result<(), Failure> {
        let out = self
            .commands
            .as_ref()
            .map(|c| c.stdout.as_str())
            .unwrap_or("");
        if out.lines().any(|l| l.trim_end() == line) {
            return Ok(());
        }
        let shown = last_lines(out, 10);
        Err(Failure::new(
            format!("{what} {line:?} on the output of commands.sh"),
            format!(
                "it printed:\n{}{}",
                if shown.is_empty() {
                    "    (nothing)"
                } else {
                    &shown
                },
                self.commands_said()
            ),
        ))
    }

    /// Fails unless `tug ARGS` prints `expected` (surrounding blanks aside); `what` names
    /// what is expected, e.g. "/greeting.txt in mine:1 to say \"made by me\"".
    pub fn expect_tug_says(
        &self,
        args: &[&str],
        expected: &str,
        what: &str,
    ) -> Result<(), Failure> {
        let out = self.tug(args)?;
        let got = String::from_utf8_lossy(&out.stdout);
        if got.trim() == expected {
            return Ok(());
        }
        Err(Failure::new(
            what,
            format!(
                "`tug {}` printed {:?} {}",
                args.join(" "),
                got.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ))
    }

    /// A file of the working copy (the answer's folder), e.g. `answer.txt`.
    pub fn work_file(&self, rel: &str) -> Result<String, Failure> {
        std::fs::read_to_string(self.work.join(rel)).map_err(|e| {
            Failure::new(
                format!("the commands to write {rel}"),
                format!("it cannot be read: {e}{}", self.commands_said()),
            )
        })
    }

    /// The working copy's path.
    pub fn work_dir(&self) -> &Path {
        &self.work
    }
}

/// "exited 0", "running", "created".
pub fn status(c: &Container) -> String {
    if c.state.running {
        "running".into()
    } else if c.state.status.as_str() == "exited" {
        format!("exited with code {}", c.state.exit_code)
    } else {
        c.state.status.to_string()
    }
}

/// The last `n` non-empty lines of `text`, indented.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
