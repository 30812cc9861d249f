//! Healthchecks run by the shim, with Docker's semantics: a container becomes healthy,
//! or unhealthy after its retries; failures within the start period do not count; a
//! hanging check is killed at its timeout, with what it started; `--no-healthcheck` and
//! `HEALTHCHECK NONE` turn the image's check off; flags override the image's check
//! setting by setting (CMD-SHELL through the image's SHELL); `ps` shows and filters
//! health; `inspect` shows Docker's `State.Health` and `Config.Healthcheck`; a restart
//! starts over at `starting`, a stop reads `unhealthy`. Short intervals keep each test
//! fast; every wait has a deadline.

use std::time::{Duration, Instant};

use serde_json::Value;
use tug_e2e::build::{build_ok, context};
use tug_e2e::containers::Containers;
use tug_e2e::{TestRoot, stderr, wait_for};

const LIMIT: Duration = Duration::from_secs(20);

fn health(t: &TestRoot, name: &str) -> Value {
    t.inspect_first(&["inspect", name])["State"]["Health"].clone()
}

/// Waits until the health status of `name` is `status`; its `State.Health` then.
fn wait_status(t: &TestRoot, name: &str, status: &str) -> Value {
    let mut last = Value::Null;
    wait_for(&format!("{name} to be {status}"), LIMIT, || {
        last = health(t, name);
        last["Status"] == status
    });
    last
}

/// The STATUS column of `name` in `ps -a`.
fn ps_status(t: &TestRoot, name: &str) -> String {
    let filter = format!("name={name}");
    let out = t.ok(&["ps", "-a", "--filter", &filter, "--format", "{{.Status}}"]);
    out.trim().to_string()
}

/// The names `ps -a --filter health=<h>` lists, sorted.
fn ps_health(t: &TestRoot, h: &str) -> Vec<String> {
    let filter = format!("health={h}");
    let out = t.ok(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"]);
    let mut v: Vec<String> = out.lines().map(String::from).collect();
    v.sort();
    v
}

/// Builds image `tag` from a context holding only `dockerfile`.
fn build_image(t: &TestRoot, tag: &str, dockerfile: &str) {
    let ctx = context(t, tag, &[("Dockerfile", dockerfile)]);
    build_ok(t, &["-t", tag, &ctx]);
}

/// Runs `tug ARGS`, which must fail with 125 and say `msg`.
fn fails_with(t: &TestRoot, args: &[&str], msg: &str) {
    let out = t.run(args);
    assert_eq!(out.status.code(), Some(125), "{args:?}: {}", stderr(&out));
    assert!(stderr(&out).contains(msg), "{args:?}: {}", stderr(&out));
}

/// How many host processes have the command line `cmdline` (NUL-separated).
fn host_processes(cmdline: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == cmdline.as_bytes()))
        .count()
}

fn log(h: &Value) -> &Vec<Value> {
    h["Log"].as_array().expect("State.Health.Log is an array")
}

#[test]
fn a_passing_check_makes_the_container_healthy_and_ps_says_so() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.run_d(&[
        "--name",
        "web",
        "--health-cmd",
        "test -e /tmp/ok",
        "--health-interval",
        "100ms",
        "--health-start-period",
        "1m",
        "--health-start-interval",
        "100ms",
        "busybox",
        "sleep",
        "60",
    ]);
    cs.run_d(&["--name", "plain", "busybox", "sleep", "60"]);
    // The state is `starting` as soon as `run -d` returns, and stays so while the check
    // fails within the start period.
    let h = health(&t, "web");
    assert_eq!(h["Status"], "starting", "{h}");
    let mut h = h;
    wait_for("a failed check", LIMIT, || {
        h = health(&t, "web");
        !log(&h).is_empty()
    });
    assert_eq!(h["Status"], "starting", "{h}");
    let status = ps_status(&t, "web");
    assert!(
        status.starts_with("Up ") && status.ends_with(" (health: starting)"),
        "{status}"
    );
    assert_eq!(ps_health(&t, "starting"), ["web"]);
    t.ok(&["exec", "web", "touch", "/tmp/ok"]);
    let h = wait_status(&t, "web", "healthy");
    assert_eq!(h["FailingStreak"], 0);
    assert_eq!(log(&h).last().unwrap()["ExitCode"], 0);
    let status = ps_status(&t, "web");
    assert!(
        status.starts_with("Up ") && status.ends_with(" (healthy)"),
        "{status}"
    );
    // A container without a check has no State.Health and no health in its STATUS.
    assert_eq!(health(&t, "plain"), Value::Null);
    assert!(!ps_status(&t, "plain").contains('('));
    assert_eq!(ps_health(&t, "healthy"), ["web"]);
    assert_eq!(ps_health(&t, "none"), ["plain"]);
    assert!(ps_health(&t, "unhealthy").is_empty());
    fails_with(&t, &["ps", "--filter", "health=sick"], "health: sick");
}

