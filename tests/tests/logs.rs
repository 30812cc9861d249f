//! `tug logs`: the json-file log after exit and while running, `-f`, `--tail`, `-t`,
//! `--since`, `--until`, streams kept apart, rotation by size.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tug_e2e::containers::Containers;
use tug_e2e::wait_for;
use tug_e2e::{KillOnDrop, TestRoot, code, text};

#[test]
fn logs_keep_stdout_and_stderr_apart_after_the_exit() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let out = t.run(&[
        "run",
        "--name",
        "ll",
        "busybox",
        "sh",
        "-c",
        "echo one; echo oops >&2; echo two",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    cs.add("ll");
    let out = t.run(&["logs", "ll"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "one\ntwo\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
    // The last entry: which stream's came last depends on the order the pipes were read.
    let out = t.run(&["logs", "--tail", "1", "ll"]);
    let last = [out.stdout, out.stderr].concat();
    assert!(
        ["two\n", "oops\n"].contains(&String::from_utf8_lossy(&last).as_ref()),
        "{last:?}"
    );
    assert_eq!(t.ok(&["logs", "--tail", "0", "ll"]), "");
    assert_eq!(t.ok(&["logs", "--tail", "all", "ll"]), "one\ntwo\n");
    let stamped = t.ok(&["logs", "-t", "ll"]);
    for line in stamped.lines() {
        let (time, text) = line.split_once(' ').unwrap();
        assert!(time.starts_with("20") && time.ends_with('Z'), "{line}");
        assert!(["one", "two"].contains(&text), "{line}");
    }
    // The file is Docker's json-file format.
    let path = t.inspect_f("ll", "{{.LogPath}}");
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["log"], "one\n");
    assert_eq!(first["stream"], "stdout");
    assert!(first["time"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn since_and_until_take_dockers_time_forms() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    t.ok(&["run", "--name", "ss", "busybox", "echo", "hello"]);
    cs.add("ss");
    assert_eq!(t.ok(&["logs", "--since", "10m", "ss"]), "hello\n");
    assert_eq!(t.ok(&["logs", "--until", "10m", "ss"]), "");
    let later = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 100;
    assert_eq!(t.ok(&["logs", "--since", &later.to_string(), "ss"]), "");
    assert_eq!(
        t.ok(&["logs", "--until", &later.to_string(), "ss"]),
        "hello\n"
    );
    assert_eq!(
        t.ok(&["logs", "--since", "2000-01-01T00:00:00Z", "ss"]),
        "hello\n"
    );
    let out = t.run(&["logs", "--since", "yesterday", "ss"]);
    assert_eq!(code(&out), 125);
}

#[test]
fn logs_follow_new_lines_and_end_when_the_container_exits() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.run_d(&[
        "--name",
        "ff",
        "busybox",
        "sh",
        "-c",
        "trap 'echo b; exit 0' USR1; echo a; while true; do sleep 0.05; done",
    ]);
    wait_for("the first line", Duration::from_secs(5), || {
        t.ok(&["logs", "ff"]) == "a\n"
    });
    let mut follow = KillOnDrop(
        t.tug()
            .args(["logs", "-f", "ff"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(follow.stdout.take().unwrap()));
    // Following once the old line is out; then the container prints and exits.
    assert_eq!(lines.next().unwrap().unwrap(), "a");
    t.ok(&["kill", "-s", "USR1", "ff"]);
    wait_for("logs -f to end", Duration::from_secs(5), || {
        matches!(follow.try_wait(), Ok(Some(_)))
    });
    assert!(follow.wait().unwrap().success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    assert_eq!(rest, ["b"]);
}

#[test]
fn logs_rotate_at_max_size() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    t.ok(&[
        "run",
        "--name",
        "rr",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=2",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done",
    ]);
    cs.add("rr");
    let path = t.inspect_f("rr", "{{.LogPath}}");
    assert!(std::fs::metadata(&path).unwrap().len() <= 1024);
    assert!(std::path::Path::new(&format!("{path}.1")).exists());
    assert!(!std::path::Path::new(&format!("{path}.2")).exists());
    assert_eq!(t.ok(&["logs", "--tail", "1", "rr"]), "line 199\n");
    assert_eq!(
        t.inspect_f(
            "rr",
            "{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config \"max-size\"}}"
        ),
        "json-file 1k"
    );
    let out = t.run(&["run", "--log-opt", "max-size=lots", "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
}

/// `logs --details`: the attributes `--log-opt labels=`/`env=` put on each entry, as
/// Docker prints them (`k=v,k=v`, then a space); none: just the space.
#[test]
fn logs_details_show_the_attributes_the_log_opts_name() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    t.ok(&[
        "run",
        "--name",
        "attrs",
        "-l",
        "tier=web app",
        "-l",
        "other=x",
        "-e",
        "REGION=eu",
        "--log-opt",
        "labels=tier",
        "--log-opt",
        "env=REGION,MISSING",
        "busybox",
        "echo",
        "hello",
    ]);
    cs.add("attrs");
    assert_eq!(
        t.ok(&["logs", "--details", "attrs"]),
        "REGION=eu,tier=web+app hello\n"
    );
    assert_eq!(t.ok(&["logs", "attrs"]), "hello\n");
    t.ok(&["run", "--name", "plain", "busybox", "echo", "hi"]);
    cs.add("plain");
    assert_eq!(t.ok(&["logs", "--details", "plain"]), " hi\n");
}
