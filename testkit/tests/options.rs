//! testcontainers' request options on real busybox containers: capabilities, privileged,
//! /dev/shm size, read-only rootfs, another image name or tag, typed bind mounts (a host
//! path with `:` in it), reuse, ulimits.

mod common;

use std::time::Duration;

use common::{eventually, is_gone};
use tug_testkit::core::{AccessMode, ExecCommand, Mount};
use tug_testkit::runners::SyncRunner;
use tug_testkit::{Container, GenericImage, ImageExt, ReuseDirective};

fn busybox() -> GenericImage {
    GenericImage::new("busybox", "latest")
}

/// The stdout of `sh -c script` in `c`, and its exit code.
fn sh(c: &Container, script: &str) -> (i32, String) {
    let out = c.exec(ExecCommand::new(["sh", "-c", script])).unwrap();
    (
        out.exit_code,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The effective capability set of the container's processes.
fn cap_eff(c: &Container) -> u64 {
    let (_, text) = sh(c, "grep CapEff /proc/self/status");
    let hex = text.split_whitespace().nth(1).unwrap();
    u64::from_str_radix(hex, 16).unwrap()
}

const CAP_NET_ADMIN: u64 = 1 << 12;
const CAP_SYS_ADMIN: u64 = 1 << 21;

#[test]
fn capabilities_and_privileged_change_the_capability_set() {
    let plain = busybox()
        .with_cmd(["sleep", "60"])
        .with_network("none")
        .start()
        .unwrap();
    let admin = busybox()
        .with_cmd(["sleep", "60"])
        .with_network("none")
        .with_cap_add("NET_ADMIN")
        .start()
        .unwrap();
    let privileged = busybox()
        .with_cmd(["sleep", "60"])
        .with_network("none")
        .with_privileged(true)
        .start()
        .unwrap();
    assert_eq!(cap_eff(&plain) & (CAP_NET_ADMIN | CAP_SYS_ADMIN), 0);
    assert_eq!(
        cap_eff(&admin) & (CAP_NET_ADMIN | CAP_SYS_ADMIN),
        CAP_NET_ADMIN
    );
    assert_eq!(
        cap_eff(&privileged) & (CAP_NET_ADMIN | CAP_SYS_ADMIN),
        CAP_NET_ADMIN | CAP_SYS_ADMIN
    );
}

#[test]
fn shm_size_and_a_read_only_rootfs_apply() {
    let c = busybox()
        .with_cmd(["sleep", "60"])
        .with_network("none")
        .with_shm_size(1 << 20)
        .with_readonly_rootfs(true)
        .start()
        .unwrap();
    let (_, df) = sh(&c, "df -k /dev/shm | tail -1");
    assert_eq!(df.split_whitespace().nth(1), Some("1024"), "{df}");
    assert_ne!(sh(&c, "touch /x 2>/dev/null").0, 0);
    assert_eq!(sh(&c, "touch /dev/shm/x").0, 0);
}

#[test]
fn another_image_name_or_tag_is_run() {
    let by_name = GenericImage::new("no-such-image", "latest")
        .with_name("busybox")
        .with_cmd(["true"])
        .with_network("none")
        .start()
        .unwrap();
    assert_eq!(by_name.image().tag(), "latest");
    let by_tag = GenericImage::new("busybox", "no-such-tag")
        .with_tag("latest")
        .with_cmd(["true"])
        .with_network("none")
        .start()
        .unwrap();
    assert!(
        by_tag
            .inspect()
            .unwrap()
            .config
            .image
            .contains("busybox:latest")
    );
}

use tug_testkit::Image as _;

#[test]
fn bind_mounts_take_any_host_path() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("with:colon,comma");
    std::fs::create_dir(&odd).unwrap();
    std::fs::write(odd.join("f"), "from the host\n").unwrap();
    let c = busybox()
        .with_cmd(["sleep", "60"])
        .with_network("none")
        .with_mount(
            Mount::bind_mount(odd.display().to_string(), "/data")
                .with_access_mode(AccessMode::ReadOnly),
        )
        .start()
        .unwrap();
    assert_eq!(sh(&c, "cat /data/f"), (0, "from the host\n".into()));
    assert_ne!(sh(&c, "touch /data/g 2>/dev/null").0, 0);
}

#[test]
fn a_reused_container_outlives_its_handle_and_is_found_again() {
    let label = format!("reuse-{}", std::process::id());
    let request = || {
        busybox()
            .with_cmd(["sleep", "60"])
            .with_network("none")
            .with_label("test", label.clone())
            .with_reuse(ReuseDirective::CurrentSession)
    };
    let first = request().start().unwrap();
    let id = first.id().to_string();
    drop(first);
    assert!(!is_gone(&id), "a reusable container was removed on drop");
    let again = request().start().unwrap();
    assert_eq!(again.id(), id);
    again.rm().unwrap();
    assert!(eventually(Duration::from_secs(1), || is_gone(&id)));
}

#[test]
fn ulimits_apply_and_bad_ones_are_refused() {
    let c = busybox()
        .with_cmd(["sleep", "60"])
        .with_network("none")
        .with_ulimit("nofile", 1024, Some(2048))
        .with_ulimit("nproc", 77, None)
        .start()
        .unwrap();
    // The container's process and an exec'd one alike.
    let (_, limits) = sh(&c, "grep -E 'open files|processes' /proc/1/limits");
    let words: Vec<&str> = limits.split_whitespace().collect();
    assert_eq!(
        words,
        [
            "Max",
            "processes",
            "77",
            "77",
            "processes",
            "Max",
            "open",
            "files",
            "1024",
            "2048",
            "files"
        ],
        "{limits}"
    );
    assert_eq!(
        sh(&c, "ulimit -n; ulimit -Hn; ulimit -u").1,
        "1024\n2048\n77\n"
    );
    let err = busybox()
        .with_cmd(["true"])
        .with_ulimit("bogus", 1, None)
        .start()
        .unwrap_err();
    assert!(err.to_string().contains("no such limit"), "{err}");
}

#[test]
fn kept_containers_are_listed_and_removed() {
    let tug = tug_testkit::Tug::shared().unwrap();
    let req = GenericImage::new("busybox", "latest")
        .with_cmd(["sleep", "600"])
        .with_network("none")
        .with_label("tug.test", "kept-containers")
        .with_reuse(true);
    let first = req.clone().start().unwrap();
    let id = first.id().to_string();
    drop(first);
    // Kept after its handle, found again by the same request.
    assert_eq!(req.clone().start().unwrap().id(), id);
    let kept = tug.kept_containers().unwrap();
    assert!(kept.iter().any(|c| c.id.as_ref() == id));
    let removed = tug.remove_kept().unwrap();
    assert!(!removed.is_empty());
    assert!(common::is_gone(&id));
}