#[test]
fn a_failing_check_makes_it_unhealthy_after_its_retries_and_keeps_five_results() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.run_d(&[
        "--name",
        "sick",
        "--health-cmd",
        "echo failing; echo why >&2; exit 3",
        "--health-interval",
        "100ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "60",
    ]);
    let h = wait_status(&t, "sick", "unhealthy");
    assert!(h["FailingStreak"].as_u64().unwrap() >= 2, "{h}");
    let last = log(&h).last().unwrap();
    assert_eq!(last["ExitCode"], 3);
    assert_eq!(last["Output"], "failing\nwhy\n");
    // It goes on checking; the log keeps the last five results.
    let mut h = h;
    wait_for("seven failures", LIMIT, || {
        h = health(&t, "sick");
        h["FailingStreak"].as_u64().unwrap() >= 7
    });
    assert_eq!(log(&h).len(), 5);
    assert_eq!(h["Status"], "unhealthy");
    let status = ps_status(&t, "sick");
    assert!(status.ends_with(" (unhealthy)"), "{status}");
    assert_eq!(ps_health(&t, "unhealthy"), ["sick"]);
}

#[test]
fn failures_within_the_start_period_do_not_count_and_a_success_there_makes_it_healthy() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let flags = |name: &'static str, start_period: &'static str| {
        vec![
            "--name",
            name,
            "--health-cmd",
            "test -e /tmp/ok",
            "--health-interval",
            "100ms",
            "--health-start-interval",
            "100ms",
            "--health-start-period",
            start_period,
            "--health-retries",
            "1",
            "busybox",
            "sleep",
            "60",
        ]
    };
    let began = Instant::now();
    cs.run_d(&flags("never", "3s"));
    cs.run_d(&flags("late", "1m"));
    // Failures in the start period: logged, not counted, still starting.
    let mut h = Value::Null;
    wait_for("two failed checks of never", LIMIT, || {
        h = health(&t, "never");
        log(&h).len() >= 2
    });
    if began.elapsed() < Duration::from_millis(2500) {
        assert_eq!(h["Status"], "starting", "{h}");
        assert_eq!(h["FailingStreak"], 0, "{h}");
        assert_eq!(log(&h)[0]["ExitCode"], 1);
    }
    // A success within the start period makes it healthy at once, after failures that
    // with one retry would have made it unhealthy outside the period.
    wait_for("a failed check of late", LIMIT, || {
        h = health(&t, "late");
        !log(&h).is_empty()
    });
    assert_eq!(
        (&h["Status"], &h["FailingStreak"]),
        (&"starting".into(), &0.into())
    );
    t.ok(&["exec", "late", "touch", "/tmp/ok"]);
    let h = wait_status(&t, "late", "healthy");
    assert!(log(&h).iter().any(|r| r["ExitCode"] == 1), "{h}");
    // After the start period, one failure (retries 1) makes it unhealthy.
    let h = wait_status(&t, "never", "unhealthy");
    assert_eq!(h["FailingStreak"], 1, "{h}");
    assert!(began.elapsed() >= Duration::from_secs(3));
}

#[test]
fn a_hanging_check_is_killed_at_its_timeout_with_what_it_started() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.run_d(&[
        "--name",
        "hang",
        // The shell waits on its `sleep` child: the kill must take the whole group.
        "--health-cmd",
        "echo started; sleep 7731; echo late",
        "--health-timeout",
        "500ms",
        "--health-interval",
        "100ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "600",
    ]);
    wait_status(&t, "hang", "unhealthy");
    let mut h = Value::Null;
    wait_for("three timed-out checks", LIMIT, || {
        h = health(&t, "hang");
        log(&h).len() >= 3
    });
    for r in log(&h) {
        assert_eq!(r["ExitCode"], -1, "{h}");
        let out = r["Output"].as_str().unwrap();
        assert!(
            out.starts_with("Health check exceeded timeout (500ms)"),
            "{h}"
        );
    }
    let full = "Health check exceeded timeout (500ms): started\n";
    assert!(log(&h).iter().any(|r| r["Output"] == full), "{h}");
    // Nothing of the killed checks is left: at most the probe running now.
    // (A probe running is two processes: its shell and the shell's `sleep`.)
    let top = t.ok(&["top", "hang"]);
    let shells = top
        .lines()
        .filter(|l| l.contains("sh -c echo started"))
        .count();
    let sleeps = top.lines().filter(|l| l.ends_with(" sleep 7731")).count();
    assert!(shells <= 1 && sleeps <= 1, "{top}");
    // Stopped, the container has no process left at all, the probe's included.
    t.ok(&["stop", "-t", "0", "hang"]);
    assert_eq!(health(&t, "hang")["Status"], "unhealthy");
    assert_eq!(host_processes("sleep\u{0}7731\u{0}"), 0);
}

