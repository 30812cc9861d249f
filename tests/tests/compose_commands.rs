//! `tug compose`'s commands on a running project: attached `up` with prefixed logs and
//! Ctrl-C, `--abort-on-container-exit`, `exec`, `run`, `logs`, `stop`/`start`/`restart`,
//! `kill`, `rm`, `top`, `images`, `ls`, `build`, and `service_completed_successfully`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tug_e2e::compose::{Project, stdout};
use tug_e2e::{TestRoot, code, stderr, text, wait_for};

const TWO: &str = "\
services:
  a:
    image: busybox
    command: sh -c 'echo hello from a; exec sleep 1000'
    stop_grace_period: 1s
  b:
    image: busybox
    command: sh -c 'echo hello from b; exec sleep 1000'
    stop_grace_period: 1s
";

/// Lines of `child`'s stdout as they come.
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

/// Receives lines until each of `wants` was in one, in any order (the containers print
/// at the same time), failing after `limit`.
fn until_all(rx: &mpsc::Receiver<String>, wants: &[&str], limit: Duration) -> Vec<String> {
    let end = Instant::now() + limit;
    let mut seen: Vec<String> = Vec::new();
    loop {
        let missing: Vec<&&str> = wants
            .iter()
            .filter(|w| !seen.iter().any(|l| l.contains(**w)))
            .collect();
        if missing.is_empty() {
            return seen;
        }
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => seen.push(l),
            Err(_) => panic!("no line with {missing:?} in time; saw {seen:?}"),
        }
    }
}

