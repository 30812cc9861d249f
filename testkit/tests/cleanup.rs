//! A test process killed by SIGKILL (a timeout, a CI cancel) leaves no container: the
//! process owns its containers, and each one's shim removes it when the owner dies.
//! The "helper binary" is this test binary, run again for its helper test only.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{KillOnDrop, is_gone};
use tug_testkit::runners::SyncRunner;
use tug_testkit::{GenericImage, ImageExt};

const HELPER_ENV: &str = "TUG_TESTKIT_SIGKILL_HELPER";

/// The helper: starts a container, says its id, and waits to be killed. A no-op when
/// run as an ordinary test.
#[test]
fn helper_holds_a_container_until_killed() {
    if std::env::var_os(HELPER_ENV).is_none() {
        return;
    }
    let c = GenericImage::new("busybox", "latest")
        .with_cmd(["sleep", "600"])
        .with_network("none")
        .start()
        .unwrap();
    println!("container {}", c.id());
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn sigkilled_test_process_leaves_no_container() {
    let exe = std::env::current_exe().unwrap();
    let mut helper = KillOnDrop(
        Command::new(exe)
            .args([
                "--exact",
                "helper_holds_a_container_until_killed",
                "--nocapture",
            ])
            .env(HELPER_ENV, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let out = helper.0.stdout.take().unwrap();
    // The helper prints the id once its container runs; an EOF means it failed.
    let id = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("container ").map(str::to_string))
        .expect("the helper exited without starting a container");
    assert!(!is_gone(&id));
    let pid = tug_testkit::Tug::shared()
        .unwrap()
        .engine()
        .container(&id)
        .unwrap()
        .state
        .pid;
    // SIGKILL: no destructor, no atexit.
    helper.0.kill().unwrap();
    helper.0.wait().unwrap();
    let killed = Instant::now();
    // (Quick in practice: the time is printed; the deadline is for a loaded CI machine.)
    let deadline = killed + Duration::from_secs(10);
    let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    let (mut process_gone, mut record_gone) = (None, None);
    while (process_gone.is_none() || record_gone.is_none()) && Instant::now() < deadline {
        if process_gone.is_none() && !proc_dir.exists() {
            process_gone = Some(killed.elapsed());
        }
        if record_gone.is_none() && is_gone(&id) {
            record_gone = Some(killed.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    println!("after the SIGKILL: process gone {process_gone:?}, container removed {record_gone:?}");
    assert!(
        process_gone.is_some(),
        "the container's process {pid} still runs 10 s after its owner was killed"
    );
    assert!(
        record_gone.is_some(),
        "container {id} still there 10 s after its owner was killed"
    );
}
