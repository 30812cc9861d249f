//! `tug version`, `info`, `system df` and `image prune`.

use tug_e2e::{TestRoot, code, text};

#[test]
fn version_and_info_answer_docker_templates() {
    let t = TestRoot::with_busybox();
    assert_eq!(
        t.ok(&["version", "-f", "{{.Client.Version}}"]).trim(),
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        t.ok(&["version", "--format", "{{.Server.Os}}/{{.Client.Arch}}"])
            .trim(),
        "linux/amd64"
    );
    t.ok(&["create", "--name", "c1", "busybox", "true"]);
    let info = t.ok(&[
        "info",
        "-f",
        "{{.Containers}} {{.ContainersStopped}} {{.Images}} {{.Driver}}",
    ]);
    assert_eq!(info.trim(), "1 1 1 overlay2");
    // The driver's name as the container's and the image's GraphDriver say it.
    assert_eq!(
        t.ok(&["inspect", "-f", "{{.GraphDriver.Name}}", "c1"])
            .trim(),
        "overlay2"
    );
    assert_eq!(
        t.ok(&["image", "inspect", "-f", "{{.GraphDriver.Name}}", "busybox"])
            .trim(),
        "overlay2"
    );
    let root = t.ok(&["info", "--format", "{{.DockerRootDir}}"]);
    assert_eq!(root.trim(), t.root().display().to_string());
    let json: serde_json::Value =
        serde_json::from_str(&t.ok(&["info", "--format", "json"])).unwrap();
    assert_eq!(json["OSType"], "linux");
    t.ok(&["rm", "c1"]);
}

#[test]
fn system_df_counts_images_and_containers() {
    let t = TestRoot::with_busybox();
    t.ok(&["create", "--name", "c1", "busybox", "true"]);
    let out = t.ok(&["system", "df"]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    );
    let images: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&images[..3], ["Images", "1", "1"], "{out}");
    let containers: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&containers[..3], ["Containers", "1", "0"], "{out}");
    let verbose = t.ok(&["system", "df", "-v"]);
    assert!(
        verbose.contains("Images space usage:") && verbose.contains("c1"),
        "{verbose}"
    );
    let f = t.ok(&["system", "df", "--format", "{{.Type}}={{.TotalCount}}"]);
    assert!(f.lines().any(|l| l == "Images=1"), "{f}");
    t.ok(&["rm", "c1"]);
}

/// `2.14MB`, `96.05MB`, `0B` back to bytes (decimal units, as Docker writes them).
fn bytes_of(human: &str) -> f64 {
    let split = human
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(human.len());
    let (n, unit) = human.split_at(split);
    let scale = match unit {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        other => panic!("unit {other:?} in {human:?}"),
    };
    n.parse::<f64>().unwrap() * scale
}

fn about(human: &str, bytes: u64) -> bool {
    (bytes_of(human) - bytes as f64).abs() <= bytes as f64 * 0.005 + 1.0
}

#[test]
fn system_df_counts_a_layer_two_images_share_once() {
    let t = TestRoot::with_busybox();
    tug_e2e::image::commit_script(&t, "more:1", "head -c 300000 /dev/urandom > /f");
    let size = |i: &str| -> u64 {
        t.ok(&["image", "inspect", "-f", "{{.Size}}", i])
            .trim()
            .parse()
            .unwrap()
    };
    let (bb, more) = (size("busybox"), size("more:1"));
    assert_eq!(more, bb + 300_000);
    // The images take busybox's layers once, and more's own layer.
    let f = t.ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}}|{{.TotalCount}}|{{.Size}}",
    ]);
    let images = f.lines().find(|l| l.starts_with("Images|")).unwrap();
    let cols: Vec<&str> = images.split('|').collect();
    assert_eq!(cols[1], "2", "{f}");
    assert!(about(cols[2], more), "{f}: {more} bytes");
    // Each image's shared and unique sizes.
    let v = t.ok(&["system", "df", "-v"]);
    let row = |repo: &str| -> Vec<String> {
        v.lines()
            .find(|l| l.starts_with(&format!("{repo} ")))
            .unwrap_or_else(|| panic!("{repo} in {v}"))
            .split("   ")
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect()
    };
    // REPOSITORY TAG IMAGE ID CREATED SIZE SHARED SIZE UNIQUE SIZE CONTAINERS
    let b = row("busybox");
    assert!(about(&b[5], bb) && b[6] == "0B", "{v}");
    let m = row("more");
    assert!(about(&m[5], bb) && about(&m[6], more - bb), "{v}");
    assert_eq!(m[7], "0", "{v}");
}

