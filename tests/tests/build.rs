//! `tug build`: what each instruction does to the image's config and files, multi-stage
//! builds, RUN's mounts and network, ADD's archives and URLs, failures and interruptions
//! that leave nothing behind, contexts and Dockerfiles from STDIN. The cache's tests are
//! in build_cache.rs. Over 600 lines on purpose: one short test per instruction or
//! behaviour of the Dockerfile reference, in its order.

use std::path::Path;

use tug_e2e::build::{build, build_ok, config, context, write_files};
use tug_e2e::{TestRoot, code, files_tar, stderr, text};

#[test]
fn config_instructions_land_in_the_image_config_as_docker_writes_them() {
    let t = TestRoot::with_busybox();
    let ctx = context(
        &t,
        "ctx",
        &[(
            "Dockerfile",
            r#"FROM busybox
ARG VERSION=1
ENV APP_HOME=/srv/app MODE=${VERSION}-prod
LABEL org.example.version=$VERSION maintainer="me"
WORKDIR $APP_HOME
WORKDIR sub
USER 1000:1000
EXPOSE 80 53/udp
VOLUME /data
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=2 CMD wget -q -O- localhost || exit 1
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["/bin/echo"]
CMD ["hello"]
ONBUILD RUN echo child
"#,
        )],
    );
    build_ok(&t, &["-t", "cfg:1", "--build-arg", "VERSION=2", &ctx]);
    let c = config(&t, "cfg:1");
    let env: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(env.contains(&"APP_HOME=/srv/app"), "{env:?}");
    assert!(env.contains(&"MODE=2-prod"), "{env:?}");
    assert!(
        !env.iter().any(|e| e.starts_with("VERSION=")),
        "ARG is not ENV: {env:?}"
    );
    assert_eq!(c["Labels"]["org.example.version"], "2");
    assert_eq!(c["Labels"]["maintainer"], "me");
    assert_eq!(c["WorkingDir"], "/srv/app/sub");
    assert_eq!(c["User"], "1000:1000");
    assert_eq!(
        c["ExposedPorts"],
        serde_json::json!({"80/tcp": {}, "53/udp": {}})
    );
    assert_eq!(c["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(c["StopSignal"], "SIGINT");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/echo"]));
    assert_eq!(c["Cmd"], serde_json::json!(["hello"]));
    assert_eq!(c["Shell"], serde_json::json!(["/bin/sh", "-ec"]));
    assert_eq!(c["OnBuild"], serde_json::json!(["RUN echo child"]));
    assert_eq!(
        c["Healthcheck"]["Test"],
        serde_json::json!(["CMD-SHELL", "wget -q -O- localhost || exit 1"])
    );
    assert_eq!(c["Healthcheck"]["Interval"], 5_000_000_000u64);
    // The image runs as its ENTRYPOINT and CMD say.
    assert_eq!(t.ok(&["run", "--rm", "cfg:1"]), "hello\n");
    // `history` has one entry per instruction, newest first, as Docker shows them.
    let history = t.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "cfg:1",
    ]);
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines[0], "ONBUILD RUN echo child");
    assert_eq!(lines[1], r#"CMD ["hello"]"#);
    assert_eq!(lines[2], r#"ENTRYPOINT ["/bin/echo"]"#);
    assert!(lines.contains(&"WORKDIR /srv/app/sub"), "{history}");
    assert!(lines.contains(&"ARG VERSION=1"), "{history}");

    // A child build runs the ONBUILD trigger first, and its image has none.
    let child = context(&t, "child", &[("Dockerfile", "FROM cfg:1\nCMD [\"x\"]\n")]);
    let progress = build_ok(&t, &["-t", "child:1", &child]);
    assert!(progress.contains("ONBUILD RUN echo child"), "{progress}");
    assert!(
        progress.contains(" child\n"),
        "the trigger's output: {progress}"
    );
    assert_eq!(config(&t, "child:1")["OnBuild"], serde_json::Value::Null);
}

#[test]
fn copy_and_add_write_files_as_docker_does() {
    let t = TestRoot::with_busybox();
    let ctx = context(
        &t,
        "ctx",
        &[
            (
                "Dockerfile",
                r#"FROM busybox
WORKDIR /app
COPY one.txt .
COPY one.txt /renamed.txt
COPY src/ /app/src/
COPY *.md /docs/
COPY --chown=1000:50 --chmod=600 one.txt /owned.txt
COPY <<EOF /etc/greeting
hello $HOSTNAME_FROM_ARG
EOF
ADD site.tar.gz /srv/
ADD site.tar.gz /kept/site.tar.gz.d/
RUN test ! -e /app/secret.key && test ! -e /app/src/tmp.log
"#,
            ),
            ("one.txt", "one\n"),
            ("src/a.rs", "fn a() {}\n"),
            ("src/deep/b.rs", "fn b() {}\n"),
            ("src/tmp.log", "noise\n"),
            ("README.md", "readme\n"),
            ("CHANGES.md", "changes\n"),
            ("secret.key", "s3cret\n"),
            (".dockerignore", "secret.key\n**/*.log\n"),
        ],
    );
    // A gzip'd tar for ADD to unpack.
    let tar = files_tar(&[("index.html", b"<h1>hi</h1>\n")], 0o644, 1_700_000_000);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    std::fs::write(Path::new(&ctx).join("site.tar.gz"), gz.finish().unwrap()).unwrap();

    // The same as bzip2 and xz, and a plain tar.
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    std::io::Write::write_all(&mut bz, &tar).unwrap();
    std::fs::write(Path::new(&ctx).join("site.tar.bz2"), bz.finish().unwrap()).unwrap();
    let mut xz = Vec::new();
    lzma_rs::xz_compress(&mut &tar[..], &mut xz).unwrap();
    std::fs::write(Path::new(&ctx).join("site.tar.xz"), xz).unwrap();
    std::fs::write(Path::new(&ctx).join("site.tar"), &tar).unwrap();
    let df = Path::new(&ctx).join("Dockerfile");
    let mut text = std::fs::read_to_string(&df).unwrap();
    text.push_str(
        "ADD site.tar.bz2 /bz/
ADD site.tar.xz /xz/
ADD site.tar /plain
",
    );
    std::fs::write(&df, text).unwrap();

    build_ok(&t, &["-t", "files:1", &ctx]);
    let sh = |script: &str| t.ok(&["run", "--rm", "files:1", "sh", "-c", script]);
    assert_eq!(
        sh("cat /bz/index.html /xz/index.html /plain/index.html"),
        "<h1>hi</h1>\n<h1>hi</h1>\n<h1>hi</h1>\n"
    );
    assert_eq!(sh("cat /app/one.txt /renamed.txt"), "one\none\n");
    assert_eq!(
        sh("find /app/src /docs | sort"),
        "/app/src\n/app/src/a.rs\n/app/src/deep\n/app/src/deep/b.rs\n/docs\n/docs/CHANGES.md\n/docs/README.md\n"
    );
    assert_eq!(
        sh("stat -c '%u:%g %a' /owned.txt /app/one.txt"),
        "1000:50 600\n0:0 644\n"
    );
    // The heredoc's $VAR is substituted by the builder (an unset one is empty).
    assert_eq!(sh("cat /etc/greeting"), "hello \n");
    assert_eq!(sh("cat /srv/index.html"), "<h1>hi</h1>\n");
    assert_eq!(sh("ls /kept/site.tar.gz.d"), "index.html\n");

    // A source that is not there names itself, the file, line and column.
    let bad = context(
        &t,
        "bad",
        &[("Dockerfile", "FROM busybox\nCOPY missing.txt /x\n")],
    );
    let out = build(&t, &["-t", "bad:1", &bad]);
    assert_ne!(code(&out), 0);
    let err = stderr(&out);
    assert!(err.contains("Dockerfile:2:1:"), "{err}");
    assert!(
        err.contains("missing.txt: not found in the build context"),
        "{err}"
    );
    // An excluded file is not in the context either.
    let ignored = context(
        &t,
        "ignored",
        &[
            ("Dockerfile", "FROM busybox\nCOPY secret.key /\n"),
            ("secret.key", "x"),
            (".dockerignore", "secret.key\n"),
        ],
    );
    let err = stderr(&build(&t, &[&ignored]));
    assert!(err.contains("excluded by .dockerignore"), "{err}");
}

#[test]
fn multi_stage_builds_only_what_the_target_needs() {
    let t = TestRoot::with_busybox();
    t.add_busybox("tools:1");
    let ctx = context(
        &t,
        "ctx",
        &[(
            "Dockerfile",
            r#"FROM busybox AS builder
RUN mkdir /out && echo built > /out/artifact

FROM busybox AS broken
RUN echo this stage must not run && exit 7

FROM scratch AS runtime
COPY --from=builder /out/artifact /artifact
COPY --from=tools:1 /bin/busybox /bin/busybox
COPY --from=0 /out /out-by-index

FROM runtime AS test
RUN ["/bin/busybox", "cat", "/artifact"]
"#,
        )],
    );
    let progress = build_ok(&t, &["-t", "ms:rt", "--target", "runtime", &ctx]);
    assert!(!progress.contains("must not run"), "{progress}");
    assert!(!progress.contains("RUN [\"/bin/busybox\""), "{progress}");
    // The runtime stage has the artifact and the other image's file, and nothing else.
    let out = t.ok(&[
        "run",
        "--rm",
        "ms:rt",
        "/bin/busybox",
        "cat",
        "/artifact",
        "/out-by-index/artifact",
    ]);
    assert_eq!(out, "built\nbuilt\n");
    let layers = t.inspect_first(&["image", "inspect", "ms:rt"])["RootFS"]["Layers"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(layers, 3, "three COPY layers on scratch");
    // As BuildKit: a stage whose base has no PATH gets the default one.
    assert_eq!(
        config(&t, "ms:rt")["Env"],
        serde_json::json!(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
    );
    // The last stage by default; it builds on the target stage's image.
    let progress = build_ok(&t, &["-t", "ms:test", &ctx]);
    assert!(
        progress.contains("built\n") || progress.contains(" built"),
        "{progress}"
    );
    // An unknown target is an error that names it.
    let err = stderr(&build(&t, &["--target", "nope", &ctx]));
    assert!(err.contains("\"nope\""), "{err}");
}

#[test]
fn a_failing_run_moves_no_tag_and_leaves_nothing_behind() {
    let t = TestRoot::with_busybox();
    let dir = t.host_dir("ctx");
    let ctx = dir.display().to_string();
    write_files(
        &dir,
        &[("Dockerfile", "FROM busybox\nRUN echo good > /good\n")],
    );
    build_ok(&t, &["-t", "app:1", &ctx]);
    let before_images = t.ok(&["images", "-a", "-q", "--no-trunc"]);
    let before_id = t.ok(&["image", "inspect", "-f", "{{.Id}}", "app:1"]);
    write_files(
        &dir,
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo good > /good\nRUN echo step one; echo oops >&2; \\\n    exit 3\nRUN echo never\n",
        )],
    );
    let out = build(&t, &["-t", "app:1", &ctx]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("Dockerfile:3: RUN failed"), "{err}");
    assert!(err.contains("returned a non-zero code: 3"), "{err}");
    assert!(
        err.contains("  oops"),
        "the last lines of its output: {err}"
    );
    assert!(!err.contains("never"), "{err}");
    // The tag still names the old image; no image, container or volume was added.
    assert_eq!(
        t.ok(&["image", "inspect", "-f", "{{.Id}}", "app:1"]),
        before_id
    );
    assert_eq!(t.ok(&["images", "-a", "-q", "--no-trunc"]), before_images);
    assert!(t.container_ids().is_empty(), "{:?}", t.container_ids());
    assert!(t.volume_names().is_empty());
    let scratch = t.root().join("build-tmp");
    let left: Vec<_> = std::fs::read_dir(&scratch)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    t.assert_nothing_mounted();

    // A RUN whose process cannot start fails the same way, with its line.
    for (df, want) in [
        (
            "FROM busybox\nUSER nobody2\nRUN id\n",
            "unable to find user nobody2",
        ),
        ("FROM busybox\nRUN [\"/nonexistent\"]\n", "/nonexistent"),
    ] {
        write_files(&dir, &[("Dockerfile", df)]);
        let out = build(&t, &["-t", "app:1", &ctx]);
        assert_eq!(code(&out), 1, "{}", text(&out));
        let err = stderr(&out);
        assert!(
            err.contains("RUN failed to start") && err.contains(want),
            "{err}"
        );
        assert!(t.container_ids().is_empty(), "{:?}", t.container_ids());
    }
    assert_eq!(
        t.ok(&["image", "inspect", "-f", "{{.Id}}", "app:1"]),
        before_id
    );
}

#[test]
fn contexts_and_dockerfiles_come_from_stdin() {
    let t = TestRoot::with_busybox();
    // A Dockerfile alone on STDIN: no context, heredocs still work.
    let out = t.run_with_stdin(
        &["build", "-q", "-t", "nocontext:1", "-"],
        b"FROM busybox\nCOPY <<EOF /hello\nhi\nEOF\nCMD [\"cat\", \"/hello\"]\n",
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(t.ok(&["run", "--rm", "nocontext:1"]), "hi\n");
    // ... and a COPY from the missing context says so.
    let out = t.run_with_stdin(&["build", "-"], b"FROM busybox\nCOPY a /a\n", &[]);
    assert!(
        stderr(&out).contains("there is no build context"),
        "{}",
        text(&out)
    );

    // A tar on STDIN is the context, with its Dockerfile inside.
    let tar = files_tar(
        &[
            (
                "Dockerfile",
                b"FROM busybox\nCOPY msg /msg\nCMD [\"cat\", \"/msg\"]\n",
            ),
            ("msg", b"from a tar\n"),
        ],
        0o644,
        1_700_000_000,
    );
    let out = t.run_with_stdin(&["build", "-q", "-t", "tarctx:1", "-"], &tar, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(t.ok(&["run", "--rm", "tarctx:1"]), "from a tar\n");

    // `-f -`: the Dockerfile from STDIN, the context from the dir.
    let ctx = context(&t, "ctx", &[("msg", "from the dir\n")]);
    let out = t.run_with_stdin(
        &["build", "-q", "-t", "stdinfile:1", "-f", "-", &ctx],
        b"FROM busybox\nCOPY msg /msg\n",
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        t.ok(&["run", "--rm", "stdinfile:1", "cat", "/msg"]),
        "from the dir\n"
    );
}

#[test]
fn bad_dockerfiles_say_where_and_change_nothing() {
    let t = TestRoot::with_busybox();
    let before = t.ok(&["images", "-a", "-q"]);
    for (df, want) in [
        ("FROM busybox\nRUNN echo\n", "Dockerfile:2:1:"),
        ("COPY a /a\n", "Dockerfile:1:1:"),
        ("FROM busybox\nEXPOSE 80/xyz\n", "Dockerfile:2:1:"),
        ("FROM busybox\nCOPY a b /notadir\n", "Dockerfile:2:1:"),
        (
            "FROM --platform=linux/s390x busybox\n",
            "--platform=linux/s390x",
        ),
    ] {
        let ctx = context(&t, "ctx", &[("Dockerfile", df), ("a", "a"), ("b", "b")]);
        let out = build(&t, &["-t", "bad:1", &ctx]);
        assert_ne!(code(&out), 0, "{df}");
        assert!(stderr(&out).contains(want), "{df}: {}", stderr(&out));
    }
    assert_eq!(t.ok(&["images", "-a", "-q"]), before);
    // The automatic platform args name this machine's platform.
    let ctx = context(
        &t,
        "platform",
        &[(
            "Dockerfile",
            "FROM --platform=$BUILDPLATFORM busybox\nARG TARGETARCH\nRUN test -n \"$TARGETARCH\"\n",
        )],
    );
    let id = t.ok(&["build", "-q", &ctx]);
    // An untagged result is listed (`<none>`), as Docker lists it; its intermediate
    // images are not.
    let listed = t.ok(&["images", "-q", "--no-trunc"]);
    assert!(listed.contains(id.trim()), "{id} in {listed}");
    assert_eq!(
        listed.lines().count(),
        2,
        "busybox and the result: {listed}"
    );
    let out = t.run(&["build", "/nonexistent-dir"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("/nonexistent-dir"), "{}", text(&out));
}

#[test]
fn run_steps_see_the_workdir_user_network_and_mounts_they_ask_for() {
    let t = TestRoot::with_busybox();
    let ctx = context(
        &t,
        "ctx",
        &[
            (
                "Dockerfile",
                r#"FROM busybox
WORKDIR /new/dir
RUN pwd > /pwd && stat -c %a /new/dir > /mode
USER 1000:1000
RUN id -u > /tmp/uid
USER root
RUN --network=none ip -o link | wc -l > /links
RUN --mount=type=tmpfs,target=/scratch touch /scratch/x && ls /scratch > /tmpfs-seen
RUN --mount=type=bind,source=data,target=/ctx cat /ctx/in.txt > /bound && ! touch /ctx/new 2>/dev/null
RUN --mount=type=cache,target=/cache,uid=1000 echo run >> /cache/log && wc -l < /cache/log > /cache-count
RUN <<EOF
echo one > /heredoc
echo two >> /heredoc
EOF
RUN cat <<A > /a && cat <<-B > /b
first
A
	second
	B
"#,
            ),
            ("data/in.txt", "from the context\n"),
        ],
    );
    build_ok(&t, &["-t", "runs:1", &ctx]);
    let cat = |f: &str| t.ok(&["run", "--rm", "runs:1", "cat", f]);
    assert_eq!(cat("/pwd"), "/new/dir\n");
    assert_eq!(
        cat("/mode"),
        "755\n",
        "a missing WORKDIR is made 0755, as Docker"
    );
    assert_eq!(cat("/tmp/uid"), "1000\n");
    assert_eq!(cat("/links").trim(), "1", "--network=none: only lo");
    assert_eq!(cat("/tmpfs-seen"), "x\n");
    assert_eq!(cat("/bound"), "from the context\n");
    assert_eq!(cat("/cache-count").trim(), "1");
    assert_eq!(cat("/heredoc"), "one\ntwo\n");
    assert_eq!(
        t.ok(&["run", "--rm", "runs:1", "cat", "/a", "/b"]),
        "first\nsecond\n"
    );
    // The tmpfs and the cache were mounts: not in the image.
    let out = t.run(&["run", "--rm", "runs:1", "ls", "/scratch/x", "/cache/log"]);
    assert_ne!(code(&out), 0);
    // The cache mount keeps its content from build to build, also with --no-cache.
    build_ok(&t, &["-t", "runs:1", "--no-cache", &ctx]);
    assert_eq!(cat("/cache-count").trim(), "2");
    // The context was not written to.
    assert!(!Path::new(&ctx).join("data/new").exists());

    // A mount tug does not build is refused, with the line.
    let secret = context(
        &t,
        "secret",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN --mount=type=secret,id=k cat /run/secrets/k\n",
        )],
    );
    let err = stderr(&build(&t, &[&secret]));
    assert!(err.contains("Dockerfile:2:1:"), "{err}");
    assert!(err.contains("type=secret is not supported"), "{err}");
}

/// Serves `body` over HTTP/1.0 on a loopback port for `requests` requests; returns
/// the port.
fn serve(body: &'static [u8], requests: usize) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut s, &mut buf);
            let head = format!(
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n",
                body.len()
            );
            let _ = std::io::Write::write_all(&mut s, head.as_bytes());
            let _ = std::io::Write::write_all(&mut s, body);
        }
    });
    port
}

