//! The testkit's fixtures on real busybox containers: start, wait strategies, exec,
//! logs, files, lifecycle, and clean-up (also after a failed start).

mod common;

use std::io::BufRead;
use std::time::Duration;

use common::{eventually, is_gone};
use tug_testkit::core::{Healthcheck, Mount, WaitFor};
use tug_testkit::runners::SyncRunner;
use tug_testkit::{Error, GenericImage, ImageExt};

fn busybox() -> GenericImage {
    GenericImage::new("busybox", "latest")
}

#[test]
fn dropped_fixture_is_removed() {
    let c = busybox()
        .with_cmd(["sleep", "60"])
        .with_network("none")
        .start()
        .unwrap();
    let id = c.id().to_string();
    let pid = c.pid();
    assert!(pid > 0);
    assert!(!is_gone(&id));
    drop(c);
    assert!(is_gone(&id), "container {id} left behind");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
fn log_waits_count_lines_and_match_regexes() {
    let c = busybox()
        .with_cmd([
            "sh",
            "-c",
            "echo tick; echo tick; echo 'port 8080 open' >&2; echo tick; exec sleep 60",
        ])
        .with_network("none")
        .with_wait_for(WaitFor::message_on_stdout("tick").times(3))
        .with_wait_for(WaitFor::stderr_regex(r"^port \d+ open$"))
        .start()
        .unwrap();
    assert_eq!(c.stdout_string().unwrap(), "tick\ntick\ntick\n");
    assert_eq!(c.stderr_to_vec().unwrap(), b"port 8080 open\n");
}

#[test]
fn wait_timeout_names_the_condition_and_shows_logs() {
    let err = busybox()
        .with_cmd(["sh", "-c", "echo 'still booting'; exec sleep 60"])
        .with_network("none")
        .with_wait_for(WaitFor::message_on_stdout("never printed"))
        .with_startup_timeout(Duration::from_millis(300))
        .start()
        .unwrap_err();
    let Error::WaitTimeout { ref id, .. } = err else {
        panic!("not a timeout: {err}");
    };
    let text = err.to_string();
    assert!(text.contains("\"never printed\""), "{text}");
    assert!(text.contains("stdout: still booting"), "{text}");
    assert!(is_gone(id), "a failed start left {id}");
}

#[test]
fn early_exit_fails_the_start_with_its_logs() {
    let err = busybox()
        .with_cmd(["sh", "-c", "echo 'config is bad' >&2; exit 3"])
        .with_network("none")
        .with_wait_for(WaitFor::port(8080))
        .start()
        .unwrap_err();
    let Error::Exited { ref id, code, .. } = err else {
        panic!("not an early exit: {err}");
    };
    assert_eq!(code, 3);
    assert!(err.to_string().contains("stderr: config is bad"), "{err}");
    assert!(is_gone(id));
}

#[test]
fn a_command_that_cannot_run_fails_the_start_and_leaves_nothing() {
    let err = busybox()
        .with_cmd(["/no/such/program"])
        .with_network("none")
        .start()
        .unwrap_err();
    let Error::Start { ref id, .. } = err else {
        panic!("not a start error: {err}");
    };
    assert!(err.to_string().contains("/no/such/program"), "{err}");
    assert!(is_gone(id));
}

#[test]
fn exit_duration_and_exec_waits() {
    let c = busybox()
        .with_cmd(["sh", "-c", "echo done"])
        .with_network("none")
        .with_wait_for(WaitFor::exit(0))
        .start()
        .unwrap();
    assert_eq!(c.exit_code().unwrap(), Some(0));
    let err = busybox()
        .with_cmd(["sh", "-c", "exit 4"])
        .with_network("none")
        .with_wait_for(WaitFor::exit(0))
        .start()
        .unwrap_err();
    assert!(matches!(err, Error::Exited { code: 4, .. }), "{err}");

    let t = std::time::Instant::now();
    let _c = busybox()
        .with_cmd(["sh", "-c", "sleep 0.2; touch /tmp/ready; exec sleep 60"])
        .with_network("none")
        .with_wait_for(WaitFor::exec(["test", "-e", "/tmp/ready"]))
        .with_wait_for(WaitFor::millis(100))
        .start()
        .unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn healthy_runs_the_healthcheck_until_it_passes() {
    let c = busybox()
        .with_cmd(["sh", "-c", "sleep 0.2; touch /tmp/healthy; exec sleep 60"])
        .with_network("none")
        .with_health_check(Healthcheck::cmd(["test", "-e", "/tmp/healthy"]))
        .with_wait_for(WaitFor::healthcheck())
        .start()
        .unwrap();
    assert_eq!(c.exec(["test", "-e", "/tmp/healthy"]).unwrap().exit_code, 0);
    // busybox has no HEALTHCHECK: healthy() without one is a clear error.
    let err = busybox()
        .with_cmd(["sleep", "60"])
        .with_network("none")
        .with_wait_for(WaitFor::healthcheck())
        .start()
        .unwrap_err();
    assert!(err.to_string().contains("has no healthcheck"), "{err}");
    // The shim ran the check: the container's own state says healthy.
    let h = c.engine().health(c.id()).unwrap().unwrap();
    assert_eq!(h.status, tug::container::HealthStatus::Healthy);
}

#[test]
fn an_unhealthy_container_fails_the_healthcheck_wait_with_the_checks_output() {
    // A start period of its own (shorter than the startup timeout): after it, two
    // failures make the container unhealthy, and the wait says so at once.
    let err = busybox()
        .with_cmd(["sleep", "60"])
        .with_network("none")
        .with_health_check(
            Healthcheck::cmd_shell("echo not ready; exit 1")
                .with_start_period(Duration::from_millis(200))
                .with_interval(Duration::from_millis(50))
                .with_retries(2),
        )
        .with_wait_for(WaitFor::healthcheck())
        .with_startup_timeout(Duration::from_secs(30))
        .start()
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("is unhealthy after 2 failed checks"), "{msg}");
    assert!(msg.contains("exited 1: not ready"), "{msg}");
}

#[test]
fn port_wait_sees_a_listener_inside_the_container() {
    let c = busybox()
        .with_cmd(["sh", "-c", "sleep 0.1; exec httpd -f -p 8080"])
        .with_network("none")
        .with_wait_for(WaitFor::port(8080))
        .start()
        .unwrap();
    let out = c.exec(["netstat", "-ltn"]).unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(":8080"));
}

