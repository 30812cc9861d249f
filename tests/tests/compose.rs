//! `tug compose` end to end: the workshop notes' compose files, a three-tier project whose
//! app starts only once its database is healthy, convergence on a second `up`, replicas,
//! `down -v` leaving nothing, and bad files refused with file:line errors.

use std::time::Duration;

use tug_e2e::compose::{Project, ids, stdout, user_networks};
use tug_e2e::{TestRoot, code, stderr, text, tug_bin, wait_for};

#[test]
fn the_notes_registry_file_runs_with_its_named_volume_and_bind_mount() {
    let t = TestRoot::with_busybox();
    // The notes' file as written, with a local image and a command that shows its
    // mounts; port 5000 moved off the loopback registry's.
    let p = Project::new(
        &t,
        "registry",
        "\
version: '3'

services:

  registry:
    image: busybox
    command: sh -c 'cat /etc/docker/registry/config.yml; echo kept > /var/lib/registry/f; sleep 1000'
    ports:
      - 15000:5000
    volumes:
      - data:/var/lib/registry
      - ./config.yml:/etc/docker/registry/config.yml

volumes:
  data:
",
    );
    p.write("config.yml", "version: 0.1\n");
    p.ok(&["up", "-d"]);
    assert_eq!(p.running(), ["registry-registry-1"]);
    wait_for("the config in the logs", Duration::from_secs(10), || {
        p.ok(&["logs", "registry"])
            .contains("registry-registry-1  | version: 0.1")
    });
    assert!(t.volume_names().contains(&"registry_data".to_string()));
    assert_eq!(p.ok(&["port", "registry", "5000"]).trim(), "0.0.0.0:15000");
    // The volume outlives the container without -v ...
    p.ok(&["down", "-t", "1"]);
    assert!(t.container_ids().is_empty());
    assert_eq!(t.volume_names(), ["registry_data"]);
    // ... and goes with it.
    p.ok(&["down", "-v"]);
    assert!(t.volume_names().is_empty());
}

/// `n` requests to `url`: how many each distinct answer got.
fn answers(url: &str, n: usize) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for _ in 0..n {
        let o = std::process::Command::new("busybox")
            .args(["wget", "-q", "-O-", url])
            .output()
            .expect("busybox wget");
        *out.entry(String::from_utf8_lossy(&o.stdout).trim().to_string())
            .or_default() += 1;
    }
    out
}

/// Serves the container's hostname on port 80.
const HOSTNAME_SERVER: &str =
    "sh -c 'mkdir /www; hostname > /www/index.html; exec httpd -f -p 80 -h /www'";

#[test]
fn the_notes_web_file_runs_five_replicas_behind_one_port() {
    let t = TestRoot::with_busybox();
    let p = Project::new(
        &t,
        "getstarted",
        &format!(
            "\
version: \"3\"
services:
  web:
    image: busybox
    command: {HOSTNAME_SERVER}
    deploy:
      replicas: 5
      resources:
        limits:
          cpus: \"0.1\"
          memory: 50M
      restart_policy:
        condition: on-failure
    ports:
      - \"14000:80\"
    networks:
      - webnet
networks:
  webnet:
"
        ),
    );
    p.ok(&["up", "-d"]);
    let c = "getstarted-web-1";
    assert_eq!(t.inspect_f(c, "{{.HostConfig.Memory}}"), "52428800");
    assert_eq!(t.inspect_f(c, "{{.HostConfig.NanoCpus}}"), "100000000");
    assert_eq!(
        t.inspect_f(c, "{{.HostConfig.RestartPolicy.Name}}"),
        "on-failure"
    );
    assert_eq!(user_networks(&t), ["getstarted_webnet"]);
    let listed = t.ok(&[
        "ps",
        "--filter",
        "label=com.docker.compose.project=getstarted",
        "-q",
    ]);
    assert_eq!(listed.lines().count(), 5);
    // Port 14000 is answered by every replica, in turn (the kernel balances it).
    let url = "http://127.0.0.1:14000/";
    wait_for("five replicas answering", Duration::from_secs(20), || {
        answers(url, 10).len() == 5
    });
    let counts = answers(url, 100);
    assert_eq!(counts.len(), 5, "{counts:?}");
    assert!(counts.values().all(|n| *n == 20), "round robin: {counts:?}");
    // A replica that stops leaves the set; one that starts joins it.
    t.ok(&["stop", "-t", "1", "getstarted-web-2"]);
    assert_eq!(answers(url, 20).len(), 4);
    t.ok(&["start", "getstarted-web-2"]);
    wait_for("the replica back", Duration::from_secs(10), || {
        answers(url, 10).len() == 5
    });
    p.ok(&["down", "-t", "1"]);
    assert!(user_networks(&t).is_empty());
    assert!(
        answers(url, 1).contains_key(""),
        "nothing answers once down"
    );
}

