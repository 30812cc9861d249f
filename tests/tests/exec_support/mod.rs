//! A running container for the exec and top tests, whose script marks itself ready once
//! set up: detached (`run -d`) when tug has the shim, else a foreground `tug run --rm`
//! child. Removed with `rm -f` (and a foreground tug reaped) when the test ends, also
//! when it fails.

// Each test file uses a part of this.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tug_e2e::{KillOnDrop, TestRoot, text};

/// A container running `sh -c "<setup>; <mark ready>; sleep 60"`.
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
        // The script may run before tug has recorded the container as running.
        wait_for("the container's running state", || {
            t.run(&["inspect", "-f", "{{.State.Running}}", name]).stdout == b"true\n"
        });
        wait_for("the container's ready mark", || {
            t.run(&["exec", name, "test", "-e", "/dev/shm/ready"])
                .status
                .success()
        });
        running
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

/// Waits until `cond` holds (or panics at the deadline, saying `what`).
pub fn wait_for(what: &str, cond: impl FnMut() -> bool) {
    tug_e2e::net::wait_until(what, Duration::from_secs(20), cond);
}

/// A pty pair for driving `tug ... -t` as a terminal emulator does.
pub mod pty {
    use std::os::fd::{AsFd, AsRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

    pub fn set_size(fd: &OwnedFd, rows: u16, cols: u16) {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which lives across the call.
        assert_eq!(
            unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) },
            0
        );
    }

    /// Makes `cmd` run on the slave of a new pty, as its controlling terminal; returns
    /// the master.
    pub fn attach(cmd: &mut Command, rows: u16, cols: u16) -> (OwnedFd, OwnedFd) {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        set_size(&pty.master, rows, cols);
        let slave = pty.slave;
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()));
        // SAFETY: setsid and ioctl are async-signal-safe; the closure allocates nothing.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        (pty.master, slave)
    }

    /// Reads from the master until `needle` shows up in what was read (or a deadline).
    pub fn read_until(master: &OwnedFd, seen: &mut String, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buf = [0u8; 4096];
        while !seen.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "{needle:?} never came; got: {seen:?}");
            let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
            let ms = left.as_millis().min(1000) as u16;
            if poll(&mut fds, PollTimeout::from(ms)).unwrap_or(0) == 0 {
                continue;
            }
            match nix::unistd::read(master, &mut buf) {
                Ok(0) | Err(_) => panic!("the pty closed before {needle:?}; got: {seen:?}"),
                Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    }

    pub fn write(master: &OwnedFd, s: &str) {
        assert_eq!(nix::unistd::write(master, s.as_bytes()).unwrap(), s.len());
    }

    /// Waits for `child` to exit, draining the pty meanwhile; its status.
    pub fn wait_draining(
        child: &mut std::process::Child,
        master: &OwnedFd,
    ) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return s;
            }
            let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
            if poll(&mut fds, PollTimeout::from(50u16)).unwrap_or(0) > 0 {
                let mut buf = [0u8; 4096];
                let _ = nix::unistd::read(master, &mut buf);
            }
            assert!(Instant::now() < deadline, "tug did not exit");
        }
    }
}
