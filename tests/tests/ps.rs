//! `tug ps`: Docker's table and STATUS wording, `-a`, `-q`, `-n`, `-l`, `--no-trunc`,
//! `--filter`, `--format` (snapshots with ids and times filtered out).

use tug_e2e::containers::Containers;
use tug_e2e::{TestRoot, code};

/// Filters for snapshots: ids and relative times vary from run to run; the padding of a
/// column varies with them.
fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"\b[0-9a-f]{12}\b", "[ID]");
    s.add_filter(
        r"(Less than a second|\d+ seconds?|About a minute)",
        "[TIME]",
    );
    s.add_filter(r" {3,}", "   ");
    s
}

#[test]
fn ps_shows_running_containers_and_all_with_a() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.add(&t.ok(&["create", "--name", "fresh", "busybox", "true"]));
    let out = t.run(&["run", "--name", "done", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(code(&out), 3);
    cs.add("done");
    let up = cs.run_d(&["--name", "up", "-l", "tier=web", "busybox", "sleep", "1000"]);

    settings().bind(|| {
        insta::assert_snapshot!("ps_running", t.ok(&["ps"]));
        insta::assert_snapshot!("ps_all", t.ok(&["ps", "-a"]));
        insta::assert_snapshot!(
            "ps_format_names_status",
            t.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
        );
        insta::assert_snapshot!(
            "ps_format_table",
            t.ok(&[
                "ps",
                "-a",
                "--format",
                "table {{.Names}}\t{{.State}}\t{{.Command}}"
            ])
        );
    });
    assert_eq!(t.ok(&["ps", "-q"]).trim(), &up[..12]);
    assert_eq!(t.ok(&["ps", "-q", "--no-trunc"]).trim(), up);
    assert_eq!(t.ok(&["ps", "-a", "-q"]).lines().count(), 3);
    assert_eq!(
        t.ok(&["ps", "-n", "2", "--format", "{{.Names}}"]),
        "up\ndone\n"
    );
    assert_eq!(t.ok(&["ps", "-l", "--format", "{{.Names}}"]), "up\n");
}

#[test]
fn ps_filters_like_docker() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let out = t.run(&["run", "--name", "bad", "busybox", "sh", "-c", "exit 2"]);
    assert_eq!(code(&out), 2);
    cs.add("bad");
    t.ok(&["run", "--name", "good", "busybox", "true"]);
    cs.add("good");
    let up = cs.run_d(&[
        "--name", "web1", "-l", "tier=web", "-v", "/data", "busybox", "sleep", "1000",
    ]);
    let names = |filter: &[&str]| {
        let mut args = vec!["ps", "-a", "--format", "{{.Names}}"];
        for f in filter {
            args.push("--filter");
            args.push(f);
        }
        let mut v: Vec<String> = t.ok(&args).lines().map(String::from).collect();
        v.sort();
        v.join(",")
    };
    assert_eq!(names(&["status=exited"]), "bad,good");
    assert_eq!(names(&["status=running"]), "web1");
    assert_eq!(names(&["exited=2"]), "bad");
    assert_eq!(names(&["name=web"]), "web1");
    assert_eq!(names(&["name=bad", "name=good"]), "bad,good");
    let by_id = format!("id={}", &up[..8]);
    assert_eq!(names(&[&by_id]), "web1");
    assert_eq!(names(&["label=tier"]), "web1");
    assert_eq!(names(&["label=tier=db"]), "");
    // Every label given must match, as Docker's.
    assert_eq!(names(&["label=tier", "label=tier=db"]), "");
    // The network, a mount, and the order of creation.
    assert_eq!(names(&["network=bridge"]), "bad,good,web1");
    assert_eq!(names(&["network=nosuch"]), "");
    assert_eq!(names(&["volume=/data"]), "web1");
    assert_eq!(names(&["before=web1"]), "bad,good");
    assert_eq!(names(&["since=bad"]), "good,web1");
    assert_eq!(names(&["ancestor=busybox"]), "bad,good,web1");
    assert_eq!(names(&["ancestor=busybox", "status=exited"]), "bad,good");
    // Without -a, a status filter still finds stopped containers (as Docker).
    assert_eq!(
        t.ok(&["ps", "--filter", "status=exited", "-q"])
            .lines()
            .count(),
        2
    );
    let out = t.run(&["ps", "--filter", "colour=red"]);
    assert_eq!(code(&out), 125);
    let out = t.run(&["ps", "--filter", "status=sleepy"]);
    assert_eq!(code(&out), 125);
}

/// `ps -s`: what the container wrote, and that plus its image, as Docker's SIZE column.
#[test]
fn ps_size_shows_the_written_bytes_and_the_virtual_size() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    t.ok(&[
        "run",
        "--name",
        "writer",
        "busybox",
        "sh",
        "-c",
        "head -c 300000 /dev/zero > /big",
    ]);
    cs.add("writer");
    let line = t.ok(&["ps", "-a", "-s", "--format", "{{.Names}}|{{.Size}}"]);
    let (name, size) = line.trim().split_once('|').unwrap();
    assert_eq!(name, "writer");
    let (rw, virt) = size
        .strip_suffix(')')
        .and_then(|s| s.split_once(" (virtual "))
        .unwrap_or_else(|| panic!("{size}"));
    assert_eq!(rw, "300kB", "{size}");
    assert!(virt.ends_with("MB"), "{size}");
    // The table gets a SIZE column last; without -s there is none.
    let table = t.ok(&["ps", "-a", "-s"]);
    let header = table.lines().next().unwrap();
    assert!(header.trim_end().ends_with("NAMES     SIZE"), "{header}");
    assert!(!t.ok(&["ps", "-a"]).contains("SIZE"));
}
