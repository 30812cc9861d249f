//! The Docker API's image archive, history and registry-credential endpoints, the
//! networks a container is created on, and the first terminal size, through Docker's own
//! `docker` CLI (and raw HTTP where the CLI cannot show the answer). Skipped, with a
//! message, where no `docker` client is on PATH.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use tug_e2e::api::{Service, body_of, with_docker};
use tug_e2e::registry::{Auth, Registry};
use tug_e2e::{TestRoot, code, text, wait_for};

/// The client's stored `auths` entry for `host`, if any.
fn client_auth(s: &Service, host: &str) -> Option<serde_json::Value> {
    let file = std::fs::read_to_string(s.config.join("config.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&file).ok()?;
    v["auths"].get(host).cloned()
}

#[test]
fn docker_login_checks_the_password_and_pushes_with_the_clients_credentials() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    let reg = Registry::start_with(Auth::Basic {
        user: "alice".into(),
        password: "s3cret".into(),
    });
    let name = format!("{}/authbox:1", reg.host());
    s.docker_ok(&["tag", "busybox", &name]);
    let anonymous = s.docker(&["push", &name]);
    assert_eq!(code(&anonymous), 1, "{}", text(&anonymous));
    assert!(
        text(&anonymous).contains("unauthorized"),
        "{}",
        text(&anonymous)
    );

    let login = ["login", &reg.host(), "-u", "alice", "--password-stdin"];
    let wrong = s.docker_stdin(&login, "wrong\n");
    assert_eq!(code(&wrong), 1, "{}", text(&wrong));
    assert!(client_auth(&s, &reg.host()).is_none());
    let right = s.docker_stdin(&login, "s3cret\n");
    assert_eq!(code(&right), 0, "{}", text(&right));
    assert!(text(&right).contains("Login Succeeded"), "{}", text(&right));
    assert!(
        client_auth(&s, &reg.host()).is_some(),
        "the client keeps them"
    );

    let pushed = s.docker_ok(&["push", &name]);
    assert!(pushed.contains("1: digest: sha256:"), "{pushed}");
    s.docker_ok(&["rmi", &name]);
    let pulled = s.docker_ok(&["pull", &name]);
    assert!(pulled.contains("Downloaded newer image"), "{pulled}");
    let again = s.docker_ok(&["pull", &name]);
    assert!(again.contains("Image is up to date"), "{again}");

    // The server kept nothing: once the client forgets them, the registry refuses.
    s.docker_ok(&["logout", &reg.host()]);
    s.docker_ok(&["rmi", &name]);
    let refused = s.docker(&["pull", &name]);
    assert_eq!(code(&refused), 1, "{}", text(&refused));

    // `/auth` answers a bad password with 401 and Docker's JSON.
    let body = format!(
        r#"{{"username":"alice","password":"nope","serveraddress":"{}"}}"#,
        reg.host()
    );
    let answer = s.http("POST", "/v1.47/auth", Some(&body));
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(body_of(&answer).contains("\"message\""), "{answer}");
}

#[test]
fn docker_save_load_and_history_move_images_through_the_api() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    let id = t.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    let history = s.docker_ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.ID}}|{{.Size}}",
        "busybox",
    ]);
    let top = history.lines().next().unwrap_or_default();
    assert!(top.starts_with(&format!("{}|", id.trim())), "{history}");

    s.docker_ok(&["tag", "busybox", "saved:1"]);
    let tar = t.path().join("images.tar");
    let tar = tar.to_str().expect("utf-8 path");
    s.docker_ok(&["save", "-o", tar, "busybox", "saved:1"]);
    s.docker_ok(&["rmi", "busybox", "saved:1"]);
    assert_eq!(s.docker_ok(&["images", "-q"]), "");
    let loaded = s.docker_ok(&["load", "-i", tar]);
    assert!(loaded.contains("Loaded image: busybox:latest"), "{loaded}");
    assert!(loaded.contains("Loaded image: saved:1"), "{loaded}");
    assert_eq!(
        s.docker_ok(&["image", "inspect", "-f", "{{.Id}}", "saved:1"])
            .trim(),
        id.trim()
    );
    let out = s.docker_ok(&["run", "--rm", "saved:1", "echo", "from the archive"]);
    assert_eq!(out, "from the archive\n");

    // One image to stdout (`GET /images/{name}/get` or `?names=`): a tar tug can read.
    let one = t.path().join("one.tar");
    let saved = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "DOCKER_HOST=unix://{} DOCKER_CONFIG={} docker save saved:1 > {}",
            s.socket.display(),
            s.config.display(),
            one.display()
        ))
        .output()
        .expect("spawn sh");
    assert!(saved.status.success(), "{}", text(&saved));
    let other = TestRoot::new();
    let out = other.ok(&["load", "-i", one.to_str().expect("utf-8")]);
    assert!(out.contains("Loaded image: saved:1"), "{out}");

    // Bad input: a missing image, a file that is no archive; nothing is lost.
    let missing = s.docker(&["save", "-o", tar, "nosuch:1"]);
    assert_eq!(code(&missing), 1, "{}", text(&missing));
    assert!(text(&missing).contains("nosuch"), "{}", text(&missing));
    let junk = t.path().join("junk.tar");
    std::fs::write(&junk, b"this is not a tar archive at all").expect("write junk");
    let bad = s.docker(&["load", "-i", junk.to_str().expect("utf-8")]);
    assert_eq!(code(&bad), 1, "{}", text(&bad));
    let images = s.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        images.contains("busybox:latest") && images.contains("saved:1"),
        "{images}"
    );
}