#[test]
fn image_prune_removes_dangling_then_unused_images_but_not_used_ones() {
    let t = TestRoot::with_busybox();
    t.add_busybox("other:1");
    t.ok(&["tag", "busybox", "keep:1"]);
    let before = t.ok(&["images", "-q"]);
    let out = t.ok(&["image", "prune", "-f"]);
    assert_eq!(
        out.trim(),
        "Total reclaimed space: 0B",
        "nothing dangling: {out}"
    );
    assert_eq!(t.ok(&["images", "-q"]), before);

    // A dangling image: imported as moved:1, then moved:1 given to another import.
    let tar = tug_e2e::busybox_rootfs_tar();
    let tar = tar.to_str().unwrap();
    let first = t.ok(&["import", "--change", "ENV A=1", tar, "moved:1"]);
    t.ok(&["import", "--change", "ENV A=2", tar, "moved:1"]);
    let out = t.ok(&["image", "prune", "-f"]);
    assert_eq!(
        out.lines().take(2).collect::<Vec<_>>(),
        ["Deleted Images:", &format!("deleted: {}", first.trim())],
        "{out}"
    );
    assert!(t.run(&["image", "inspect", first.trim()]).status.code() == Some(1));
    t.ok(&["image", "inspect", "moved:1"]);

    // With -a, images that no container uses go; the one a container uses stays.
    let busybox_id = t.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    let id = t.ok(&["create", "busybox", "true"]);
    let out = t.ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains("untagged: moved:1"), "{out}");
    assert!(
        !out.contains(busybox_id.trim()) && !out.contains("busybox"),
        "busybox is in use: {out}"
    );
    assert_eq!(
        t.ok(&["images", "-q", "--no-trunc"])
            .lines()
            .collect::<Vec<_>>(),
        [busybox_id.trim(); 3]
    );
    t.ok(&["rm", id.trim()]);
    let out = t.ok(&["image", "prune", "-a", "-f"]);
    assert!(out.starts_with("Deleted Images:\n"), "{out}");
    for name in [
        "untagged: busybox:latest",
        "untagged: other:1",
        "untagged: keep:1",
        "deleted: sha256:",
    ] {
        assert!(out.contains(name), "{name} missing in {out}");
    }
    assert!(
        out.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("Total reclaimed space: "),
        "{out}"
    );
    assert_eq!(t.ok(&["images", "-q"]), "");
    assert_eq!(
        std::fs::read_dir(t.root().join("snapshots"))
            .unwrap()
            .count(),
        0
    );
}