#[test]
fn no_healthcheck_and_healthcheck_none_turn_the_images_check_off() {
    let t = TestRoot::with_busybox();
    build_image(
        &t,
        "checked",
        "FROM busybox\nHEALTHCHECK --interval=100ms --retries=1 CMD [\"true\"]\n",
    );
    build_image(&t, "unchecked", "FROM checked\nHEALTHCHECK NONE\n");
    let cs = Containers::new(&t);
    cs.run_d(&["--name", "img", "checked", "sleep", "60"]);
    cs.run_d(&[
        "--name",
        "off",
        "--no-healthcheck",
        "checked",
        "sleep",
        "60",
    ]);
    cs.run_d(&["--name", "none", "unchecked", "sleep", "60"]);
    let h = wait_status(&t, "img", "healthy");
    assert_eq!(log(&h)[0]["ExitCode"], 0);
    // As Docker's daemon merges them, the image's timings stay beside the flag's NONE.
    let off = t.inspect_first(&["inspect", "off"]);
    assert_eq!(
        off["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["NONE"], "Interval": 100_000_000, "Retries": 1})
    );
    let none = t.inspect_first(&["inspect", "none"]);
    assert_eq!(
        none["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["NONE"]})
    );
    for name in ["off", "none"] {
        assert_eq!(health(&t, name), Value::Null, "{name}");
        assert!(!ps_status(&t, name).contains('('), "{name}");
    }
    assert_eq!(ps_health(&t, "none"), ["none", "off"]);
    let both = [
        "run",
        "--no-healthcheck",
        "--health-retries",
        "2",
        "checked",
    ];
    fails_with(
        &t,
        &both,
        "--no-healthcheck conflicts with --health-* options",
    );
}

#[test]
fn flags_override_the_images_check_setting_by_setting() {
    let t = TestRoot::with_busybox();
    // The image's check fails; its SHELL runs CMD-SHELL checks.
    build_image(
        &t,
        "img",
        "FROM busybox\n\
             SHELL [\"/bin/echo\", \"via-shell\"]\n\
             HEALTHCHECK --interval=100ms --retries=1 CMD exit 1\n",
    );
    let cs = Containers::new(&t);
    cs.run_d(&["--name", "cmd", "--health-cmd", "x", "img", "sleep", "60"]);
    cs.run_d(&[
        "--name",
        "retries",
        "--health-retries",
        "50",
        "img",
        "sleep",
        "60",
    ]);
    // `x` runs as `/bin/echo via-shell x` (the image's SHELL, which exits 0); with
    // only --health-retries, the image's `exit 1` runs the same way.
    for (name, test, retries, output) in [
        ("cmd", "x", 1, "via-shell x\n"),
        ("retries", "exit 1", 50, "via-shell exit 1\n"),
    ] {
        let c = t.inspect_first(&["inspect", name]);
        assert_eq!(
            c["Config"]["Healthcheck"],
            serde_json::json!({"Test": ["CMD-SHELL", test], "Interval": 100_000_000, "Retries": retries})
        );
        let h = wait_status(&t, name, "healthy");
        assert_eq!(log(&h)[0]["Output"], output, "{name}");
    }
    // A commit keeps the check the container ran with, as Docker's does.
    t.ok(&["commit", "cmd", "committed"]);
    let image = t.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Healthcheck}}",
        "committed",
    ]);
    let image: Value = serde_json::from_str(&image).unwrap();
    assert_eq!(image["Test"], serde_json::json!(["CMD-SHELL", "x"]));
    fails_with(
        &t,
        &["run", "--health-interval", "10", "img"],
        "--health-interval",
    );
    let tiny = ["create", "--health-timeout", "10us", "img"];
    fails_with(&t, &tiny, "Timeout in Healthcheck cannot be less than 1ms");
}

