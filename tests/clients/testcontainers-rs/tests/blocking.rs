//! The sync runner: a mapped port reached from the host (on IPv4 and, when the host has
//! it, IPv6), exec with its output and exit code, the container's logs.

use testcontainers::core::{ContainerPort, ExecCommand};
use testcontainers::runners::SyncRunner;
use tug_testcontainers_rs::{get, get_from, httpd};

#[test]
fn blocking_runner_serves_a_mapped_port_and_execs() {
    let c = httpd().start().expect("start the container");
    let port = c
        .get_host_port_ipv4(ContainerPort::Tcp(8080))
        .expect("the mapped port");
    assert_ne!(port, 8080);
    assert!(get(port).contains("hello-from-tug"));
    // The same port on IPv6 (tug's proxy), as the crate finds it.
    if std::fs::read_to_string("/proc/net/if_inet6").is_ok_and(|s| !s.trim().is_empty()) {
        let port6 = c
            .get_host_port_ipv6(ContainerPort::Tcp(8080))
            .expect("the mapped IPv6 port");
        assert_eq!(port6, port);
        assert!(get_from("::1", port6).contains("hello-from-tug"));
    }
    let mut exec = c
        .exec(ExecCommand::new(["sh", "-c", "echo $GREETING; exit 3"]))
        .expect("exec");
    assert_eq!(exec.stdout_to_vec().expect("exec output"), b"hi\n");
    assert_eq!(exec.exit_code().expect("exit code"), Some(3));
    let logs = c.stdout_to_vec().expect("logs");
    assert!(String::from_utf8_lossy(&logs).contains("serving"));
    c.rm().expect("remove");
}
