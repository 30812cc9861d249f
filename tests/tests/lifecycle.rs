//! The container lifecycle through the shim: detached containers outlive the CLI, `stop`,
//! `kill`, `wait`, `start`, `restart`, `rename`, `rm -f`, `container prune`, and the
//! foreground `run` forwarding signals.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tug_e2e::containers::{Containers, alive};
use tug_e2e::wait_for;
use tug_e2e::{KillOnDrop, TestRoot, code, text};

#[test]
fn detached_container_survives_the_cli_and_rm_f_removes_it() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let id = cs.run_d(&["--name", "bg", "busybox", "sleep", "1000"]);
    assert_eq!(id.len(), 64, "run -d prints the full id: {id}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    // The CLI has exited; the container runs on.
    assert_eq!(
        t.inspect_f("bg", "{{.State.Status}} {{.State.Running}}"),
        "running true"
    );
    let pid: i32 = t.inspect_f("bg", "{{.State.Pid}}").parse().unwrap();
    assert!(alive(pid), "the container's process {pid} runs");
    assert!(t.inspect_f("bg", "{{.LogPath}}").ends_with("-json.log"));
    assert_eq!(t.ok(&["ps", "-q"]).trim(), &id[..12]);

    let out = t.run(&["rm", "bg"]);
    assert_ne!(code(&out), 0, "rm without -f refuses: {}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("container is running"));
    assert_eq!(t.ok(&["rm", "-f", "bg"]).trim(), "bg");
    assert!(!alive(pid), "rm -f kills the process");
    assert!(!t.root().join("containers").join(&id).exists());
    assert!(!t.run_root().join("containers").join(&id).exists());
    assert_eq!(t.ok(&["ps", "-a", "-q"]).trim(), "");
}

#[test]
fn stop_kills_a_process_ignoring_sigterm_after_the_timeout() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.run_d(&[
        "--name",
        "stubborn",
        "busybox",
        "sh",
        "-c",
        "trap '' TERM; while true; do sleep 0.1; done",
    ]);
    let start = Instant::now();
    assert_eq!(t.ok(&["stop", "-t", "1", "stubborn"]).trim(), "stubborn");
    let took = start.elapsed();
    // Not the default 10 s: killed after the 1 s asked for (the upper bound leaves room
    // for a loaded machine; 4 s was too tight under the whole suite on 2 cores).
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(9),
        "stop -t 1 took {took:?}"
    );
    assert_eq!(
        t.inspect_f("stubborn", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    assert_eq!(t.ok(&["wait", "stubborn"]).trim(), "137");
    assert_ne!(
        t.inspect_f("stubborn", "{{.State.FinishedAt}}"),
        "0001-01-01T00:00:00Z"
    );
}

#[test]
fn stop_sends_sigterm_first_and_wait_prints_the_code() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.run_d(&[
        "--name",
        "polite",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 7' TERM; while true; do sleep 0.1; done",
    ]);
    let start = Instant::now();
    t.ok(&["stop", "polite"]);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(t.ok(&["wait", "polite"]).trim(), "7");

    let id = cs.run_d(&["busybox", "sh", "-c", "sleep 0.3; exit 4"]);
    assert_eq!(t.ok(&["wait", &id]).trim(), "4");
    assert_eq!(t.inspect_f(&id, "{{.State.Status}}"), "exited");
}

#[test]
fn kill_sends_the_signal_and_refuses_a_stopped_container() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.run_d(&[
        "--name",
        "kk",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got HUP; exit 9' HUP; while true; do sleep 0.1; done",
    ]);
    assert_eq!(t.ok(&["kill", "-s", "HUP", "kk"]).trim(), "kk");
    assert_eq!(t.ok(&["wait", "kk"]).trim(), "9");
    assert_eq!(t.ok(&["logs", "kk"]), "got HUP\n");
    let out = t.run(&["kill", "kk"]);
    assert_ne!(code(&out), 0);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not running"),
        "{}",
        text(&out)
    );

    cs.run_d(&["--name", "k2", "busybox", "sleep", "1000"]);
    t.ok(&["kill", "k2"]);
    assert_eq!(t.ok(&["wait", "k2"]).trim(), "137");
}