#[test]
fn inspect_shows_dockers_health_json() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.run_d(&[
        "--name",
        "shape",
        "--health-cmd",
        "echo ok",
        "--health-interval",
        "100ms",
        "--health-timeout",
        "5s",
        "--health-start-period",
        "1m",
        "--health-start-interval",
        "100ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "60",
    ]);
    let h = wait_status(&t, "shape", "healthy");
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&h), ["FailingStreak", "Log", "Status"]);
    let entry = &log(&h)[0];
    assert_eq!(keys(entry), ["End", "ExitCode", "Output", "Start"]);
    assert_eq!(entry["Output"], "ok\n");
    // RFC 3339 times in UTC with nanoseconds, as Docker writes them; Start before End.
    let (start, end) = (
        entry["Start"].as_str().unwrap(),
        entry["End"].as_str().unwrap(),
    );
    for s in [start, end] {
        let b = s.as_bytes();
        assert!(
            s.len() == 30 && b[10] == b'T' && b[19] == b'.' && s.ends_with('Z'),
            "{s}"
        );
    }
    assert!(start < end, "{start} {end}");
    let c = t.inspect_first(&["inspect", "shape"]);
    assert_eq!(
        c["Config"]["Healthcheck"],
        serde_json::json!({
            "Test": ["CMD-SHELL", "echo ok"],
            "Interval": 100_000_000u64,
            "Timeout": 5_000_000_000u64,
            "StartPeriod": 60_000_000_000u64,
            "StartInterval": 100_000_000u64,
            "Retries": 2
        })
    );
    let f = t.ok(&["inspect", "-f", "{{.State.Health.Status}}", "shape"]);
    assert_eq!(f, "healthy\n");
}

#[test]
fn a_restart_starts_over_at_starting_and_a_stop_reads_unhealthy() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    // /dev/shm is a new tmpfs at each start: the check passes once the test made the
    // file, and fails again after a restart until it makes it again.
    cs.run_d(&[
        "--name",
        "again",
        "--health-cmd",
        "test -e /dev/shm/ok",
        "--health-interval",
        "100ms",
        "--health-start-period",
        "30s",
        "--health-start-interval",
        "100ms",
        "busybox",
        "sleep",
        "60",
    ]);
    t.ok(&["exec", "again", "touch", "/dev/shm/ok"]);
    let before = wait_status(&t, "again", "healthy");
    t.ok(&["restart", "-t", "0", "again"]);
    let h = health(&t, "again");
    assert_eq!(h["Status"], "starting", "{h}");
    assert_eq!(h["FailingStreak"], 0, "{h}");
    // The log goes on from before the restart, as Docker's does.
    assert!(!log(&h).is_empty());
    t.ok(&["exec", "again", "touch", "/dev/shm/ok"]);
    let after = wait_status(&t, "again", "healthy");
    assert_ne!(log(&after).last(), log(&before).last());
    // Paused, no check runs: Docker's monitor stops and says unhealthy; thawed, it goes on.
    t.ok(&["pause", "again"]);
    assert_eq!(health(&t, "again")["Status"], "unhealthy");
    assert!(ps_status(&t, "again").ends_with(" (Paused)"));
    t.ok(&["unpause", "again"]);
    let at_thaw = log(&health(&t, "again")).last().cloned();
    wait_for("a check after the thaw", LIMIT, || {
        let h = health(&t, "again");
        h["Status"] == "healthy" && log(&h).last() != at_thaw.as_ref()
    });
    t.ok(&["stop", "-t", "0", "again"]);
    assert_eq!(health(&t, "again")["Status"], "unhealthy");
    let status = ps_status(&t, "again");
    assert!(status.starts_with("Exited (137)"), "{status}");
    assert_eq!(ps_health(&t, "unhealthy"), ["again"]);
}

#[test]
fn a_check_runs_in_exactly_the_sandbox_of_an_exec() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    // Who and where the check runs, what it may do, and which cgroup and namespaces it
    // is in: the same as `tug exec` gives, user, working dir and environment included.
    let probe = "id; pwd; echo $HOSTNAME $FOO; grep -E '^(CapEff|CapBnd|CapPrm|Seccomp|NoNewPrivs)' /proc/self/status; cat /proc/self/cgroup; ls -l /proc/self/ns | sed 's/.*-> //'";
    cs.run_d(&[
        "--name",
        "boxed",
        "-u",
        "1000:1000",
        "-w",
        "/tmp",
        "-e",
        "FOO=bar",
        "--cap-drop",
        "NET_RAW",
        "--health-cmd",
        probe,
        "--health-interval",
        "100ms",
        "busybox",
        "sleep",
        "60",
    ]);
    let h = wait_status(&t, "boxed", "healthy");
    let from_check = log(&h)[0]["Output"].as_str().unwrap().to_string();
    let from_exec = t.ok(&["exec", "boxed", "sh", "-c", probe]);
    assert_eq!(from_check, from_exec);
    assert!(from_check.starts_with("uid=1000 gid=1000"), "{from_check}");
    assert!(from_check.contains("/tmp\n"), "{from_check}");
    assert!(from_check.contains(" bar\n"), "{from_check}");
    assert!(from_check.contains("Seccomp:\t2"), "{from_check}");
}
