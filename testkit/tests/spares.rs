//! Warm spares (`with_spare(true)`): the next start of the same request takes a container
//! that was made ready in the background; each start still gets a container of its own;
//! the spares go with `Tug::remove_spares` and with the process, also when it is killed.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{KillOnDrop, eventually, is_gone};
use tug_testkit::core::WaitFor;
use tug_testkit::runners::SyncRunner;
use tug_testkit::{ContainerRequest, GenericImage, ImageExt, Tug};

const HELPER_ENV: &str = "TUG_TESTKIT_SPARE_HELPER";
const SWEEP_ENV: &str = "TUG_TESTKIT_SPARE_SWEEP";

/// `remove_spares` removes all of the process's spares: the tests that call it take
/// turns (under `cargo test` they share a process).
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A busybox web server; `tag` (a label) tells this test's containers apart from other
/// tests' (and makes the request, so the spare's key, its own).
fn web(tag: &str) -> ContainerRequest<GenericImage> {
    GenericImage::new("busybox", "latest")
        .with_wait_for(WaitFor::port(8080))
        .with_cmd(["httpd", "-f", "-p", "8080"])
        .with_exposed_port(8080)
        .with_label("test", tag)
        .with_spare(true)
}

/// The running containers labelled `test=tag`: their ids.
fn running(tag: &str) -> Vec<String> {
    let engine = Tug::shared().unwrap().engine();
    let mut ids: Vec<String> = engine
        .containers()
        .unwrap()
        .into_iter()
        .filter(|c| c.state.running && c.config.labels.get("test").map(String::as_str) == Some(tag))
        .map(|c| c.id.to_string())
        .collect();
    ids.sort();
    ids
}

/// Waits for the one spare besides `handed` (the containers handed out): its id.
fn spare_besides(tag: &str, handed: &[&str]) -> String {
    let mut spare = None;
    let ready = eventually(Duration::from_secs(30), || {
        let others: Vec<String> = running(tag)
            .into_iter()
            .filter(|id| !handed.contains(&id.as_str()))
            .collect();
        spare = (others.len() == 1).then(|| others[0].clone());
        spare.is_some()
    });
    assert!(ready, "no spare besides {handed:?}: {:?}", running(tag));
    spare.unwrap()
}

#[test]
fn the_next_start_takes_the_spare_and_a_new_spare_is_made() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let tag = format!("spare-next-{}", std::process::id());
    let first = web(&tag).start().unwrap();
    let spare = spare_besides(&tag, &[first.id()]);
    assert_ne!(spare, first.id());

    let second = web(&tag).start().unwrap();
    assert_eq!(second.id(), spare, "the second start took the spare");
    // Its own container and host port, ready and serving.
    let (p1, p2) = (
        first.get_host_port_ipv4(8080).unwrap(),
        second.get_host_port_ipv4(8080).unwrap(),
    );
    assert_ne!(p1, p2);
    for port in [p1, p2] {
        std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    }
    let next = spare_besides(&tag, &[first.id(), second.id()]);

    // Handed-out containers go when dropped, as any fixture; the spare stays.
    let ids = [first.id().to_string(), second.id().to_string()];
    drop(first);
    drop(second);
    assert!(ids.iter().all(|id| is_gone(id)));
    assert_eq!(running(&tag), vec![next.clone()]);

    // The process's spares on this root go with remove_spares.
    assert_eq!(Tug::shared().unwrap().remove_spares().unwrap(), 1);
    assert!(is_gone(&next));
    assert!(running(&tag).is_empty());
}

#[test]
fn a_spare_that_died_is_not_handed_out() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let tag = format!("spare-dead-{}", std::process::id());
    let first = web(&tag).start().unwrap();
    let spare = spare_besides(&tag, &[first.id()]);
    let engine = Tug::shared().unwrap().engine();
    engine.kill_container(&spare, Some("KILL")).unwrap();
    assert!(eventually(Duration::from_secs(10), || !running(&tag).contains(&spare)));

    let second = web(&tag).start().unwrap();
    assert_ne!(second.id(), spare);
    std::net::TcpStream::connect(("127.0.0.1", second.get_host_port_ipv4(8080).unwrap())).unwrap();
    assert!(is_gone(&spare), "the dead spare was removed");
    drop((first, second));
    Tug::shared().unwrap().remove_spares().unwrap();
    assert!(running(&tag).is_empty());
}

/// The helper: starts a fixture with a spare, says both ids once the spare is there, and
/// waits to be killed. A no-op when run as an ordinary test.
#[test]
fn helper_keeps_a_spare_until_killed() {
    let Some(tag) = std::env::var_os(HELPER_ENV) else {
        return;
    };
    let tag = tag.to_string_lossy().into_owned();
    let c = web(&tag).start().unwrap();
    let spare = spare_besides(&tag, &[c.id()]);
    println!("containers {} {spare}", c.id());
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn a_sigkilled_process_leaves_no_spare() {
    let tag = format!("spare-killed-{}", std::process::id());
    let mut helper = KillOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "helper_keeps_a_spare_until_killed",
                "--nocapture",
            ])
            .env(HELPER_ENV, &tag)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let out = helper.0.stdout.take().unwrap();
    let ids: Vec<String> = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("containers ")
                .map(|s| s.split(' ').map(str::to_string).collect())
        })
        .expect("the helper exited without its containers");
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|id| !is_gone(id)));
    helper.0.kill().unwrap();
    helper.0.wait().unwrap();
    assert!(
        eventually(Duration::from_secs(10), || ids.iter().all(|id| is_gone(id))),
        "left after the SIGKILL: {:?}",
        running(&tag)
    );
}

/// The helper of the sweep test: starts a fixture with a spare (the process's first
/// spare, so the sweep of orphaned spares runs), waits for the spare, and ends. A no-op
/// when run as an ordinary test.
#[test]
fn helper_starts_a_first_spare() {
    let Some(tag) = std::env::var_os(SWEEP_ENV) else {
        return;
    };
    let tag = tag.to_string_lossy().into_owned();
    let c = web(&tag).start().unwrap();
    spare_besides(&tag, &[c.id()]);
    println!("spare made");
}

/// A spare whose process ended between its create and its start (a record in state
/// created, with no shim to remove it) is removed by the next process's first spare.
#[test]
fn a_spare_left_created_by_an_ended_process_is_swept() {
    let tag = format!("spare-orphan-{}", std::process::id());
    // A pid that is gone: a child that has exited and been reaped.
    let mut gone = Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    let engine = Tug::shared().unwrap().engine();
    let orphan = engine
        .create_container(&tug::container::CreateOptions {
            image: "busybox".into(),
            command: vec!["true".into()],
            network: "none".into(),
            labels: vec![
                format!("tug.testkit.spare={dead_pid}"),
                format!("test={tag}"),
            ],
            ..Default::default()
        })
        .unwrap();
    let orphan = orphan.id.to_string();
    // A spare of a live process in state created is left alone: this process's own.
    let mine = engine
        .create_container(&tug::container::CreateOptions {
            image: "busybox".into(),
            command: vec!["true".into()],
            network: "none".into(),
            labels: vec![
                format!("tug.testkit.spare={}", std::process::id()),
                format!("test={tag}"),
            ],
            ..Default::default()
        })
        .unwrap();
    let mine = mine.id.to_string();

    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "helper_starts_a_first_spare", "--nocapture"])
        .env(SWEEP_ENV, format!("{tag}-helper"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("spare made"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(is_gone(&orphan), "the orphaned spare was swept");
    assert!(!is_gone(&mine), "a live process's spare was kept");
    engine.remove_container(&mine, true).unwrap();
}
