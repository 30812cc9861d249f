//! The Docker Engine API (`tug system service`): Docker's own `docker` CLI, unchanged,
//! runs containers on tug through the socket, and the raw HTTP answers (`/_ping`, the
//! errors) are Docker's. Each test serves its own socket on its own state root; the
//! `docker` tests are skipped (with a message) where no `docker` client is on PATH.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use tug_e2e::api::{
    ApiServer, Service, body_of, live_children, parent_pid, process_ended, with_docker,
};
use tug_e2e::{KillOnDrop, TestRoot, code, text, wait_for};

#[test]
fn ping_answers_ok_with_the_api_version() {
    let t = TestRoot::new();
    let s = Service::start(&t);
    let get = s.http("GET", "/_ping", None);
    assert!(get.starts_with("HTTP/1.1 200"), "{get}");
    assert!(get.to_lowercase().contains("api-version: 1.47"), "{get}");
    assert!(get.to_lowercase().contains("ostype: linux"), "{get}");
    assert_eq!(body_of(&get), "OK");
    let head = s.http("HEAD", "/v1.43/_ping", None);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body_of(&head), "");
    let version: serde_json::Value =
        serde_json::from_str(body_of(&s.http("GET", "/v1.47/version", None))).unwrap();
    assert_eq!(version["ApiVersion"], "1.47");
    assert_eq!(version["MinAPIVersion"], "1.24");
    // `/info` is what `tug info --format json` prints: one source, Docker's names.
    let info: serde_json::Value =
        serde_json::from_str(body_of(&s.http("GET", "/v1.47/info", None))).unwrap();
    let cli: serde_json::Value =
        serde_json::from_str(&t.ok(&["info", "--format", "json"])).unwrap();
    for k in [
        "Driver",
        "SecurityOptions",
        "DockerRootDir",
        "CgroupVersion",
        "Images",
    ] {
        assert_eq!(info[k], cli[k], "{k}");
    }
    assert_eq!(info["Driver"], "overlay2");
    assert!(
        info["SecurityOptions"]
            .as_array()
            .is_some_and(|o| o.iter().any(|v| v == "name=seccomp,profile=builtin")),
        "{info}"
    );
}

#[test]
fn errors_are_dockers_json_with_dockers_status() {
    let t = TestRoot::with_busybox();
    let s = Service::start(&t);
    let missing = s.http("GET", "/v1.43/containers/nosuch/json", None);
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    let v: serde_json::Value = serde_json::from_str(body_of(&missing)).unwrap();
    assert_eq!(v["message"], "No such container: nosuch");
    let removed = s.http("DELETE", "/containers/nosuch", None);
    assert!(removed.starts_with("HTTP/1.1 404"), "{removed}");
    let unknown = s.http("GET", "/v1.43/no/such/endpoint", None);
    assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");
    assert!(body_of(&unknown).contains("\"message\""), "{unknown}");
    let no_image = s.http("POST", "/containers/create", Some("{}"));
    assert!(no_image.starts_with("HTTP/1.1 400"), "{no_image}");
    let old = s.http("GET", "/v1.12/info", None);
    assert!(old.starts_with("HTTP/1.1 400"), "{old}");
    let no_image = s.http(
        "POST",
        "/containers/create",
        Some(r#"{"Image":"nosuchimage:1"}"#),
    );
    assert!(no_image.starts_with("HTTP/1.1 404"), "{no_image}");

    // A started container: starting it again is 304, stopping it twice the same.
    let created = s.http(
        "POST",
        "/containers/create?name=twice",
        Some(r#"{"Image":"busybox","Cmd":["sleep","60"]}"#),
    );
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    let start = s.http("POST", "/containers/twice/start", None);
    assert!(start.starts_with("HTTP/1.1 204"), "{start}");
    let again = s.http("POST", "/containers/twice/start", None);
    assert!(again.starts_with("HTTP/1.1 304"), "{again}");
    let busy = s.http("DELETE", "/containers/twice", None);
    assert!(busy.starts_with("HTTP/1.1 409"), "{busy}");
    let stop = s.http("POST", "/containers/twice/stop?t=0", None);
    assert!(stop.starts_with("HTTP/1.1 204"), "{stop}");
    let stopped = s.http("POST", "/containers/twice/stop?t=0", None);
    assert!(stopped.starts_with("HTTP/1.1 304"), "{stopped}");
    let rm = s.http("DELETE", "/containers/twice?force=1", None);
    assert!(rm.starts_with("HTTP/1.1 204"), "{rm}");
    assert!(t.container_ids().is_empty());
}

#[test]
fn docker_version_negotiates_with_tug() {
    let t = TestRoot::new();
    let Some(s) = with_docker(&t) else { return };
    let out = s.docker_ok(&[
        "version",
        "--format",
        "{{.Server.APIVersion}} {{.Server.Platform.Name}}",
    ]);
    assert_eq!(out.trim(), "1.47 tug");
}

#[test]
fn docker_run_rm_prints_the_output_and_returns_the_exit_code() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    for _ in 0..3 {
        assert_eq!(
            s.docker_ok(&["run", "--rm", "busybox", "echo", "hi"]),
            "hi\n"
        );
    }
    let out = s.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo oops >&2; exit 3",
    ]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
    // `-a stderr`: only the stream asked for (Docker's client has no writer for the
    // other, and panicked on its frames).
    let script = "echo out; echo err >&2";
    let out = s.docker(&["run", "--rm", "-a", "stderr", "busybox", "sh", "-c", script]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    wait_for("the --rm containers to go", Duration::from_secs(10), || {
        t.container_ids().is_empty()
    });
}

/// The server forks its containers' shims from a zygote of its own. A zygote that is
/// killed costs the next starts only their speed (they exec their shims), and the
/// zygote ends with the server, also when the server is killed.
#[test]
fn the_zygote_of_shims_serves_starts_and_ends_with_the_server() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    let zygote = s.server().zygote_pid().expect("the server has a zygote");
    assert_eq!(
        s.docker_ok(&["run", "--rm", "busybox", "echo", "forked"]),
        "forked\n"
    );
    // SAFETY: a signal to the pid of the server's child that this test found.
    unsafe { libc::kill(zygote as i32, libc::SIGKILL) };
    wait_for(
        "the killed zygote to be reaped",
        Duration::from_secs(10),
        || s.server().zygote_pid().is_none(),
    );
    assert_eq!(
        s.docker_ok(&["run", "--rm", "busybox", "echo", "exec'd"]),
        "exec'd\n"
    );

    let other = TestRoot::new();
    let server = ApiServer::start(&other);
    let zygote = server.zygote_pid().expect("the second server has a zygote");
    server.kill();
    wait_for(
        "the zygote to end with its server",
        Duration::from_secs(10),
        || process_ended(zygote),
    );
}

