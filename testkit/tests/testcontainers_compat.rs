//! The proof that a testcontainers-rs user moves to tug_testkit by changing `use` lines:
//! these tests are written as for testcontainers' blocking runner (GenericImage, WaitFor,
//! exec, logs, ports, a network, a healthcheck, files, a log consumer), on the local
//! busybox image. With testcontainers, the `use` lines were:
//!
//! ```text
//! use testcontainers::{
//!     core::{logs::LogFrame, CmdWaitFor, ExecCommand, IntoContainerPort, Mount, WaitFor},
//!     runners::SyncRunner,
//!     GenericImage, Healthcheck, Image, ImageExt,
//! };
//! ```
//!
//! Only the crate's name changed below; the rest is as a testcontainers user writes it.

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use tug_testkit::{
    GenericImage, Healthcheck, Image, ImageExt,
    core::{CmdWaitFor, ExecCommand, IntoContainerPort, Mount, WaitFor, logs::LogFrame},
    runners::SyncRunner,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// busybox `nc` answering `hi` on 8080, ready once the port listens.
fn hi_server() -> GenericImage {
    GenericImage::new("busybox", "latest")
        .with_exposed_port(8080.tcp())
        .with_wait_for(WaitFor::message_on_stdout("listening"))
}

const SERVE_HI: &str = "nc -ll -p 8080 -e echo hi & \
    until netstat -ltn | grep -q :8080; do sleep 0.01; done; echo listening; wait";

#[test]
fn generic_image_with_a_port_and_a_log_wait() -> TestResult {
    let container = hi_server().with_cmd(["sh", "-c", SERVE_HI]).start()?;

    let host = container.get_host()?;
    let port = container.get_host_port_ipv4(8080.tcp())?;
    let mut stream = TcpStream::connect(format!("{host}:{port}"))?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    assert_eq!(reply, "hi\n");

    assert_eq!(container.ports()?.map_to_host_port_ipv4(8080), Some(port));
    assert!(container.get_host_port_ipv4(9999.tcp()).is_err());
    assert_eq!(container.image().name(), "busybox");
    assert!(!container.id().is_empty());
    Ok(())
}

#[test]
fn exec_with_a_ready_condition_and_its_output() -> TestResult {
    let container = GenericImage::new("busybox", "latest")
        .with_wait_for(WaitFor::message_on_stdout("ready"))
        .with_cmd(["sh", "-c", "echo ready; exec sleep 60"])
        .start()?;

    let mut result = container.exec(
        ExecCommand::new(["sh", "-c", "echo from exec; echo oops >&2"])
            .with_cmd_ready_condition(CmdWaitFor::exit_code(0)),
    )?;
    assert_eq!(result.exit_code()?, Some(0));
    assert_eq!(result.stdout_to_vec()?, b"from exec\n");
    assert_eq!(result.stderr_to_vec()?, b"oops\n");

    let mut lines = Vec::new();
    let mut result = container.exec(ExecCommand::new(["sh", "-c", "echo one; echo two"]))?;
    for line in result.stdout().lines() {
        lines.push(line?);
    }
    assert_eq!(lines, ["one", "two"]);

    let failing = container.exec(
        ExecCommand::new(["sh", "-c", "exit 3"]).with_cmd_ready_condition(CmdWaitFor::exit_code(0)),
    );
    assert!(failing.is_err());
    Ok(())
}

#[test]
fn logs_are_read_and_followed() -> TestResult {
    let container = GenericImage::new("busybox", "latest")
        .with_wait_for(WaitFor::message_on_stderr("starting"))
        .with_cmd([
            "sh",
            "-c",
            "echo starting >&2; for i in 1 2 3; do echo line $i; sleep 0.05; done; echo done >&2",
        ])
        .start()?;

    let stdout = container.stdout(true);
    let follower = std::thread::spawn(move || -> Vec<String> {
        stdout.lines().map(|l| l.expect("a line")).collect()
    });
    let lines = follower.join().expect("the follower thread");
    assert_eq!(lines, ["line 1", "line 2", "line 3"]);

    assert_eq!(
        String::from_utf8(container.stdout_to_vec()?)?,
        "line 1\nline 2\nline 3\n"
    );
    assert_eq!(
        String::from_utf8(container.stderr_to_vec()?)?,
        "starting\ndone\n"
    );
    assert_eq!(container.exit_code()?, Some(0));
    Ok(())
}

#[test]
fn containers_on_a_network_reach_each_other_by_name() -> TestResult {
    let network = format!("compat-net-{}", std::process::id());
    let server_name = format!("compat-server-{}", std::process::id());
    let _server = hi_server()
        .with_cmd(["sh", "-c", SERVE_HI])
        .with_network(&network)
        .with_container_name(&server_name)
        .start()?;
    let client = GenericImage::new("busybox", "latest")
        .with_cmd(["sleep", "60"])
        .with_network(&network)
        .start()?;

    let mut result = client.exec(ExecCommand::new(["nc", &server_name, "8080"]))?;
    assert_eq!(result.stdout_to_vec()?, b"hi\n");
    Ok(())
}

#[test]
fn healthcheck_files_env_and_a_log_consumer() -> TestResult {
    let dir = tempfile::tempdir()?;
    let host_file = dir.path().join("greeting.txt");
    std::fs::File::create(&host_file)?.write_all(b"hello from the host\n")?;
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);

    let container = GenericImage::new("busybox", "latest")
        .with_cmd([
            "sh",
            "-c",
            "trap 'exit 0' TERM; sleep 0.1; echo $GREETING; touch /tmp/healthy; sleep 60 & wait",
        ])
        .with_env_var("GREETING", "hi there")
        .with_copy_to("/data/greeting.txt", host_file.as_path())
        .with_copy_to("/data/bytes.bin", b"\x00\x01".to_vec())
        .with_mount(Mount::tmpfs_mount("/scratch"))
        .with_health_check(Healthcheck::cmd_shell("test -e /tmp/healthy"))
        .with_ready_conditions(vec![WaitFor::healthcheck()])
        .with_log_consumer(move |frame: &LogFrame| {
            let _ = tx
                .lock()
                .unwrap()
                .send(String::from_utf8_lossy(frame.bytes()).into_owned());
        })
        .with_startup_timeout(Duration::from_secs(20))
        .start()?;

    assert_eq!(rx.recv_timeout(Duration::from_secs(10))?, "hi there\n");
    let mut result = container.exec(ExecCommand::new(["cat", "/data/greeting.txt"]))?;
    assert_eq!(result.stdout_to_vec()?, b"hello from the host\n");
    let mut result = container.exec(ExecCommand::new([
        "sh",
        "-c",
        "wc -c < /data/bytes.bin; grep -c ' /scratch tmpfs' /proc/mounts",
    ]))?;
    assert_eq!(String::from_utf8(result.stdout_to_vec()?)?, "2\n1\n");

    container.stop()?;
    assert!(!container.is_running()?);
    container.start()?;
    assert!(container.is_running()?);
    container.rm()?;
    Ok(())
}
