//! `tug volume create|ls|inspect|rm|prune`: Docker's columns, JSON, filters and messages;
//! names checked as Docker does; create idempotent, also from parallel processes; a volume
//! in use cannot be removed.

use tug_e2e::{TestRoot, code, text};

/// Filters for snapshots: the state root, times, anonymous names, container ids.
fn settings(t: &TestRoot) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(&regex_escape(&t.root().display().to_string()), "[ROOT]");
    s.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]");
    s.add_filter(r"\b[0-9a-f]{64}\b", "[ANON]");
    s
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

fn volume_dirs(t: &TestRoot) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(t.root().join("volumes"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn create_ls_inspect_rm() {
    let t = TestRoot::new();
    assert_eq!(
        t.ok(&["volume", "create", "--label", "app=web", "vol1"]),
        "vol1\n"
    );
    // Idempotent, as Docker's create of an existing name.
    assert_eq!(t.ok(&["volume", "create", "vol1"]), "vol1\n");
    assert_eq!(t.ok(&["volume", "create", "--name", "vol2"]), "vol2\n");
    let anon = t.ok(&["volume", "create"]);
    assert_eq!(anon.trim().len(), 64, "{anon}");
    let s = settings(&t);
    s.bind(|| {
        insta::assert_snapshot!("volume_ls", t.ok(&["volume", "ls"]));
        insta::assert_snapshot!("volume_inspect", t.ok(&["volume", "inspect", "vol1"]));
        insta::assert_snapshot!(
            "volume_ls_filter_label",
            t.ok(&["volume", "ls", "--filter", "label=app=web"])
        );
        insta::assert_snapshot!(
            "volume_ls_filter_name_format",
            t.ok(&[
                "volume",
                "ls",
                "--filter",
                "name=vol",
                "--format",
                "{{.Name}}|{{.Driver}}|{{.Scope}}|{{.Labels}}|{{.Mountpoint}}"
            ])
        );
    });
    assert_eq!(
        t.ok(&[
            "volume",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}} {{.Scope}}",
            "vol2"
        ]),
        "vol2 local local\n"
    );
    assert!(
        t.root().join("volumes/vol1/_data").is_dir(),
        "the data dir lives at volumes/<name>/_data"
    );

    let out = t.run(&["volume", "inspect", "nosuch"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("get nosuch: no such volume"),
        "{}",
        text(&out)
    );

    assert_eq!(t.ok(&["volume", "rm", "vol1", "vol2"]), "vol1\nvol2\n");
    let out = t.run(&["volume", "rm", "vol1"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_eq!(t.ok(&["volume", "rm", "-f", "vol1"]), "vol1\n");
    assert_eq!(t.ok(&["volume", "ls", "-q"]), anon);
}

#[test]
fn volume_names_are_checked_as_docker_does() {
    let t = TestRoot::new();
    for (name, why) in [
        ("a/b", "includes invalid characters"),
        ("_x", "includes invalid characters"),
        ("a b", "includes invalid characters"),
        ("x", "too short"),
    ] {
        let out = t.run(&["volume", "create", name]);
        assert_eq!(code(&out), 125, "{name}: {}", text(&out));
        assert!(text(&out).contains(why), "{name}: {}", text(&out));
    }
    let out = t.run(&["volume", "create", "--driver", "nfs", "v1"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        text(&out).contains("plugin \"nfs\" not found"),
        "{}",
        text(&out)
    );
    let out = t.run(&["volume", "create", "--opt", "color=red", "v1"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(text(&out).contains("invalid option key"), "{}", text(&out));
    assert!(volume_dirs(&t).is_empty(), "{:?}", volume_dirs(&t));
}

#[test]
fn parallel_creates_of_one_name_make_one_volume() {
    let t = TestRoot::new();
    let children: Vec<_> = (0..8)
        .map(|_| {
            t.tug()
                .args(["volume", "create", "shared"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert_eq!(code(&out), 0, "{}", text(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "shared\n");
    }
    assert_eq!(volume_dirs(&t), ["shared"]);
    assert_eq!(t.ok(&["volume", "ls", "-q"]), "shared\n");
}

#[test]
fn a_volume_in_use_is_not_removed_until_its_container_is() {
    let t = TestRoot::with_busybox();
    let id = t.ok(&["create", "-v", "data:/d", "busybox", "true"]);
    let id = id.trim();
    let out = t.run(&["volume", "rm", "data"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains(&format!("remove data: volume is in use - [{id}]")),
        "{}",
        text(&out)
    );
    let out = t.run(&["volume", "rm", "-f", "data"]);
    assert_eq!(
        code(&out),
        1,
        "-f does not remove a volume in use: {}",
        text(&out)
    );
    assert_eq!(
        t.ok(&["volume", "ls", "--filter", "dangling=true", "-q"]),
        ""
    );
    assert_eq!(
        t.ok(&["volume", "ls", "--filter", "dangling=false", "-q"]),
        "data\n"
    );
    t.ok(&["rm", id]);
    assert_eq!(
        t.ok(&["volume", "ls", "--filter", "dangling=true", "-q"]),
        "data\n"
    );
    assert_eq!(t.ok(&["volume", "rm", "data"]), "data\n");
}

#[test]
fn prune_takes_unused_anonymous_volumes_unless_all() {
    let t = TestRoot::with_busybox();
    t.ok(&["volume", "create", "named"]);
    let anon = t.ok(&["volume", "create"]).trim().to_string();
    std::fs::write(
        t.root().join(format!("volumes/{anon}/_data/f")),
        [0u8; 1500],
    )
    .unwrap();
    // A used anonymous volume stays.
    let id = t.ok(&["create", "-v", "/keep", "busybox", "true"]);
    let used = t
        .ok(&["inspect", "-f", "{{(index .Mounts 0).Name}}", id.trim()])
        .trim()
        .to_string();

    let out = t.ok(&["volume", "prune", "-f"]);
    assert_eq!(
        out,
        format!("Deleted Volumes:\n{anon}\n\nTotal reclaimed space: 1.5kB\n")
    );
    let mut left = vec!["named".to_string(), used.clone()];
    left.sort();
    assert_eq!(volume_dirs(&t), left);

    // Without -f it asks; anything but y keeps everything.
    let out = t.run(&["volume", "prune", "-a"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("Are you sure you want to continue? [y/N]"));
    assert_eq!(volume_dirs(&t), left);

    assert_eq!(
        t.ok(&["volume", "prune", "-f", "-a"]),
        "Deleted Volumes:\nnamed\n\nTotal reclaimed space: 0B\n"
    );
    assert_eq!(volume_dirs(&t), [used]);
}
