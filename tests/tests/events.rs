//! `tug events`: container and image events from the journal every tug process appends
//! to (no daemon), in Docker's line form, with `--filter`, `--since`/`--until` and
//! `--format`, and following new events while it runs.

use std::io::{BufRead, BufReader};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tug_e2e::containers::Containers;
use tug_e2e::{KillOnDrop, TestRoot, code, stderr};

/// `tug events` between `since` and `until`, with the filters and format of `args`.
fn journal(t: &TestRoot, since: &str, until: &str, args: &[&str]) -> String {
    let mut a = vec!["events", "--since", since, "--until", until];
    a.extend_from_slice(args);
    t.ok(&a)
}

fn unix_now() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

#[test]
fn events_show_a_containers_life_and_image_tags_as_docker_prints_them() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let since = unix_now();
    t.run(&[
        "run", "--name", "evented", "-l", "tier=web", "busybox", "sh", "-c", "exit 3",
    ]);
    let id = cs.add(&t.inspect_f("evented", "{{.Id}}"));
    t.ok(&["update", "--memory", "64m", "evented"]);
    t.ok(&["tag", "busybox", "evtag:1"]);
    t.ok(&["rmi", "evtag:1"]);
    t.ok(&["rm", "evented"]);
    let until = unix_now();
    let out = journal(&t, &since, &until, &[]);
    let lines: Vec<&str> = out.lines().collect();
    // `<RFC 3339 nanos> <type> <action> <id> (<attributes, sorted>)`.
    let shape: Vec<String> = lines
        .iter()
        .map(|l| {
            let (time, rest) = l.split_once(' ').unwrap();
            assert!(time.len() == 30 && time.ends_with('Z'), "{l}");
            rest.replace(&id, "ID")
        })
        .collect();
    // Each network the container is on says `connect` before its start and
    // `disconnect` after its death, as Docker's do.
    let bridge = t.ok(&["network", "inspect", "-f", "{{.Id}}", "bridge"]);
    let bridge = bridge.trim();
    assert_eq!(
        shape,
        [
            "container create ID (image=busybox, name=evented, tier=web)",
            &format!("network connect {bridge} (container=ID, name=bridge, type=bridge)"),
            "container start ID (image=busybox, name=evented, tier=web)",
            "container die ID (exitCode=3, image=busybox, name=evented, tier=web)",
            &format!("network disconnect {bridge} (container=ID, name=bridge, type=bridge)"),
            "container update ID (image=busybox, name=evented, tier=web)",
            &format!(
                "image tag {} (name=evtag:1)",
                t.inspect_f("busybox", "{{.Id}}")
            ),
            &format!(
                "image untag {} (name=evtag:1)",
                t.inspect_f("busybox", "{{.Id}}")
            ),
            "container destroy ID (image=busybox, name=evented, tier=web)",
        ]
    );
    // Filters: keys and'ed, values of a key or'ed; --format with Docker's fields.
    let out = journal(
        &t,
        &since,
        &until,
        &[
            "--filter",
            "container=evented",
            "--filter",
            "event=die",
            "--filter",
            "event=destroy",
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.Attributes.exitCode}}",
        ],
    );
    assert_eq!(out, "container die 3\ncontainer destroy <no value>\n");
    let out = journal(
        &t,
        &since,
        &until,
        &["--filter", "type=image", "--format", "json"],
    );
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(
        (
            v["Type"].as_str(),
            v["Action"].as_str(),
            v["status"].as_str()
        ),
        (Some("image"), Some("tag"), Some("tag"))
    );
    assert!(v["timeNano"].as_i64().is_some());
    // Docker's templates name the Go fields: {{.TimeNano}}, {{.ID}}, {{.Status}}.
    let out = journal(
        &t,
        &since,
        &until,
        &[
            "--filter",
            "event=create",
            "--format",
            "{{.Status}} {{.ID}} {{.TimeNano}}",
        ],
    );
    let f: Vec<&str> = out.split_whitespace().collect();
    assert_eq!((f[0], f[1]), ("create", id.as_str()), "{out}");
    assert!(f[2].parse::<i64>().is_ok(), "{out}");
    let bad = t.run(&["events", "--until", "0s", "--filter", "colour=red"]);
    assert_eq!(code(&bad), 125);
    assert!(
        stderr(&bad).contains("invalid filter 'colour'"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn events_without_until_follow_what_other_tug_processes_do() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let mut follower = KillOnDrop(
        t.tug()
            .args([
                "events",
                "--filter",
                "type=container",
                "--format",
                "{{.Action}} {{.Actor.Attributes.name}}",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(follower.0.stdout.take().unwrap()).lines();
    // Events from before it started are not shown; what happens next is.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in lines.by_ref().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    // Until the follower reads the journal, retry the event it must see.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut n = 0;
    let first = loop {
        let name = format!("follow{n}");
        t.ok(&["create", "--name", &name, "busybox", "true"]);
        cs.add(&name);
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
            break l;
        }
        assert!(std::time::Instant::now() < deadline, "no event followed");
        n += 1;
    };
    assert!(first.starts_with("create follow"), "{first}");
    t.ok(&["rm", "follow0"]);
    let next: Vec<String> = (0..20)
        .map_while(|_| rx.recv_timeout(Duration::from_secs(10)).ok())
        .take_while(|l| l != "destroy follow0")
        .collect();
    assert!(
        next.iter().all(|l| l.starts_with("create follow")),
        "{next:?}"
    );
}

#[test]
fn execs_are_journaled_as_docker_journals_them() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let id = cs.add(&t.ok(&["run", "-d", "--name", "execd", "busybox", "sleep", "300"]));
    let since = unix_now();
    t.run(&["exec", "execd", "sh", "-c", "exit 4"]);
    // A detached exec's end is the shim's to journal: wait for it.
    t.ok(&["exec", "-d", "execd", "true"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let out = loop {
        let until = unix_now();
        let out = journal(
            &t,
            &since,
            &until,
            &[
                "--filter",
                "container=execd",
                "--format",
                "{{.Action}}|{{.Actor.ID}}|{{.Actor.Attributes.execID}}|{{.Actor.Attributes.exitCode}}",
            ],
        );
        if out.lines().count() >= 6 || std::time::Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split('|').collect()).collect();
    let actions: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(
        actions,
        [
            "exec_create: sh -c exit 4",
            "exec_start: sh -c exit 4",
            "exec_die",
            "exec_create: true",
            "exec_start: true",
            "exec_die",
        ],
        "{out}"
    );
    for r in &rows {
        assert_eq!(r[1], id, "{out}");
        assert_eq!(r[2].len(), 64, "an exec id of 64 hex digits: {out}");
    }
    // One id from create to die; Docker's exit codes.
    assert!(
        rows[0][2] == rows[1][2] && rows[1][2] == rows[2][2],
        "{out}"
    );
    assert_ne!(rows[0][2], rows[3][2], "{out}");
    assert_eq!((rows[2][3], rows[5][3]), ("4", "0"), "{out}");
    // `event=exec_create` matches the action whatever its command, as Docker's filter.
    let until = unix_now();
    let out = journal(
        &t,
        &since,
        &until,
        &["--filter", "event=exec_create", "--format", "{{.Action}}"],
    );
    assert_eq!(out, "exec_create: sh -c exit 4\nexec_create: true\n");
}

/// The network events between `since` and `until`: `ACTION NETWORK CONTAINER` a line.
fn network_journal(t: &TestRoot, since: &str, until: &str) -> String {
    journal(
        t,
        since,
        until,
        &[
            "--filter",
            "type=network",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.container}}",
        ],
    )
}

/// As Docker's (checked against Docker 20.10's dockerd): connecting a container that does
/// not run says nothing until its start, where each network it is on says `connect`;
/// disconnecting a stopped one says `disconnect` at once.
#[test]
fn a_stopped_containers_connect_is_said_at_its_start() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let net = format!("evidle{}", std::process::id());
    t.ok(&["network", "create", &net]);
    let id = t.ok(&["create", "--name", "idle", "busybox", "sleep", "60"]);
    let id = cs.add(id.trim());
    let since = unix_now();
    t.ok(&["network", "connect", &net, "idle"]);
    t.ok(&["start", "idle"]);
    t.ok(&["stop", "-t", "0", "idle"]);
    t.ok(&["network", "disconnect", &net, "idle"]);
    let until = unix_now();
    let out = network_journal(&t, &since, &until);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    let sorted = |l: &[&str]| {
        let mut v: Vec<String> = l.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    let both = |action: &str| {
        let mut v = vec![
            format!("{action} bridge {id}"),
            format!("{action} {net} {id}"),
        ];
        v.sort();
        v
    };
    assert_eq!(sorted(&lines[..2]), both("connect"), "{out}");
    assert_eq!(sorted(&lines[2..4]), both("disconnect"), "{out}");
    assert_eq!(lines[4], format!("disconnect {net} {id}"), "{out}");
    t.ok(&["rm", "idle"]);
    t.ok(&["network", "rm", &net]);
}

/// A network connected while the container runs says `disconnect` at its death too, with
/// the network the container started on; `network connect` said `connect` itself.
#[test]
fn a_containers_networks_say_disconnect_after_its_death() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let net = format!("evnet{}", std::process::id());
    t.ok(&["network", "create", &net]);
    let since = unix_now();
    let id = t.ok(&["run", "-d", "--name", "netted", "busybox", "sleep", "60"]);
    let id = cs.add(id.trim());
    t.ok(&["network", "connect", &net, "netted"]);
    t.ok(&["stop", "-t", "0", "netted"]);
    let until = unix_now();
    let out = network_journal(&t, &since, &until);
    let lines: Vec<&str> = out.lines().collect();
    let connects = [
        format!("connect bridge {id}"),
        format!("connect {net} {id}"),
    ];
    assert_eq!(lines[..2], connects, "{out}");
    let mut disconnects = lines[2..].to_vec();
    disconnects.sort();
    let mut want = [
        format!("disconnect bridge {id}"),
        format!("disconnect {net} {id}"),
    ];
    want.sort();
    assert_eq!(disconnects, want, "{out}");
    t.ok(&["rm", "netted"]);
    t.ok(&["network", "rm", &net]);
}
