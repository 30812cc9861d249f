//! Detaching from a TTY session, as Docker: Ctrl-P Ctrl-Q (or `--detach-keys`, or
//! `detachKeys` in the client's config.json) ends the CLI with 0 and leaves the
//! container (or the exec) running; the keys never reach the container.

use std::process::Command;

use tug_e2e::containers::Containers;
use tug_e2e::pty::{attach, read_until, wait_draining, write};
use tug_e2e::{KillOnDrop, TestRoot, code, stderr};

/// Runs `cmd` on a pty and types `typed` (one write each, as a user would); once
/// `ready` shows, types `keys` and expects the CLI to end with 0. Returns all it printed.
fn detach_with(cmd: &mut Command, typed: &[&str], ready: &str, keys: &[&str]) -> String {
    let (master, slave) = attach(cmd, 24, 80);
    let mut child = KillOnDrop(cmd.spawn().expect("spawn tug"));
    drop(slave);
    let mut seen = String::new();
    for c in typed {
        write(&master, c);
    }
    read_until(&master, &mut seen, ready);
    for k in keys {
        write(&master, k);
    }
    let status = wait_draining(&mut child, &master);
    assert_eq!(status.code(), Some(0), "{seen:?}");
    seen
}

fn running(t: &TestRoot, name: &str) -> bool {
    t.inspect_f(name, "{{.State.Status}}") == "running"
}

#[test]
fn ctrl_p_ctrl_q_detaches_from_run_it_and_attach_leaving_it_running() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.add("dk");
    let mut run = t.tug();
    run.args(["run", "-it", "--name", "dk", "busybox", "sh"]);
    detach_with(
        &mut run,
        &["echo one-$((0+1))\n"],
        "one-1",
        &["\x10", "\x11"],
    );
    assert!(running(&t, "dk"));

    // Attach again: the same shell, which never saw the keys; detach with other keys.
    let mut att = t.tug();
    att.args(["attach", "--detach-keys", "ctrl-a,x", "dk"]);
    detach_with(&mut att, &["echo two-$((1+1))\n"], "two-2", &["\x01", "x"]);
    assert!(running(&t, "dk"));

    // A Ctrl-P followed by another key is typed through: the shell reads both bytes.
    let mut att = t.tug();
    att.args(["attach", "dk"]);
    detach_with(
        &mut att,
        &["head -c 2 | od -An -tx1\n", "\x10", "z", "\n"],
        "10 7a",
        &["\x10", "\x11"],
    );
    assert!(running(&t, "dk"));
}

#[test]
fn detach_keys_come_from_the_config_file_and_exec_it_detaches_too() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.run_d(&["-it", "--name", "dkc", "busybox", "sh"]);
    let conf = tempfile::tempdir().unwrap();
    std::fs::write(
        conf.path().join("config.json"),
        r#"{"auths": {}, "detachKeys": "ctrl-e"}"#,
    )
    .unwrap();

    let mut att = t.tug();
    att.env("DOCKER_CONFIG", conf.path())
        .args(["attach", "dkc"]);
    detach_with(&mut att, &["echo cfg-$((3*3))\n"], "cfg-9", &["\x05"]);
    assert!(running(&t, "dkc"));

    // exec -it: the exec runs on after its CLI detached.
    let mut ex = t.tug();
    ex.args([
        "exec",
        "-it",
        "--detach-keys",
        "ctrl-\\,ctrl-]",
        "dkc",
        "sh",
        "-c",
        "echo exec-$((5+5)); exec sleep 1234",
    ]);
    detach_with(&mut ex, &[], "exec-10", &["\x1c", "\x1d"]);
    let ps = t.ok(&["exec", "dkc", "ps"]);
    assert!(ps.contains("sleep 1234"), "{ps}");
}

#[test]
fn bad_detach_keys_are_refused_before_anything_runs() {
    let t = TestRoot::with_busybox();
    let out = t.run(&["run", "-it", "--detach-keys", "ctrl-1", "busybox", "true"]);
    assert_eq!(code(&out), 125);
    assert!(
        stderr(&out).contains("Invalid detach keys (ctrl-1) provided: Unknown character: 'ctrl-1'"),
        "{}",
        stderr(&out)
    );
    assert_eq!(t.ok(&["ps", "-a", "-q"]), "");
}
