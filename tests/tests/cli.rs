//! The command line itself: help, version, and how bad flags are reported.

use tug_e2e::{TestRoot, code, text};

#[test]
fn help_lists_docker_commands() {
    let t = TestRoot::new();
    let out = t.ok(&["--help"]);
    insta::assert_snapshot!(out);
}

/// `tug system` lists `service`, the Docker Engine API server, and its `--host`.
#[test]
fn system_help_lists_the_api_service() {
    let t = TestRoot::new();
    let out = t.ok(&["system", "--help"]);
    insta::assert_snapshot!(out);
    let out = t.ok(&["system", "service", "--help"]);
    insta::assert_snapshot!("system_service_help", out);
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
    // (--pull never: a missing image would be pulled from Docker Hub otherwise.)
    let out = t.run(&[
        "run",
        "--rm",
        "--pull",
        "never",
        "nosuchimage",
        "sh",
        "-c",
        "exit 0",
    ]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("unexpected argument"), "{err}");
    // Right after the image too, where tug has a flag of the same name (`-c`), and with
    // create; a flag tug does not know before the image is still refused.
    for cmd in ["run", "create"] {
        let out = t.run(&[
            cmd,
            "--pull",
            "never",
            "--entrypoint",
            "sh",
            "nosuchimage",
            "-c",
            "echo hi",
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("nosuchimage"), "{cmd}: {err}");
        assert!(!err.contains("cpu-shares"), "{cmd}: {err}");
    }
    let out = t.run(&["run", "--bogus", "nosuchimage"]);
    assert_eq!(code(&out), 125);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown flag: --bogus"));
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

#[test]
fn a_reader_that_goes_away_ends_tug_quietly() {
    // `tug inspect ... | head -c 1`: as Docker's CLI (and any program killed by SIGPIPE),
    // tug stops without an error message when nobody reads its output any more.
    let t = TestRoot::with_busybox();
    let many = vec!["busybox"; 200].join(" ");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{}' inspect {many} | head -c 1 >/dev/null",
            tug_e2e::tug_bin().display()
        ))
        .envs(t.envs())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("Broken pipe") && !err.contains("tug:"),
        "{err}"
    );
}

#[test]
fn inspect_finds_a_container_or_an_image_and_names_what_is_neither() {
    let t = TestRoot::with_busybox();
    t.ok(&["create", "--name", "c1", "busybox"]);
    let out = t.run(&[
        "inspect",
        "-f",
        "{{.Name}}|{{.Id}}",
        "c1",
        "busybox",
        "nosuch",
    ]);
    assert_eq!(code(&out), 1);
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("/c1|"), "{lines:?}");
    assert!(lines[1].contains("|sha256:"), "the image: {lines:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Error: No such object: nosuch"));
    t.ok(&["rm", "c1"]);
}