#[test]
fn attached_up_prefixes_logs_and_ctrl_c_stops_the_project() {
    let t = TestRoot::with_busybox();
    let p = Project::new(&t, "att", TWO);
    let mut child = t
        .tug()
        .current_dir(&p.dir)
        .args(["compose", "up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    until_all(
        &rx,
        &["att-a-1  | hello from a", "att-b-1  | hello from b"],
        Duration::from_secs(30),
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(p.running().is_empty(), "Ctrl-C stops the project");
    assert_eq!(
        p.ok(&["ps", "-a", "-q"]).lines().count(),
        2,
        "stopped, not removed"
    );
}

#[test]
fn abort_on_container_exit_stops_the_rest_with_the_first_exit_code() {
    let t = TestRoot::with_busybox();
    let p = Project::new(
        &t,
        "abort",
        &format!("{TWO}  c:\n    image: busybox\n    command: sh -c 'sleep 1; exit 3'\n"),
    );
    let out = p.run(&["up", "--abort-on-container-exit"]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(
        stdout(&out).contains("abort-c-1 exited with code 3"),
        "{}",
        text(&out)
    );
    assert!(p.running().is_empty());
}

#[test]
fn commands_work_on_a_running_project() {
    let t = TestRoot::with_busybox();
    let p = Project::new(&t, "cmds", TWO);
    p.ok(&["up", "-d"]);
    // exec: in the service's first replica.
    assert_eq!(
        p.ok(&["exec", "-T", "a", "cat", "/etc/hostname"])
            .trim()
            .len(),
        12
    );
    assert_eq!(
        p.ok(&["exec", "-T", "-e", "X=1", "b", "sh", "-c", "echo $X"]),
        "1\n"
    );
    // run: a one-off container of the service, removed with --rm.
    assert_eq!(
        p.ok(&["run", "--rm", "-T", "a", "echo", "one-off"]),
        "one-off\n"
    );
    assert_eq!(p.ok(&["ps", "-a", "-q"]).lines().count(), 2);
    // logs: prefixed, by service.
    wait_for("a's greeting", Duration::from_secs(10), || {
        p.ok(&["logs", "a"]) == "cmds-a-1  | hello from a\n"
    });
    assert_eq!(
        p.ok(&["logs", "--no-log-prefix", "--tail", "1", "b"]),
        "hello from b\n"
    );
    // top and images and ls.
    assert!(p.ok(&["top", "a"]).contains("sleep 1000"));
    let images = p.ok(&["images"]);
    assert!(
        images.contains("cmds-a-1") && images.contains("busybox"),
        "{images}"
    );
    assert!(
        t.ok(&["compose", "ls"]).contains("cmds"),
        "ls lists the project"
    );
    assert!(t.ok(&["compose", "ls"]).contains("running(2)"));
    // stop, start, restart, kill, rm.
    p.ok(&["stop", "b"]);
    assert_eq!(p.running(), ["cmds-a-1"]);
    p.ok(&["start"]);
    assert_eq!(p.running(), ["cmds-a-1", "cmds-b-1"]);
    let started = t.inspect_f("cmds-a-1", "{{.State.StartedAt}}");
    p.ok(&["restart", "a"]);
    assert_ne!(t.inspect_f("cmds-a-1", "{{.State.StartedAt}}"), started);
    p.ok(&["kill", "-s", "KILL", "a"]);
    wait_for("a killed", Duration::from_secs(10), || {
        p.running() == ["cmds-b-1"]
    });
    p.ok(&["rm", "-f"]);
    assert_eq!(
        p.ok(&["ps", "-a", "--services"]),
        "b\n",
        "rm leaves running ones"
    );
    p.ok(&["rm", "-f", "-s"]);
    assert!(p.ok(&["ps", "-a", "-q"]).is_empty());
}

#[test]
fn completed_dependencies_and_built_images() {
    let t = TestRoot::with_busybox();
    let p = Project::new(
        &t,
        "built",
        "\
services:
  init:
    image: busybox
    command: sh -c 'sleep 1; echo seeded > /shared/seed'
    volumes: [shared:/shared]
  app:
    build:
      context: ./app
      args:
        GREETING: built-in
    command: sh -c 'cat /greeting /shared/seed; exec sleep 1000'
    volumes: [shared:/shared]
    depends_on:
      init:
        condition: service_completed_successfully
volumes:
  shared:
",
    );
    std::fs::create_dir(p.dir.join("app")).unwrap();
    p.write(
        "app/Dockerfile",
        "FROM busybox\nARG GREETING\nRUN echo $GREETING > /greeting\n",
    );
    p.ok(&["build"]);
    assert!(
        t.ok(&["images", "--format", "{{.Repository}}"])
            .contains("built-app")
    );
    let out = p.run(&["up", "-d"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let err = stderr(&out);
    let pos = |s: &str| err.find(s).unwrap_or_else(|| panic!("{s:?} not in {err}"));
    assert!(
        pos("built-init-1  Exited") < pos("built-app-1  Starting"),
        "{err}"
    );
    wait_for("app's output", Duration::from_secs(10), || {
        p.ok(&["logs", "--no-log-prefix", "app"]) == "built-in\nseeded\n"
    });
    // down --rmi local removes the image compose built (named after the service).
    p.ok(&["down", "-v", "-t", "1", "--rmi", "local"]);
    assert!(
        !t.ok(&["images", "--format", "{{.Repository}}"])
            .contains("built-app")
    );
}

#[test]
fn service_keys_reach_the_containers() {
    let t = TestRoot::with_busybox();
    let p = Project::new(
        &t,
        "keys",
        "\
x-env: &env
  FROM_ANCHOR: yes
services:
  s:
    image: busybox
    entrypoint: [sh, -c]
    command: ['echo \"$$GREETING\"; id -u; pwd; hostname; exec sleep 1000']
    environment:
      <<: *env
      GREETING: ${GREETING:-hi}
    env_file: [vars.env]
    working_dir: /tmp
    user: '1000'
    hostname: box
    labels: {team: core}
    read_only: true
    tmpfs: [/scratch]
    cap_drop: [ALL]
    cap_add: [NET_BIND_SERVICE]
    extra_hosts: ['gateway.test:10.1.2.3']
    dns: [10.0.0.53]
    ulimits: {nofile: {soft: 512, hard: 1024}}
    restart: unless-stopped
    stop_grace_period: 1s
    networks:
      back:
        aliases: [svc-alias]
    logging:
      driver: json-file
networks:
  back:
",
    );
    p.write("vars.env", "FROM_FILE=1\nGREETING=from-file\n");
    p.write(".env", "GREETING=from-dotenv\n");
    p.ok(&["up", "-d"]);
    let c = "keys-s-1";
    wait_for("the greeting", Duration::from_secs(10), || {
        p.ok(&["logs", "--no-log-prefix", "s"]) == "from-dotenv\n1000\n/tmp\nbox\n"
    });
    let env = t.inspect_f(c, "{{json .Config.Env}}");
    for want in ["FROM_ANCHOR=yes", "FROM_FILE=1", "GREETING=from-dotenv"] {
        assert!(env.contains(want), "{want} not in {env}");
    }
    assert_eq!(t.inspect_f(c, "{{index .Config.Labels \"team\"}}"), "core");
    assert_eq!(t.inspect_f(c, "{{.HostConfig.ReadonlyRootfs}}"), "true");
    assert_eq!(
        t.inspect_f(c, "{{json .HostConfig.CapAdd}}"),
        "[\"NET_BIND_SERVICE\"]"
    );
    assert_eq!(
        t.inspect_f(c, "{{json .HostConfig.ExtraHosts}}"),
        "[\"gateway.test:10.1.2.3\"]"
    );
    assert_eq!(
        t.inspect_f(c, "{{json .HostConfig.Dns}}"),
        "[\"10.0.0.53\"]"
    );
    assert_eq!(
        t.inspect_f(c, "{{.HostConfig.RestartPolicy.Name}}"),
        "unless-stopped"
    );
    assert_eq!(t.inspect_f(c, "{{.HostConfig.NetworkMode}}"), "keys_back");
    assert_eq!(
        p.ok(&[
            "exec",
            "-T",
            "s",
            "sh",
            "-c",
            "ulimit -n; grep -c gateway.test /etc/hosts; touch /scratch/ok && echo tmpfs-writable"
        ]),
        "512\n1\ntmpfs-writable\n"
    );
    let labels = t.inspect_f(c, "{{json .Config.Labels}}");
    for want in [
        "\"com.docker.compose.project\":\"keys\"",
        "\"com.docker.compose.service\":\"s\"",
        "\"com.docker.compose.container-number\":\"1\"",
        "\"com.docker.compose.oneoff\":\"False\"",
        "\"com.docker.compose.config-hash\":",
        "\"com.docker.compose.project.working_dir\":",
    ] {
        assert!(labels.contains(want), "{want} not in {labels}");
    }
    // The alias resolves on the service's network.
    let other = p.run(&[
        "run",
        "--rm",
        "-T",
        "--entrypoint",
        "ping",
        "s",
        "-c",
        "1",
        "-W",
        "1",
        "svc-alias",
    ]);
    assert!(
        stdout(&other).starts_with("PING svc-alias ("),
        "{}",
        text(&other)
    );
}
