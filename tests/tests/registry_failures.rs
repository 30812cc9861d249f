//! Registry failures: wrong digests, unknown names, a registry killed mid-pull, broken
//! streams, 5xx answers. Each leaves the store as it was and names what failed.

use tug_e2e::registry::{Proxy, Registry, World, add_image, layer_tar, noise, stderr, tree};
use tug_e2e::{code, text};

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
    let down = format!("127.0.0.1:{}/app:1", tug_e2e::net::free_port(false));
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
