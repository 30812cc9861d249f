//! `tug create`, `start -a`, `rm [-f]` and container `inspect`: the store of containers,
//! names, id prefixes, and Docker's inspect fields.

use std::time::{Duration, Instant};

use tug_e2e::{KillOnDrop, TestRoot, code, text};

#[test]
fn create_then_start_attached_then_remove() {
    let t = TestRoot::with_busybox();
    let id = t.ok(&[
        "create",
        "--name",
        "web",
        "busybox",
        "sh",
        "-c",
        "echo hello; exit 3",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "create prints the full id: {id}");
    assert!(
        t.root()
            .join("containers")
            .join(id)
            .join("config.json")
            .exists()
    );

    assert_eq!(
        t.ok(&["inspect", "-f", "{{.State.Status}}", "web"]).trim(),
        "created"
    );
    let out = t.run(&["start", "-a", "web"]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    assert_eq!(
        t.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}",
            &id[..12]
        ])
        .trim(),
        "exited 3 false"
    );
    // A stopped container starts again.
    let out = t.run(&["start", "-a", id]);
    assert_eq!(code(&out), 3, "{}", text(&out));

    assert_eq!(t.ok(&["rm", "web"]).trim(), "web");
    assert!(!t.root().join("containers").join(id).exists());
    let out = t.run(&["inspect", "web"]);
    assert_ne!(code(&out), 0);
}

