//! A running container for the exec and top tests: a foreground `tug run --rm` (until
//! detached containers land) whose script prints `ready` once set up; removed with
//! `rm -f` and its tug reaped when the test ends, also when it fails.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tug_e2e::{KillOnDrop, TestRoot};

/// A container running `sh -c "<setup>; echo ready; sleep 60"`.
pub struct Running<'a> {
    t: &'a TestRoot,
    pub name: String,
    tug: KillOnDrop,
}

impl<'a> Running<'a> {
    /// Starts `name` with the `run` flags `flags`, after `setup` ran in it.
    pub fn start(t: &'a TestRoot, name: &str, flags: &[&str], setup: &str) -> Running<'a> {
        let script = format!("{setup}\necho ready; sleep 60");
        let mut child = KillOnDrop(
            t.tug()
                .args(["run", "--rm", "--name", name])
                .args(flags)
                .args(["busybox", "sh", "-c", &script])
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn tug run"),
        );
        let stdout = child.0.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) if l == "ready" => break,
                Ok(_) => {}
                Err(e) => panic!("container {name} never got ready: {e}"),
            }
        }
        Running {
            t,
            name: name.to_string(),
            tug: child,
        }
    }

    /// The init's host pid.
    pub fn pid(&self) -> i32 {
        self.t
            .ok(&["inspect", "-f", "{{.State.Pid}}", &self.name])
            .trim()
            .parse()
            .expect("a pid")
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = self.t.run(&["rm", "-f", &self.name]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.tug.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // KillOnDrop kills and reaps it.
    }
}

/// Waits until `cond` holds (or panics at the deadline, saying `what`).
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
