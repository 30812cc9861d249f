//! The `Compose` fixture: the project of `tests/compose/` (web counting its visits in a
//! redis-like kv with a healthcheck, both built from busybox) brought up for a test,
//! reached through its published port, exec and logs, and taken down with everything it
//! made: on drop, and by its reaper when the test process is SIGKILLed. The "helper" of
//! the SIGKILL test is this test binary, run again for its helper test only.

mod common;

use common::KillOnDrop;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::eventually;
use tug_testkit::core::WaitFor;
use tug_testkit::{Compose, Tug};

const FILE: &str = "tests/compose/docker-compose.yml";

/// The body of `GET path` on 127.0.0.1:`port`.
fn get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    r.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(r)
}

/// What the engine still has of project `name`: containers, networks, volumes.
fn leftovers(name: &str) -> Vec<String> {
    let engine = Tug::shared().unwrap().engine();
    let label = tug::compose::LABEL_PROJECT;
    let mut out: Vec<String> = engine
        .containers()
        .unwrap()
        .into_iter()
        .filter(|c| c.config.labels.get(label).map(String::as_str) == Some(name))
        .map(|c| format!("container {}", c.short_name()))
        .collect();
    out.extend(
        engine
            .networks()
            .unwrap()
            .into_iter()
            .filter(|n| n.labels.get(label).map(String::as_str) == Some(name))
            .map(|n| format!("network {}", n.name)),
    );
    out.extend(
        engine
            .volumes()
            .unwrap()
            .into_iter()
            .filter(|v| {
                v.labels
                    .as_ref()
                    .and_then(|l| l.get(label))
                    .map(String::as_str)
                    == Some(name)
            })
            .map(|v| format!("volume {}", v.name)),
    );
    // The images built for its services (named `<project>-<service>`).
    for service in ["web", "kv"] {
        let image = format!("{name}-{service}");
        if engine.has_image(&image).unwrap() {
            out.push(format!("image {image}"));
        }
    }
    out
}

#[test]
fn web_answers_through_its_port_with_what_kv_counts() {
    // ANCHOR: compose
    // tests/compose/docker-compose.yml: `web` (port 80) counts visits in `kv`.
    let project = Compose::new(["tests/compose/docker-compose.yml"])
        .with_env("GREETING", "hi") // ${GREETING} in the file
        .with_wait("kv", WaitFor::message_on_stdout("kv ready"))
        .with_wait("kv", WaitFor::healthcheck())
        .with_wait("web", WaitFor::port(80))
        .up()
        .unwrap();
    let port = project.service_host_port("web", 80).unwrap();
    assert_eq!(get(port, "/cgi-bin/visit"), "hi, visit 1\n");
    assert_eq!(get(port, "/cgi-bin/visit"), "hi, visit 2\n");
    // The count is kv's, in its volume.
    let out = project
        .exec("kv", ["sh", "-c", "echo GET visits | nc 127.0.0.1 6379"])
        .unwrap();
    assert_eq!((out.exit_code, out.stdout.as_slice()), (0, &b"2\n"[..]));
    // ANCHOR_END: compose
    let name = project.project_name().to_string();
    assert!(name.starts_with("tugtest-"), "{name}");
    let out = project.exec("kv", ["sh", "-c", "exit 3"]).unwrap();
    assert_eq!(out.exit_code, 3);
    assert!(project.logs("kv").unwrap().contains("kv ready"));
    assert!(project.logs("web").unwrap().contains("web ready"));
    assert!(project.service_host_port("kv", 6379).is_err());
    assert!(project.exec("nope", ["true"]).is_err());
    assert!(!leftovers(&name).is_empty());
    drop(project);
    assert_eq!(leftovers(&name), Vec::<String>::new());
}

#[test]
fn a_wait_on_a_service_the_files_lack_is_an_error_naming_it() {
    let e = Compose::new([FILE])
        .with_wait("db", WaitFor::port(5432))
        .up()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("with_wait(\"db\")") && e.contains("docker-compose.yml"),
        "{e}"
    );
    let e = Compose::new(["tests/compose/missing.yml"])
        .up()
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.yml"), "{e}");
}

const HELPER_ENV: &str = "TUG_TESTKIT_COMPOSE_SIGKILL_HELPER";

/// The helper: brings the project up, says its name, and waits to be killed. A no-op
/// when run as an ordinary test.
#[test]
fn helper_holds_a_project_until_killed() {
    if std::env::var_os(HELPER_ENV).is_none() {
        return;
    }
    let project = Compose::new([FILE]).up().unwrap();
    println!("project {}", project.project_name());
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn sigkilled_test_process_leaves_no_container_network_or_volume() {
    let exe = std::env::current_exe().unwrap();
    let mut helper = KillOnDrop(
        Command::new(exe)
            .args([
                "--exact",
                "helper_holds_a_project_until_killed",
                "--nocapture",
            ])
            .env(HELPER_ENV, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let out = helper.0.stdout.take().unwrap();
    let name = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("project ").map(str::to_string))
        .expect("the helper exited without bringing its project up");
    let before = leftovers(&name);
    for what in ["container", "network", "volume", "image"] {
        assert!(
            before.iter().any(|l| l.starts_with(what)),
            "no {what} in {before:?}"
        );
    }
    // SIGKILL: no destructor, no atexit.
    helper.0.kill().unwrap();
    helper.0.wait().unwrap();
    let mut left = before;
    let gone = eventually(Duration::from_secs(15), || {
        left = leftovers(&name);
        left.is_empty()
    });
    assert!(gone, "left after the SIGKILL: {left:?}");
}