/// A container created through the API has its shim forked at once, waiting for the
/// start (parked): the start takes that shim (no second one is forked) and sees what
/// changed meanwhile (a rename); a parked shim ends when its container is removed or
/// pruned before its start, and when the server ends.
#[test]
fn a_created_containers_shim_waits_for_its_start_and_ends_with_its_removal() {
    let t = TestRoot::with_busybox();
    let s = Service::start(&t);
    let zygote = s.server().zygote_pid().expect("the server has a zygote");
    let create = |name: &str| {
        let created = s.http(
            "POST",
            &format!("/containers/create?name={name}"),
            Some(r#"{"Image":"busybox","Cmd":["sleep","60"]}"#),
        );
        assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    };
    let shims = |n: usize| {
        wait_for(&format!("{n} shims"), Duration::from_secs(10), || {
            live_children(zygote).len() == n
        });
        live_children(zygote)
    };
    create("first");
    let parked = shims(1);
    let renamed = s.http("POST", "/containers/first/rename?name=second", None);
    assert!(renamed.starts_with("HTTP/1.1 204"), "{renamed}");
    let start = s.http("POST", "/containers/second/start", None);
    assert!(start.starts_with("HTTP/1.1 204"), "{start}");
    assert_eq!(
        live_children(zygote),
        parked,
        "the start forked another shim"
    );
    let inspect: serde_json::Value =
        serde_json::from_str(body_of(&s.http("GET", "/containers/second/json", None))).unwrap();
    assert_eq!(inspect["Name"], "/second");
    let pid = inspect["State"]["Pid"].as_u64().expect("a pid") as u32;
    assert_eq!(parent_pid(pid), Some(parked[0]), "the parked shim runs it");

    create("removed");
    let two = shims(2);
    let removed = s.http("DELETE", "/containers/removed", None);
    assert!(removed.starts_with("HTTP/1.1 204"), "{removed}");
    assert_eq!(shims(1), parked);
    create("pruned");
    shims(2);
    let pruned = s.http("POST", "/containers/prune", None);
    assert!(pruned.starts_with("HTTP/1.1 200"), "{pruned}");
    assert!(
        body_of(&pruned).contains("\"ContainersDeleted\":[\""),
        "{pruned}"
    );
    assert_eq!(shims(1), parked);
    let gone = s.http("DELETE", "/containers/second?force=1", None);
    assert!(gone.starts_with("HTTP/1.1 204"), "{gone}");
    shims(0);

    // A burst of creates parks 16 shims, no more: the 17th container's start forks its
    // own.
    for i in 0..17 {
        create(&format!("burst{i}"));
    }
    let parked = shims(16);
    let start = s.http("POST", "/containers/burst16/start", None);
    assert!(start.starts_with("HTTP/1.1 204"), "{start}");
    let inspect: serde_json::Value =
        serde_json::from_str(body_of(&s.http("GET", "/containers/burst16/json", None))).unwrap();
    let pid = inspect["State"]["Pid"].as_u64().expect("a pid") as u32;
    let shim = parent_pid(pid).expect("the init's parent");
    assert!(!parked.contains(&shim), "the 17th create parked a shim");
    for i in 0..17 {
        let gone = s.http("DELETE", &format!("/containers/burst{i}?force=1"), None);
        assert!(gone.starts_with("HTTP/1.1 204"), "{gone}");
    }
    shims(0);

    create("left");
    let left = shims(1);
    drop(s);
    wait_for(
        "the parked shim to end with its server",
        Duration::from_secs(10),
        || process_ended(left[0]),
    );
    assert!(two.iter().all(|p| process_ended(*p)));
}

/// The zygote's shims are its children, reaped as they end (no zombie stays), and it
/// keeps one network namespace made in advance for the next start. Each container still
/// gets a namespace of its own, set up as a fresh one, and a restart makes another.
#[test]
fn zygote_shims_give_each_container_its_own_network_namespace() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    let zygote = s.server().zygote_pid().expect("the server has a zygote");
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    let netns_of = |pid: &str| std::fs::read_link(format!("/proc/{}/ns/net", pid.trim())).unwrap();
    let children = || {
        std::fs::read_to_string(format!("/proc/{zygote}/task/{zygote}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let zygote_netns = || {
        std::fs::read_dir(format!("/proc/{zygote}/fd"))
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .filter(|l| l.to_string_lossy().starts_with("net:"))
            .collect::<Vec<_>>()
    };
    // The zygote makes its first spare once it runs.
    wait_for("the zygote's spare", Duration::from_secs(10), || {
        zygote_netns().len() == 2
    });
    let held = zygote_netns();
    assert!(
        held.contains(&host) && held.iter().any(|n| *n != host),
        "{held:?}"
    );

    let a = s.docker_ok(&["run", "-d", "busybox", "sleep", "600"]);
    // Fails once, then runs: its restart makes a new init, in a namespace of its own.
    let b = s.docker_ok(&[
        "run",
        "-d",
        "--restart",
        "on-failure:1",
        "busybox",
        "sh",
        "-c",
        "if [ -e /again ]; then exec sleep 600; fi; touch /again; exit 1",
    ]);
    let (a, b) = (a.trim(), b.trim());
    wait_for("the restart", Duration::from_secs(20), || {
        s.docker_ok(&["inspect", "-f", "{{.RestartCount}} {{.State.Running}}", b]) == "1 true\n"
    });
    let pid_a = s.docker_ok(&["inspect", "-f", "{{.State.Pid}}", a]);
    let pid_b = s.docker_ok(&["inspect", "-f", "{{.State.Pid}}", b]);
    let (ns_a, ns_b) = (netns_of(&pid_a), netns_of(&pid_b));
    assert!(
        ns_a != host && ns_b != host && ns_a != ns_b,
        "{ns_a:?} {ns_b:?}"
    );
    assert!(!zygote_netns().contains(&ns_a), "a spare is given once");
    let ip_b = s.docker_ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", b]);
    let out = s.docker_ok(&["exec", a, "ping", "-c", "1", "-W", "2", ip_b.trim()]);
    assert!(out.contains("1 packets received"), "{out}");
    let links = s.docker_ok(&["exec", b, "ip", "-o", "link"]);
    assert_eq!(links.lines().count(), 2, "lo and eth0: {links}");

    let shims = children();
    assert!(
        shims.len() >= 2,
        "the shims are the zygote's children: {shims:?}"
    );
    s.docker_ok(&["rm", "-f", a, b]);
    wait_for(
        "the shims to end and be reaped",
        Duration::from_secs(10),
        || children().iter().all(|p| !shims.contains(p)),
    );
}

#[test]
fn docker_detached_container_lists_logs_execs_inspects_and_goes() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    let id = s.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--label",
        "app=api-test",
        "busybox",
        "sh",
        "-c",
        "echo started; echo warn >&2; exec sleep 60",
    ]);
    assert_eq!(id.trim().len(), 64, "{id}");
    let ps = s.docker_ok(&["ps", "--format", "{{.Names}} {{.Image}} {{.State}}"]);
    assert_eq!(ps.trim(), "web busybox running");
    // `ps -s` (`size=1`): what it wrote, and that plus its image.
    let size = s.docker_ok(&["ps", "-s", "--format", "{{.Size}}"]);
    assert!(
        size.contains(" (virtual ") && !size.contains("(virtual 0B)"),
        "{size}"
    );
    let by_label = s.docker_ok(&["ps", "-q", "--filter", "label=app=api-test"]);
    assert_eq!(by_label.trim(), &id.trim()[..12]);
    assert_eq!(
        s.docker_ok(&["ps", "-q", "--filter", "label=app=other"]),
        ""
    );
    // Every label given must match; the other keys are Docker's `ps` filters too.
    let both = [
        "ps",
        "-q",
        "--filter",
        "label=app",
        "--filter",
        "label=app=other",
    ];
    assert_eq!(s.docker_ok(&both), "");
    let mut exited = s.docker_ok(&["ps", "-q", "-f", "ancestor=busybox", "-f", "status=running"]);
    assert_eq!(exited.trim(), &id.trim()[..12]);
    let failed = s.docker(&["run", "--name", "failed", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(code(&failed), 3, "{}", text(&failed));
    exited = s.docker_ok(&["ps", "--format", "{{.Names}}", "-f", "exited=3"]);
    assert_eq!(exited, "failed\n");
    let before = s.docker_ok(&["ps", "-a", "--format", "{{.Names}}", "-f", "before=failed"]);
    assert_eq!(before, "web\n");
    let since = s.docker_ok(&["ps", "-a", "--format", "{{.Names}}", "-f", "since=web"]);
    assert_eq!(since, "failed\n");
    let on_bridge = s.docker_ok(&["ps", "-aq", "-f", "network=bridge"]);
    assert_eq!(on_bridge.lines().count(), 2, "{on_bridge}");
    s.docker_ok(&["rm", "failed"]);
    let bad = s.docker(&["ps", "-f", "colour=red"]);
    assert_eq!(code(&bad), 1, "{}", text(&bad));
    assert!(
        text(&bad).contains("invalid filter 'colour'"),
        "{}",
        text(&bad)
    );
    wait_for("the container's logs", Duration::from_secs(10), || {
        let out = s.docker(&["logs", "web"]);
        String::from_utf8_lossy(&out.stdout) == "started\n"
            && String::from_utf8_lossy(&out.stderr) == "warn\n"
    });
    assert_eq!(s.docker_ok(&["exec", "web", "echo", "hi"]), "hi\n");
    let failed = s.docker(&["exec", "web", "sh", "-c", "exit 4"]);
    assert_eq!(code(&failed), 4, "{}", text(&failed));
    s.docker_ok(&["exec", "-d", "web", "touch", "/tmp/detached"]);
    wait_for("the detached exec", Duration::from_secs(10), || {
        s.docker(&["exec", "web", "test", "-e", "/tmp/detached"])
            .status
            .success()
    });
    let running = s.docker_ok(&["inspect", "-f", "{{.State.Running}} {{.Name}}", "web"]);
    assert_eq!(running.trim(), "true /web");
    // The default bridge's endpoint mirrored at the top of NetworkSettings, as Docker's.
    let endpoints = s.docker_ok(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.EndpointID}} {{.NetworkSettings.Networks.bridge.EndpointID}} {{.HostConfig.Runtime}}",
        "web",
    ]);
    let parts: Vec<&str> = endpoints.split_whitespace().collect();
    assert!(
        parts.len() == 3 && !parts[0].is_empty() && parts[0] == parts[1] && parts[2] == "tug",
        "{endpoints}"
    );
    // An exec created and not yet started is among the container's ExecIDs.
    let made = s.http(
        "POST",
        "/containers/web/exec",
        Some(r#"{"Cmd":["true"],"AttachStdout":true}"#),
    );
    assert!(made.starts_with("HTTP/1.1 201"), "{made}");
    let exec_id = serde_json::from_str::<serde_json::Value>(body_of(&made)).unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let ids = s.docker_ok(&["inspect", "-f", "{{json .ExecIDs}}", "web"]);
    assert!(ids.contains(&exec_id), "{ids}");
    s.docker_ok(&["rm", "-f", "web"]);
    assert_eq!(s.docker_ok(&["ps", "-aq"]), "");
    assert!(t.container_ids().is_empty());
}

