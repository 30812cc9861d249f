//! The `debian:bookworm-slim` recipe: debootstrap (cached under /var/cache/tug), import,
//! and a real distribution's userland running in a container.

use std::process::Command;

use tug_e2e::{TestRoot, repo_dir, text, tug_bin};

#[test]
fn debian_slim_image_is_made_and_runs_bash() {
    let t = TestRoot::new();
    let out = Command::new("bash")
        .arg(repo_dir().join("images/debian/build.sh"))
        .env("TUG", tug_bin())
        .envs(t.envs())
        .output()
        .expect("run images/debian/build.sh");
    assert!(out.status.success(), "{}", text(&out));

    let version = t.ok(&[
        "run",
        "--rm",
        "debian:bookworm-slim",
        "cat",
        "/etc/debian_version",
    ]);
    assert!(version.trim().starts_with("12."), "{version}");

    // bash is the image's CMD; dpkg knows its own packages; apt lists were left out.
    let cmd = t.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Cmd}}",
        "debian:bookworm-slim",
    ]);
    assert_eq!(cmd.trim(), r#"["bash"]"#);
    let out = t.ok(&[
        "run",
        "--rm",
        "debian:bookworm-slim",
        "bash",
        "-c",
        "dpkg-query -W -f='${Status}\\n' bash; ls /var/lib/apt/lists | wc -l",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, ["install ok installed", "0"], "{out}");
}
