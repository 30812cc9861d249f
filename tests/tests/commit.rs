//! `tug diff`, `tug commit` and `tug export`: a container's changes as Docker lists them,
//! as a new image that runs, and as a tar.

use std::collections::BTreeSet;

use tug_e2e::containers::Running;
use tug_e2e::{TestRoot, code, text};

const CHANGES: &str =
    "echo hi > /tmp/new; rm /etc/shadow; mkdir -p /var/www/x; echo motd > /etc/motd";

fn changed_container(t: &TestRoot, name: &str, driver: &str) {
    let out = t
        .tug()
        .args(["run", "--name", name, "busybox", "sh", "-c", CHANGES])
        .env("TUG_STORAGE_DRIVER", driver)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn diff_lists_added_changed_and_deleted_paths_but_not_tugs_mount_points() {
    let t = TestRoot::with_busybox();
    changed_container(&t, "web", "overlay");
    let diff = t.ok(&["diff", "web"]);
    insta::assert_snapshot!(diff, @r"
    C /etc
    A /etc/motd
    D /etc/shadow
    C /tmp
    A /tmp/new
    C /var/www
    A /var/www/x
    ");
    t.ok(&["rm", "web"]);
}

#[test]
fn committed_image_runs_with_the_changes_and_the_new_config() {
    let t = TestRoot::with_busybox();
    changed_container(&t, "web", "overlay");
    let id = t.ok(&[
        "commit",
        "-m",
        "my message",
        "-a",
        "me <me@example.com>",
        "-c",
        "CMD [\"cat\", \"/tmp/new\"]",
        "web",
        "myimg:1",
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    assert_eq!(
        t.ok(&["image", "inspect", "-f", "{{.Id}}", "myimg:1"])
            .trim(),
        id.trim()
    );

    // The new CMD runs and sees the added file; the deleted file stays deleted.
    assert_eq!(t.ok(&["run", "--rm", "myimg:1"]), "hi\n");
    let out = t.run(&["run", "--rm", "myimg:1", "cat", "/etc/shadow"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_eq!(
        t.ok(&["run", "--rm", "myimg:1", "cat", "/etc/motd"]),
        "motd\n"
    );
    // The image's ENV is kept; tug's mount points are not in the new layer.
    assert!(
        t.ok(&["image", "inspect", "-f", "{{json .Config.Env}}", "myimg:1"])
            .contains("PATH=")
    );
    let history = t.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Comment}}",
        "myimg:1",
    ]);
    let first = history.lines().next().unwrap();
    assert!(
        first.starts_with("sh -c echo hi") && first.ends_with("|my message"),
        "{history}"
    );
    let layers = t.ok(&[
        "image",
        "inspect",
        "-f",
        "{{len .RootFS.Layers}}",
        "myimg:1",
    ]);
    assert_eq!(layers.trim(), "2");
    // A container of the new image has no changes of its own yet.
    t.ok(&["create", "--name", "fresh", "myimg:1"]);
    assert_eq!(t.ok(&["diff", "fresh"]), "");
    t.ok(&["rm", "fresh"]);
    t.ok(&["rm", "web"]);
}

#[test]
fn vfs_containers_commit_and_diff_too() {
    let t = TestRoot::with_busybox();
    changed_container(&t, "web", "vfs");
    let vfs = |args: &[&str]| {
        let out = t
            .tug()
            .args(args)
            .env("TUG_STORAGE_DRIVER", "vfs")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let diff = vfs(&["diff", "web"]);
    for line in ["A /etc/motd", "D /etc/shadow", "A /tmp/new", "A /var/www/x"] {
        assert!(diff.lines().any(|l| l == line), "{line} missing: {diff}");
    }
    assert!(!diff.contains("/etc/hosts"), "{diff}");
    vfs(&["commit", "web", "vfsimg"]);
    assert_eq!(vfs(&["run", "--rm", "vfsimg", "cat", "/tmp/new"]), "hi\n");
    let out = t.run(&["run", "--rm", "vfsimg", "ls", "/etc/shadow"]);
    assert_ne!(code(&out), 0, "{}", text(&out));
    vfs(&["rm", "web"]);
}

#[test]
fn export_writes_the_whole_file_system_as_a_tar() {
    let t = TestRoot::with_busybox();
    changed_container(&t, "web", "overlay");
    let tar_path = t.path().join("web.tar");
    t.ok(&["export", "web", "-o", tar_path.to_str().unwrap()]);
    let mut names = BTreeSet::new();
    let mut archive = tar::Archive::new(std::fs::File::open(&tar_path).unwrap());
    for e in archive.entries().unwrap() {
        let e = e.unwrap();
        names.insert(
            e.path()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string(),
        );
    }
    for n in ["bin/busybox", "tmp/new", "etc/motd", "etc/passwd"] {
        assert!(names.contains(n), "{n} missing");
    }
    assert!(!names.contains("etc/shadow"), "a deleted file was exported");
    assert!(
        !names.iter().any(|n| n.contains(".wh.")),
        "whiteouts in an export"
    );
    // Nothing stayed mounted for the export.
    t.assert_nothing_mounted();
    t.ok(&["rm", "web"]);
}

#[test]
fn commit_and_diff_of_a_missing_container_fail_and_change_nothing() {
    let t = TestRoot::with_busybox();
    let before = t.ok(&["images", "-q", "--no-trunc"]);
    for args in [
        &["commit", "nosuch", "x:1"][..],
        &["diff", "nosuch"],
        &["export", "nosuch", "-o", "/dev/null"],
    ] {
        let out = t.run(args);
        assert_eq!(code(&out), 125, "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("No such container: nosuch"),
            "{}",
            text(&out)
        );
    }
    assert_eq!(t.ok(&["images", "-q", "--no-trunc"]), before);
    // A bad --change names itself and stores nothing.
    changed_container(&t, "web", "overlay");
    let out = t.run(&["commit", "-c", "FROBNICATE x", "web", "bad:1"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("FROBNICATE"),
        "{}",
        text(&out)
    );
    assert_eq!(t.ok(&["images", "-q", "--no-trunc"]), before);
    t.ok(&["rm", "web"]);
}

#[test]
fn export_commit_and_cp_keep_symlink_targets_byte_for_byte() {
    let t = TestRoot::with_busybox();
    let long = "x/".repeat(80);
    let script =
        format!("ln -s / /root1; ln -s a//b /dbl; ln -s ./x/../y/ /dots; ln -s {long} /long");
    t.ok(&["run", "--name", "links", "busybox", "sh", "-c", &script]);
    let want = [
        ("root1", "/"),
        ("dbl", "a//b"),
        ("dots", "./x/../y/"),
        ("long", long.as_str()),
    ];
    // export
    let tar = t.tug().args(["export", "links"]).output().unwrap();
    assert!(tar.status.success());
    let mut archive = tar::Archive::new(&tar.stdout[..]);
    let mut seen = 0;
    for e in archive.entries().unwrap() {
        let e = e.unwrap();
        let path = e.path().unwrap().display().to_string();
        if let Some((_, target)) = want.iter().find(|(n, _)| path == *n) {
            assert_eq!(
                e.link_name_bytes().unwrap().as_ref(),
                target.as_bytes(),
                "{path}"
            );
            seen += 1;
        }
    }
    assert_eq!(seen, want.len());
    // commit, then read back in a container
    t.ok(&["commit", "links", "links:img"]);
    for (name, target) in want {
        let got = t.ok(&["run", "--rm", "links:img", "readlink", &format!("/{name}")]);
        assert_eq!(got.trim_end_matches('\n'), target, "{name}");
    }
    // cp out
    let out = t.path().join("dbl");
    t.ok(&["cp", "links:/dbl", out.to_str().unwrap()]);
    assert_eq!(std::fs::read_link(&out).unwrap().as_os_str(), "a//b");
    t.ok(&["rm", "links"]);
}

/// Docker exports a running container too: its root file system with the changes so
/// far, not what is mounted in it (/proc, /sys, /dev, the hosts files, volumes).
#[test]
fn export_of_a_running_container_is_its_rootfs_without_its_mounts() {
    let t = TestRoot::with_busybox();
    t.ok(&[
        "run", "-d", "--name", "live", "-v", "/data", "busybox", "sh", "-c",
        "echo changed > /etc/motd; rm /etc/shadow; echo v > /data/in-volume; touch /ready; sleep 600",
    ]);
    tug_e2e::wait_for(
        "the container's changes",
        std::time::Duration::from_secs(10),
        || code(&t.run(&["exec", "live", "test", "-e", "/ready"])) == 0,
    );
    let out = t.tug().args(["export", "live"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let mut ar = tar::Archive::new(&out.stdout[..]);
    let mut names = BTreeSet::new();
    let mut motd = String::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        if name == "etc/motd" {
            std::io::Read::read_to_string(&mut e, &mut motd).unwrap();
        }
        names.insert(name);
    }
    assert_eq!(motd, "changed\n");
    assert!(!names.contains("etc/shadow"), "deleted in the container");
    assert!(
        names.contains("proc/") || names.contains("proc"),
        "the mount point only"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("proc/1") || n.starts_with("sys/kernel"))
    );
    assert!(
        !names.contains("data/in-volume"),
        "a volume is not the rootfs"
    );
    // A second export mounts the same scratch dirs again, in which the first (a volatile
    // overlay) left overlayfs's mark that refuses a new mount, and sees the changes since.
    t.ok(&["exec", "live", "sh", "-c", "echo again > /etc/motd"]);
    let out = t.tug().args(["export", "live"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let mut motd = String::new();
    for e in tar::Archive::new(&out.stdout[..]).entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().as_os_str() == "etc/motd" {
            std::io::Read::read_to_string(&mut e, &mut motd).unwrap();
        }
    }
    assert_eq!(motd, "again\n");
    t.ok(&["rm", "-f", "-v", "live"]);
    t.assert_nothing_mounted();
}

/// Runs `tug commit ARGS` while polling the container's `State.Paused`: the commit's
/// output and whether it was ever seen paused.
fn commit_watching_pause(t: &TestRoot, name: &str, args: &[&str]) -> (std::process::Output, bool) {
    // The commit ends by itself: no guard needed.
    let mut child = t
        .tug()
        .arg("commit")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn tug commit");
    let mut seen_paused = false;
    while child.try_wait().unwrap().is_none() {
        seen_paused |= t.inspect_f(name, "{{.State.Paused}}") == "true";
    }
    let out = child.wait_with_output().unwrap();
    (out, seen_paused)
}

#[test]
fn commit_pauses_a_running_container_unless_told_not_to() {
    let t = TestRoot::with_busybox();
    // A layer big enough that the commit takes a while (random data does not compress).
    let c = Running::start(&t, "busy", &[], "head -c 16000000 /dev/urandom > /big");
    let (out, seen) = commit_watching_pause(&t, "busy", &["busy", "snap:1"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(seen, "the container was never paused during the commit");
    assert_eq!(
        t.inspect_f(&c.name, "{{.State.Status}} {{.State.Paused}}"),
        "running false"
    );

    for flag in ["--pause=false", "-p=false"] {
        let (out, seen) = commit_watching_pause(&t, "busy", &[flag, "busy", "snap:2"]);
        assert_eq!(code(&out), 0, "{}", text(&out));
        assert!(!seen, "{flag}: paused anyway");
    }
}

#[test]
fn a_paused_container_stays_paused_after_a_commit() {
    let t = TestRoot::with_busybox();
    let c = Running::start(&t, "frozen", &[], "echo data > /data");
    t.ok(&["pause", "frozen"]);
    t.ok(&["commit", "frozen", "frozen:1"]);
    assert_eq!(
        t.inspect_f(&c.name, "{{.State.Status}} {{.State.Paused}}"),
        "paused true"
    );
    t.ok(&["unpause", "frozen"]);
    let out = t.ok(&["run", "--rm", "frozen:1", "cat", "/data"]);
    assert_eq!(out, "data\n");
}

/// `tug commit $(tug run -d busybox sh -c '...')`, as the workshop does: the process may
/// exit while the commit looks at it, even between the record's "running" and the
/// freeze. Every such commit succeeds, as Docker's commit of a stopped container does.
#[test]
fn a_container_exiting_during_its_commit_is_committed_unpaused() {
    let t = TestRoot::with_busybox();
    for i in 0..20 {
        let name = format!("brief{i}");
        t.ok(&["run", "-d", "--name", &name, "busybox", "true"]);
        let out = t
            .tug()
            .args(["commit", &name, &format!("brief:{i}")])
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "commit {i}: {}", text(&out));
        assert_eq!(t.inspect_f(&name, "{{.State.Paused}}"), "false");
        t.ok(&["rm", "-f", &name]);
    }
}

#[test]
fn commit_change_takes_healthcheck_and_onbuild_as_docker() {
    let t = TestRoot::with_busybox();
    t.ok(&["create", "--name", "hc", "busybox", "true"]);
    t.ok(&[
        "commit",
        "-c",
        "HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost",
        "-c",
        "ONBUILD RUN make",
        "hc",
        "hc:1",
    ]);
    let config = t.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Healthcheck}} {{json .Config.OnBuild}}",
        "hc:1",
    ]);
    assert_eq!(
        config.trim(),
        r#"{"Interval":5000000000,"Retries":2,"Test":["CMD-SHELL","wget -q localhost"]} ["RUN make"]"#
    );
    t.ok(&["rm", "hc"]);
}
