//! What the testkit sets up: the image (made once per process in a fresh state root,
//! also when threads ask at once) and the `tug` binary (a clear error when missing).

use std::process::Command;

use tug_testkit::runners::SyncRunner;
use tug_testkit::{GenericImage, ImageExt, Tug, find_tug_binary};

/// A private state root under /var/tmp (overlayfs needs a disk file system).
fn private_root() -> tempfile::TempDir {
    let base = std::path::Path::new("/var/tmp/tug-tests");
    std::fs::create_dir_all(base).unwrap();
    tempfile::Builder::new()
        .prefix("testkit")
        .tempdir_in(base)
        .unwrap()
}

#[test]
fn a_fresh_root_gets_busybox_once_for_parallel_threads() {
    let dir = private_root();
    let tug = Tug::open(tug::EngineConfig::new(
        dir.path().join("root"),
        dir.path().join("run"),
    ))
    .unwrap();
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| s.spawn(|| tug.prepare_image("busybox:latest")))
            .collect();
        for h in hs {
            h.join().unwrap().unwrap();
        }
    });
    let images = Command::new(find_tug_binary().unwrap())
        .args(["images", "-q"])
        .env("TUG_ROOT", tug.engine().root())
        .env("TUG_RUN", tug.engine().run_root())
        .output()
        .unwrap();
    let ids = String::from_utf8_lossy(&images.stdout);
    assert_eq!(
        ids.lines().count(),
        1,
        "one busybox image, made once: {ids}"
    );
    let c = GenericImage::new("busybox", "latest")
        .with_cmd(["sleep", "60"])
        .with_network("none")
        .start_on(&tug)
        .unwrap();
    assert_eq!(c.exec(["echo", "private"]).unwrap().stdout, b"private\n");
    let id = c.id().to_string();
    drop(c);
    assert!(tug.engine().container(&id).is_err());
    // An image that is not there (and not busybox) is pulled: here from a registry
    // that does not answer, a clear error.
    let err = tug
        .prepare_image("127.0.0.1:1/nosuch:1")
        .unwrap_err()
        .to_string();
    assert!(err.contains("pulling 127.0.0.1:1/nosuch:1"), "{err}");
}

/// The library makes the very image `images/busybox/build.sh` makes (what
/// scripts/setup.sh runs): the same id and manifest digest.
#[test]
fn the_library_busybox_is_the_build_sh_image() {
    let dir = private_root();
    let config = |name: &str| {
        tug::EngineConfig::new(
            dir.path().join(name).join("root"),
            dir.path().join(name).join("run"),
        )
    };
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../images/busybox/build.sh");
    let (by_script, by_lib) = (config("script"), config("lib"));
    let out = Command::new("bash")
        .arg(&script)
        .arg("busybox:latest")
        .env("TUG", find_tug_binary().unwrap())
        .env("TUG_ROOT", &by_script.root)
        .env("TUG_RUN", &by_script.run_root)
        .env("TUG_CACHE", dir.path().join("cache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made = tug::Engine::open(by_lib)
        .unwrap()
        .create_busybox_image("busybox:latest")
        .unwrap();
    let scripted = tug::Engine::open(by_script)
        .unwrap()
        .image_store()
        .unwrap()
        .resolve("busybox:latest")
        .unwrap();
    assert_eq!(
        (made.id, made.manifest_digest),
        (scripted.id, scripted.manifest_digest)
    );
}

const HELPER_ENV: &str = "TUG_TESTKIT_NO_BINARY_HELPER";

/// The helper: run from a copy of this binary in a dir without `tug`, with no TUG_BIN
/// and an empty PATH.
#[test]
fn helper_looks_for_the_tug_binary() {
    if std::env::var_os(HELPER_ENV).is_none() {
        return;
    }
    let err = find_tug_binary().unwrap_err().to_string();
    println!("error: {err}");
}

#[test]
fn a_missing_tug_binary_is_a_clear_error_naming_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("deps").join("setup-test");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(std::env::current_exe().unwrap(), &copy).unwrap();
    let out = Command::new(&copy)
        .args(["--exact", "helper_looks_for_the_tug_binary", "--nocapture"])
        .env(HELPER_ENV, "1")
        .env_remove("TUG_BIN")
        .env("PATH", "")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or_else(|| panic!("no error line: {text}"));
    assert!(line.contains("TUG_BIN"), "{line}");
    assert!(line.contains(&dir.path().display().to_string()), "{line}");
    assert!(line.contains("PATH"), "{line}");
}