#[test]
fn docker_run_publishes_a_port_on_loopback() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let publish = format!("127.0.0.1:{port}:80");
    s.docker_ok(&[
        "run",
        "-d",
        "--name",
        "served",
        "-p",
        &publish,
        "busybox",
        "sh",
        "-c",
        "mkdir /www && echo hello-from-tug > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    let port_line = s.docker_ok(&["port", "served", "80"]);
    assert_eq!(port_line.trim(), format!("127.0.0.1:{port}"));
    let mut page = String::new();
    wait_for(
        "the published port to answer",
        Duration::from_secs(10),
        || {
            let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
                return false;
            };
            let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = c.write_all(b"GET / HTTP/1.0\r\n\r\n");
            page.clear();
            let _ = c.read_to_string(&mut page);
            page.contains("hello-from-tug")
        },
    );
    s.docker_ok(&["rm", "-f", "served"]);
}

#[test]
fn docker_images_lists_the_store() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    let out = s.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(out.trim(), "busybox:latest");
    let id = s.docker_ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    s.docker_ok(&["tag", "busybox", "mine:1"]);
    let out = s.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(out.lines().any(|l| l == "mine:1"), "{out}");
    s.docker_ok(&["rmi", "mine:1"]);
    let df = s.docker_ok(&["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]);
    assert!(df.lines().any(|l| l == "Images 1"), "{df}");
}

#[test]
fn docker_rm_of_an_unknown_container_says_no_such_container() {
    let t = TestRoot::new();
    let Some(s) = with_docker(&t) else { return };
    let out = s.docker(&["rm", "nosuch"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    // The server's message; Docker 28's CLI prefixes "Error response from daemon: ",
    // 20.10's "Error: ".
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.trim().ends_with(": No such container: nosuch"), "{err}");
}

#[test]
fn docker_lifecycle_commands_follow_logs_and_wait() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    s.docker_ok(&[
        "run",
        "-d",
        "--name",
        "counter",
        "--label",
        "team=a b",
        "--log-opt",
        "labels=team",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo line$i; sleep 0.2; done; exit 5",
    ]);
    // `logs -f` ends when the container exits, with every line.
    assert_eq!(
        s.docker_ok(&["logs", "-f", "counter"]),
        "line1\nline2\nline3\n"
    );
    assert_eq!(s.docker_ok(&["wait", "counter"]).trim(), "5");
    assert_eq!(s.docker_ok(&["logs", "--tail", "1", "counter"]), "line3\n");
    // The log's attributes (here the label it was told to add), as Docker writes them.
    assert_eq!(
        s.docker_ok(&["logs", "--details", "--tail", "1", "counter"]),
        "team=a+b line3\n"
    );
    assert_eq!(
        s.docker_ok(&["logs", "-f", "--tail", "2", "counter"]),
        "line2\nline3\n"
    );
    s.docker_ok(&["start", "counter"]);
    s.docker_ok(&["stop", "-t", "0", "counter"]);
    let state = s.docker_ok(&["inspect", "-f", "{{.State.Status}}", "counter"]);
    assert_eq!(state.trim(), "exited");
    s.docker_ok(&["restart", "-t", "0", "counter"]);
    s.docker_ok(&["kill", "counter"]);
    let gone = s.docker_ok(&["wait", "counter"]);
    assert!(["5", "137"].contains(&gone.trim()), "{gone}");
    s.docker_ok(&["rm", "counter"]);
    assert!(t.container_ids().is_empty());
}

#[test]
fn docker_network_and_volume_commands_work_on_tug() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    s.docker_ok(&["network", "create", "apinet"]);
    let ls = s.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(ls.lines().any(|l| l == "apinet"), "{ls}");
    let driver = s.docker_ok(&["network", "inspect", "-f", "{{.Driver}}", "apinet"]);
    assert_eq!(driver.trim(), "bridge");
    s.docker_ok(&["volume", "create", "apidata"]);
    let out = s.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "apinet",
        "-v",
        "apidata:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f && cat /data/f",
    ]);
    assert_eq!(out, "kept\n");
    let vols = s.docker_ok(&["volume", "ls", "--format", "{{.Name}}"]);
    assert!(vols.lines().any(|l| l == "apidata"), "{vols}");
    // The list filters are `ls --filter`'s: a volume a container uses is not dangling.
    s.docker_ok(&["volume", "create", "--label", "tier=db", "lonely"]);
    s.docker_ok(&[
        "run",
        "-d",
        "--name",
        "holder",
        "-v",
        "apidata:/data",
        "busybox",
        "sleep",
        "60",
    ]);
    let dangling = s.docker_ok(&["volume", "ls", "-q", "--filter", "dangling=true"]);
    assert_eq!(dangling, "lonely\n");
    let labelled = s.docker_ok(&["volume", "ls", "-q", "--filter", "label=tier=db"]);
    assert_eq!(labelled, "lonely\n");
    s.docker_ok(&["rm", "-f", "holder"]);
    s.docker_ok(&["volume", "rm", "lonely"]);
    // `--mount`'s volume and tmpfs options reach the API as Mounts' VolumeOptions and
    // TmpfsOptions.
    let mode = s.docker_ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=made,dst=/v,volume-label=a=b",
        "--mount",
        "type=tmpfs,dst=/t,tmpfs-mode=1770",
        "busybox",
        "stat",
        "-c",
        "%a",
        "/t",
    ]);
    assert_eq!(mode, "1770\n");
    let labels = s.docker_ok(&["volume", "inspect", "-f", "{{.Labels}}", "made"]);
    assert_eq!(labels, "map[a:b]\n");
    s.docker_ok(&["volume", "rm", "made"]);
    s.docker_ok(&["network", "create", "--label", "tier=web", "labelled"]);
    let nets = s.docker_ok(&[
        "network",
        "ls",
        "--format",
        "{{.Name}}",
        "--filter",
        "label=tier",
    ]);
    assert_eq!(nets, "labelled\n");
    let nets = s.docker_ok(&[
        "network",
        "ls",
        "--format",
        "{{.Name}}",
        "--filter",
        "driver=host",
    ]);
    assert_eq!(nets, "host\n");
    s.docker_ok(&["network", "rm", "labelled"]);
    let bad = s.docker(&["network", "ls", "--filter", "colour=red"]);
    assert_eq!(code(&bad), 1, "{}", text(&bad));
    s.docker_ok(&["volume", "rm", "apidata"]);
    s.docker_ok(&["network", "rm", "apinet"]);
    s.docker_ok(&["network", "create", "unused"]);
    s.docker_ok(&["volume", "create", "unused-data"]);
    let pruned = s.docker_ok(&["network", "prune", "-f"]);
    assert!(pruned.contains("unused"), "{pruned}");
    // `--filter all=true` is what Docker 28's `-a` sends; 20.10's CLI has no `-a`.
    let pruned = s.docker_ok(&["volume", "prune", "-f", "--filter", "all=true"]);
    assert!(pruned.contains("unused-data"), "{pruned}");
    s.docker_ok(&["tag", "busybox", "spare:1"]);
    s.docker_ok(&["image", "prune", "-af"]);
    let images = s.docker_ok(&["images", "-q"]);
    assert_eq!(images, "", "every image was unused");
    let out = s.docker(&["network", "rm", "apinet"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let out = s.docker(&["volume", "inspect", "apidata"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
}

#[test]
fn docker_run_relays_stdin_and_a_terminal() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    let mut child = Command::new("docker")
        .args(["run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done"])
        .env("DOCKER_HOST", format!("unix://{}", s.socket.display()))
        .env("DOCKER_CONFIG", &s.config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn docker");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"piped input\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "piped input\ndone\n",
        "{}",
        text(&out)
    );

    // `-it` through `script` (a terminal for the CLI): the size follows the client's.
    let cmd = format!(
        "stty rows 33 cols 77; DOCKER_HOST=unix://{} DOCKER_CONFIG={} docker run --rm -it busybox sh -c 'stty size; tty; exit 6'",
        s.socket.display(),
        s.config.display()
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("spawn script");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("33 77"), "{}", text(&out));
    assert!(shown.contains("/dev/pts/"), "{}", text(&out));
    assert_eq!(code(&out), 6, "{}", text(&out));

    // `exec -it`: its own terminal, sized as the client's.
    s.docker_ok(&["run", "-d", "--name", "term", "busybox", "sleep", "60"]);
    let cmd = format!(
        "stty rows 40 cols 90; DOCKER_HOST=unix://{} DOCKER_CONFIG={} docker exec -it term sh -c 'stty size; exit 4'",
        s.socket.display(),
        s.config.display()
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("spawn script");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("40 90"),
        "{}",
        text(&out)
    );
    assert_eq!(code(&out), 4, "{}", text(&out));
    s.docker_ok(&["rm", "-f", "term"]);
}

#[test]
fn containers_outlive_the_server_and_a_new_one_sees_them() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    s.docker_ok(&["run", "-d", "--name", "lasting", "busybox", "sleep", "60"]);
    drop(s);
    let s = Service::start(&t);
    let ps = s.docker_ok(&["ps", "--format", "{{.Names}} {{.State}}"]);
    assert_eq!(ps.trim(), "lasting running");
    assert_eq!(
        s.docker_ok(&["exec", "lasting", "echo", "still"]),
        "still\n"
    );
    s.docker_ok(&["rm", "-f", "lasting"]);
}

#[test]
fn the_socket_is_for_root_and_the_docker_group_only() {
    use std::os::unix::fs::PermissionsExt;
    let t = TestRoot::new();
    let s = Service::start(&t);
    let mode = std::fs::metadata(&s.socket).unwrap().permissions().mode() & 0o777;
    let docker_group = std::fs::read_to_string("/etc/group")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("docker:"));
    assert_eq!(mode, if docker_group { 0o660 } else { 0o600 });
    // A second server on the same socket is refused; the first one keeps it.
    let out = t.run(&[
        "system",
        "service",
        "--host",
        &format!("unix://{}", s.socket.display()),
    ]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already listens"),
        "{}",
        text(&out)
    );
    assert!(s.http("GET", "/_ping", None).starts_with("HTTP/1.1 200"));
}