#[test]
fn start_restart_and_rename() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let id = cs.add(&t.ok(&["create", "--name", "svc", "busybox", "sleep", "1000"]));
    assert_eq!(t.inspect_f("svc", "{{.State.Status}}"), "created");
    assert_eq!(t.ok(&["start", "svc"]).trim(), "svc");
    assert_eq!(t.inspect_f("svc", "{{.State.Status}}"), "running");
    let started = t.inspect_f("svc", "{{.State.StartedAt}}");
    let pid = t.inspect_f("svc", "{{.State.Pid}}");
    assert_eq!(t.ok(&["restart", "-t", "0", "svc"]).trim(), "svc");
    assert_eq!(t.inspect_f("svc", "{{.State.Status}}"), "running");
    assert_ne!(t.inspect_f("svc", "{{.State.StartedAt}}"), started);
    assert_ne!(t.inspect_f("svc", "{{.State.Pid}}"), pid);

    t.ok(&["rename", "svc", "www"]);
    assert_eq!(t.inspect_f(&id, "{{.Name}}"), "/www");
    assert_ne!(code(&t.run(&["inspect", "svc"])), 0);
    let other = cs.add(&t.ok(&["create", "--name", "svc", "busybox", "true"]));
    assert_ne!(other, id, "the old name is free again");
    let out = t.run(&["rename", "svc", "www"]);
    assert_ne!(code(&out), 0);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already in use"),
        "{}",
        text(&out)
    );
}

#[test]
fn restart_on_failure_backs_off_and_gives_up_after_n() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.run_d(&[
        "--name",
        "flaky",
        "--restart",
        "on-failure:3",
        "busybox",
        "sh",
        "-c",
        "read up rest < /proc/uptime; echo $up; exit 1",
    ]);
    wait_for(
        "three restarts and the end",
        Duration::from_secs(15),
        || t.inspect_f("flaky", "{{.State.Status}} {{.RestartCount}}") == "exited 3",
    );
    assert_eq!(
        t.inspect_f(
            "flaky",
            "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}} {{.State.ExitCode}}"
        ),
        "on-failure:3 1"
    );
    let logs = t.ok(&["logs", "flaky"]);
    let times: Vec<f64> = logs.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(times.len(), 4, "{logs}");
    // Back-off of 100, 200, 400 ms between the runs.
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    for (gap, min) in gaps.iter().zip([0.1, 0.2, 0.4]) {
        assert!(*gap >= min * 0.9, "gaps {gaps:?}");
    }
    assert!(gaps[2] < 3.0, "gaps {gaps:?}");
}

#[test]
fn restart_always_restarts_until_stopped() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.run_d(&["--name", "loop", "--restart", "always", "busybox", "true"]);
    wait_for("two restarts", Duration::from_secs(10), || {
        t.inspect_f("loop", "{{.RestartCount}}")
            .parse::<u32>()
            .unwrap()
            >= 2
    });
    t.ok(&["stop", "loop"]);
    assert_eq!(t.inspect_f("loop", "{{.State.Status}}"), "exited");
    let count = t.inspect_f("loop", "{{.RestartCount}}");
    // Nothing restarts it any more: the next back-off (at most 6.4 s at this count) has
    // no shim left to run it.
    let run_dir = t.run_root().join("containers").join(cs.add("loop"));
    wait_for("the shim to leave", Duration::from_secs(5), || {
        !run_dir.exists()
    });
    assert_eq!(
        t.inspect_f("loop", "{{.RestartCount}} {{.State.Status}}"),
        format!("{count} exited")
    );
}

#[test]
fn container_prune_removes_stopped_containers_only() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let a = cs.add(&t.ok(&["create", "busybox", "true"]));
    let b = cs.run_d(&["busybox", "sh", "-c", "echo x > /f"]);
    assert_eq!(t.ok(&["wait", &b]).trim(), "0");
    let live = cs.run_d(&["busybox", "sleep", "1000"]);
    let out = t.ok(&["container", "prune", "-f"]);
    assert!(out.starts_with("Deleted Containers:\n"), "{out}");
    assert!(out.contains(&a) && out.contains(&b), "{out}");
    assert!(!out.contains(&live), "{out}");
    assert!(out.contains("\nTotal reclaimed space: "), "{out}");
    assert_eq!(t.ok(&["ps", "-a", "-q"]).trim(), &live[..12]);
    let out = t.ok(&["container", "prune", "-f"]);
    assert_eq!(out, "Total reclaimed space: 0B\n");
}

/// `container prune --filter`: `until` keeps what is younger, `label` and `label!` pick;
/// an unknown filter is refused and removes nothing.
#[test]
fn container_prune_takes_dockers_filters() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let keep = cs.add(&t.ok(&["create", "-l", "keep=yes", "busybox", "true"]));
    let other = cs.add(&t.ok(&["create", "busybox", "true"]));
    let left = || t.ok(&["ps", "-a", "-q", "--no-trunc"]).lines().count();
    let out = t.run(&["container", "prune", "-f", "--filter", "colour=red"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        text(&out).contains("invalid filter 'colour'"),
        "{}",
        text(&out)
    );
    let out = t.ok(&["container", "prune", "-f", "--filter", "until=1h"]);
    assert_eq!(out, "Total reclaimed space: 0B\n");
    assert_eq!(left(), 2);
    let out = t.ok(&["container", "prune", "-f", "--filter", "label!=keep"]);
    assert!(out.contains(&other) && !out.contains(&keep), "{out}");
    let out = t.ok(&[
        "container",
        "prune",
        "-f",
        "--filter",
        "until=0s",
        "--filter",
        "label=keep",
    ]);
    assert!(out.contains(&keep), "{out}");
    assert_eq!(left(), 0);
}