#[test]
fn inspect_shows_dockers_fields() {
    let t = TestRoot::with_busybox();
    let id = t.ok(&[
        "create",
        "--name",
        "box",
        "-e",
        "A=1",
        "-w",
        "/tmp",
        "--hostname",
        "h1",
        "-l",
        "k=v",
        "busybox",
        "echo",
        "hi",
    ]);
    let id = id.trim();
    let f = |tpl: &str| {
        t.ok(&["container", "inspect", "-f", tpl, "box"])
            .trim()
            .to_string()
    };
    assert_eq!(f("{{.Id}}"), id);
    assert_eq!(f("{{.Name}}"), "/box");
    assert_eq!(f("{{.Path}} {{json .Args}}"), r#"echo ["hi"]"#);
    assert_eq!(f("{{json .Config.Cmd}}"), r#"["echo","hi"]"#);
    // The image's ENV first, then what was given.
    assert_eq!(
        f("{{json .Config.Env}}"),
        r#"["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","A=1"]"#
    );
    assert_eq!(
        f("{{.Config.WorkingDir}} {{.Config.Hostname}} {{.Config.Image}}"),
        "/tmp h1 busybox"
    );
    assert_eq!(f("{{.Config.Labels.k}}"), "v");
    assert_eq!(
        f("{{.HostConfig.NetworkMode}} {{.HostConfig.AutoRemove}}"),
        "bridge false"
    );
    assert_eq!(f("{{.State.StartedAt}}"), "0001-01-01T00:00:00Z");
    // The fields tug keeps no state for, as Docker's daemon shows them here; the masked
    // and read-only paths are the spec's.
    assert_eq!(
        f(
            "{{.HostConfig.Runtime}} {{json .HostConfig.ConsoleSize}} {{json .ExecIDs}} {{json .NetworkSettings.HairpinMode}}"
        ),
        "tug [0,0] null false"
    );
    assert!(
        f("{{json .HostConfig.MaskedPaths}}").contains(r#""/proc/kcore""#)
            && f("{{json .HostConfig.ReadonlyPaths}}").contains(r#""/proc/sys""#),
        "{}",
        f("{{json .HostConfig}}")
    );
    // None for a container whose spec has none, as Docker's.
    for flags in [
        &["--privileged"][..],
        &["--security-opt", "systempaths=unconfined"][..],
    ] {
        let name = format!("free{}", flags.len());
        let mut args = vec!["create", "--name", &name];
        args.extend_from_slice(flags);
        args.extend(["busybox", "true"]);
        t.ok(&args);
        let got = t.ok(&[
            "inspect",
            "-f",
            "{{json .HostConfig.MaskedPaths}} {{json .HostConfig.ReadonlyPaths}}",
            &name,
        ]);
        assert_eq!(got.trim(), "[] []", "{flags:?}");
        t.ok(&["rm", &name]);
    }
    assert!(f("{{.Image}}").starts_with("sha256:"));
    let image_id = t.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    assert_eq!(f("{{.Image}}"), image_id.trim());

    // Without a format: a JSON array, like docker's.
    let out = t.ok(&["inspect", "box"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = &v[0];
    for key in [
        "Id",
        "Created",
        "Path",
        "Args",
        "State",
        "Image",
        "Name",
        "Config",
        "HostConfig",
        "GraphDriver",
    ] {
        assert!(c.get(key).is_some(), "{key} missing: {out}");
    }
    for key in [
        "Status",
        "Running",
        "Paused",
        "Restarting",
        "OOMKilled",
        "Dead",
        "Pid",
        "ExitCode",
        "Error",
        "StartedAt",
        "FinishedAt",
    ] {
        assert!(c["State"].get(key).is_some(), "State.{key} missing: {out}");
    }
    t.ok(&["rm", "box"]);
}

#[test]
fn names_are_unique_and_ids_resolve_by_prefix() {
    let t = TestRoot::with_busybox();
    let id = t.ok(&["create", "--name", "one", "busybox", "true"]);
    let out = t.run(&["create", "--name", "one", "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is already in use"),
        "{}",
        text(&out)
    );

    // A random docker-like name when none is given.
    let other = t.ok(&["create", "busybox", "true"]);
    let name = t.ok(&["inspect", "-f", "{{.Name}}", &other.trim()[..8]]);
    let name = name.trim().trim_start_matches('/');
    assert!(name.contains('_'), "{name}");
    assert_eq!(
        t.ok(&["inspect", "-f", "{{.Id}}", name]).trim(),
        other.trim()
    );

    let out = t.run(&["create", "--name", "-bad", "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));

    t.ok(&["rm", id.trim(), name]);
    // The name is free again.
    let again = t.ok(&["create", "--name", "one", "busybox", "true"]);
    t.ok(&["rm", again.trim()]);
    let out = t.run(&["rm", "nosuchcontainer"]);
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such container: nosuchcontainer"));
}

#[test]
fn rm_refuses_a_running_container_unless_forced() {
    let t = TestRoot::with_busybox();
    let mut child = KillOnDrop(
        t.tug()
            .args(["run", "--name", "sleeper", "busybox", "sleep", "100"])
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    // Until tug has created it, inspect fails; then it shows the container running.
    while String::from_utf8_lossy(
        &t.run(&["inspect", "-f", "{{.State.Running}}", "sleeper"])
            .stdout,
    )
    .trim()
        != "true"
    {
        assert!(Instant::now() < deadline, "the container never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = t.run(&["rm", "sleeper"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("container is running"));
    t.ok(&["rm", "-f", "sleeper"]);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(137));
    assert!(t.run(&["inspect", "sleeper"]).status.code() != Some(0));
}

#[test]
fn create_with_rm_is_removed_after_start() {
    let t = TestRoot::with_busybox();
    let id = t.ok(&["create", "--rm", "busybox", "true"]);
    assert_eq!(code(&t.run(&["start", "-a", id.trim()])), 0);
    assert!(!t.root().join("containers").join(id.trim()).exists());
}

#[test]
fn failed_exec_is_recorded_in_the_state() {
    let t = TestRoot::with_busybox();
    t.ok(&["create", "--name", "broken", "busybox", "nosuchcmd"]);
    let out = t.run(&["start", "-a", "broken"]);
    assert_eq!(code(&out), 127, "{}", text(&out));
    let state = t.ok(&[
        "inspect",
        "-f",
        "{{.State.ExitCode}} {{.State.Error}}",
        "broken",
    ]);
    assert!(state.starts_with("127 exec: \"nosuchcmd\""), "{state}");
    t.ok(&["rm", "broken"]);
}

#[test]
fn engine_reports_containers_using_an_image() {
    let t = TestRoot::with_busybox();
    let id = t.ok(&["create", "--name", "user1", "busybox", "true"]);
    let engine = t.engine();
    let image = engine.image_store().unwrap().resolve("busybox").unwrap();
    assert_eq!(
        engine.containers_using_image(&image.id).unwrap(),
        [tug::image::ImageUser {
            short_id: id.trim()[..12].to_string(),
            running: false
        }]
    );
    let all = engine.containers().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].name, "/user1");
    assert_eq!(all[0].state.status.as_str(), "created");
    t.ok(&["rm", "user1"]);
    assert!(engine.containers_using_image(&image.id).unwrap().is_empty());
}
