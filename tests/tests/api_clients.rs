//! The testcontainers clients, unchanged, on tug's Docker API: testcontainers-python
//! (PyPI, in a virtualenv made once under the cache dir from `tests/clients/
//! requirements.txt`), testcontainers-node (npm, installed once under the cache dir from
//! `tests/clients/testcontainers-node`'s lockfile) and testcontainers-rs (the crate, in
//! the small project `tests/clients/testcontainers-rs`, outside tug's workspace, built
//! with its own Cargo.lock). Each test serves its own socket on its own state root; Ryuk (whose image
//! cannot be pulled offline) is off, as these clients allow.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tug_e2e::api::ApiServer as Service;
use tug_e2e::{TestRoot, repo_dir, text};

/// What a client left in the test's root is removed when the test ends, also when it
/// fails: containers (with their shims), then the networks they were on.
struct Leftovers<'a>(&'a TestRoot);

impl Drop for Leftovers<'_> {
    fn drop(&mut self) {
        let ids = self.0.container_ids();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids.iter().map(String::as_str));
            let _ = self.0.run(&args);
        }
        let _ = self.0.run(&["network", "prune", "-f"]);
    }
}

/// The user networks of the test's root (not the default `bridge`, `host`, `none`).
fn user_networks(t: &TestRoot) -> Vec<String> {
    t.ok(&["network", "ls", "--format", "{{.Name}}"])
        .lines()
        .filter(|n| !matches!(*n, "bridge" | "host" | "none"))
        .map(str::to_string)
        .collect()
}

/// The cache directory shared by the tests (`$TUG_CACHE`, else /var/cache/tug).
fn cache_dir() -> PathBuf {
    std::env::var_os("TUG_CACHE").map_or_else(|| PathBuf::from("/var/cache/tug"), PathBuf::from)
}

/// A dir under the cache dir made once per machine by `install` (under a lock: tests in
/// other processes may want it at the same time), named `<name>-<hash of pins>`, so that
/// a change of the pins makes a new one. A dir whose install did not finish is made
/// again.
fn installed_once(name: &str, pins: &[u8], install: impl FnOnce(&Path)) -> PathBuf {
    let hash = &tug_e2e::sha256_hex(pins)[..12];
    let cache = cache_dir();
    std::fs::create_dir_all(&cache).expect("the cache dir");
    let dir = cache.join(format!("{name}-{hash}"));
    let lock = File::create(cache.join(format!("{name}.lock"))).expect("the lock file");
    lock.lock().expect("take the lock");
    let ready = dir.join("tug-ready");
    if !ready.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        install(&dir);
        std::fs::write(&ready, pins).expect("mark the dir ready");
    }
    dir
}

/// A virtualenv with testcontainers-python's pinned requirements (see
/// [`installed_once`]).
fn python_venv() -> PathBuf {
    let reqs = repo_dir().join("tests/clients/requirements.txt");
    let pins = std::fs::read(&reqs).expect("tests/clients/requirements.txt");
    installed_once("testcontainers-py", &pins, |venv| {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(venv)
            .stdin(Stdio::null())
            .output()
            .expect("spawn python3 -m venv (python3 is installed by scripts/setup.sh)");
        assert!(
            made.status.success(),
            "python3 -m venv {} (Debian needs python3-venv: scripts/setup.sh installs it): {}",
            venv.display(),
            text(&made)
        );
        let pip = Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "-q",
                "--disable-pip-version-check",
                "--no-input",
                "-r",
            ])
            .arg(&reqs)
            .stdin(Stdio::null())
            .output()
            .expect("spawn pip");
        assert!(
            pip.status.success(),
            "pip install -r {}: {}",
            reqs.display(),
            text(&pip)
        );
    })
}

/// testcontainers-python's DockerContainer on busybox: a log wait strategy, a mapped
/// port reached from the host, exec with its exit code, logs, labels, removal on exit,
/// and wait() of an exiting container; its DockerCompose (driving `tug compose`) with a
/// healthcheck, `up --wait`, a published port, exec, logs and `down --volumes`
/// (tests/clients/testcontainers_tug.py).
#[test]
fn testcontainers_python_runs_a_container_on_tug() {
    let t = TestRoot::with_busybox();
    let _leftovers = Leftovers(&t);
    let s = Service::start(&t);
    let venv = python_venv();
    let mut script = Command::new(venv.join("bin/python"));
    script
        .arg(repo_dir().join("tests/clients/testcontainers_tug.py"))
        // Its compose module runs `tug compose` on the server's own root.
        .env("TUG_BIN", tug_e2e::tug_bin())
        .envs(t.envs());
    run_client(&t, &s, script);
}

