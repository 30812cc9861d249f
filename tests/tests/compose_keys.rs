//! The service keys that map onto `run` flags, end to end: each one's effect seen inside
//! the containers of a project brought up with them (`down -v` on drop, also on failure).

use std::time::Duration;

use tug_e2e::compose::Project;
use tug_e2e::{TestRoot, wait_for};

const KEYS: &str = "\
services:
  app:
    image: busybox
    command: sh -c 'touch /ready; exec sleep 1000'
    init: true
    shm_size: 96m
    ipc: shareable
    sysctls:
      net.ipv4.ip_unprivileged_port_start: 99
      kernel.shmmax: 123456
    group_add: [1234]
    domainname: example.test
    oom_score_adj: 300
    stop_signal: SIGUSR1
    stop_grace_period: 7s
    logging:
      driver: none
  side:
    image: busybox
    command: sh -c 'touch /ready; exec sleep 1000'
    pid: service:app
    ipc: service:app
    sysctls:
      - net.ipv4.ip_unprivileged_port_start=77
    links: [app:db]
    volumes: [data:/data]
    logging:
      driver: json-file
      options:
        max-size: 1m
networks:
  default:
    labels:
      team: blue
volumes:
  data:
    labels: [team=green]
";

#[test]
fn run_keys_take_effect_inside_the_containers() {
    let t = TestRoot::with_busybox();
    let p = Project::new(&t, "keys", KEYS);
    p.ok(&["up", "-d"]);
    assert_eq!(p.running(), ["keys-app-1", "keys-side-1"]);
    for s in ["app", "side"] {
        wait_for(&format!("{s} ready"), Duration::from_secs(10), || {
            p.run(&["exec", s, "test", "-e", "/ready"]).status.success()
        });
    }
    let exec = |s: &str, cmd: &str| p.ok(&["exec", s, "sh", "-c", cmd]).trim().to_string();
    // init: PID 1 is the init, the command its child.
    assert_eq!(exec("app", "cat /proc/1/comm"), "docker-init");
    // shm_size: /dev/shm is 96 MiB.
    assert_eq!(
        exec("app", "df -k /dev/shm | tail -1 | awk '{print $2}'"),
        "98304"
    );
    // sysctls, map and list forms, in each container's own namespaces.
    assert_eq!(
        exec(
            "app",
            "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmax"
        ),
        "99\n123456"
    );
    assert_eq!(
        exec("side", "cat /proc/sys/net/ipv4/ip_unprivileged_port_start"),
        "77"
    );
    // group_add: a supplementary group of the process.
    assert!(
        exec("app", "id -G").split_whitespace().any(|g| g == "1234"),
        "{}",
        exec("app", "id -G")
    );
    // domainname: the UTS namespace's NIS domain.
    assert_eq!(
        exec("app", "cat /proc/sys/kernel/domainname"),
        "example.test"
    );
    // oom_score_adj: the container's init (and its command).
    assert_eq!(exec("app", "cat /proc/1/oom_score_adj"), "300");
    // pid: service:app — side sees app's init as its PID 1; ipc: service:app — the same
    // IPC namespace.
    assert_eq!(exec("side", "cat /proc/1/comm"), "docker-init");
    assert_eq!(
        exec("side", "readlink /proc/self/ns/ipc"),
        exec("app", "readlink /proc/self/ns/ipc")
    );
    // links: the linked service under its alias.
    let app_ip = t.inspect_f(
        "keys-app-1",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    );
    assert!(exec("side", "nslookup db").contains(&app_ip), "{app_ip}");
    // The network's and the volume's own labels, beside compose's.
    let label = |kind: &str, name: &str| {
        t.ok(&[kind, "inspect", "-f", "{{index .Labels \"team\"}}", name])
            .trim()
            .to_string()
    };
    assert_eq!(label("network", "keys_default"), "blue");
    assert_eq!(label("volume", "keys_data"), "green");
    // logging and the stop settings, as the engine recorded them.
    assert_eq!(
        t.inspect_f("keys-app-1", "{{.HostConfig.LogConfig.Type}}"),
        "none"
    );
    assert_eq!(
        t.inspect_f("keys-side-1", "{{.HostConfig.LogConfig.Type}}"),
        "json-file"
    );
    assert_eq!(
        t.inspect_f(
            "keys-side-1",
            "{{index .HostConfig.LogConfig.Config \"max-size\"}}"
        ),
        "1m"
    );
    assert_eq!(
        t.inspect_f("keys-app-1", "{{.Config.StopSignal}}"),
        "SIGUSR1"
    );
    assert_eq!(t.inspect_f("keys-app-1", "{{.Config.StopTimeout}}"), "7");
    p.ok(&["down", "-v", "-t", "1"]);
    assert!(t.container_ids().is_empty());
    assert!(t.volume_names().is_empty());
}