#[test]
fn docker_pulls_from_a_loopback_registry_with_progress() {
    let t = TestRoot::new();
    let Some(s) = with_docker(&t) else { return };
    let reg = tug_e2e::registry::Registry::start();
    let name = format!("{}/apibox:1", reg.host());
    let source = TestRoot::with_busybox();
    source.ok(&["tag", "busybox", &name]);
    source.ok(&["push", &name]);

    let out = s.docker_ok(&["pull", &name]);
    assert!(out.contains("1: Pulling from apibox"), "{out}");
    assert!(out.contains(": Pull complete"), "{out}");
    // And back up under another name.
    let again = format!("{}/apibox:2", reg.host());
    s.docker_ok(&["tag", &name, &again]);
    let pushed = s.docker_ok(&["push", &again]);
    assert!(pushed.contains("2: digest: sha256:"), "{pushed}");
    source.ok(&["pull", &again]);
    assert!(out.contains(": Pull complete"), "{out}");
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {name}")),
        "{out}"
    );
    // A missing image is pulled by `run` (create answers 404, the CLI pulls, creates).
    s.docker_ok(&["rmi", &name]);
    let out = s.docker(&["run", "--rm", &name, "echo", "pulled"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "pulled\n",
        "{}",
        text(&out)
    );
    let missing = s.docker(&["pull", &format!("{}/nosuch:1", reg.host())]);
    assert_eq!(code(&missing), 1, "{}", text(&missing));
}

#[test]
fn docker_pause_rename_top_and_prune() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    s.docker_ok(&["run", "-d", "--name", "first", "busybox", "sleep", "60"]);
    s.docker_ok(&["pause", "first"]);
    let state = s.docker_ok(&["inspect", "-f", "{{.State.Status}}", "first"]);
    assert_eq!(state.trim(), "paused");
    s.docker_ok(&["unpause", "first"]);
    s.docker_ok(&["rename", "first", "second"]);
    let top = s.docker_ok(&["top", "second"]);
    assert!(top.lines().any(|l| l.contains("sleep 60")), "{top}");
    s.docker_ok(&["run", "--name", "done", "-l", "keep=yes", "busybox", "true"]);
    s.docker_ok(&["run", "--name", "done2", "busybox", "true"]);
    let names = || {
        let out = s.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
        let mut v: Vec<String> = out.lines().map(String::from).collect();
        v.sort();
        v.join(",")
    };
    // The prune filters: nothing here is an hour old, so `until=1h` takes nothing.
    let kept = s.docker_ok(&["container", "prune", "-f", "--filter", "until=1h"]);
    assert!(!kept.contains("Deleted Containers:"), "{kept}");
    assert_eq!(names(), "done,done2,second");
    let pruned = s.docker_ok(&["container", "prune", "-f", "--filter", "label!=keep"]);
    assert!(pruned.contains("Deleted Containers:"), "{pruned}");
    assert_eq!(names(), "done,second");
    let bad = s.docker(&["container", "prune", "-f", "--filter", "colour=red"]);
    assert_eq!(code(&bad), 1, "{}", text(&bad));
    assert!(
        text(&bad).contains("invalid filter 'colour'"),
        "{}",
        text(&bad)
    );
    assert_eq!(names(), "done,second");
    let pruned = s.docker_ok(&[
        "container",
        "prune",
        "-f",
        "--filter",
        "until=0s",
        "--filter",
        "label=keep=yes",
    ]);
    assert!(pruned.contains("Deleted Containers:"), "{pruned}");
    assert_eq!(names(), "second");
    // A stop's timeout may be a fraction (docker-py's `t=0.2`); one that is no number is
    // a bad request, not Docker's 10 s.
    let bad = s.http("POST", "/v1.47/containers/second/stop?t=soon", Some(""));
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    let started = std::time::Instant::now();
    let stopped = s.http("POST", "/v1.47/containers/second/stop?t=0.2", Some(""));
    assert!(stopped.starts_with("HTTP/1.1 204"), "{stopped}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    s.docker_ok(&["rm", "-f", "second"]);
    // Networks: by label, and not before they are old enough.
    s.docker_ok(&["network", "create", "--label", "tier=x", "labelled"]);
    s.docker_ok(&["network", "create", "plain"]);
    let pruned = s.docker_ok(&["network", "prune", "-f", "--filter", "label=tier=x"]);
    assert!(
        pruned.contains("labelled") && !pruned.contains("plain"),
        "{pruned}"
    );
    let kept = s.docker_ok(&["network", "prune", "-f", "--filter", "until=1h"]);
    assert!(!kept.contains("plain"), "{kept}");
    let pruned = s.docker_ok(&["network", "prune", "-f"]);
    assert!(pruned.contains("plain"), "{pruned}");
}

