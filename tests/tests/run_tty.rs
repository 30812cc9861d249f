//! `tug run -it`: a real interactive shell on a pty, driven from the test through a pty
//! pair of its own (tug runs on the slave, as in a terminal), with resize.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use tug_e2e::{KillOnDrop, TestRoot};

fn set_size(fd: &OwnedFd, rows: u16, cols: u16) {
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

/// Reads from the master until `needle` shows up in what was read (or a deadline).
fn read_until(master: &OwnedFd, seen: &mut String, needle: &str) {
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

fn write(master: &OwnedFd, s: &str) {
    assert_eq!(nix::unistd::write(master, s.as_bytes()).unwrap(), s.len());
}

#[test]
fn interactive_shell_on_a_pty_with_job_control_and_resize() {
    let t = TestRoot::with_busybox();
    let pty = nix::pty::openpty(None, None).expect("openpty");
    set_size(&pty.master, 24, 80);
    let slave = pty.slave;
    let mut cmd = t.tug();
    cmd.args(["run", "--rm", "-it", "busybox", "sh"])
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave.try_clone().unwrap()));
    // SAFETY: setsid and ioctl are async-signal-safe; the closure allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            // tug runs in its own session with the slave as its controlling terminal, as
            // in a terminal emulator.
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = KillOnDrop(cmd.spawn().expect("spawn tug run -it"));
    drop(slave);
    let master = pty.master;
    let mut seen = String::new();

    write(&master, "echo $((6*7)); stty size; tty\n");
    read_until(&master, &mut seen, "/dev/pts/");
    assert!(seen.contains("42"), "{seen:?}");
    assert!(seen.contains("24 80"), "{seen:?}");

    // A resize of the outer terminal reaches the container's pty.
    set_size(&master, 40, 120);
    write(&master, "stty size\n");
    read_until(&master, &mut seen, "40 120");

    // Job control: the shell has a controlling terminal and runs a job in the background.
    write(&master, "sleep 30 & jobs; kill %1; echo jc-$?\n");
    read_until(&master, &mut seen, "jc-0");

    write(&master, "exit 3\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        // Keep the pty drained so that tug never blocks on output.
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::from(50u16)).unwrap_or(0) > 0 {
            let mut buf = [0u8; 4096];
            let _ = nix::unistd::read(&master, &mut buf);
        }
        assert!(Instant::now() < deadline, "tug did not exit");
    };
    assert_eq!(status.code(), Some(3));
    let left = std::fs::read_dir(t.root().join("containers"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_name().len() == 64)
                .count()
        })
        .unwrap_or(0);
    assert_eq!(left, 0, "--rm left the container");
}
