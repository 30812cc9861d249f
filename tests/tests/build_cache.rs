//! `tug build`'s cache: which steps run again after which change, `builder prune`,
//! reproducible digests with `SOURCE_DATE_EPOCH`, and `--cache-from` across state roots.

use std::path::Path;

use tug_e2e::build::{build_ok, cached_steps, context, write_files};
use tug_e2e::{TestRoot, text};

#[test]
fn the_cache_reruns_exactly_the_steps_whose_inputs_changed() {
    let t = TestRoot::with_busybox();
    let dockerfile = |run2: &str| {
        format!(
            "FROM busybox\nARG LEVEL=1\nENV MODE=fast\nCOPY app.txt /app/\nRUN cat /app/app.txt > /app/copy\n{run2}\nCOPY later.txt /app/\n"
        )
    };
    let dir = t.host_dir("ctx");
    let ctx = dir.display().to_string();
    write_files(
        &dir,
        &[
            (
                "Dockerfile",
                &dockerfile("RUN echo $LEVEL $MODE > /app/level"),
            ),
            ("app.txt", "v1\n"),
            ("later.txt", "later\n"),
            ("notes.tmp", "ignored\n"),
            (".dockerignore", "*.tmp\n"),
        ],
    );
    let first = cached_steps(&build_ok(&t, &["-t", "c:1", &ctx]));
    assert!(
        first.values().all(|c| !c),
        "a cold build runs everything: {first:?}"
    );
    let id1 = t.ok(&["image", "inspect", "-f", "{{.Id}}", "c:1"]);

    // Nothing changed (an ignored file did): everything cached, the same image.
    write_files(&dir, &[("notes.tmp", "changed\n")]);
    let again = cached_steps(&build_ok(&t, &["-t", "c:1", &ctx]));
    for step in [
        "COPY app.txt /app/",
        "RUN cat /app/app.txt > /app/copy",
        "COPY later.txt /app/",
    ] {
        assert_eq!(again.get(step), Some(&true), "{step}: {again:?}");
    }
    assert_eq!(t.ok(&["image", "inspect", "-f", "{{.Id}}", "c:1"]), id1);

    // One source file: its COPY and everything after run again, nothing before.
    write_files(&dir, &[("app.txt", "v2\n")]);
    let s = cached_steps(&build_ok(&t, &["-t", "c:1", &ctx]));
    assert!(!s["COPY app.txt /app/"], "{s:?}");
    assert!(!s["RUN cat /app/app.txt > /app/copy"], "{s:?}");
    assert!(!s["COPY later.txt /app/"], "{s:?}");
    assert_eq!(t.ok(&["run", "--rm", "c:1", "cat", "/app/copy"]), "v2\n");

    // A build arg: the steps after the ARG run again.
    let s = cached_steps(&build_ok(
        &t,
        &["-t", "c:1", "--build-arg", "LEVEL=2", &ctx],
    ));
    assert!(!s["COPY app.txt /app/"], "{s:?}");
    assert_eq!(
        t.ok(&["run", "--rm", "c:1", "cat", "/app/level"]),
        "2 fast\n"
    );

    // The instruction: only it and what follows.
    write_files(
        &dir,
        &[("Dockerfile", &dockerfile("RUN echo other > /app/level"))],
    );
    let s = cached_steps(&build_ok(&t, &["-t", "c:1", &ctx]));
    assert!(s["RUN cat /app/app.txt > /app/copy"], "{s:?}");
    assert!(!s["RUN echo other > /app/level"], "{s:?}");
    assert!(!s["COPY later.txt /app/"], "{s:?}");

    // An ENV value: everything after it.
    let env_changed = dockerfile("RUN echo other > /app/level").replace("MODE=fast", "MODE=slow");
    write_files(&dir, &[("Dockerfile", &env_changed)]);
    let s = cached_steps(&build_ok(&t, &["-t", "c:1", &ctx]));
    assert!(!s["COPY app.txt /app/"], "{s:?}");

    // --no-cache runs everything.
    let s = cached_steps(&build_ok(&t, &["-t", "c:1", "--no-cache", &ctx]));
    assert!(s.values().all(|c| !c), "{s:?}");

    // The intermediate images are hidden from `images`, shown by `images -a` (the
    // earlier results that lost the tag are listed, dangling), and `builder prune`
    // removes all the build made but the tagged image.
    let shown = t.ok(&["images", "-q"]);
    let all = t.ok(&["images", "-a", "-q"]);
    assert!(
        all.lines().count() > shown.lines().count(),
        "{shown} vs {all}"
    );
    let df = t.ok(&["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]);
    let cache_line = df.lines().find(|l| l.starts_with("Build Cache")).unwrap();
    assert_ne!(cache_line, "Build Cache 0", "{df}");
    t.ok(&["builder", "prune", "-f"]);
    let df = t.ok(&["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]);
    assert!(df.contains("Build Cache 0"), "{df}");
    assert_eq!(
        t.ok(&["images", "-a", "-q"]).lines().count(),
        2,
        "busybox and c:1"
    );
    assert_eq!(t.ok(&["run", "--rm", "c:1", "cat", "/app/copy"]), "v2\n");
    let s = cached_steps(&build_ok(&t, &["-t", "c:1", &ctx]));
    assert!(!s["COPY app.txt /app/"], "pruned: {s:?}");
}

#[test]
fn source_date_epoch_gives_the_same_digest_on_two_roots() {
    let files: &[(&str, &str)] = &[
        (
            "Dockerfile",
            "FROM busybox\nENV A=1\nCOPY . /src/\nRUN mkdir /made && echo x > /made/file\nCMD [\"ls\"]\n",
        ),
        ("a.txt", "a\n"),
        ("dir/b.txt", "b\n"),
    ];
    let digest = |t: &TestRoot| {
        let ctx = context(t, "ctx", files);
        let out = t
            .tug()
            .args(["build", "-q", "-t", "repro:1", &ctx])
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
        assert!(id.starts_with("sha256:"), "-q prints only the id: {id}");
        let created = t.ok(&["image", "inspect", "-f", "{{.Created}}", "repro:1"]);
        assert_eq!(created.trim(), "2023-11-14T22:13:20Z");
        id
    };
    let (a, b) = (TestRoot::with_busybox(), TestRoot::with_busybox());
    assert_eq!(digest(&a), digest(&b));
}

#[test]
fn cache_from_an_image_built_elsewhere_reuses_its_steps() {
    let files: &[(&str, &str)] = &[
        (
            "Dockerfile",
            "FROM busybox\nENV STAGE=one\nCOPY app.txt /app/\nRUN cat /app/app.txt > /app/out\nCMD [\"cat\", \"/app/out\"]\n",
        ),
        ("app.txt", "shared\n"),
    ];
    let a = TestRoot::with_busybox();
    let ctx_a = context(&a, "ctx", files);
    build_ok(&a, &["-t", "app:1", &ctx_a]);
    let id_a = a.ok(&["image", "inspect", "-f", "{{.Id}}", "app:1"]);
    let archive = a.path().join("app.tar");
    a.ok(&["save", "-o", archive.to_str().unwrap(), "app:1"]);

    // Another state root: the image arrives by `load`, without the build cache.
    let b = TestRoot::with_busybox();
    b.ok(&["load", "-i", archive.to_str().unwrap()]);
    let ctx_b = context(&b, "ctx", files);
    let s = cached_steps(&build_ok(
        &b,
        &["-t", "app:2", "--cache-from", "app:1", &ctx_b],
    ));
    assert!(s["COPY app.txt /app/"], "{s:?}");
    assert!(s["RUN cat /app/app.txt > /app/out"], "{s:?}");
    assert_eq!(b.ok(&["image", "inspect", "-f", "{{.Id}}", "app:2"]), id_a);
    assert_eq!(b.ok(&["run", "--rm", "app:2"]), "shared\n");

    // A changed file runs its COPY and what follows; the steps before stay cached.
    write_files(Path::new(&ctx_b), &[("app.txt", "changed\n")]);
    let s = cached_steps(&build_ok(
        &b,
        &["-t", "app:3", "--cache-from", "app:1", &ctx_b],
    ));
    assert!(!s["COPY app.txt /app/"], "{s:?}");
    assert_eq!(b.ok(&["run", "--rm", "app:3"]), "changed\n");
    // A cache source that cannot be had (here: a loopback port nothing listens on) is
    // skipped, as Docker does.
    build_ok(&b, &["--cache-from", "127.0.0.1:9/nosuch:1", &ctx_b]);
}

#[test]
fn rmi_deletes_the_untagged_parents_a_build_made_unless_no_prune() {
    let t = TestRoot::with_busybox();
    let base = "FROM busybox\nRUN echo a > /a\n";
    let one = context(
        &t,
        "one",
        &[(
            "Dockerfile",
            &format!("{base}RUN echo b > /b\nCMD [\"cat\", \"/b\"]\n"),
        )],
    );
    let two = context(
        &t,
        "two",
        &[("Dockerfile", &format!("{base}RUN echo c > /c\n"))],
    );
    build_ok(&t, &["-t", "one", &one]);
    build_ok(&t, &["-t", "two", &two]);
    let ids = |t: &TestRoot| {
        let mut v: Vec<String> = t
            .ok(&["images", "-a", "-q", "--no-trunc"])
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    let before = ids(&t);
    // busybox, `RUN echo a` (shared), one's `RUN echo b` and its CMD, two's `RUN echo c`.
    assert_eq!(before.len(), 5, "{before:?}");
    // one's own parent goes with it; the shared one has another child (two) and stays.
    let out = t.ok(&["rmi", "one"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Untagged: one:latest", "{out}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("Deleted: sha256:"))
            .count(),
        2,
        "the image and its `RUN echo b` parent: {out}"
    );
    assert_eq!(ids(&t).len(), 3, "{:?}", ids(&t));
    // --no-prune keeps the parent, which is now dangling and listed.
    let out = t.ok(&["rmi", "--no-prune", "two"]);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("Deleted:")).count(),
        1,
        "{out}"
    );
    let left = ids(&t);
    assert_eq!(left.len(), 2, "busybox and the shared parent: {left:?}");
    assert!(
        t.ok(&["images", "-q"]).lines().count() == 2,
        "the parent is dangling"
    );
    // An image with a name is never pruned as a parent.
    assert_eq!(t.ok(&["run", "--rm", "busybox", "true"]), "");
}
