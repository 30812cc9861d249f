//! `tug top`: the container's processes, and only them, with host pids, as `ps -ef` (or
//! the given ps options) prints them.

use tug_e2e::containers::Running;
use tug_e2e::{TestRoot, code, text};

fn pid_ns(pid: &str) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

#[test]
fn top_lists_the_containers_processes_and_only_them() {
    let t = TestRoot::with_busybox();
    // sh stays pid 1 (its last command is not exec'd in place: a subshell runs it).
    let c = Running::start(&t, "topme", &[], "(sleep 61; true) &");
    let init = c.pid();
    let out = t.ok(&["top", &c.name]);
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
        "{out}"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    let pids: Vec<&str> = rows.iter().map(|r| r[1]).collect();
    assert!(pids.contains(&init.to_string().as_str()), "{out}");
    let cmds: Vec<String> = rows.iter().map(|r| r[7..].join(" ")).collect();
    assert!(cmds.iter().any(|c| c == "sleep 61"), "{out}");
    assert!(cmds.iter().any(|c| c == "sleep 60"), "{out}");
    // Every row is in the container's pid namespace; the host's processes are not.
    let want = pid_ns(&init.to_string());
    for p in &pids {
        assert_eq!(pid_ns(p), want, "pid {p} is not the container's: {out}");
    }
    let me = std::process::id().to_string();
    assert!(!pids.contains(&me.as_str()));
    assert!(!pids.contains(&"1"), "the host's init is listed: {out}");
}

#[test]
fn top_passes_ps_options_and_filters_by_the_pid_column() {
    let t = TestRoot::with_busybox();
    let c = Running::start(&t, "topopts", &[], "");
    let init = c.pid();
    let out = t.ok(&["top", &c.name, "-o", "pid,comm"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["PID", "COMMAND"]
    );
    assert_eq!(
        lines[1..]
            .iter()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .collect::<Vec<_>>(),
        [vec![init.to_string().as_str(), "sleep"]],
        "{out}"
    );
    let out = t.run(&["top", &c.name, "-o", "comm"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Couldn't find PID field"));
}

#[test]
fn top_of_a_stopped_container_fails_clearly() {
    let t = TestRoot::with_busybox();
    let id = t.ok(&["create", "--name", "idle", "busybox", "true"]);
    let out = t.run(&["top", "idle"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("container {} is not running", id.trim())),
        "{}",
        text(&out)
    );
    t.ok(&["rm", "idle"]);
}