#[test]
fn foreground_run_forwards_sigterm_and_returns_the_code() {
    let t = TestRoot::with_busybox();
    let mut child = KillOnDrop(
        t.tug()
            .args([
                "run",
                "--rm",
                "busybox",
                "sh",
                "-c",
                "trap 'exit 12' TERM; echo ready; while true; do sleep 0.1; done",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(12));
    // --rm: gone once the CLI returned.
    assert_eq!(t.ok(&["ps", "-a", "-q"]).trim(), "");
}

#[test]
fn without_sig_proxy_a_signal_detaches_the_cli() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let mut child = KillOnDrop(
        t.tug()
            .args([
                "run",
                "--sig-proxy=false",
                "--name",
                "stay",
                "busybox",
                "sh",
                "-c",
                "echo ready; sleep 1000",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    cs.add("stay");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(t.inspect_f("stay", "{{.State.Status}}"), "running");
}

#[test]
fn attach_follows_a_running_container_until_it_exits() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.run_d(&[
        "--name",
        "talk",
        "busybox",
        "sh",
        "-c",
        "trap 'echo bye; exit 3' USR1; while true; do echo tick; sleep 0.05; done",
    ]);
    let mut child = KillOnDrop(
        t.tug()
            .args(["attach", "talk"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Attached once output arrives; then the container is told to end.
    assert_eq!(lines.next().unwrap().unwrap(), "tick");
    t.ok(&["kill", "-s", "USR1", "talk"]);
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    assert_eq!(rest.last().map(String::as_str), Some("bye"), "{rest:?}");
    assert_eq!(child.wait().unwrap().code(), Some(3));
}

#[test]
fn a_detached_rm_container_is_removed_when_it_exits() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let id = cs.run_d(&["--rm", "busybox", "sh", "-c", "exit 5"]);
    let dir = t.root().join("containers").join(&id);
    wait_for(
        "the --rm container's removal",
        Duration::from_secs(5),
        || !dir.exists(),
    );
    assert_eq!(t.ok(&["ps", "-a", "-q"]).trim(), "");
    let out = t.run(&[
        "run",
        "-d",
        "--rm",
        "--restart",
        "always",
        "busybox",
        "true",
    ]);
    assert_eq!(code(&out), 125, "{}", text(&out));
}

/// `run -d -i` keeps stdin open for each attach (Docker's `StdinOnce` false): one
/// attached client's end of input does not close it, so a second attach writes to the
/// same process. A foreground `run -i` closes it with its input's end.
#[test]
fn stdin_of_a_detached_interactive_container_outlives_each_attach() {
    use std::io::Write;
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    t.ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        "reader",
        "busybox",
        "sh",
        "-c",
        "while read l; do echo \"got $l\"; done; echo closed",
    ]);
    cs.add("reader");
    assert_eq!(t.inspect_f("reader", "{{.Config.StdinOnce}}"), "false");
    for word in ["one", "two"] {
        let mut attach = KillOnDrop(
            t.tug()
                .args(["attach", "--sig-proxy=false", "reader"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        );
        // The line, then the end of this client's input.
        let mut stdin = attach.stdin.take().unwrap();
        writeln!(stdin, "{word}").unwrap();
        drop(stdin);
        wait_for("the line in the log", Duration::from_secs(10), || {
            t.ok(&["logs", "reader"]).contains(&format!("got {word}\n"))
        });
        drop(attach);
    }
    assert_eq!(t.inspect_f("reader", "{{.State.Running}}"), "true");
    assert!(!t.ok(&["logs", "reader"]).contains("closed"));
    // `create -i` closes it with the first attach's input, as Docker's does.
    let id = t.ok(&["create", "-i", "busybox", "cat"]);
    assert_eq!(t.inspect_f(id.trim(), "{{.Config.StdinOnce}}"), "true");
    t.ok(&["rm", id.trim()]);
    let out = t.run_with_stdin(
        &[
            "run",
            "-i",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "cat; echo closed",
        ],
        b"in\n",
        &[],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "in\nclosed\n");
}