const THREE_TIER: &str = "\
services:
  web:
    image: busybox
    command: sh -c 'sleep 1000'
    depends_on: [app]
  app:
    image: busybox
    command: sh -c 'mkdir -p /www && echo app-answer > /www/index.html && httpd -f -p 80 -h /www'
    depends_on:
      db:
        condition: service_healthy
        restart: true
  db:
    image: busybox
    command: sh -c 'sleep 2; touch /tmp/ready; sleep 1000'
    environment:
      ROLE: db
    healthcheck:
      test: [CMD, test, -f, /tmp/ready]
      interval: 1s
";

#[test]
fn app_starts_only_after_db_is_healthy_and_web_reaches_it_by_name() {
    let t = TestRoot::with_busybox();
    let p = Project::new(&t, "tiers", THREE_TIER);
    let out = p.run(&["up", "-d"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    let pos = |s: &str| err.find(s).unwrap_or_else(|| panic!("{s:?} not in {err}"));
    assert!(
        pos("tiers-db-1  Healthy") < pos("tiers-app-1  Starting"),
        "{err}"
    );
    assert!(
        pos("tiers-app-1  Started") < pos("tiers-web-1  Starting"),
        "{err}"
    );
    let started = |c: &str| t.inspect_f(c, "{{.State.StartedAt}}");
    assert!(started("tiers-app-1") > started("tiers-db-1"));
    // Services resolve by name on the project's network.
    let answer = || p.run(&["exec", "-T", "web", "wget", "-q", "-O-", "http://app/"]);
    wait_for("app answering web", Duration::from_secs(10), || {
        stdout(&answer()).contains("app-answer")
    });
    assert_eq!(p.running(), ["tiers-app-1", "tiers-db-1", "tiers-web-1"]);
    // The service's healthcheck is the container's, run by its shim.
    assert_eq!(
        t.inspect_f("tiers-db-1", "{{.State.Health.Status}}"),
        "healthy"
    );
    assert!(
        t.ok(&["ps", "--filter", "name=tiers-db-1"])
            .contains("(healthy)")
    );
}

/// Compose's `start_interval` (Docker 25+): while a container is starting within its
/// `start_period`, its check runs every start interval, so a chain of `service_healthy`
/// dependencies whose checks have an hour's `interval` comes up within `--wait-timeout`
/// (a minute), which the interval alone could never allow.
#[test]
fn checks_run_at_the_start_interval_within_the_start_period() {
    let t = TestRoot::with_busybox();
    let service = |name: &str, dep: &str| {
        format!(
            "  {name}:
    image: busybox
    command: sleep 1000
    stop_grace_period: 0s
    healthcheck:
      test: [CMD, 'true']
      interval: 1h
      start_period: 1h
      start_interval: 100ms
{dep}"
        )
    };
    let file = format!(
        "services:\n{}{}",
        service("db", ""),
        service(
            "app",
            "    depends_on: {db: {condition: service_healthy}}\n"
        )
    );
    let p = Project::new(&t, "quick", &file);
    let out = p.run(&["up", "-d", "--wait", "--wait-timeout", "60"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    for c in ["quick-db-1", "quick-app-1"] {
        assert_eq!(t.inspect_f(c, "{{.State.Health.Status}}"), "healthy");
    }
}

#[test]
fn an_unhealthy_dependency_fails_up_before_its_dependents_start() {
    let t = TestRoot::with_busybox();
    let p = Project::new(
        &t,
        "sick",
        "\
services:
  app:
    image: busybox
    command: sleep 1000
    depends_on:
      db: {condition: service_healthy}
  db:
    image: busybox
    command: sleep 1000
    stop_grace_period: 1s
    healthcheck:
      test: [CMD-SHELL, echo no database here; false]
      interval: 1s
      retries: 1
",
    );
    let out = p.run(&["up", "-d"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        stderr(&out).contains("tug: container sick-db-1 is unhealthy: no database here"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        p.ok(&["ps", "-a", "--services"]),
        "db\n",
        "app was never created"
    );
}

#[test]
fn a_second_up_converges_keeping_unchanged_and_recreating_changed() {
    let t = TestRoot::with_busybox();
    let p = Project::new(&t, "conv", THREE_TIER);
    p.ok(&["up", "-d"]);
    let before = ids(&p);
    p.ok(&["up", "-d"]);
    assert_eq!(
        ids(&p),
        before,
        "an unchanged project is left running as it is"
    );
    let db_id = p.ok(&["ps", "-q", "db"]);
    let app_id = p.ok(&["ps", "-q", "app"]);
    let app_started = t.inspect_f("conv-app-1", "{{.State.StartedAt}}");
    p.write(
        "compose.yml",
        &THREE_TIER.replace("ROLE: db", "ROLE: database"),
    );
    let out = p.run(&["up", "-d", "-t", "1"]);
    assert!(
        stderr(&out).contains("conv-db-1  Recreate"),
        "{}",
        stderr(&out)
    );
    assert_ne!(p.ok(&["ps", "-q", "db"]), db_id);
    // app's `depends_on` says `restart: true`: the same container, started again.
    assert!(
        stderr(&out).contains("conv-app-1  Restarting"),
        "{}",
        stderr(&out)
    );
    assert_eq!(p.ok(&["ps", "-q", "app"]), app_id);
    assert_ne!(
        t.inspect_f("conv-app-1", "{{.State.StartedAt}}"),
        app_started
    );
    assert!(
        t.inspect_f("conv-db-1", "{{json .Config.Env}}")
            .contains("ROLE=database")
    );
    // A service dropped from the file is an orphan: warned about, then removed.
    p.write(
        "compose.yml",
        &THREE_TIER.replace("    depends_on: [app]\n", "").replace(
            "  web:\n    image: busybox\n    command: sh -c 'sleep 1000'\n",
            "",
        ),
    );
    let out = p.run(&["up", "-d"]);
    assert!(
        stderr(&out).contains("orphan containers ([conv-web-1])"),
        "{}",
        stderr(&out)
    );
    p.ok(&["up", "-d", "-t", "1", "--remove-orphans"]);
    assert_eq!(p.running(), ["conv-app-1", "conv-db-1"]);
}

#[test]
fn scale_without_a_fixed_port_runs_every_replica() {
    let t = TestRoot::with_busybox();
    let p = Project::new(
        &t,
        "scaled",
        "services:\n  web:\n    image: busybox\n    command: httpd -f -p 80\n    ports: ['80']\n",
    );
    p.ok(&["up", "-d", "--scale", "web=3"]);
    assert_eq!(
        p.running(),
        ["scaled-web-1", "scaled-web-2", "scaled-web-3"]
    );
    for i in 1..=3 {
        let port = p.ok(&["port", "--index", &i.to_string(), "web", "80"]);
        assert!(port.trim().starts_with("0.0.0.0:"), "{port}");
    }
    p.ok(&["up", "-d", "-t", "1", "--scale", "web=1"]);
    assert_eq!(p.running(), ["scaled-web-1"]);
}

#[test]
fn down_v_leaves_nothing_behind() {
    let t = TestRoot::with_busybox();
    let p = Project::new(
        &t,
        "leak",
        "\
services:
  a:
    image: busybox
    command: sleep 1000
    volumes: [named:/n, /anon]
    networks: [front, back]
  b:
    image: busybox
    command: sleep 1000
networks:
  front:
  back:
volumes:
  named:
",
    );
    p.ok(&["up", "-d"]);
    assert_eq!(
        t.volume_names().len(),
        2,
        "the named and the anonymous volume"
    );
    let mut nets = user_networks(&t);
    nets.sort();
    assert_eq!(nets, ["leak_back", "leak_default", "leak_front"]);
    // A one-off container goes with the project too.
    p.ok(&["run", "-d", "b", "sleep", "100"]);
    p.ok(&["down", "-v", "-t", "1"]);
    assert!(t.container_ids().is_empty());
    assert!(user_networks(&t).is_empty());
    assert!(t.volume_names().is_empty());
    t.assert_nothing_mounted();
}

#[test]
fn bad_files_name_file_and_line_and_change_nothing() {
    let t = TestRoot::with_busybox();
    let p = Project::new(
        &t,
        "bad",
        "services:\n  web:\n    image: busybox\n    command: sleep 1\n    portz: ['80']\n",
    );
    let out = p.run(&["up", "-d"]);
    assert_eq!(code(&out), 125);
    assert_eq!(
        stderr(&out).trim(),
        "tug: compose.yml:5: services.web.portz: unknown key \"portz\""
    );
    p.write(
        "compose.yml",
        "services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n",
    );
    let out = p.run(&["config"]);
    assert!(
        stderr(&out)
            .contains("compose.yml:4: services.a.depends_on: dependency cycle: a -> b -> a"),
        "{}",
        stderr(&out)
    );
    assert!(t.container_ids().is_empty());
    assert!(user_networks(&t).is_empty());
}

#[test]
fn config_prints_the_normalised_model_and_tug_compose_is_the_same_command() {
    let t = TestRoot::new();
    let p = Project::new(
        &t,
        "cfg",
        "version: '3'\nservices:\n  web:\n    image: busybox:${TAG:-latest}\n    ports: ['8080:80']\n  db:\n    image: busybox\n",
    );
    p.write(
        "override.yml",
        "services:\n  web:\n    environment: [A=1]\n",
    );
    let out = p.ok(&[
        "-f",
        "compose.yml",
        "-f",
        "override.yml",
        "-p",
        "demo",
        "config",
    ]);
    insta::assert_snapshot!(out);
    assert_eq!(p.ok(&["config", "--services"]), "db\nweb\n");
    // `tug-compose` (a link to tug) takes `tug compose`'s arguments.
    let link = t.path().join("tug-compose");
    std::os::unix::fs::symlink(tug_bin(), &link).unwrap();
    let out = std::process::Command::new(&link)
        .current_dir(&p.dir)
        .envs(t.envs())
        .args(["config", "--services"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "db\nweb\n", "{}", text(&out));
}