#[test]
fn files_env_and_mounts_reach_the_container() {
    let c = busybox()
        .with_cmd(["sleep", "60"])
        .with_network("none")
        .with_env_var("MODE", "test")
        .with_copy_to("/www/index.html", b"hello".to_vec())
        .with_mount(Mount::tmpfs_mount("/scratch"))
        .with_label("suite", "testkit")
        .start()
        .unwrap();
    let out = c.exec(["cat", "/www/index.html"]).unwrap();
    assert_eq!(out.stdout, b"hello");
    let out = c
        .exec([
            "sh",
            "-c",
            "echo $MODE; grep -c ' /scratch tmpfs' /proc/mounts",
        ])
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "test\n1\n");
    let labels = c.inspect().unwrap().config.labels;
    assert_eq!(labels.get("suite").map(String::as_str), Some("testkit"));
}

#[test]
fn exec_reports_code_and_both_streams() {
    let c = busybox()
        .with_cmd(["sleep", "60"])
        .with_network("none")
        .start()
        .unwrap();
    let out = c
        .exec(["sh", "-c", "echo out; echo err >&2; exit 7"])
        .unwrap();
    assert_eq!(out.exit_code, 7);
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(c.exec(["no-such-cmd"]).unwrap().exit_code, 127);
}

#[test]
fn log_stream_follows_until_exit() {
    let c = busybox()
        .with_cmd([
            "sh",
            "-c",
            "for i in 1 2 3; do echo line $i; sleep 0.05; done; echo oops >&2",
        ])
        .with_network("none")
        .with_wait_for(WaitFor::message_on_stdout("line 1"))
        .start()
        .unwrap();
    let lines: Vec<String> = c.stdout(true).lines().map(Result::unwrap).collect();
    assert_eq!(lines, ["line 1", "line 2", "line 3"]);
    let errs: Vec<String> = c.stderr(true).lines().map(Result::unwrap).collect();
    assert_eq!(errs, ["oops"]);
}

#[test]
fn stop_start_pause_and_rm() {
    let c = busybox()
        .with_cmd(["sleep", "60"])
        .with_network("none")
        .with_container_name(format!("testkit-life-{}", std::process::id()))
        .start()
        .unwrap();
    let id = c.id().to_string();
    assert!(c.name().starts_with("testkit-life-"));
    c.pause().unwrap();
    assert!(c.inspect().unwrap().state.paused);
    c.unpause().unwrap();
    c.stop_with_timeout(Some(0)).unwrap();
    assert_eq!(c.exit_code().unwrap(), Some(137));
    c.start().unwrap();
    assert_eq!(c.exit_code().unwrap(), None);
    assert_eq!(c.exec(["true"]).unwrap().exit_code, 0);
    c.rm().unwrap();
    assert!(eventually(Duration::from_secs(1), || is_gone(&id)));
}

#[test]
fn a_restart_waits_again_for_this_runs_log_line() {
    let c = busybox()
        .with_cmd(["sh", "-c", "sleep 0.1; echo up; exec sleep 60"])
        .with_network("none")
        .with_wait_for(WaitFor::message_on_stdout("up"))
        .start()
        .unwrap();
    c.stop_with_timeout(Some(0)).unwrap();
    c.start().unwrap();
    assert_eq!(c.stdout_string().unwrap(), "up\nup\n");
}

#[test]
fn resource_limits_apply() {
    let c = busybox()
        .with_cmd(["sleep", "60"])
        .with_network("none")
        .with_memory_limit(64 << 20)
        .with_pids_limit(50)
        .start()
        .unwrap();
    let hc = c.inspect().unwrap().host_config;
    assert_eq!(hc.resources.memory, 64 << 20);
    assert_eq!(hc.resources.pids_limit, Some(50));
}