/// Runs a client's `script` against the test's server `s` (DOCKER_HOST, Ryuk off, a
/// docker config of the test's own), and checks that it printed `ok` and removed its
/// containers; the server's requests are shown when it failed.
fn run_client(t: &TestRoot, s: &Service, mut script: Command) {
    let out = script
        .env("DOCKER_HOST", s.docker_host())
        .env("TESTCONTAINERS_RYUK_DISABLED", "true")
        .env("DOCKER_CONFIG", t.path().join("docker-config"))
        .stdin(Stdio::null())
        .output()
        .expect("spawn the client's script");
    let log = std::fs::read_to_string(t.path().join("service.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "{}\nthe server's requests:\n{log}",
        text(&out)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    assert!(
        t.container_ids().is_empty(),
        "the client removed its containers"
    );
}

/// testcontainers-node's packages, installed with `npm ci` from `tests/clients/
/// testcontainers-node`'s lockfile (see [`installed_once`]). Install scripts are not run:
/// the only one builds an optional native speed-up of ssh2, which the client does
/// without.
fn node_modules() -> PathBuf {
    let project = repo_dir().join("tests/clients/testcontainers-node");
    let lockfile = std::fs::read(project.join("package-lock.json")).expect("the lockfile");
    installed_once("testcontainers-node", &lockfile, |dir| {
        std::fs::create_dir_all(dir).expect("the packages' dir");
        for f in ["package.json", "package-lock.json"] {
            std::fs::copy(project.join(f), dir.join(f)).expect("copy the project's files");
        }
        let npm = Command::new("npm")
            .args([
                "ci",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
                "--loglevel=error",
            ])
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .expect("spawn npm (node and npm are installed by scripts/setup.sh)");
        assert!(
            npm.status.success(),
            "npm ci in {}: {}",
            dir.display(),
            text(&npm)
        );
    })
}

/// testcontainers-node's GenericContainer on busybox: a log wait, a mapped port reached
/// from the host, a file copied in before the start, exec with its output, stderr and
/// exit code, the log stream, labels; a network with an alias resolved by a one-shot
/// container, the listening-ports and health-check wait strategies; an image built from
/// a Dockerfile with a build argument, run with a bind mount, a tmpfs, a user and limits,
/// a file copied in while it runs and read back as an archive, a restart; removal at `stop`
/// (tests/clients/testcontainers-node/testcontainers_tug.mjs).
#[test]
fn testcontainers_node_runs_a_container_on_tug() {
    let t = TestRoot::with_busybox();
    let _leftovers = Leftovers(&t);
    let s = Service::start(&t);
    let dir = node_modules();
    // The script runs from beside the packages, so that node finds them.
    let script = dir.join(format!("testcontainers_tug-{}.mjs", std::process::id()));
    std::fs::copy(
        repo_dir().join("tests/clients/testcontainers-node/testcontainers_tug.mjs"),
        &script,
    )
    .expect("copy the script");
    let _script = RemovedAtEnd(script.clone());
    let mut node = Command::new("node");
    node.arg(&script)
        // Its lock file and settings, in the test's own dir.
        .env("HOME", t.path())
        .env("TMPDIR", t.path());
    run_client(&t, &s, node);
    assert_eq!(user_networks(&t), Vec::<String>::new(), "and its network");
}

/// A file removed when the test ends, also when it fails.
struct RemovedAtEnd(PathBuf);

impl Drop for RemovedAtEnd {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The target dir of the client project: beside this test's own (`target/clients`), so
/// that it is built once and kept with the rest of the build.
fn clients_target_dir() -> PathBuf {
    // target/<profile>/deps/<test binary> → target/clients
    let exe = std::env::current_exe().expect("current_exe");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test binary lives in target/<profile>/deps");
    target.join("clients")
}

/// testcontainers-rs (the crate, both runners): GenericImage on busybox with a log wait,
/// a mapped port, exec with its output and exit code, logs, a network the crate makes
/// and a name resolved on it, a file copied in before the start; testcontainers-modules'
/// Redis on `tug-redis:7` (tests/clients/testcontainers-rs/tests/, built and run with
/// `cargo test`).
#[test]
fn testcontainers_rs_runs_its_tests_on_tug() {
    let t = TestRoot::with_busybox();
    // testcontainers-modules' Redis runs tug's own Redis image.
    t.add_built_image("redis", "tug-redis:7");
    let _leftovers = Leftovers(&t);
    let s = Service::start(&t);
    let project: &Path = &repo_dir().join("tests/clients/testcontainers-rs");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["test", "--locked", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(clients_target_dir())
        // The machine is shared: a build of its own, two jobs at most.
        .args(["-j", "2"])
        .env("DOCKER_HOST", s.docker_host())
        .env("DOCKER_CONFIG", t.path().join("docker-config"))
        .env_remove("CARGO_TARGET_DIR")
        // No debug info: it is most of a test build's size on disk.
        .env("CARGO_PROFILE_DEV_DEBUG", "false")
        .stdin(Stdio::null())
        .output()
        .expect("spawn cargo test of the testcontainers-rs project");
    let log = std::fs::read_to_string(t.path().join("service.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "{}\nthe server's requests:\n{log}",
        text(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for name in [
        "blocking_runner_serves_a_mapped_port_and_execs",
        "async_runner_with_a_network_and_a_copied_file",
        "redis_module_runs_on_tugs_redis_image",
    ] {
        assert!(
            stdout.contains(&format!("test {name} ... ok")),
            "{}",
            text(&out)
        );
    }
    assert!(
        t.container_ids().is_empty(),
        "the crate removed its containers"
    );
    assert_eq!(user_networks(&t), Vec::<String>::new(), "and its network");
}