#[test]
fn docker_cp_copies_both_ways() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    let dir = t.host_dir("cp");
    std::fs::write(dir.join("in.txt"), "from-the-host\n").unwrap();
    let src = dir.join("in.txt");
    let src = src.to_str().unwrap();
    s.docker_ok(&["run", "-d", "--name", "copied", "busybox", "sleep", "60"]);
    s.docker_ok(&["cp", src, "copied:/tmp/"]);
    s.docker_ok(&["cp", src, "copied:/tmp/renamed.txt"]);
    let inside = s.docker_ok(&["exec", "copied", "cat", "/tmp/in.txt", "/tmp/renamed.txt"]);
    assert_eq!(inside, "from-the-host\nfrom-the-host\n");
    s.docker_ok(&[
        "exec",
        "copied",
        "sh",
        "-c",
        "echo from-the-container > /tmp/out.txt",
    ]);
    let out = dir.join("out.txt");
    s.docker_ok(&["cp", "copied:/tmp/out.txt", out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "from-the-container\n"
    );
    let missing = s.docker(&["cp", "copied:/nosuch", out.to_str().unwrap()]);
    assert_eq!(code(&missing), 1, "{}", text(&missing));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("/nosuch"),
        "{}",
        text(&missing)
    );
    s.docker_ok(&["rm", "-f", "copied"]);
}

#[test]
fn docker_stats_no_stream_reads_the_cgroup() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    s.docker_ok(&[
        "run", "-d", "--name", "measured", "-m", "64m", "busybox", "sleep", "60",
    ]);
    let out = s.docker_ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}} {{.MemUsage}}",
        "measured",
    ]);
    let fields: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(fields[..2], ["measured", "1"], "{out}");
    assert!(out.trim().ends_with("/ 64MiB"), "{out}");
    // Stopped: no cgroup, all zeros, as Docker shows it.
    s.docker_ok(&["stop", "-t", "0", "measured"]);
    let out = s.docker_ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.PIDs}}|{{.MemUsage}}",
        "measured",
    ]);
    assert_eq!(out.trim(), "0|0B / 0B");
    s.docker_ok(&["rm", "-f", "measured"]);
}

#[test]
fn docker_run_takes_aliases_mounts_and_tmpfs() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    let host = t.host_dir("shared");
    std::fs::write(host.join("f"), "on-the-host\n").unwrap();
    s.docker_ok(&["network", "create", "aliasnet"]);
    s.docker_ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "aliasnet",
        "--network-alias",
        "database",
        "--mac-address",
        "02:42:aa:bb:cc:dd",
        "busybox",
        "sleep",
        "60",
    ]);
    // The CLI sends the MAC in the endpoint's config (API 1.44): the interface has it,
    // and inspect and network inspect say so.
    assert_eq!(
        s.docker_ok(&["exec", "db", "cat", "/sys/class/net/eth0/address"]),
        "02:42:aa:bb:cc:dd\n"
    );
    assert_eq!(
        s.docker_ok(&[
            "network",
            "inspect",
            "aliasnet",
            "-f",
            "{{range .Containers}}{{.Name}} {{.MacAddress}}{{end}}",
        ]),
        "db 02:42:aa:bb:cc:dd\n"
    );
    let mount = format!(
        "type=bind,source={},target=/shared,readonly",
        host.display()
    );
    let out = s.docker_ok(&[
        "run", "--rm", "--network", "aliasnet", "--mount", &mount, "--tmpfs", "/scratch",
        "busybox", "sh", "-c",
        "cat /shared/f; grep -c database /etc/hosts; grep -c ' /scratch tmpfs' /proc/mounts; touch /shared/x 2>/dev/null || echo read-only",
    ]);
    assert_eq!(out, "on-the-host\n1\n1\nread-only\n");
    s.docker_ok(&["rm", "-f", "db"]);
    s.docker_ok(&["network", "rm", "aliasnet"]);
}

#[test]
fn docker_events_streams_what_happens() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    let log = t.path().join("events.txt");
    let child = Command::new("docker")
        .args([
            "events",
            "--filter",
            "type=container",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ])
        .env("DOCKER_HOST", format!("unix://{}", s.socket.display()))
        .env("DOCKER_CONFIG", &s.config)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn docker events");
    let _events = KillOnDrop(child);
    // The stream is open once the server logged its request (after subscribing).
    wait_for("the events request", Duration::from_secs(10), || {
        std::fs::read_to_string(t.path().join("service.log"))
            .unwrap_or_default()
            .contains("/events")
    });
    let run = s.docker(&[
        "run", "--rm", "--name", "seen", "busybox", "sh", "-c", "exit 3",
    ]);
    assert_eq!(code(&run), 3, "{}", text(&run));
    s.docker_ok(&["volume", "create", "not-a-container"]);
    // `docker run` attaches before it starts, as with Docker's daemon.
    let want = "create seen\nattach seen\nstart seen\ndie seen\ndestroy seen\n";
    wait_for("the events", Duration::from_secs(10), || {
        std::fs::read_to_string(&log).unwrap_or_default() == want
    });
    s.docker_ok(&["volume", "rm", "not-a-container"]);
    // `--until` a moment ahead: the history, then the stream until that time.
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let past = s.docker_ok(&[
        "events",
        "--since",
        "5m",
        "--until",
        &until.to_string(),
        "--filter",
        "event=die",
        "--format",
        "{{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}",
    ]);
    assert_eq!(past, "seen 3\n");
}

#[test]
fn docker_diff_export_and_network_connect() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    s.docker_ok(&["network", "create", "late"]);
    s.docker_ok(&[
        "run",
        "-d",
        "--name",
        "changed",
        "busybox",
        "sh",
        "-c",
        "touch /made; exec sleep 60",
    ]);
    wait_for("the new file", Duration::from_secs(10), || {
        s.docker(&["exec", "changed", "test", "-e", "/made"])
            .status
            .success()
    });
    let diff = s.docker_ok(&["diff", "changed"]);
    assert!(diff.lines().any(|l| l == "A /made"), "{diff}");
    let tar = t.path().join("export.tar");
    s.docker_ok(&["export", "-o", tar.to_str().unwrap(), "changed"]);
    let names = Command::new("tar").arg("-tf").arg(&tar).output().unwrap();
    let names = String::from_utf8_lossy(&names.stdout);
    assert!(
        names.lines().any(|l| l.trim_start_matches("./") == "made"),
        "{names}"
    );
    s.docker_ok(&["network", "connect", "--alias", "joined", "late", "changed"]);
    let nets = s.docker_ok(&[
        "inspect",
        "-f",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
        "changed",
    ]);
    assert!(nets.split_whitespace().any(|n| n == "late"), "{nets}");
    s.docker_ok(&["network", "disconnect", "late", "changed"]);
    let nets = s.docker_ok(&[
        "inspect",
        "-f",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
        "changed",
    ]);
    assert!(!nets.split_whitespace().any(|n| n == "late"), "{nets}");
    s.docker_ok(&["rm", "-f", "changed"]);
    s.docker_ok(&["network", "rm", "late"]);
}

