//! Containers of a test and what the tests ask of host processes: a guard that removes
//! (`rm -f`) every container a test started, also when the test fails; a running container
//! whose script marked itself ready; `/proc` lookups.

use std::cell::RefCell;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{KillOnDrop, TestRoot, text, wait_for};

/// Removes the containers it was told of (by id) when dropped.
pub struct Containers<'a> {
    t: &'a TestRoot,
    ids: RefCell<Vec<String>>,
}

impl<'a> Containers<'a> {
    pub fn new(t: &'a TestRoot) -> Containers<'a> {
        Containers {
            t,
            ids: RefCell::new(Vec::new()),
        }
    }

    /// Remembers `id` (trimmed) and returns it.
    pub fn add(&self, id: &str) -> String {
        let id = id.trim().to_string();
        self.ids.borrow_mut().push(id.clone());
        id
    }

    /// `tug run -d ARGS`, remembered.
    pub fn run_d(&self, args: &[&str]) -> String {
        let mut a = vec!["run", "-d"];
        a.extend_from_slice(args);
        let id = self.t.ok(&a);
        self.add(&id)
    }
}

impl Drop for Containers<'_> {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            let _ = self.t.run(&["rm", "-f", id]);
        }
    }
}

/// A container running `sh -c "<setup>; <mark ready>; sleep 60"`, for the exec, cp and
/// top tests: detached (`run -d`) when tug has the shim, else a foreground `tug run --rm`
/// child. Removed with `rm -f` (and a foreground tug reaped) when the test ends, also
/// when it fails.
pub struct Running<'a> {
    t: &'a TestRoot,
    pub name: String,
    /// The foreground `tug run`, without the shim.
    foreground: Option<KillOnDrop>,
}

impl<'a> Running<'a> {
    /// Starts `name` with the `run` flags `flags`, after `setup` ran in it.
    pub fn start(t: &'a TestRoot, name: &str, flags: &[&str], setup: &str) -> Running<'a> {
        let script = format!("{setup}\ntouch /dev/shm/ready; echo ready; sleep 60");
        let detached = t
            .tug()
            .args(["run", "-d", "--name", name])
            .args(flags)
            .args(["busybox", "sh", "-c", &script])
            .output()
            .expect("spawn tug run -d");
        let mut running = Running {
            t,
            name: name.to_string(),
            foreground: None,
        };
        if !detached.status.success() {
            assert!(
                String::from_utf8_lossy(&detached.stderr).contains("shim"),
                "tug run -d failed: {}",
                text(&detached)
            );
            running.foreground = Some(start_foreground(t, name, flags, &script));
        }
        let limit = Duration::from_secs(20);
        // The script may run before tug has recorded the container as running.
        wait_for("the container's running state", limit, || {
            t.run(&["inspect", "-f", "{{.State.Running}}", name]).stdout == b"true\n"
        });
        wait_for("the container's ready mark", limit, || {
            t.run(&["exec", name, "test", "-e", "/dev/shm/ready"])
                .status
                .success()
        });
        running
    }

    /// The init's host pid.
    pub fn pid(&self) -> i32 {
        self.t
            .inspect_f(&self.name, "{{.State.Pid}}")
            .parse()
            .expect("a pid")
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = self.t.run(&["rm", "-f", &self.name]);
        let Some(tug) = &mut self.foreground else {
            return;
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = tug.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // KillOnDrop kills and reaps it.
    }
}

/// A foreground `tug run --rm` of `script`, once it printed `ready`.
fn start_foreground(t: &TestRoot, name: &str, flags: &[&str], script: &str) -> KillOnDrop {
    let mut child = KillOnDrop(
        t.tug()
            .args(["run", "--rm", "--name", name])
            .args(flags)
            .args(["busybox", "sh", "-c", script])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn tug run"),
    );
    let stdout = child.0.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l == "ready" => return child,
            Ok(_) => {}
            Err(e) => panic!("container {name} never got ready: {e}"),
        }
    }
}

/// Whether process `pid` exists (and is not a zombie).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

/// The parent pid of `pid`.
pub fn ppid(pid: i32) -> i32 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// SIGKILLs the shim (`tug-shim`) of the container whose init is `pid`, and waits for the
/// init to die with it.
pub fn kill_shim_of(pid: i32) {
    let shim = ppid(pid);
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{shim}/comm"))
            .unwrap_or_default()
            .trim(),
        "tug-shim",
        "the parent of {pid} is not a shim"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shim),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the shim");
    wait_for(
        "the container to die with its shim",
        Duration::from_secs(3),
        || !alive(pid),
    );
}
