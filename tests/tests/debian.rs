//! The `debian:bookworm-slim` recipe: debootstrap (cached under /var/cache/tug), import,
//! and a real distribution's userland running in a container.

use std::process::Command;

use tug_e2e::{TestRoot, repo_dir, text, tug_bin};

/// A state root with `debian:bookworm-slim`, made by the recipe.
fn with_debian() -> TestRoot {
    let t = TestRoot::new();
    let out = Command::new("bash")
        .arg(repo_dir().join("images/debian/build.sh"))
        .env("TUG", tug_bin())
        .envs(t.envs())
        .output()
        .expect("run images/debian/build.sh");
    assert!(out.status.success(), "{}", text(&out));
    t
}

#[test]
fn debian_slim_image_is_made_and_runs_bash() {
    let t = with_debian();

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

/// A build whose RUN installs a Debian package from Debian's mirror, through the default
/// bridge's NAT, as `docker build` does.
#[test]
fn a_build_installs_a_debian_package_over_nat() {
    let t = with_debian();
    let ctx = t.host_dir("ctx");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM debian:bookworm-slim\n\
         RUN apt-get update \\\n && apt-get install -y --no-install-recommends curl \\\n && rm -rf /var/lib/apt/lists/*\n\
         CMD [\"curl\", \"--version\"]\n",
    )
    .unwrap();
    let out = t
        .tug()
        .args(["build", "--progress", "plain", "-t", "with-curl:1"])
        .arg(&ctx)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let version = t.ok(&["run", "--rm", "with-curl:1"]);
    assert!(version.starts_with("curl 7."), "{version}");
    assert!(t.container_ids().is_empty());
}
