//! `tug pull`, `push`, `login`, `logout` against Debian's docker-registry on loopback.

use std::process::Output;

use tug_e2e::registry::{Auth, Layout, Proxy, Registry, TokenServer, layer_tar, noise, tree};
use tug_e2e::{TestRoot, code, text};

/// A test's world: a state root and a private Docker config dir.
struct World {
    root: TestRoot,
    docker_config: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let root = TestRoot::new();
        std::fs::create_dir_all(root.root()).expect("create root");
        World {
            root,
            docker_config: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn tug(&self, args: &[&str]) -> Output {
        self.root
            .tug()
            .env("DOCKER_CONFIG", self.docker_config.path())
            .args(args)
            .output()
            .expect("spawn tug")
    }

    fn tug_stdin(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .root
            .tug()
            .env("DOCKER_CONFIG", self.docker_config.path())
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn tug");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("wait tug")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.tug(args);
        assert!(out.status.success(), "tug {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn store(&self) -> Layout {
        Layout::new(&self.root.root().join("images"))
    }

    fn docker_config(&self) -> serde_json::Value {
        let p = self.docker_config.path().join("config.json");
        serde_json::from_slice(&std::fs::read(p).expect("read config.json")).expect("json")
    }
}

/// Puts a three-layer image named `name` in the world's store; returns its manifest
/// digest.
fn add_image(w: &World, name: &str, seed: u64) -> String {
    let tars = vec![
        layer_tar(&[("etc/a", b"layer one\n")]),
        layer_tar(&[("bin/blob", &noise(seed, 300_000))]),
        layer_tar(&[("etc/c", format!("seed {seed}\n").as_bytes())]),
    ];
    let store = w.store();
    let m = store.image(&tars, "amd64", 6);
    store.tag(&m, name);
    m.digest
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn push_then_pull_round_trip_of_a_multi_layer_image() {
    let reg = Registry::start();
    let a = World::new();
    let name = format!("{}/app:1", reg.host());
    let digest = add_image(&a, &name, 1);
    let out = a.ok(&["push", &name]);
    assert!(out.contains(&format!("1: digest: {digest}")), "{out}");

    let b = World::new();
    let out = b.ok(&["pull", &name]);
    assert!(out.contains("Downloaded newer image"), "{out}");
    assert_eq!(b.store().lookup(&name).as_deref(), Some(digest.as_str()));
    let manifest: serde_json::Value =
        serde_json::from_slice(&b.store().read_blob(&digest)).expect("manifest");
    for l in manifest["layers"].as_array().expect("layers") {
        let d = l["digest"].as_str().expect("digest");
        assert_eq!(
            b.store().read_blob(d),
            a.store().read_blob(d),
            "layer {d} differs"
        );
    }
    // Each layer was unpacked into its snapshot as it arrived.
    let config: serde_json::Value = serde_json::from_slice(
        &b.store()
            .read_blob(manifest["config"]["digest"].as_str().expect("config")),
    )
    .expect("config");
    let diff_ids: Vec<tug::Digest> = config["rootfs"]["diff_ids"]
        .as_array()
        .expect("diff_ids")
        .iter()
        .map(|d| d.as_str().expect("str").parse().expect("digest"))
        .collect();
    let snapshots = tug::snapshot::Snapshots::open(&b.root.root()).expect("snapshots");
    let chains = tug::snapshot::chain_ids(&diff_ids);
    assert!(snapshots.path(&chains[0]).join("etc/a").is_file());
    assert_eq!(
        std::fs::read(snapshots.path(&chains[1]).join("bin/blob")).expect("blob"),
        noise(1, 300_000)
    );
    // A second pull fetches nothing.
    let out = b.ok(&["pull", &name]);
    assert!(out.contains("Image is up to date"), "{out}");

    // By digest, quietly: only the reference is printed.
    let by_digest = format!("{}/app@{digest}", reg.host());
    let c = World::new();
    let out = c.tug(&["pull", "-q", &by_digest]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{by_digest}\n")
    );
    assert!(out.stderr.is_empty(), "{}", text(&out));
    assert_eq!(
        c.store().lookup(&by_digest).as_deref(),
        Some(digest.as_str())
    );
}

#[test]
fn push_skips_blobs_the_registry_has() {
    let reg = Registry::start();
    let w = World::new();
    let name = format!("{}/app:1", reg.host());
    add_image(&w, &name, 2);
    let first = w.tug(&["push", &name]);
    assert_eq!(code(&first), 0, "{}", text(&first));
    assert_eq!(
        stderr(&first).matches(": Pushed").count(),
        3,
        "{}",
        text(&first)
    );
    let again = w.tug(&["push", &name]);
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert_eq!(
        stderr(&again).matches(": Layer already exists").count(),
        3,
        "{}",
        text(&again)
    );
}

#[test]
fn push_mounts_blobs_from_another_repository() {
    let reg = Registry::start();
    let w = World::new();
    let a = format!("{}/team/a:1", reg.host());
    let b = format!("{}/team/b:1", reg.host());
    let digest = add_image(&w, &a, 3);
    w.ok(&["push", &a]);
    w.ok(&["tag", &a, &b]);
    let out = w.tug(&["push", &b]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        stderr(&out).matches(": Mounted from team/a").count(),
        3,
        "{}",
        text(&out)
    );
    let c = World::new();
    c.ok(&["pull", &b]);
    assert_eq!(c.store().lookup(&b).as_deref(), Some(digest.as_str()));
}

#[test]
fn basic_auth_needs_login_and_logout_removes_it() {
    let reg = Registry::start_with(Auth::Basic {
        user: "alice".into(),
        password: "s3cret".into(),
    });
    let w = World::new();
    let name = format!("{}/app:1", reg.host());
    add_image(&w, &name, 4);
    let out = w.tug(&["push", &name]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("unauthorized") && err.contains(&reg.host()) && err.contains(&name),
        "{err}"
    );

    let bad = w.tug_stdin(
        &["login", &reg.host(), "-u", "alice", "--password-stdin"],
        "wrong\n",
    );
    assert_eq!(code(&bad), 125, "{}", text(&bad));
    assert!(
        !w.docker_config.path().join("config.json").exists()
            || w.docker_config()["auths"].get(reg.host()).is_none()
    );

    let out = w.tug_stdin(
        &["login", &reg.host(), "-u", "alice", "--password-stdin"],
        "s3cret\n",
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Login Succeeded"));
    let auth = w.docker_config()["auths"][reg.host()]["auth"].clone();
    assert_eq!(auth, "YWxpY2U6czNjcmV0", "base64 of alice:s3cret");
    w.ok(&["push", &name]);
    let other = World {
        root: TestRoot::new(),
        docker_config: tempfile::tempdir().expect("tempdir"),
    };
    std::fs::copy(
        w.docker_config.path().join("config.json"),
        other.docker_config.path().join("config.json"),
    )
    .expect("copy config");
    other.ok(&["pull", &name]);

    let out = w.ok(&["logout", &reg.host()]);
    assert!(out.contains("Removing login credentials"), "{out}");
    assert!(w.docker_config()["auths"].get(reg.host()).is_none());
    let out = w.tug(&["push", &name]);
    assert_eq!(code(&out), 125, "{}", text(&out));
}

#[test]
fn token_auth_flow_pushes_and_pulls() {
    let tokens = TokenServer::start("alice", "s3cret");
    let reg = Registry::start_with(tokens.auth());
    let w = World::new();
    let name = format!("{}/app:1", reg.host());
    let digest = add_image(&w, &name, 5);
    let out = w.tug(&["push", &name]);
    assert_eq!(
        code(&out),
        125,
        "anonymous push must be refused: {}",
        text(&out)
    );
    assert!(stderr(&out).contains(&reg.host()), "{}", text(&out));
    let out = w.tug_stdin(
        &["login", &reg.host(), "-u", "alice", "--password-stdin"],
        "s3cret",
    );
    assert_eq!(code(&out), 0, "{}\n{}", text(&out), reg.log());
    let before = tokens.issued.load(std::sync::atomic::Ordering::SeqCst);
    let out = w.tug(&["push", &name]);
    assert_eq!(code(&out), 0, "{}\n{}", text(&out), reg.log());
    let used = tokens.issued.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert_eq!(
        used, 1,
        "tokens are cached per scope: {used} issued for one push"
    );
    let c = World {
        root: TestRoot::new(),
        docker_config: tempfile::tempdir().expect("tempdir"),
    };
    std::fs::copy(
        w.docker_config.path().join("config.json"),
        c.docker_config.path().join("config.json"),
    )
    .expect("copy config");
    c.ok(&["pull", &name]);
    assert_eq!(c.store().lookup(&name).as_deref(), Some(digest.as_str()));

    // A token without push access: denied, naming the reference and the registry.
    let ro = format!("{}/readonly/app:1", reg.host());
    add_image(&w, &ro, 5);
    let out = w.tug(&["push", &ro]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("access denied") && err.contains(&ro) && err.contains(&reg.host()),
        "{err}"
    );
}

#[test]
fn a_blob_with_the_wrong_digest_is_refused_and_not_stored() {
    let reg = Registry::start();
    let w = World::new();
    let name = format!("{}/app:1", reg.host());
    add_image(&w, &name, 12);
    w.ok(&["push", &name]);
    let m = w.store().lookup(&name).expect("stored");
    let manifest: serde_json::Value =
        serde_json::from_slice(&w.store().read_blob(&m)).expect("manifest");
    let layer = manifest["layers"][1]["digest"]
        .as_str()
        .expect("layer")
        .to_string();
    let data = reg.blob_data(&layer);
    let mut bytes = std::fs::read(&data).expect("registry blob");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&data, bytes).expect("corrupt the registry's blob");
    let b = World::new();
    let images = b.root.root().join("images");
    b.ok(&["images"]); // the store exists (empty) before the pull
    let before = tree(&images);
    let out = b.tug(&["pull", &name]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("wrong content") && err.contains(&layer) && err.contains(&name),
        "{err}"
    );
    assert_eq!(tree(&images), before, "a failed pull changed the store");
    let staged = tree(&b.root.root().join("tmp"));
    assert!(
        !staged.iter().any(|(p, _)| p
            .to_string_lossy()
            .contains(layer.trim_start_matches("sha256:"))
            && !p.to_string_lossy().ends_with(".lock")),
        "the bad blob was kept: {staged:?}"
    );
}

#[test]
fn errors_name_the_reference_and_the_registry() {
    let reg = Registry::start();
    let w = World::new();
    let name = format!("{}/app:1", reg.host());
    add_image(&w, &name, 6);
    w.ok(&["push", &name]);
    let cases = [
        (format!("{}/nosuch:1", reg.host()), "not found"),
        (format!("{}/app:nosuchtag", reg.host()), "not found"),
        (
            format!("{}/app@sha256:{}", reg.host(), "0".repeat(64)),
            "manifest unknown",
        ),
    ];
    for (r, why) in cases {
        let out = w.tug(&["pull", &r]);
        assert_eq!(code(&out), 125, "{}", text(&out));
        let err = stderr(&out);
        assert!(err.contains(why) && err.contains(&reg.host()), "{r}: {err}");
    }
    let down = format!("127.0.0.1:{}/app:1", tug_e2e::registry::free_port());
    let out = w.tug(&["pull", &down]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cannot reach the registry") && err.contains(&down),
        "{err}"
    );
}

#[test]
fn registry_killed_mid_pull_leaves_the_store_unchanged_and_a_retry_succeeds() {
    let mut reg = Registry::start();
    let a = World::new();
    let name = format!("{}/big:1", reg.host());
    let tars = vec![
        layer_tar(&[("big1", &noise(10, 12 << 20))]),
        layer_tar(&[("big2", &noise(11, 12 << 20))]),
    ];
    let m = a.store().image(&tars, "amd64", 0);
    a.store().tag(&m, &name);
    a.ok(&["push", &name]);

    let pid = reg.pid().expect("running") as i32;
    let proxy = Proxy::start(reg.port, 6 << 20, move || {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    });
    let via_proxy = format!("127.0.0.1:{}/big:1", proxy.port);
    let b = World::new();
    let images = b.root.root().join("images");
    b.ok(&["images"]); // the store exists (empty) before the pull
    let before = tree(&images);
    let out = b.tug(&["pull", &via_proxy]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!("127.0.0.1:{}", proxy.port)),
        "{}",
        text(&out)
    );
    assert_eq!(tree(&images), before, "a failed pull changed the store");
    reg.restart();
    let out = b.tug(&["pull", &via_proxy]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        b.store().lookup(&via_proxy).as_deref(),
        Some(m.digest.as_str())
    );
}

#[test]
fn platform_is_chosen_in_a_manifest_list() {
    let reg = Registry::start();
    let src = tempfile::tempdir().expect("tempdir");
    let layout = Layout::new(src.path());
    let amd = layout.image(&[layer_tar(&[("arch", b"amd64\n")])], "amd64", 6);
    let arm = layout.image(&[layer_tar(&[("arch", b"arm64\n")])], "arm64", 6);
    let index = layout.index(&[(amd.clone(), "linux/amd64"), (arm.clone(), "linux/arm64")]);
    layout.tag(&index, "multi");
    skopeo_copy(
        &format!("oci:{}:multi", src.path().display()),
        &format!("docker://{}/multi:1", reg.host()),
        true,
    );
    let name = format!("{}/multi:1", reg.host());
    let w = World::new();
    let out = w.ok(&["pull", "--platform", "linux/arm64", &name]);
    assert!(out.contains(&format!("Digest: {}", index.digest)), "{out}");
    assert_eq!(
        w.store().lookup(&name).as_deref(),
        Some(arm.digest.as_str())
    );
    let w = World::new();
    w.ok(&["pull", "--platform", "linux/amd64", &name]);
    assert_eq!(
        w.store().lookup(&name).as_deref(),
        Some(amd.digest.as_str())
    );
    let out = w.tug(&["pull", "--platform", "linux/s390x", &name]);
    assert_eq!(code(&out), 125);
    assert!(
        stderr(&out).contains("linux/amd64, linux/arm64"),
        "{}",
        text(&out)
    );
}

fn skopeo_copy(from: &str, to: &str, all: bool) {
    let mut c = std::process::Command::new("skopeo");
    c.args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"]);
    if all {
        c.arg("--all");
    }
    let out = c.args([from, to]).output().expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo copy {from} {to}: {}",
        text(&out)
    );
}

#[test]
fn skopeo_pushes_and_tug_pulls() {
    let reg = Registry::start();
    let src = tempfile::tempdir().expect("tempdir");
    let layout = Layout::new(src.path());
    let m = layout.image(
        &[
            layer_tar(&[("x", b"1")]),
            layer_tar(&[("y", &noise(7, 100_000))]),
        ],
        "amd64",
        6,
    );
    layout.tag(&m, "img");
    // skopeo converts to Docker v2 schema 2 on the way: the digest tug sees is skopeo's.
    skopeo_copy(
        &format!("oci:{}:img", src.path().display()),
        &format!("docker://{}/from-skopeo:1", reg.host()),
        false,
    );
    let raw = std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{}/from-skopeo:1", reg.host()))
        .output()
        .expect("skopeo inspect");
    let want = String::from_utf8_lossy(&raw.stdout).trim().to_string();
    let w = World::new();
    let name = format!("{}/from-skopeo:1", reg.host());
    let out = w.ok(&["pull", &name]);
    assert!(out.contains(&want), "{out}");
    assert_eq!(w.store().lookup(&name).as_deref(), Some(want.as_str()));
}

#[test]
fn tug_pushes_and_skopeo_pulls_with_the_same_digest() {
    let reg = Registry::start();
    let w = World::new();
    let name = format!("{}/to-skopeo:1", reg.host());
    let digest = add_image(&w, &name, 8);
    w.ok(&["push", &name]);
    let dest = tempfile::tempdir().expect("tempdir");
    skopeo_copy(
        &format!("docker://{name}"),
        &format!("oci:{}:copy", dest.path().display()),
        false,
    );
    let copy = Layout::new(dest.path());
    assert_eq!(copy.lookup("copy").as_deref(), Some(digest.as_str()));
    let inspect = std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{name}"))
        .output()
        .expect("skopeo inspect");
    assert_eq!(String::from_utf8_lossy(&inspect.stdout).trim(), digest);
}

#[test]
fn chunked_upload_round_trips() {
    let reg = Registry::start();
    let w = World::new();
    let name = format!("{}/chunky:1", reg.host());
    let digest = add_image(&w, &name, 9);
    let out = w
        .root
        .tug()
        .env("DOCKER_CONFIG", w.docker_config.path())
        .env("TUG_PUSH_CHUNK_SIZE", "65536")
        .args(["push", &name])
        .output()
        .expect("spawn");
    assert_eq!(code(&out), 0, "{}", text(&out));
    let c = World::new();
    c.ok(&["pull", &name]);
    assert_eq!(c.store().lookup(&name).as_deref(), Some(digest.as_str()));
}

#[test]
fn a_blob_stream_broken_mid_way_is_resumed_in_the_same_pull() {
    let reg = Registry::start();
    let a = World::new();
    let name = format!("{}/resume:1", reg.host());
    let m = a
        .store()
        .image(&[layer_tar(&[("big", &noise(20, 8 << 20))])], "amd64", 0);
    a.store().tag(&m, &name);
    a.ok(&["push", &name]);
    // The proxy drops the connection once, 3 MB into the layer; the registry stays up.
    let proxy = Proxy::start(reg.port, 3 << 20, || {});
    let via_proxy = format!("127.0.0.1:{}/resume:1", proxy.port);
    let b = World::new();
    let out = b.tug(&["pull", &via_proxy]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        b.store().lookup(&via_proxy).as_deref(),
        Some(m.digest.as_str())
    );
}

/// The output with the registry's port replaced and the (parallel, so unordered)
/// progress lines on stderr sorted.
fn transcript(out: &Output, host: &str) -> String {
    let mut err: Vec<String> = stderr(out).lines().map(str::to_string).collect();
    err.sort();
    format!(
        "exit {}\n--- stdout\n{}--- stderr (sorted)\n{}\n",
        code(out),
        String::from_utf8_lossy(&out.stdout),
        err.join("\n")
    )
    .replace(host, "127.0.0.1:PORT")
}

#[test]
fn push_and_pull_print_what_docker_prints() {
    let reg = Registry::start();
    let w = World::new();
    let name = format!("{}/app:1", reg.host());
    add_image(&w, &name, 30);
    let push = w.tug(&["push", &name]);
    insta::assert_snapshot!("push", transcript(&push, &reg.host()));
    let b = World::new();
    let pull = b.tug(&["pull", &name]);
    insta::assert_snapshot!("pull", transcript(&pull, &reg.host()));
    let again = b.tug(&["pull", &name]);
    insta::assert_snapshot!("pull_again", transcript(&again, &reg.host()));
    let missing = b.tug(&["pull", &format!("{}/app:nope", reg.host())]);
    insta::assert_snapshot!("pull_unknown_tag", transcript(&missing, &reg.host()));
}

#[test]
fn a_registry_answering_503_is_retried() {
    let reg = Registry::start();
    let a = World::new();
    let name = format!("{}/flaky:1", reg.host());
    let digest = add_image(&a, &name, 40);
    a.ok(&["push", &name]);
    let proxy = Proxy::flaky(reg.port, 2);
    let via_proxy = format!("127.0.0.1:{}/flaky:1", proxy.port);
    let b = World::new();
    let out = b.tug(&["pull", &via_proxy]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        b.store().lookup(&via_proxy).as_deref(),
        Some(digest.as_str())
    );
}

#[test]
fn busybox_pushed_then_pulled_is_the_same_image() {
    let reg = Registry::start();
    let a = World {
        root: TestRoot::with_busybox(),
        docker_config: tempfile::tempdir().expect("tempdir"),
    };
    let name = format!("{}/busybox:1", reg.host());
    a.ok(&["tag", "busybox", &name]);
    a.ok(&["push", &name]);
    let b = World::new();
    b.ok(&["pull", &name]);
    let id = |w: &World| w.ok(&["image", "inspect", "-f", "{{.Id}}", &name]);
    assert_eq!(id(&a), id(&b));
    let images = b.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(images.trim(), name);
    // Sizes count the uncompressed layers, as Docker does, on both sides.
    let size = |w: &World| w.ok(&["image", "inspect", "-f", "{{.Size}}", &name]);
    assert_eq!(size(&a), size(&b));
    // And it runs.
    let out = b.ok(&["run", "--rm", &name, "echo", "pulled and running"]);
    assert_eq!(out.trim(), "pulled and running");
}

#[test]
fn login_without_docker_config_writes_home_docker_config_json() {
    let reg = Registry::start_with(Auth::Basic {
        user: "bob".into(),
        password: "pw".into(),
    });
    let t = TestRoot::new();
    let home = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = t
            .tug()
            .env_remove("DOCKER_CONFIG")
            .env("HOME", home.path())
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn tug");
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(stdin.as_bytes()).expect("write stdin");
        drop(input);
        child.wait_with_output().expect("wait tug")
    };
    let out = run(
        &["login", "-u", "bob", "--password-stdin", &reg.host()],
        "pw\n",
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let file = home.path().join(".docker/config.json");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("config.json")).expect("json");
    assert_eq!(config["auths"][reg.host()]["auth"], "Ym9iOnB3");
    let out = run(&["logout", &reg.host()], "");
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = run(&["logout", &reg.host()], "");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Not logged in"),
        "{}",
        text(&out)
    );
}