#[test]
fn add_fetches_urls_and_checks_their_checksum() {
    let t = TestRoot::with_busybox();
    let body: &'static [u8] = b"remote content\n";
    let port = serve(body, 2);
    let sum = tug_e2e::sha256_hex(body);
    let ctx = context(
        &t,
        "ctx",
        &[(
            "Dockerfile",
            &format!(
                "FROM busybox\nADD --checksum=sha256:{sum} http://127.0.0.1:{port}/files/notes.txt /srv/\n"
            ),
        )],
    );
    build_ok(&t, &["-t", "url:1", &ctx]);
    assert_eq!(
        t.ok(&[
            "run",
            "--rm",
            "url:1",
            "sh",
            "-c",
            "cat /srv/notes.txt; stat -c %a /srv/notes.txt"
        ]),
        "remote content\n600\n"
    );
    let bad = context(
        &t,
        "bad",
        &[(
            "Dockerfile",
            &format!(
                "FROM busybox\nADD --checksum=sha256:{} http://127.0.0.1:{port}/x /x\n",
                "0".repeat(64)
            ),
        )],
    );
    let err = stderr(&build(&t, &["-t", "url:2", &bad]));
    assert!(err.contains("Dockerfile:2:1:"), "{err}");
    assert!(err.contains("digest mismatch"), "{err}");
}

#[test]
fn an_interrupted_build_stops_and_cleans_up() {
    use std::time::Duration;
    let t = TestRoot::with_busybox();
    let ctx = context(
        &t,
        "ctx",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo started; sleep 60\nRUN echo never\n",
        )],
    );
    let mut child = t
        .tug()
        .args(["build", "--progress", "plain", "-t", "int:1", &ctx])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Running (its shim started): Ctrl-C in the few milliseconds between the create
    // and the shim's start would leave a created container (see the note in #10).
    tug_e2e::wait_for("the RUN container", Duration::from_secs(20), || {
        !t.ok(&["ps", "-q"]).trim().is_empty()
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status}");
    // The shim saw its owner go: the container is stopped and removed.
    tug_e2e::wait_for("the RUN container to go", Duration::from_secs(20), || {
        t.container_ids().is_empty()
    });
    assert_ne!(code(&t.run(&["image", "inspect", "int:1"])), 0, "no tag");
    let scratch = t.root().join("build-tmp");
    let left: Vec<_> = std::fs::read_dir(&scratch)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    t.assert_nothing_mounted();
}