/// Debian's docker-compose 1.29 (docker-py), unchanged, on tug: a two-service project
/// with a network, a volume and a healthcheck that the other service waits for, up, ps,
/// logs, down -v.
#[test]
fn docker_compose_runs_a_project_on_tug() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    let found = Command::new("docker-compose")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|st| st.success());
    if !found {
        eprintln!("skipped: no docker-compose on PATH");
        return;
    }
    let dir = t.host_dir("project");
    std::fs::write(
        dir.join("docker-compose.yml"),
        r#"version: "2.4"
services:
  web:
    image: busybox
    command: sh -c "mkdir -p /www && echo hello-web > /www/index.html && exec httpd -f -p 80 -h /www"
    networks: [back]
    volumes: [data:/data]
    stop_grace_period: 200ms
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://localhost/"]
      interval: 200ms
      retries: 50
  client:
    image: busybox
    command: sh -c "for i in $$(seq 100); do wget -qO- http://web/ && break; sleep 0.1; done; exec sleep 60"
    networks: [back]
    stop_grace_period: 200ms
    depends_on:
      web:
        condition: service_healthy
networks:
  back: {}
volumes:
  data: {}
"#,
    )
    .unwrap();
    let compose = |args: &[&str]| {
        Command::new("docker-compose")
            .args(["-p", "apitest"])
            .args(args)
            .current_dir(&dir)
            .env("DOCKER_HOST", format!("unix://{}", s.socket.display()))
            .env("DOCKER_CONFIG", &s.config)
            .stdin(Stdio::null())
            .output()
            .expect("spawn docker-compose")
    };
    let up = compose(&["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
    // `condition: service_healthy`: compose started the client once web's check passed
    // (docker-py sends the healthcheck's unset fields as null).
    let health = s.docker_ok(&["inspect", "-f", "{{.State.Health.Status}}", "apitest_web_1"]);
    assert_eq!(health.trim(), "healthy");
    let ps = compose(&["ps", "--services"]);
    let mut services: Vec<String> = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    services.sort();
    assert_eq!(services, ["client", "web"], "{}", text(&ps));
    wait_for(
        "the client to reach web by name",
        Duration::from_secs(20),
        || String::from_utf8_lossy(&compose(&["logs", "client"]).stdout).contains("hello-web"),
    );
    // A second `up` and a one-off `run` check the network's options against the file's:
    // tug's own bridge name is not among the options the API shows.
    let again = compose(&["up", "-d"]);
    assert!(again.status.success(), "{}", text(&again));
    let once = compose(&["run", "--rm", "-T", "client", "echo", "one-off"]);
    assert!(once.status.success(), "{}", text(&once));
    assert!(
        String::from_utf8_lossy(&once.stdout).contains("one-off"),
        "{}",
        text(&once)
    );
    // A changed service is recreated (compose reads its image's ContainerConfig then).
    let file = dir.join("docker-compose.yml");
    let changed = std::fs::read_to_string(&file).unwrap().replace(
        "    volumes: [data:/data]\n",
        "    volumes: [data:/data]\n    environment: [CHANGED=yes]\n",
    );
    std::fs::write(&file, changed).unwrap();
    let recreated = compose(&["up", "-d"]);
    assert!(recreated.status.success(), "{}", text(&recreated));
    assert!(
        text(&recreated).contains("Recreating"),
        "{}",
        text(&recreated)
    );
    let env = s.docker_ok(&["inspect", "-f", "{{.Config.Env}}", "apitest_web_1"]);
    assert!(env.contains("CHANGED=yes"), "{env}");
    let down = compose(&["down", "-v", "-t", "0"]);
    assert!(down.status.success(), "{}", text(&down));
    assert_eq!(s.docker_ok(&["ps", "-aq"]), "");
    let vols = s.docker_ok(&["volume", "ls", "-q"]);
    assert!(!vols.contains("apitest_data"), "{vols}");
}

#[test]
fn docker_events_shows_what_the_tug_cli_did() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    // Followed: `docker events` open while `tug run` runs beside the server.
    let log = t.path().join("events.txt");
    let child = Command::new("docker")
        .args([
            "events",
            "--filter",
            "container=fromcli",
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
        ])
        .env("DOCKER_HOST", format!("unix://{}", s.socket.display()))
        .env("DOCKER_CONFIG", &s.config)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn docker events");
    let _events = KillOnDrop(child);
    wait_for("the events request", Duration::from_secs(10), || {
        std::fs::read_to_string(t.path().join("service.log"))
            .unwrap_or_default()
            .contains("/events")
    });
    let run = t
        .tug()
        .args([
            "run", "--rm", "--name", "fromcli", "busybox", "sh", "-c", "exit 4",
        ])
        .output()
        .expect("tug run");
    assert_eq!(code(&run), 4, "{}", text(&run));
    let seen = |s: &str| {
        ["create", "start", "die", "destroy"]
            .iter()
            .all(|a| s.contains(&format!("container {a} fromcli\n")))
    };
    wait_for(
        "the CLI's events on the stream",
        Duration::from_secs(10),
        || seen(&std::fs::read_to_string(&log).unwrap_or_default()),
    );
    // From the journal: `--since` a moment before, `--until` a moment ahead.
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let past = s.docker_ok(&[
        "events",
        "--since",
        "5m",
        "--until",
        &until.to_string(),
        "--filter",
        "container=fromcli",
        "--filter",
        "event=die",
        "--format",
        "{{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}",
    ]);
    assert_eq!(past, "fromcli 4\n");
    // `--until` in the past ends at once, without what came after it.
    let none = s.docker_ok(&[
        "events",
        "--since",
        "5m",
        "--until",
        "4m",
        "--filter",
        "container=fromcli",
    ]);
    assert_eq!(none, "");
}