#[test]
fn two_pulls_of_one_image_into_one_root_at_once_both_succeed() {
    let reg = Registry::start();
    let a = World::new();
    let name = format!("{}/twice:1", reg.host());
    let tars = vec![
        layer_tar(&[("one", &noise(50, 4 << 20))]),
        layer_tar(&[("two", &noise(51, 4 << 20))]),
    ];
    let m = a.store().image(&tars, "amd64", 0);
    a.store().tag(&m, &name);
    a.ok(&["push", &name]);
    let b = World::new();
    let spawn = || {
        b.root
            .tug()
            .env("DOCKER_CONFIG", b.docker_config.path())
            .args(["pull", "-q", &name])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn tug")
    };
    let (p1, p2) = (spawn(), spawn());
    for p in [p1, p2] {
        let out = p.wait_with_output().expect("wait");
        assert_eq!(code(&out), 0, "{}", text(&out));
    }
    assert_eq!(b.store().lookup(&name).as_deref(), Some(m.digest.as_str()));
    b.ok(&["image", "inspect", &name]);
}

#[test]
fn login_on_a_terminal_prompts_for_user_and_password() {
    let reg = Registry::start_with(Auth::Basic {
        user: "carol".into(),
        password: "pw2".into(),
    });
    let w = World::new();
    // `script` gives tug a terminal; its input is what the user types.
    let cmd = format!("{} login {}", tug_e2e::tug_bin().display(), reg.host());
    let mut child = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .envs(w.root.envs())
        .env("DOCKER_CONFIG", w.docker_config.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run script (util-linux)");
    {
        use std::io::Write;
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(b"carol\npw2\n").expect("type");
    }
    let out = child.wait_with_output().expect("wait script");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("Username:") && shown.contains("Password:"),
        "{shown}"
    );
    assert!(shown.contains("Login Succeeded"), "{shown}");
    assert_eq!(
        w.docker_config()["auths"][reg.host()]["auth"],
        "Y2Fyb2w6cHcy"
    );
}
