//! The command line itself: help, version, and how bad flags are reported.

use tug_e2e::{TestRoot, code, text};

#[test]
fn help_lists_docker_commands() {
    let t = TestRoot::new();
    let out = t.ok(&["--help"]);
    insta::assert_snapshot!(out);
}

#[test]
fn version_prints_the_crate_version() {
    let t = TestRoot::new();
    let out = t.ok(&["--version"]);
    assert_eq!(out.trim(), format!("tug {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn unknown_flag_exits_125_naming_the_flag() {
    let t = TestRoot::new();
    let out = t.run(&["images", "--no-such-flag"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--no-such-flag"), "{err}");
}

#[test]
fn unknown_command_exits_125() {
    let t = TestRoot::new();
    let out = t.run(&["frobnicate"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("frobnicate"));
}

#[test]
fn flags_after_the_image_go_to_the_container() {
    // `tug run IMAGE sh -c ...`: `-c` belongs to the command, not to tug. With no image
    // in this root, the run fails on the image, not on the flag.
    let t = TestRoot::new();
    let out = t.run(&["run", "--rm", "nosuchimage", "sh", "-c", "exit 0"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("unexpected argument"), "{err}");
}

#[test]
fn bad_storage_driver_is_a_clear_error() {
    let t = TestRoot::new();
    let out = t
        .tug()
        .args(["images"])
        .env("TUG_STORAGE_DRIVER", "zfs")
        .output()
        .unwrap();
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("TUG_STORAGE_DRIVER"),
        "{}",
        text(&out)
    );
}
