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
