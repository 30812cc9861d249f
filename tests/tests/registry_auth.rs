//! Registry auth: htpasswd Basic, the token flow, and `login`/`logout` with Docker's
//! config.json.

use tug_e2e::registry::{Auth, Registry, TokenServer, World, add_image, stderr};
use tug_e2e::{TestRoot, code, text};

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
fn login_without_docker_config_writes_home_docker_config_json() {
    let reg = Registry::start_with(Auth::Basic {
        user: "bob".into(),
        password: "pw".into(),
    });
    let t = TestRoot::new();
    let home = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str], stdin: &str| {
        let mut c = t.tug();
        c.env_remove("DOCKER_CONFIG")
            .env("HOME", home.path())
            .args(args);
        tug_e2e::output_with_stdin(c, stdin.as_bytes())
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
