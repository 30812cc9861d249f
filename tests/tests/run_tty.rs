//! `tug run -it`: a real interactive shell on a pty, driven from the test through a pty
//! pair of its own (tug runs on the slave, as in a terminal), with resize.

use tug_e2e::pty::{attach, read_until, set_size, wait_draining, write};
use tug_e2e::{KillOnDrop, TestRoot};

#[test]
fn interactive_shell_on_a_pty_with_job_control_and_resize() {
    let t = TestRoot::with_busybox();
    let mut cmd = t.tug();
    cmd.args(["run", "--rm", "-it", "busybox", "sh"]);
    // tug runs in its own session with the slave as its controlling terminal, as in a
    // terminal emulator.
    let (master, slave) = attach(&mut cmd, 24, 80);
    let mut child = KillOnDrop(cmd.spawn().expect("spawn tug run -it"));
    drop(slave);
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
    let status = wait_draining(&mut child, &master);
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

/// SIGTERM to the CLI of a `-t` session: Docker proxies signals only without a TTY, so
/// the CLI ends (143, after restoring the terminal) and the container runs on, its trap
/// never fired.
fn sigterm_leaves_the_tty_container_running(t: &TestRoot, cmd: &mut std::process::Command) {
    let (master, slave) = attach(cmd, 24, 80);
    let mut child = KillOnDrop(cmd.spawn().expect("spawn tug"));
    drop(slave);
    let mut seen = String::new();
    // The interactive shell's own trap: it would print if SIGTERM reached it.
    write(&master, "trap 'echo got-term' TERM; echo armed-$((40+2))\n");
    read_until(&master, &mut seen, "armed-42");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = wait_draining(&mut child, &master);
    assert_eq!(status.code(), Some(143));
    assert_eq!(t.inspect_f("ttyc", "{{.State.Status}}"), "running");
    let logs = t.ok(&["logs", "ttyc"]);
    // (The typed line, echoed, names it; the trap's output is a line of its own.)
    assert!(!logs.lines().any(|l| l.trim() == "got-term"), "{logs}");
}

/// `run` flags of a TTY container named `ttyc` running an interactive shell.
const TTY_SHELL: [&str; 5] = ["-it", "--name", "ttyc", "busybox", "sh"];

#[test]
fn run_it_does_not_proxy_sigterm() {
    let t = TestRoot::with_busybox();
    let cs = tug_e2e::containers::Containers::new(&t);
    cs.add("ttyc");
    let mut cmd = t.tug();
    cmd.arg("run").args(TTY_SHELL);
    sigterm_leaves_the_tty_container_running(&t, &mut cmd);
}

#[test]
fn attach_to_a_tty_container_does_not_proxy_sigterm() {
    let t = TestRoot::with_busybox();
    let cs = tug_e2e::containers::Containers::new(&t);
    cs.run_d(&TTY_SHELL);
    let mut cmd = t.tug();
    cmd.args(["attach", "ttyc"]);
    sigterm_leaves_the_tty_container_running(&t, &mut cmd);
}

#[test]
fn run_it_with_init_keeps_the_terminal_and_job_control() {
    let t = TestRoot::with_busybox();
    let mut cmd = t.tug();
    cmd.args([
        "run", "--rm", "-it", "--init", "--name", "ttyinit", "busybox", "sh",
    ]);
    let (master, slave) = attach(&mut cmd, 24, 80);
    let mut child = KillOnDrop(cmd.spawn().expect("spawn tug run -it --init"));
    drop(slave);
    let mut seen = String::new();
    // The shell is PID 2, under the init, and owns the terminal's foreground.
    write(
        &master,
        "echo pid-$$; sleep 30 & jobs; kill %1; echo jc-$?\n",
    );
    read_until(&master, &mut seen, "jc-0");
    assert!(seen.contains("pid-2"), "{seen:?}");
    // Ctrl-C reaches the foreground job, not the shell's parent. (Another length than
    // the background job's: that one may still be dying, and a Ctrl-C typed before the
    // foreground job runs would reach the shell instead.)
    write(&master, "sleep 37\n");
    tug_e2e::wait_for(
        "the foreground sleep",
        std::time::Duration::from_secs(20),
        || {
            let ps = t.run(&["exec", "ttyinit", "ps", "-o", "args"]);
            String::from_utf8_lossy(&ps.stdout).contains("sleep 37")
        },
    );
    write(&master, "\x03echo after-$((1+1))\n");
    read_until(&master, &mut seen, "after-2");
    write(&master, "exit 3\n");
    let status = wait_draining(&mut child, &master);
    assert_eq!(status.code(), Some(3));
}