#[test]
fn a_container_is_created_on_every_network_it_names_and_holds_them() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    s.docker_ok(&["network", "create", "front"]);
    s.docker_ok(&["network", "create", "back"]);
    s.docker_ok(&[
        "run",
        "-d",
        "--name",
        "multi",
        "--network",
        "front",
        "--network",
        "back",
        "busybox",
        "sleep",
        "60",
    ]);
    let nets = s.docker_ok(&[
        "inspect",
        "-f",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
        "multi",
    ]);
    assert_eq!(nets.trim(), "back front", "{nets}");
    let ifaces = s.docker_ok(&[
        "exec",
        "multi",
        "sh",
        "-c",
        "ls /sys/class/net | sort | tr '\\n' ' '",
    ]);
    assert_eq!(ifaces.trim(), "eth0 eth1 lo", "{ifaces}");
    // Reachable by name from either network.
    for net in ["front", "back"] {
        let out = s.docker(&[
            "run",
            "--rm",
            "--network",
            net,
            "busybox",
            "ping",
            "-c1",
            "-W2",
            "multi",
        ]);
        assert_eq!(code(&out), 0, "from {net}: {}", text(&out));
    }

    // An endpoint that cannot be joined fails the create, which leaves nothing: no
    // container, and no anonymous volume of it.
    let failed = s.http(
        "POST",
        "/v1.47/containers/create?name=halfmade",
        Some(r#"{"Image":"busybox","Volumes":{"/data":{}},"HostConfig":{"NetworkMode":"front"},"NetworkingConfig":{"EndpointsConfig":{"front":{},"nosuchnet":{}}}}"#),
    );
    assert!(failed.starts_with("HTTP/1.1 404"), "{failed}");
    assert!(body_of(&failed).contains("nosuchnet"), "{failed}");
    let left = s.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(left.trim(), "multi", "{left}");
    assert_eq!(s.docker_ok(&["volume", "ls", "-q"]), "", "no volume left");

    // A network with a container on it, even one never started, is not removed: 403
    // with Docker's message, and everything stays.
    s.docker_ok(&[
        "create",
        "--name",
        "idle",
        "--network",
        "front",
        "busybox",
        "true",
    ]);
    s.docker_ok(&["rm", "-f", "multi"]);
    let busy = s.http("DELETE", "/v1.47/networks/front", None);
    assert!(busy.starts_with("HTTP/1.1 403"), "{busy}");
    assert!(body_of(&busy).contains("has active endpoints"), "{busy}");
    let out = s.docker(&["network", "rm", "front"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    s.docker_ok(&["rm", "idle"]);
    s.docker_ok(&["network", "rm", "front", "back"]);
    let predefined = s.http("DELETE", "/v1.47/networks/bridge", None);
    assert!(predefined.starts_with("HTTP/1.1 403"), "{predefined}");
    s.docker_ok(&["network", "create", "dup"]);
    let exists = s.http("POST", "/v1.47/networks/create", Some(r#"{"Name":"dup"}"#));
    assert!(exists.starts_with("HTTP/1.1 409"), "{exists}");
    s.docker_ok(&["network", "rm", "dup"]);
    assert!(t.container_ids().is_empty());
}

#[test]
fn console_size_sets_the_terminal_before_the_process_runs() {
    let t = TestRoot::with_busybox();
    let s = Service::start(&t);
    // No client attaches and no resize comes: only ConsoleSize can size this terminal.
    let created = s.http(
        "POST",
        "/v1.47/containers/create?name=sized",
        Some(r#"{"Image":"busybox","Tty":true,"Cmd":["sh","-c","stty size; sleep 60"],"HostConfig":{"ConsoleSize":[33,101]}}"#),
    );
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    let start = s.http("POST", "/v1.47/containers/sized/start", None);
    assert!(start.starts_with("HTTP/1.1 204"), "{start}");
    wait_for(
        "the container's stty output",
        Duration::from_secs(10),
        || t.ok(&["logs", "sized"]).contains("33 101"),
    );
    // And inspect shows it, as Docker's HostConfig.ConsoleSize.
    let size = t.ok(&["inspect", "-f", "{{json .HostConfig.ConsoleSize}}", "sized"]);
    assert_eq!(size.trim(), "[33,101]");
    // An exec's own terminal, attached (hijacked, as the CLI does): sized by the exec's
    // ConsoleSize before its process runs, with no resize at all.
    let exec = s.http(
        "POST",
        "/v1.47/containers/sized/exec",
        Some(r#"{"Cmd":["stty","size"],"Tty":true,"AttachStdout":true,"ConsoleSize":[20,60]}"#),
    );
    assert!(exec.starts_with("HTTP/1.1 201"), "{exec}");
    let v: serde_json::Value = serde_json::from_str(body_of(&exec)).expect("exec JSON");
    let id = v["Id"].as_str().expect("exec id");
    let mut conn = UnixStream::connect(&s.socket).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let body = r#"{"Detach":false,"Tty":true}"#;
    write!(
        conn,
        "POST /v1.47/exec/{id}/start HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
    assert!(answer.contains("20 60"), "{answer}");
    t.ok(&["rm", "-f", "sized"]);
}

#[test]
fn docker_system_prune_removes_what_nothing_uses() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    s.docker_ok(&["run", "-d", "--name", "keeper", "busybox", "sleep", "60"]);
    s.docker_ok(&["run", "--name", "done", "busybox", "true"]);
    s.docker_ok(&["network", "create", "spare"]);
    // A build leaves cached steps; `builder prune` forgets them.
    let ctx = t.path().join("ctx");
    std::fs::create_dir_all(&ctx).expect("context dir");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN echo cached > /f\n",
    )
    .expect("Dockerfile");
    let out = std::process::Command::new("docker")
        .args(["build", "-q", "-t", "pruned:1"])
        .arg(&ctx)
        .env("DOCKER_HOST", format!("unix://{}", s.socket.display()))
        .env("DOCKER_CONFIG", &s.config)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .expect("spawn docker build");
    assert!(out.status.success(), "{}", text(&out));
    s.docker_ok(&["rmi", "pruned:1"]);

    // Nothing here is an hour old: with `until=1h` the prune takes nothing (the build
    // cache neither: it cannot be filtered, so a filter keeps it).
    let kept = s.docker_ok(&["system", "prune", "-f", "--filter", "until=1h"]);
    assert!(!kept.contains("Deleted"), "{kept}");
    assert_eq!(
        s.docker_ok(&["ps", "-a", "--format", "{{.Names}}"])
            .lines()
            .count(),
        2
    );
    let pruned = s.docker_ok(&["system", "prune", "-f"]);
    assert!(pruned.contains("Total reclaimed space"), "{pruned}");
    let left = s.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(left.trim(), "keeper", "{left}");
    let nets = s.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!nets.lines().any(|n| n == "spare"), "{nets}");
    let images = s.docker_ok(&["images", "--format", "{{.Repository}}"]);
    assert_eq!(images.trim(), "busybox", "in use by keeper: {images}");
    let out = s.docker(&["builder", "prune", "-f"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    s.docker_ok(&["rm", "-f", "keeper"]);
}

/// `docker commit` (with -c, -m, -a) and `docker import` (a file and stdin, with -c and
/// -m) make images that run; a change that is not one, or a tar that is not one, is an
/// error that names nothing; an image in use cannot be removed (409), and a bad name is
/// the request's fault (400).
#[test]
fn docker_commit_and_import_make_images_with_their_changes() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    s.docker_ok(&[
        "run",
        "--name",
        "src",
        "busybox",
        "sh",
        "-c",
        "echo kept > /made",
    ]);
    let id = s.docker_ok(&[
        "commit",
        "-c",
        "ENV GREETING=hi",
        "-c",
        r#"CMD ["cat", "/made"]"#,
        "-m",
        "a message",
        "-a",
        "someone",
        "src",
        "committed:1",
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    assert_eq!(s.docker_ok(&["run", "--rm", "committed:1"]), "kept\n");
    let greeting = s.docker_ok(&["run", "--rm", "committed:1", "sh", "-c", "echo $GREETING"]);
    assert_eq!(greeting, "hi\n");
    let meta = s.docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{.Author}}|{{.Comment}}|{{.Id}}",
        "committed:1",
    ]);
    assert_eq!(meta, format!("someone|a message|{}\n", id.trim()));

    // A change that is not one: refused as the request's fault, nothing named.
    let bad = s.docker(&["commit", "-c", "RUN true", "src", "bad:1"]);
    assert_eq!(code(&bad), 1, "{}", text(&bad));
    assert!(
        text(&bad).contains("RUN is not a valid change command"),
        "{}",
        text(&bad)
    );
    let answer = s.http(
        "POST",
        "/v1.47/commit?container=src&changes=RUN%20true",
        Some(""),
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let none = s.docker(&["image", "inspect", "bad:1"]);
    assert_eq!(code(&none), 1, "{}", text(&none));
    // A body config merges over the container's (Docker's commit body).
    let answer = s.http(
        "POST",
        "/v1.47/commit?container=src&repo=bodied&tag=1",
        Some(r#"{"Env":["GREETING=from the body"],"Cmd":null}"#),
    );
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let greeting = s.docker_ok(&["run", "--rm", "bodied:1", "sh", "-c", "echo $GREETING"]);
    assert_eq!(greeting, "from the body\n");

    // Import: the container's file system, from a file and from stdin.
    let tar = t.path().join("rootfs.tar");
    let tar = tar.to_str().expect("utf-8 path");
    s.docker_ok(&["export", "-o", tar, "src"]);
    let imported = s.docker_ok(&[
        "import",
        "-c",
        r#"CMD ["cat", "/made"]"#,
        "-m",
        "imported here",
        tar,
        "imported:1",
    ]);
    assert!(imported.trim().starts_with("sha256:"), "{imported}");
    assert_eq!(s.docker_ok(&["run", "--rm", "imported:1"]), "kept\n");
    let comment = s.docker_ok(&["history", "--format", "{{.Comment}}", "imported:1"]);
    assert_eq!(comment, "imported here\n");
    let piped = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "DOCKER_HOST=unix://{} DOCKER_CONFIG={} docker import - piped:1 < {tar}",
            s.socket.display(),
            s.config.display(),
        ))
        .output()
        .expect("spawn sh");
    assert!(piped.status.success(), "{}", text(&piped));
    let out = s.docker_ok(&["run", "--rm", "piped:1", "cat", "/made"]);
    assert_eq!(out, "kept\n");
    // Bytes that are no tar: an error, and no image by that name.
    let junk = t.path().join("junk.tar");
    std::fs::write(&junk, vec![0x5a; 4096]).expect("write junk");
    let refused = s.docker(&["import", junk.to_str().expect("utf-8"), "junk:1"]);
    assert_eq!(code(&refused), 1, "{}", text(&refused));
    let none = s.docker(&["image", "inspect", "junk:1"]);
    assert_eq!(code(&none), 1, "{}", text(&none));
    // A URL is not fetched by the server: a clear refusal.
    let url = s.http(
        "POST",
        "/v1.47/images/create?fromSrc=http://127.0.0.1:9/x.tar",
        Some(""),
    );
    assert!(url.starts_with("HTTP/1.1 501"), "{url}");
    assert!(body_of(&url).contains("fromSrc=-"), "{url}");

    // Docker's statuses: busybox's only name is in use by `src` (409), and a tag to a
    // name that is not one is a bad request (400).
    let in_use = s.http("DELETE", "/v1.47/images/busybox", None);
    assert!(in_use.starts_with("HTTP/1.1 409"), "{in_use}");
    let bad_name = s.http(
        "POST",
        "/v1.47/images/busybox/tag?repo=Not%20A%20Name",
        Some(""),
    );
    assert!(bad_name.starts_with("HTTP/1.1 400"), "{bad_name}");
    assert_eq!(
        s.docker_ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"])
            .trim()
            .len(),
        71
    );
}

/// `docker images --filter` through the API: label, dangling, reference (a glob),
/// before and since; an unknown filter is refused.
#[test]
fn docker_images_filters_as_docker_does() {
    let t = TestRoot::with_busybox();
    let Some(s) = with_docker(&t) else { return };
    s.docker_ok(&["run", "--name", "src", "busybox", "true"]);
    s.docker_ok(&["commit", "-c", "LABEL tier=web", "src", "labeled:1"]);
    s.docker_ok(&["commit", "-c", "LABEL tier=db", "src", "other:1"]);
    let untagged = s.docker_ok(&["commit", "src"]);
    let short = &untagged.trim()["sha256:".len()..][..12];
    let list = |filters: &[&str]| {
        let mut args = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
        for f in filters {
            args.extend(["--filter", f]);
        }
        let mut lines: Vec<String> = s.docker_ok(&args).lines().map(String::from).collect();
        lines.sort();
        lines
    };
    assert_eq!(list(&["label=tier=web"]), ["labeled:1"]);
    assert_eq!(list(&["label=tier"]), ["labeled:1", "other:1"]);
    assert_eq!(list(&["reference=lab*"]), ["labeled:1"]);
    assert_eq!(list(&["reference=*:1"]), ["labeled:1", "other:1"]);
    // An image's other names that the reference does not match are not listed.
    s.docker_ok(&["tag", "labeled:1", "labeled:extra"]);
    assert_eq!(list(&["reference=*:1"]), ["labeled:1", "other:1"]);
    assert_eq!(list(&["label=tier=web"]), ["labeled:1", "labeled:extra"]);
    s.docker_ok(&["rmi", "labeled:extra"]);
    assert_eq!(list(&["before=labeled:1"]), ["busybox:latest"]);
    // `until`: made at or before then (busybox carries its binary's old time).
    assert_eq!(list(&["until=1h"]), ["busybox:latest"]);
    assert_eq!(
        list(&["since=busybox"]),
        ["<none>:<none>", "labeled:1", "other:1"]
    );
    assert_eq!(
        s.docker_ok(&["images", "-q", "--filter", "dangling=true"])
            .trim(),
        short
    );
    assert_eq!(
        list(&["dangling=false"]),
        ["busybox:latest", "labeled:1", "other:1"]
    );
    let bad = s.docker(&["images", "--filter", "colour=red"]);
    assert_eq!(code(&bad), 1, "{}", text(&bad));
    assert!(
        text(&bad).contains("invalid filter 'colour'"),
        "{}",
        text(&bad)
    );
}
