//! `tug cp`: files, dirs and symlinks between a container (stopped or running) and the
//! host with Docker's rules, tar streams for `-`, Docker's errors, and a container whose
//! symlinks point out of it.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Stdio;

use tug_e2e::containers::Running;
use tug_e2e::{TestRoot, code, text};

/// A finished container `name` made with `driver`, after `script` ran in it.
fn stopped(t: &TestRoot, name: &str, driver: &str, script: &str) {
    let out = t
        .tug()
        .args(["run", "--name", name, "busybox", "sh", "-c", script])
        .env("TUG_STORAGE_DRIVER", driver)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// Runs `tug ARGS` in the dir `cwd` and asserts that it succeeded.
fn cp_in(t: &TestRoot, cwd: &Path, args: &[&str]) {
    let out = t.tug().current_dir(cwd).args(args).output().unwrap();
    assert!(out.status.success(), "tug {args:?}: {}", text(&out));
}

/// A host dir with a file (mode 0640, an old mtime), a sub dir and a symlink.
fn host_tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("a.txt"), "aaa\n").unwrap();
    std::fs::set_permissions(dir.join("a.txt"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::write(dir.join("sub/b.txt"), "bbb\n").unwrap();
    std::os::unix::fs::symlink("../a.txt", dir.join("sub/link")).unwrap();
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(dir.join("a.txt"))
        .unwrap()
        .set_modified(old)
        .unwrap();
}

fn assert_same_tree(got: &Path) {
    assert_eq!(std::fs::read_to_string(got.join("a.txt")).unwrap(), "aaa\n");
    let m = std::fs::metadata(got.join("a.txt")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o640);
    assert_eq!(m.mtime(), 1_000_000_000);
    assert_eq!(
        std::fs::read_to_string(got.join("sub/b.txt")).unwrap(),
        "bbb\n"
    );
    assert_eq!(
        std::fs::read_link(got.join("sub/link")).unwrap(),
        Path::new("../a.txt")
    );
}

/// The uid and gid of `path` in container `name`, from the tar `cp` streams.
fn owner_in(t: &TestRoot, name: &str, path: &str) -> (u64, u64) {
    let out = t
        .tug()
        .args(["cp", &format!("{name}:{path}"), "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let mut ar = tar::Archive::new(&out.stdout[..]);
    let e = ar.entries().unwrap().next().unwrap().unwrap();
    (e.header().uid().unwrap(), e.header().gid().unwrap())
}

#[test]
fn issue_examples_work_on_a_stopped_container_with_both_drivers() {
    for driver in ["overlay", "vfs"] {
        let t = TestRoot::with_busybox();
        stopped(&t, "web", driver, "echo motd > /etc/motd");
        let host = t.path().join("host");
        std::fs::create_dir(&host).unwrap();

        // The generated /etc/hostname, as the container saw it.
        cp_in(&t, &host, &["cp", "web:/etc/hostname", "."]);
        let hostname = t.ok(&["inspect", "-f", "{{.Config.Hostname}}", "web"]);
        assert_eq!(
            std::fs::read_to_string(host.join("hostname")).unwrap(),
            hostname,
            "{driver}"
        );
        cp_in(&t, &host, &["cp", "web:/etc/motd", "m"]);
        assert_eq!(std::fs::read_to_string(host.join("m")).unwrap(), "motd\n");

        // A file into a dir, with its owner (as Docker does, whatever its docs say);
        // it comes back the same.
        std::fs::write(host.join("file"), "from the host\n").unwrap();
        std::fs::set_permissions(host.join("file"), std::fs::Permissions::from_mode(0o751))
            .unwrap();
        std::os::unix::fs::chown(host.join("file"), Some(1234), Some(5678)).unwrap();
        cp_in(&t, &host, &["cp", "./file", "web:/tmp/"]);
        cp_in(&t, &host, &["cp", "web:/tmp/file", "back"]);
        assert_eq!(
            std::fs::read_to_string(host.join("back")).unwrap(),
            "from the host\n"
        );
        assert_eq!(
            std::fs::metadata(host.join("back")).unwrap().mode() & 0o7777,
            0o751
        );
        assert_eq!(owner_in(&t, "web", "/tmp/file"), (1234, 5678));
        // Copied out, the caller owns it.
        let m = std::fs::metadata(host.join("back")).unwrap();
        assert_eq!((m.uid(), m.gid()), (0, 0));

        // With -a into a container with a --user, that user owns the copy.
        t.ok(&["create", "--name", "usr", "--user", "nobody", "busybox"]);
        cp_in(&t, &host, &["cp", "-a", "./file", "usr:/tmp/owned"]);
        assert_eq!(owner_in(&t, "usr", "/tmp/owned"), (65534, 65534));
        cp_in(&t, &host, &["cp", "./file", "usr:/tmp/kept"]);
        assert_eq!(owner_in(&t, "usr", "/tmp/kept"), (1234, 5678));
        t.ok(&["rm", "usr"]);

        // The copy is in the container's file system.
        assert_eq!(
            t.ok(&["diff", "web"])
                .lines()
                .filter(|l| l.contains("/tmp/file"))
                .count(),
            1
        );
        t.assert_nothing_mounted();
        t.ok(&["rm", "web"]);
    }
}

#[test]
fn issue_examples_work_on_a_running_container() {
    let t = TestRoot::with_busybox();
    let c = Running::start(&t, "web", &["--hostname", "webhost"], "");
    let host = t.path().join("host");
    std::fs::create_dir(&host).unwrap();
    let out = t.run(&["cp", "/etc/hostname", "web:/dev/null"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("must be a directory or regular file"),
        "{}",
        text(&out)
    );
    cp_in(&t, &host, &["cp", "web:/etc/hostname", "."]);
    assert_eq!(
        std::fs::read_to_string(host.join("hostname")).unwrap(),
        "webhost\n"
    );
    std::fs::write(host.join("file"), "live\n").unwrap();
    cp_in(&t, &host, &["cp", "./file", "web:/tmp/"]);
    assert_eq!(t.ok(&["exec", "web", "cat", "/tmp/file"]), "live\n");
    assert_eq!(
        t.ok(&["exec", "web", "stat", "-c", "%u:%g", "/tmp/file"]),
        "0:0\n"
    );

    // A dir both ways.
    host_tree(&host.join("tree"));
    cp_in(&t, &host, &["cp", "tree", "web:/copied"]);
    assert_eq!(t.ok(&["exec", "web", "cat", "/copied/sub/b.txt"]), "bbb\n");
    cp_in(&t, &host, &["cp", "web:/copied", "out"]);
    assert_same_tree(&host.join("out"));
    drop(c);
}

#[test]
fn dirs_and_dir_contents_follow_dockers_rules() {
    let t = TestRoot::with_busybox();
    stopped(&t, "web", "overlay", "mkdir /data");
    let host = t.path().join("host");
    host_tree(&host.join("tree"));

    // DEST missing: created as the dir. DEST an existing dir: the dir goes inside it.
    cp_in(&t, &host, &["cp", "tree", "web:/newdir"]);
    cp_in(&t, &host, &["cp", "tree", "web:/data"]);
    // SRC/. : the content goes into the existing dir.
    cp_in(&t, &host, &["cp", "tree/.", "web:/data"]);

    cp_in(&t, &host, &["cp", "web:/newdir", "o1"]);
    assert_same_tree(&host.join("o1"));
    cp_in(&t, &host, &["cp", "web:/data/tree", "o2"]);
    assert_same_tree(&host.join("o2"));
    std::fs::create_dir(host.join("o3")).unwrap();
    cp_in(&t, &host, &["cp", "web:/data/.", "o3"]);
    assert_same_tree(&host.join("o3"));
    assert_same_tree(&host.join("o3/tree"));
    // Into an existing dir without /. : the dir itself lands in it.
    cp_in(&t, &host, &["cp", "web:/data", "o3"]);
    assert_same_tree(&host.join("o3/data"));

    // -L copies what a symlink points to, under the link's name.
    cp_in(&t, &host, &["cp", "-L", "web:/newdir/sub/link", "followed"]);
    assert_eq!(
        std::fs::read_to_string(host.join("followed")).unwrap(),
        "aaa\n"
    );
    cp_in(&t, &host, &["cp", "web:/newdir/sub/link", "kept"]);
    assert!(
        std::fs::symlink_metadata(host.join("kept"))
            .unwrap()
            .is_symlink()
    );
    t.assert_nothing_mounted();
    t.ok(&["rm", "web"]);
}

#[test]
fn dash_streams_a_tar_both_ways() {
    let t = TestRoot::with_busybox();
    stopped(&t, "web", "overlay", "true");

    let out = t
        .tug()
        .args(["cp", "web:/etc/hostname", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let mut ar = tar::Archive::new(&out.stdout[..]);
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["hostname"]);

    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o600);
    h.set_uid(42);
    h.set_gid(42);
    h.set_mtime(1_000_000_000);
    b.append_data(&mut h, "dir/in.txt", &b"in\n"[..]).unwrap();
    let input = b.into_inner().unwrap();
    let mut child = t
        .tug()
        .args(["cp", "-", "web:/tmp"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));

    let out = t.tug().args(["cp", "web:/tmp/dir", "-"]).output().unwrap();
    let mut ar = tar::Archive::new(&out.stdout[..]);
    let entries: Vec<(String, u64, u32)> = ar
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                e.path().unwrap().display().to_string(),
                h.uid().unwrap(),
                h.mode().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("dir".to_string(), 0, 0o755),
            ("dir/in.txt".to_string(), 42, 0o600)
        ]
    );
    // A hostile tar is refused: a `..` entry, or one through a symlink it made.
    let escape = format!("tug-cp-escape-{}", std::process::id());
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(1);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    let raw = format!("../../../../../../../tmp/{escape}");
    h.as_old_mut().name[..raw.len()].copy_from_slice(raw.as_bytes());
    h.set_cksum();
    b.append(&h, &b"x"[..]).unwrap();
    let dotdot = b.into_inner().unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    b.append_link(&mut h, "l", "/").unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    b.append_data(&mut h, format!("l/tmp/{escape}"), &b"x"[..])
        .unwrap();
    let through_link = b.into_inner().unwrap();
    for hostile in [dotdot, through_link] {
        let mut c = t.tug();
        c.args(["cp", "-", "web:/tmp"]);
        let out = tug_e2e::output_with_stdin(c, &hostile);
        assert_eq!(code(&out), 1, "{}", text(&out));
        assert!(text(&out).contains("refused"), "{}", text(&out));
        assert!(!Path::new("/tmp").join(&escape).exists());
    }

    // A tar goes into a dir only.
    let out = t
        .tug()
        .args(["cp", "-", "web:/etc/passwd"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(text(&out).contains("must be a directory"), "{}", text(&out));
    t.ok(&["rm", "web"]);
}

#[test]
fn errors_exit_1_with_dockers_messages() {
    let t = TestRoot::with_busybox();
    stopped(&t, "web", "overlay", "true");
    let host = t.path().join("host");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("file"), "x").unwrap();
    let fails = |args: &[&str], msg: &str| {
        let out = t.tug().current_dir(&host).args(args).output().unwrap();
        assert_eq!(code(&out), 1, "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(msg), "{args:?}: want {msg:?} in {err}");
    };
    fails(
        &["cp", "nope:/etc/hostname", "."],
        "No such container: nope",
    );
    fails(&["cp", "./file", "nope:/tmp"], "No such container: nope");
    fails(
        &["cp", "web:/nonexistent", "."],
        "Could not find the file /nonexistent in container web",
    );
    fails(
        &["cp", "./missing", "web:/tmp"],
        "missing: no such file or directory",
    );
    fails(&["cp", "web:/etc", "file"], "cannot copy directory");
    fails(&["cp", ".", "web:/etc/passwd"], "cannot copy directory");
    fails(&["cp", "web:/etc/passwd", "nodir/"], "no such directory");
    fails(
        &["cp", "web:/a", "web:/b"],
        "copying between containers is not supported",
    );
    fails(
        &["cp", "a", "b"],
        "must specify at least one container source",
    );
    assert_eq!(std::fs::read_to_string(host.join("file")).unwrap(), "x");
    t.ok(&["rm", "web"]);
}

#[test]
fn container_symlinks_never_lead_outside_its_root() {
    let t = TestRoot::with_busybox();
    stopped(
        &t,
        "web",
        "overlay",
        "ln -s / /tmp/evil; ln -s ../../../../.. /tmp/up; mkdir /tmp/d; ln -s /etc /tmp/d/sub",
    );
    let host = t.path().join("host");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("file"), "payload\n").unwrap();
    let name = format!("tug-cp-evil-{}", std::process::id());
    let host_target = Path::new("/etc").join(&name);

    for link in ["evil", "up"] {
        let dest = format!("web:/tmp/{link}/etc/{name}");
        cp_in(&t, &host, &["cp", "./file", &dest]);
        assert!(!host_target.exists(), "wrote {}", host_target.display());
        cp_in(&t, &host, &["cp", &format!("web:/etc/{name}"), "got"]);
        assert_eq!(
            std::fs::read_to_string(host.join("got")).unwrap(),
            "payload\n"
        );
        std::fs::remove_file(host.join("got")).unwrap();

        // Reads through the link are the container's files, not the host's.
        cp_in(
            &t,
            &host,
            &["cp", &format!("web:/tmp/{link}/etc/passwd"), "passwd"],
        );
        let ours = std::fs::read_to_string(host.join("passwd")).unwrap();
        cp_in(&t, &host, &["cp", "web:/etc/passwd", "passwd2"]);
        assert_eq!(ours, std::fs::read_to_string(host.join("passwd2")).unwrap());
    }
    // A dir copied over a path under an absolute symlink lands in the container too.
    host_tree(&host.join("tree"));
    cp_in(&t, &host, &["cp", "tree", "web:/tmp/d/sub/"]);
    assert!(!Path::new("/etc/tree").exists());
    cp_in(&t, &host, &["cp", "web:/etc/tree", "tree2"]);
    assert_same_tree(&host.join("tree2"));
    assert!(!host_target.exists());
    t.assert_nothing_mounted();
    t.ok(&["rm", "web"]);
}

#[test]
fn copies_into_a_stopped_container_reach_its_volumes_as_docker_does() {
    let t = TestRoot::with_busybox();
    let data = t.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let bind = format!("{}:/bound", data.display());
    t.ok(&[
        "run",
        "--name",
        "vols",
        "-v",
        "cpvol:/vol",
        "-v",
        &bind,
        "busybox",
        "true",
    ]);
    let host = t.path().join("in.txt");
    std::fs::write(&host, "into the volume\n").unwrap();
    let src = host.display().to_string();
    t.ok(&["cp", &src, "vols:/vol/in.txt"]);
    t.ok(&["cp", &src, "vols:/bound/in.txt"]);
    // The files are in the volume and the bound dir, not in the container's own layer.
    assert_eq!(
        std::fs::read_to_string(data.join("in.txt")).unwrap(),
        "into the volume\n"
    );
    let out = t.ok(&[
        "run",
        "--rm",
        "-v",
        "cpvol:/v",
        "busybox",
        "cat",
        "/v/in.txt",
    ]);
    assert_eq!(out, "into the volume\n");
    let diff = t.ok(&["diff", "vols"]);
    assert!(!diff.contains("in.txt"), "{diff}");
    // And back out of the stopped container.
    let back = t.path().join("back.txt");
    t.ok(&["cp", "vols:/vol/in.txt", &back.display().to_string()]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "into the volume\n");
    t.assert_nothing_mounted();
    t.ok(&["rm", "-v", "vols"]);
    t.ok(&["volume", "rm", "cpvol"]);
}

#[test]
fn a_trailing_slash_or_dot_goes_through_a_symlinked_dir() {
    let t = TestRoot::with_busybox();
    t.ok(&[
        "run",
        "--name",
        "links",
        "busybox",
        "sh",
        "-c",
        "mkdir /ld; echo hi > /ld/f; ln -s /ld /abs; ln -s ../../ld /rel",
    ]);
    let out = t.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    for (src, dst) in [
        ("links:/abs/.", "a"),
        ("links:/abs/", "b"),
        ("links:/rel/", "c"),
    ] {
        let d = out.join(dst);
        t.ok(&["cp", src, d.to_str().unwrap()]);
        assert_eq!(
            std::fs::read_to_string(d.join("f")).unwrap(),
            "hi\n",
            "{src}"
        );
    }
    // Without the slash the link itself is copied.
    let d = out.join("link");
    t.ok(&["cp", "links:/abs", d.to_str().unwrap()]);
    assert_eq!(std::fs::read_link(&d).unwrap(), Path::new("/ld"));
    t.ok(&["rm", "links"]);
}