#[test]
fn docker_build_with_the_classic_builder_builds_and_fails_as_dockers() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    let build = |dir: &std::path::Path, args: &[&str]| {
        Command::new("docker")
            .arg("build")
            .args(args)
            .arg(".")
            .current_dir(dir)
            .env("DOCKER_HOST", format!("unix://{}", s.socket.display()))
            .env("DOCKER_CONFIG", &s.config)
            .env("DOCKER_BUILDKIT", "0")
            .stdin(Stdio::null())
            .output()
            .expect("spawn docker build")
    };
    let ok = t.path().join("ok");
    std::fs::create_dir_all(&ok).unwrap();
    std::fs::write(
        ok.join("Dockerfile"),
        "FROM busybox\nARG GREETING=none\nCOPY note.txt /note.txt\nRUN echo \"built $GREETING\" > /greeting && echo step-output\nCMD [\"sh\", \"-c\", \"cat /greeting /note.txt\"]\n",
    )
    .unwrap();
    std::fs::write(ok.join("note.txt"), "from the context\n").unwrap();
    let out = build(
        &ok,
        &[
            "-t",
            "apibuilt",
            "-t",
            "apibuilt:v2",
            "--build-arg",
            "GREETING=hello",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Step 1/5 : FROM busybox"), "{stdout}");
    assert!(stdout.contains("step-output"), "{stdout}");
    assert!(stdout.contains("Successfully built "), "{stdout}");
    assert!(
        stdout.contains("Successfully tagged apibuilt:latest"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Successfully tagged apibuilt:v2"),
        "{stdout}"
    );
    let run = s.docker_ok(&["run", "--rm", "apibuilt:v2"]);
    assert_eq!(run, "built hello\nfrom the context\n");
    // As Docker's classic builder: each step's image (` ---> <id>`), the RUN's container
    // around its output; the last step's image is the result.
    let arrows = |out: &str| -> Vec<String> {
        out.lines()
            .filter_map(|l| l.strip_prefix(" ---> "))
            .filter(|l| l.len() == 12 && l.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_string)
            .collect()
    };
    let ids = arrows(&stdout);
    assert_eq!(ids.len(), 5, "{stdout}");
    let busybox = s.docker_ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    assert_eq!(&busybox[7..19], ids[0], "{stdout}");
    assert!(
        stdout.contains(&format!("Successfully built {}", ids[4])),
        "{stdout}"
    );
    let running = stdout
        .lines()
        .find_map(|l| l.strip_prefix(" ---> Running in "))
        .expect("the RUN's container")
        .to_string();
    let after_run = format!(
        " ---> Running in {running}\nstep-output\nRemoving intermediate container {running}\n ---> {}\n",
        ids[3]
    );
    assert!(stdout.contains(&after_run), "{stdout}");
    // A step's image runs (as a user debugging a build runs the last good one), and is
    // listed with `-a` only, as Docker's intermediate images are.
    let greeting = s.docker_ok(&["run", "--rm", &ids[3], "cat", "/greeting"]);
    assert_eq!(greeting, "built hello\n");
    assert!(!s.docker_ok(&["images", "-q"]).contains(&ids[3]));
    assert!(s.docker_ok(&["images", "-a", "-q"]).contains(&ids[3]));
    // Again: every step from the cache, with the same images.
    let again = build(&ok, &["-t", "apibuilt", "--build-arg", "GREETING=hello"]);
    assert!(again.status.success(), "{}", text(&again));
    let again = String::from_utf8_lossy(&again.stdout).into_owned();
    assert_eq!(arrows(&again), ids, "{again}");
    assert_eq!(again.matches(" ---> Using cache").count(), 4, "{again}");
    // `-q`: the image id alone, the same as the tag's.
    let quiet = build(
        &ok,
        &["-q", "-t", "apibuilt", "--build-arg", "GREETING=hello"],
    );
    assert!(quiet.status.success(), "{}", text(&quiet));
    let id = s.docker_ok(&["image", "inspect", "-f", "{{.Id}}", "apibuilt"]);
    assert_eq!(String::from_utf8_lossy(&quiet.stdout).trim(), id.trim());

    let bad = t.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(
        bad.join("Dockerfile"),
        "FROM busybox\nRUN echo about-to-fail && false\n",
    )
    .unwrap();
    let out = build(&bad, &["-t", "apibroken"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("returned a non-zero code: 1"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("about-to-fail"));
    assert_ne!(code(&s.docker(&["image", "inspect", "apibroken"])), 0);
    // A builder option tug's builder lacks is refused, not left out of the build.
    let out = build(&bad, &["--add-host", "db:10.0.0.9", "-t", "apihosts"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("--add-host) is not supported"),
        "{}",
        text(&out)
    );

    // BuildKit is refused with a clear error.
    let v2 = s.http("POST", "/v1.47/build?version=2", None);
    assert!(v2.starts_with("HTTP/1.1 400"), "{v2}");
    assert!(body_of(&v2).contains("DOCKER_BUILDKIT=0"), "{v2}");
    let session = s.http("POST", "/session", None);
    assert!(session.starts_with("HTTP/1.1 400"), "{session}");
}

/// HostConfig's namespace, sysctl and cgroup knobs reach the container, and `docker
/// update` (`POST /containers/{id}/update`) changes its limits while it runs.
#[test]
fn docker_run_knobs_and_update_reach_the_container() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    let id = s.docker_ok(&[
        "run",
        "-d",
        "--name",
        "knobs",
        "--cpu-quota",
        "50000",
        "--cpu-period",
        "100000",
        "--memory-reservation",
        "32m",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "--oom-score-adj",
        "500",
        "--group-add",
        "1234",
        "--uts",
        "host",
        "busybox",
        "sleep",
        "600",
    ]);
    let id = id.trim();
    let exec = |cmd: &str| s.docker_ok(&["exec", "knobs", "sh", "-c", cmd]);
    assert_eq!(exec("cat /proc/sys/net/ipv4/ip_forward").trim(), "1");
    assert_eq!(exec("cat /proc/1/oom_score_adj").trim(), "500");
    assert!(exec("id -G").split_whitespace().any(|g| g == "1234"));
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(exec("hostname").trim(), host.trim());
    let f = "{{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}} {{.HostConfig.MemoryReservation}} {{.HostConfig.OomScoreAdj}} {{.HostConfig.UTSMode}}";
    assert_eq!(
        s.docker_ok(&["inspect", "-f", f, "knobs"]).trim(),
        "50000 100000 33554432 500 host"
    );
    assert_eq!(
        s.docker_ok(&[
            "update",
            "--cpu-quota",
            "20000",
            "--restart",
            "always",
            "knobs"
        ])
        .trim(),
        "knobs"
    );
    let f = "{{.HostConfig.CpuQuota}} {{.HostConfig.RestartPolicy.Name}}";
    assert_eq!(
        s.docker_ok(&["inspect", "-f", f, "knobs"]).trim(),
        "20000 always"
    );
    // The running container's cgroup has the new quota (cgroup v2's cpu.max or v1's
    // cpu.cfs_quota_us).
    let quota =
        exec("cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us");
    assert!(quota.starts_with("20000"), "{quota}");
    let out = s.docker(&["update", "--cpu-quota", "20000", "nosuch"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("No such container"), "{}", text(&out));
    s.docker_ok(&["rm", "-f", id]);
}

/// `docker run --health-*` (Docker's HealthConfig in the create body): the check runs,
/// inspect and ps show its state, `ps --filter health=` finds it; an interval under 1ms
/// is refused.
#[test]
fn docker_run_health_flags_check_the_container() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    s.docker_ok(&[
        "run",
        "-d",
        "--name",
        "checked",
        "--health-cmd",
        "test -e /tmp/ok",
        "--health-interval",
        "100ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "60",
    ]);
    let health = || {
        s.docker_ok(&["inspect", "-f", "{{.State.Health.Status}}", "checked"])
            .trim()
            .to_string()
    };
    wait_for("unhealthy", Duration::from_secs(10), || {
        health() == "unhealthy"
    });
    let ps = s.docker_ok(&["ps", "--format", "{{.Status}}"]);
    assert!(ps.trim().ends_with("(unhealthy)"), "{ps}");
    s.docker_ok(&["exec", "checked", "touch", "/tmp/ok"]);
    wait_for("healthy", Duration::from_secs(10), || health() == "healthy");
    let found = s.docker_ok(&["ps", "-q", "--filter", "health=healthy"]);
    assert_eq!(found.trim().len(), 12, "{found}");
    let test = s.docker_ok(&[
        "inspect",
        "-f",
        "{{json .Config.Healthcheck.Test}}",
        "checked",
    ]);
    assert_eq!(test.trim(), r#"["CMD-SHELL","test -e /tmp/ok"]"#);
    s.docker_ok(&["rm", "-f", "checked"]);
    // `-e KEY` with KEY unset on the client reaches the API bare, and unsets KEY (as
    // Docker's daemon does), rather than passing `KEY` on as it is.
    let env = s.docker_ok(&[
        "run",
        "--rm",
        "-e",
        "TUG_TEST_SURELY_UNSET",
        "-e",
        "A=1",
        "busybox",
        "env",
    ]);
    assert!(!env.contains("TUG_TEST_SURELY_UNSET"), "{env}");
    assert!(env.lines().any(|l| l == "A=1"), "{env}");
    let bad = s.docker(&[
        "run",
        "--rm",
        "--health-interval",
        "0.1ms",
        "busybox",
        "true",
    ]);
    assert_eq!(code(&bad), 125, "{}", text(&bad));
    assert!(
        text(&bad).contains("Interval in Healthcheck cannot be less than 1ms"),
        "{}",
        text(&bad)
    );
}

/// `docker run --log-driver` through the API: `none` keeps nothing (the attached run
/// still prints; `docker logs` gets Docker's 501 and words), `local` keeps the log as
/// json-file does, another driver is refused with the ones tug has.
#[test]
fn docker_run_log_drivers_none_and_local() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    let out = s.docker_ok(&[
        "run",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        "busybox",
        "echo",
        "hi",
    ]);
    assert_eq!(out, "hi\n");
    assert_eq!(
        s.docker_ok(&["inspect", "-f", "{{.HostConfig.LogConfig.Type}}", "quiet"])
            .trim(),
        "none"
    );
    let logs = s.docker(&["logs", "quiet"]);
    assert!(!logs.status.success());
    assert!(
        text(&logs).contains("configured logging driver does not support reading"),
        "{}",
        text(&logs)
    );
    let answer = s.http("GET", "/containers/quiet/logs?stdout=1", None);
    assert!(answer.starts_with("HTTP/1.1 501"), "{answer}");
    s.docker_ok(&[
        "run",
        "--name",
        "kept",
        "--log-driver",
        "local",
        "--log-opt",
        "max-size=1m",
        "busybox",
        "echo",
        "kept",
    ]);
    assert_eq!(s.docker_ok(&["logs", "kept"]), "kept\n");
    let out = s.docker(&["run", "--rm", "--log-driver", "syslog", "busybox", "true"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("logging driver \"syslog\" is not supported"),
        "{}",
        text(&out)
    );
    s.docker_ok(&["rm", "-f", "quiet", "kept"]);
}

/// An exec start and an attach asked without `Upgrade: tcp` (dockerode without
/// `hijack`, as testcontainers-node's exec sends them): Docker's `200 OK` with the
/// multiplexed stream as the body, ended with the process, and the exec's exit code
/// known once it ends. (A `101` to a client that did not ask for it made Node's client
/// drop the connection.)
#[test]
fn exec_and_attach_without_upgrade_answer_200_with_the_stream() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    s.docker_ok(&["run", "-d", "--name", "plain", "busybox", "sleep", "600"]);
    let created = s.http(
        "POST",
        "/containers/plain/exec",
        Some(r#"{"Cmd":["sh","-c","echo out; echo err >&2; exit 3"],"AttachStdout":true,"AttachStderr":true}"#),
    );
    let exec: serde_json::Value = serde_json::from_str(body_of(&created)).expect("the exec's id");
    let id = exec["Id"].as_str().expect("an id").to_string();
    let answer = s.http(
        "POST",
        &format!("/exec/{id}/start"),
        Some(r#"{"Detach":false,"Tty":false}"#),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("application/vnd.docker.multiplexed-stream"),
        "{answer}"
    );
    assert!(answer.contains("\u{1}\0\0\0\0\0\0\u{4}out\n"), "{answer:?}");
    assert!(answer.contains("\u{2}\0\0\0\0\0\0\u{4}err\n"), "{answer:?}");
    let inspect = s.http("GET", &format!("/exec/{id}/json"), None);
    let v: serde_json::Value = serde_json::from_str(body_of(&inspect)).expect("exec inspect");
    assert_eq!(v["ExitCode"], 3, "{inspect}");
    assert_eq!(v["Running"], false, "{inspect}");

    // An attach before the start, as dockerode's `run` does it.
    s.docker_ok(&[
        "create",
        "--name",
        "told",
        "busybox",
        "sh",
        "-c",
        "echo told",
    ]);
    let socket = s.socket.clone();
    let attach = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let mut c = std::os::unix::net::UnixStream::connect(&socket).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        c.write_all(
            b"POST /containers/told/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: api\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).expect("the attach's answer");
        out
    });
    // The start once the attach is there (its `attach` event says so).
    tug_e2e::wait_for("the attach", Duration::from_secs(10), || {
        let now = format!(
            "{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 1
        );
        !s.docker_ok(&[
            "events",
            "--since",
            "0",
            "--until",
            &now,
            "--filter",
            "container=told",
            "--filter",
            "event=attach",
        ])
        .trim()
        .is_empty()
    });
    s.docker_ok(&["start", "told"]);
    let answer = attach.join().expect("the attach's answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("\u{1}\0\0\0\0\0\0\u{5}told\n"),
        "{answer:?}"
    );
    s.docker_ok(&["rm", "-f", "plain", "told"]);
}

/// `docker run --device-read-bps` and `--device-write-iops` (HostConfig's
/// `BlkioDeviceReadBps` and kin, `[{"Path", "Rate"}]`) reach the container's cgroup, named
/// by the device's numbers, as `tug run`'s flags do; a path that is not a block device is
/// refused.
#[test]
fn docker_run_device_io_limits_reach_the_cgroup() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    let Some((dev, numbers)) = tug_e2e::block_device() else {
        eprintln!("no block device on this host: the I/O limits are not checked");
        return;
    };
    let v1 = tug_e2e::cgroup_v1();
    let files = if v1 {
        "blkio/blkio.throttle.read_bps_device blkio/blkio.throttle.write_iops_device"
    } else {
        "io.max"
    };
    let out = s.docker_ok(&[
        "run",
        "--rm",
        "--device-read-bps",
        &format!("{dev}:1mb"),
        "--device-write-iops",
        &format!("{dev}:100"),
        "busybox",
        "sh",
        "-c",
        &format!("cd /sys/fs/cgroup; cat {files}"),
    ]);
    let want = if v1 {
        format!("{numbers} 1048576\n{numbers} 100\n")
    } else {
        format!("{numbers} rbps=1048576 wbps=max riops=max wiops=100\n")
    };
    assert_eq!(out, want);
    let out = s.docker(&[
        "run",
        "--rm",
        "--device-read-bps",
        "/dev/null:1mb",
        "busybox",
        "true",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("/dev/null is not a block device"),
        "{}",
        text(&out)
    );
}

/// `NetworkDisabled` in a create's body (docker-py's `network_disabled=True`): the
/// container has no network but its loopback, as with `--network none`, whatever
/// NetworkMode says; it was ignored, and the container got the default bridge.
#[test]
fn network_disabled_gives_the_container_no_network() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    let created = s.http(
        "POST",
        "/containers/create?name=offline",
        Some(r#"{"Image":"busybox","Cmd":["ip","-o","link"],"NetworkDisabled":true,"HostConfig":{"NetworkMode":"bridge"}}"#),
    );
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    s.docker_ok(&["start", "offline"]);
    assert_eq!(s.docker_ok(&["wait", "offline"]).trim(), "0");
    let links = s.docker_ok(&["logs", "offline"]);
    let names: Vec<&str> = links
        .lines()
        .filter_map(|l| l.split(':').nth(1).map(str::trim))
        .collect();
    assert_eq!(names, ["lo"], "{links}");
    let nets = s.docker_ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.NetworkMode}} {{len .NetworkSettings.Networks}}",
        "offline",
    ]);
    assert_eq!(nets.trim(), "none 0");
    s.docker_ok(&["rm", "offline"]);
}

/// `StdinOnce` as the docker CLI sends it: `run -d -i` keeps stdin open for each attach
/// (false, with no stdin attached), `create -i` does not (true); the engine keeps what the
/// client said.
#[test]
fn stdin_once_is_what_the_client_sent() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    s.docker_ok(&["run", "-d", "-i", "--name", "kept-open", "busybox", "cat"]);
    s.docker_ok(&["create", "-i", "--name", "made-open", "busybox", "cat"]);
    let f = "{{.Config.OpenStdin}} {{.Config.StdinOnce}} {{.Config.AttachStdin}}";
    let seen = |name: &str| s.docker_ok(&["inspect", "-f", f, name]).trim().to_string();
    // What Docker's daemon shows for the same two commands.
    assert_eq!(seen("kept-open"), "true false false");
    assert_eq!(seen("made-open"), "true true true");
    let created = s.http(
        "POST",
        "/containers/create?name=once",
        Some(r#"{"Image":"busybox","Cmd":["cat"],"OpenStdin":true,"StdinOnce":true}"#),
    );
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    assert_eq!(seen("once"), "true true true");
    s.docker_ok(&["rm", "-f", "kept-open", "made-open", "once"]);
}