/// `image prune --filter`: `until` keeps images younger than it, `label` and `label!`
/// pick by the image's labels.
#[test]
fn image_prune_takes_dockers_filters() {
    let t = TestRoot::with_busybox();
    let tar = tug_e2e::busybox_rootfs_tar();
    let tar = tar.to_str().unwrap();
    t.ok(&["import", "--change", "LABEL tier=web", tar, "web:1"]);
    t.ok(&["import", "--change", "LABEL tier=db", tar, "db:1"]);
    let names = || {
        let mut v: Vec<String> = t
            .ok(&["images", "--format", "{{.Repository}}"])
            .lines()
            .map(String::from)
            .collect();
        v.sort();
        v.join(",")
    };
    // busybox was made long ago (its binary's time): `until=1h` takes it only.
    let out = t.ok(&["image", "prune", "-a", "-f", "--filter", "until=1h"]);
    assert!(out.contains("untagged: busybox:latest"), "{out}");
    assert_eq!(names(), "db,web");
    let out = t.ok(&["image", "prune", "-a", "-f", "--filter", "label!=tier=web"]);
    assert!(out.contains("untagged: db:1"), "{out}");
    assert_eq!(names(), "web");
    let out = t.run(&["image", "prune", "-a", "-f", "--filter", "until=soon"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert_eq!(names(), "web");
}

#[test]
fn image_prune_without_force_and_without_a_terminal_removes_nothing() {
    let t = TestRoot::with_busybox();
    let out = t.run(&["image", "prune", "-a"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("-f"),
        "{}",
        text(&out)
    );
    assert_eq!(t.ok(&["images", "-q"]).lines().count(), 1);
}

#[test]
fn system_prune_removes_stopped_containers_dangling_images_and_with_volumes_anonymous_volumes() {
    let t = TestRoot::with_busybox();
    t.ok(&["run", "--name", "done", "-v", "/data", "busybox", "true"]);
    let id = t.ok(&["inspect", "-f", "{{.Id}}", "done"]);
    t.ok(&["volume", "create", "named"]);
    t.ok(&["network", "create", "spare"]);
    let tar = tug_e2e::busybox_rootfs_tar();
    let dangling = t.ok(&["import", tar.to_str().unwrap(), "moved:1"]);
    t.ok(&[
        "import",
        "--change",
        "ENV A=2",
        tar.to_str().unwrap(),
        "moved:1",
    ]);

    let out = t.ok(&["system", "prune", "-f", "--volumes"]);
    let sections: Vec<&str> = out.split("\n\n").collect();
    assert_eq!(
        sections[0],
        format!("Deleted Containers:\n{}", id.trim()),
        "{out}"
    );
    assert_eq!(sections[1], "Deleted Networks:\nspare", "{out}");
    assert!(
        sections[2].starts_with("Deleted Volumes:\n") && sections[2].lines().count() == 2,
        "{out}"
    );
    assert_eq!(
        sections[3],
        format!("Deleted Images:\ndeleted: {}", dangling.trim()),
        "{out}"
    );
    assert!(sections[4].starts_with("Total reclaimed space: "), "{out}");
    assert!(!t.ok(&["network", "ls"]).contains("spare"));
    assert_eq!(t.ok(&["ps", "-a", "-q"]), "");
    // The named volume is not anonymous: it stays, as the tagged images do.
    assert_eq!(t.ok(&["volume", "ls", "-q"]).trim(), "named");
    assert_eq!(t.ok(&["images", "-q"]).lines().count(), 2);
    let df = t.ok(&["system", "df"]);
    assert!(
        df.lines()
            .any(|l| l.split_whitespace().take(4).collect::<Vec<_>>()
                == ["Local", "Volumes", "1", "0"]),
        "{df}"
    );
}

/// What a tug process killed mid-write leaves (its temporary file, a replaced file not yet
/// freed) goes with `container prune`, once a minute old; a live writer's stays.
#[test]
fn container_prune_sweeps_the_files_of_dead_writers() {
    let t = TestRoot::with_busybox();
    t.ok(&["network", "create", "swept"]);
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let nets = t.root().join("networks");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(600);
    let stale = [
        nets.join(format!(".swept.json.tmp{dead}")),
        nets.join(format!(".swept.json.old{dead}-0")),
        t.root().join(format!(".events.jsonl.tmp{dead}")),
    ];
    let live = nets.join(format!(".swept.json.tmp{}", std::process::id()));
    for p in stale.iter().chain([&live]) {
        let f = std::fs::File::create(p).unwrap();
        f.set_modified(old).unwrap();
    }
    t.ok(&["container", "prune", "-f"]);
    for p in &stale {
        assert!(!p.exists(), "{} is left", p.display());
    }
    assert!(live.exists());
    std::fs::remove_file(&live).unwrap();
    // The records themselves are untouched.
    assert!(t.ok(&["network", "ls"]).contains("swept"));
    t.ok(&["network", "rm", "swept"]);
}
