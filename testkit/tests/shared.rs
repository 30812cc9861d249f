//! Shared fixtures (`ImageExt::shared`): one container for a whole test run. Under
//! `cargo nextest` each test is a process of its own, started by nextest; the test here
//! plays nextest with a "runner" process (this test binary, run again) that starts eight
//! "test" processes (run again too) with a `NEXTEST_RUN_ID`, as nextest does. All eight
//! must get the same container, started once; it must outlive them while the runner
//! lives, and be gone when the runner ends, also by SIGKILL.

mod common;

use common::KillOnDrop;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::is_gone;
use tug_testkit::runners::SyncRunner;
use tug_testkit::{GenericImage, ImageExt};

const ROLE: &str = "TUG_TESTKIT_SHARED_ROLE";

/// The shared request every "test" process makes.
fn request() -> tug_testkit::ContainerRequest<GenericImage> {
    GenericImage::new("busybox", "latest")
        .with_cmd(["sleep", "600"])
        .with_network("none")
        .with_label("tug.test", "shared-fixtures")
        .shared()
}

fn run_again(test: &str, role: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env(ROLE, role)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    c
}

/// A "test" process: starts the shared fixture and says its id. A no-op as an ordinary
/// test.
#[test]
fn helper_test_process() {
    if std::env::var(ROLE).as_deref() != Ok("test") {
        return;
    }
    let c = request().start().unwrap();
    println!("\ncontainer {}", c.id());
}

/// The "runner": eight test processes, four at a time, as nextest would run them; says
/// each one's container, then waits to be ended (stdin closed) or killed.
#[test]
fn helper_runner_process() {
    if std::env::var(ROLE).as_deref() != Ok("runner") {
        return;
    }
    let run_id = format!("shared-test-{}", std::process::id());
    for _ in 0..2 {
        let children: Vec<Child> = (0..4)
            .map(|_| {
                run_again("helper_test_process", "test")
                    .env("NEXTEST_RUN_ID", &run_id)
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success());
            // libtest prints the test's name first on the same line.
            for l in String::from_utf8_lossy(&out.stdout).lines() {
                if let Some(i) = l.find("container ") {
                    println!("\n{}", &l[i..]);
                }
            }
        }
    }
    println!("\ndone");
    if std::env::var("TUG_TESTKIT_RUNNER_WAITS").is_ok() {
        std::thread::sleep(Duration::from_secs(600));
    }
}

/// Runs the runner and returns the containers its test processes got, and the runner.
fn run_the_runner(waits: bool) -> (Vec<String>, KillOnDrop) {
    let mut cmd = run_again("helper_runner_process", "runner");
    // The runner's own environment must not look like nextest's, whatever runs this test.
    cmd.env_remove("NEXTEST_RUN_ID");
    if waits {
        cmd.env("TUG_TESTKIT_RUNNER_WAITS", "1");
    }
    let mut runner = KillOnDrop(cmd.spawn().unwrap());
    let out = runner.0.stdout.take().unwrap();
    let mut ids = Vec::new();
    for l in BufReader::new(out).lines().map_while(Result::ok) {
        if let Some(id) = l.strip_prefix("container ") {
            ids.push(id.to_string());
        }
        if l == "done" {
            break;
        }
    }
    (ids, runner)
}

fn wait_gone(id: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !is_gone(id) {
        assert!(
            Instant::now() < deadline,
            "shared container {id} still there 5 s after {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_shared_fixture_serves_every_process_of_a_run_and_goes_with_the_run() {
    let (ids, mut runner) = run_the_runner(true);
    assert_eq!(
        ids.len(),
        8,
        "every test process said its container: {ids:?}"
    );
    assert!(
        ids.iter().all(|i| i == &ids[0]),
        "one container for the run: {ids:?}"
    );
    // The test processes are gone; the runner lives: the container runs on.
    let engine = tug_testkit::Tug::shared().unwrap().engine();
    assert!(engine.container(&ids[0]).unwrap().state.running);
    // The runner killed: no destructor ran anywhere, the shim removes the container.
    runner.0.kill().unwrap();
    runner.0.wait().unwrap();
    wait_gone(&ids[0], "the run was SIGKILLed");
}

#[test]
fn a_shared_fixture_goes_when_the_run_ends_normally() {
    let (ids, mut runner) = run_the_runner(false);
    assert_eq!(ids.len(), 8);
    assert!(ids.iter().all(|i| i == &ids[0]), "{ids:?}");
    runner.0.wait().unwrap();
    wait_gone(&ids[0], "the run ended");
}

/// Threads of one process (`cargo test`): one container, started once.
#[test]
fn threads_of_one_process_share_one_container() {
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    request()
                        .with_env_var("THREADS", "1")
                        .start()
                        .unwrap()
                        .id()
                        .to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(ids.iter().all(|i| i == &ids[0]), "{ids:?}");
    // Kept while this process lives (its shim removes it after), not when dropped.
    assert!(!is_gone(&ids[0]));
    tug_testkit::Tug::shared()
        .unwrap()
        .engine()
        .remove_container(&ids[0], true)
        .unwrap();
}
