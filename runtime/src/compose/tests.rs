//! Loading whole projects: `config` output snapshots (the workshop notes' compose files
//! and more), merging, interpolation from `.env`, and file:line errors.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;

/// Writes `files` into a fresh project dir named `app` and loads it with `-f` of those
/// whose name ends in `.yml` (in the given order), plus `env`.
pub(super) fn load_files(files: &[(&str, &str)], env: &[(&str, &str)]) -> Result<Project, Error> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("app");
    std::fs::create_dir(&dir).unwrap();
    let mut compose = Vec::new();
    for (name, text) in files {
        if let Some(parent) = dir.join(name).parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(dir.join(name), text).unwrap();
        if name.ends_with(".yml") {
            compose.push(dir.join(name));
        }
    }
    let opts = LoadOptions {
        files: compose,
        environ: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        cwd: dir.clone(),
        ..Default::default()
    };
    let mut p = load(&opts)?;
    // Snapshots show paths under the project dir as `/project`.
    let dir_s = dir.display().to_string();
    p.working_dir = Path::new("/project").into();
    let fix = |s: &mut String| *s = s.replace(&dir_s, "/project");
    for s in p.services.values_mut() {
        for m in &mut s.volumes {
            if let Some(src) = &mut m.source {
                fix(src);
            }
        }
        if let Some(b) = &mut s.build {
            fix(&mut b.context);
        }
    }
    Ok(p)
}

fn config(files: &[(&str, &str)]) -> String {
    config_yaml(&load_files(files, &[]).unwrap_or_else(|e| panic!("{e}")))
}

fn error(files: &[(&str, &str)]) -> String {
    load_files(files, &[]).unwrap_err().to_string()
}

/// The registry of the notes (002): a named volume and a bind-mounted `./config.yml`.
const REGISTRY: &str = "\
version: '3'

services:

  registry:
    image: registry
    ports:
      - 5000:5000
    volumes:
      - data:/var/lib/registry
      - ./config.yml:/etc/docker/registry/config.yml

volumes:
  data:
";

/// The web service of the notes (003), with the `webnet` network it names declared.
const WEB: &str = "\
version: \"3\"
services:
  web:
    # replace username/repo:tag with your name and image details
    image: username/repo:tag
    deploy:
      replicas: 5
      resources:
        limits:
          cpus: \"0.1\"
          memory: 50M
      restart_policy:
        condition: on-failure
    ports:
      - \"4000:80\"
    networks:
      - webnet
networks:
  webnet:
";

#[test]
fn config_of_the_registry_notes() {
    insta::assert_snapshot!(config(&[("docker-compose.yml", REGISTRY)]));
}

#[test]
fn config_of_the_web_notes() {
    insta::assert_snapshot!(config(&[("docker-compose.yml", WEB)]));
}

#[test]
fn config_of_a_three_tier_project_with_anchors() {
    let text = "\
x-common: &common
  restart: unless-stopped
  environment:
    TIER: common
services:
  web:
    <<: *common
    build: ./web
    command: sh -c 'httpd -f -p 80'
    ports: ['127.0.0.1:8080:80', '9000-9001:9000-9001/udp']
    depends_on: [app]
    healthcheck:
      test: wget -q -O- http://localhost/
      interval: 1m30s
      timeout: 10s
      retries: 3
  app:
    <<: *common
    image: busybox
    entrypoint: [/bin/sh, -c]
    command: ['echo app; sleep 1000']
    environment:
      - DB=db:5432
      - EMPTY
    depends_on:
      db:
        condition: service_healthy
        restart: true
    networks:
      back:
        aliases: [api]
      default:
  db:
    image: busybox
    stop_grace_period: 30s
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 64}
    volumes:
      - type: tmpfs
        target: /tmp
      - /anon
      - dbdata:/data:ro
    healthcheck:
      test: [CMD, test, -f, /tmp/ready]
      start_period: 5s
    networks: [back]
networks:
  back:
    ipam:
      config:
        - subnet: 10.99.0.0/24
volumes:
  dbdata:
    external: true
";
    insta::assert_snapshot!(config(&[("compose.yml", text)]));
}

#[test]
fn override_files_merge_and_env_interpolates() {
    let base = "\
name: ${NAME:-demo}
services:
  web:
    image: busybox:${TAG:?the tag is needed}
    environment: [A=1, B=$$notvar]
    ports: ['${PORT-80}:80']
";
    let over = "\
services:
  web:
    environment: {A: 2}
    labels: [team=x]
  extra:
    image: busybox
    profiles: [debug]
";
    let p = load_files(
        &[
            (".env", "TAG=1.36\nPORT=8080\n"),
            ("a.yml", base),
            ("b.yml", over),
        ],
        &[("PORT", "9090")],
    )
    .unwrap();
    insta::assert_snapshot!(config_yaml(&p));
    let e = load_files(&[("a.yml", base)], &[]).unwrap_err().to_string();
    assert_eq!(
        e,
        "a.yml:4: services.web.image: required variable TAG is missing a value: the tag is needed"
    );
}

#[test]
fn bad_files_name_file_line_and_key() {
    let cases = [
        "services:\n  web:\n    image: x\n    imagee: y\n",
        "services:\n  web:\n    image: x\n    ports:\n      - 80:80\n      - target: 81\n        publishd: 1\n",
        "services:\n  web:\n    image: x\n    deploy:\n      replicas: many\n",
        "services:\n  web:\n    image: x\n    depends_on: [db]\n",
        "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n",
        "services:\n  web:\n    image: x\n    networks: [nope]\n",
        "services:\n  web:\n    image: x\n    volumes: ['data:/d']\n",
        "services:\n  web:\n    build: {context: ., dockerfile: D, dockerfile_inline: x}\n",
        "services:\n  web:\n    command: x\n",
        "services:\n  web:\n    image: x\n    ports: ['99999:80']\n",
        "services:\n  web:\n    image: [x\n",
        "services:\n  web:\n    image: x\n    healthcheck:\n      interval: soon\n",
        "volumes: {data: {}}\nbogus: 1\n",
    ];
    let out: Vec<String> = cases.iter().map(|c| error(&[("compose.yml", c)])).collect();
    insta::assert_snapshot!(out.join("\n"));
}

#[test]
fn project_names_come_from_flag_env_file_or_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("My_App");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("compose.yaml"), "services: {a: {image: x}}\n").unwrap();
    let mut opts = LoadOptions {
        cwd: dir.clone(),
        ..Default::default()
    };
    assert_eq!(load(&opts).unwrap().name, "my_app");
    std::fs::write(
        dir.join("compose.yaml"),
        "name: Named\nservices: {a: {image: x}}\n",
    )
    .unwrap();
    assert_eq!(load(&opts).unwrap().name, "named");
    opts.environ = BTreeMap::from([("COMPOSE_PROJECT_NAME".into(), "fromenv".into())]);
    assert_eq!(load(&opts).unwrap().name, "fromenv");
    opts.project_name = Some("flag".into());
    assert_eq!(load(&opts).unwrap().name, "flag");
    opts.project_name = Some("Bad Name".into());
    assert!(matches!(load(&opts), Err(Error::BadName(_))));
    let p = load(&LoadOptions {
        cwd: tmp.path().into(),
        ..Default::default()
    });
    assert!(matches!(p, Err(Error::NoFile(_))));
}

#[test]
fn services_become_create_options() {
    let p = load_files(&[("docker-compose.yml", WEB)], &[]).unwrap();
    let o = create_options(&p, "web", 3, "username/repo:tag").unwrap();
    assert_eq!(o.name.as_deref(), Some("app-web-3"));
    assert_eq!(o.network, "app_webnet");
    assert_eq!(o.network_aliases, vec!["web".to_string()]);
    assert_eq!(o.resources.nano_cpus, 100_000_000);
    assert_eq!(o.resources.memory, 50 << 20);
    assert_eq!(o.restart_policy.name, "on-failure");
    assert_eq!(o.publish.len(), 1);
    assert!(
        o.labels
            .contains(&"com.docker.compose.project=app".to_string())
    );
    assert!(
        o.labels
            .contains(&"com.docker.compose.container-number=3".to_string())
    );
    // The hash ignores the replica count, and changes with what a container is.
    let mut q = p.clone();
    q.services
        .get_mut("web")
        .unwrap()
        .deploy
        .as_mut()
        .unwrap()
        .replicas = Some(2);
    assert_eq!(config_hash(&p, "web"), config_hash(&q, "web"));
    q.services.get_mut("web").unwrap().image = Some("other".into());
    assert_ne!(config_hash(&p, "web"), config_hash(&q, "web"));
    assert_eq!(
        start_order(&p, &["web".to_string()], false),
        vec!["web".to_string()]
    );
}

#[test]
fn entrypoints_mounts_and_port_groups_become_create_options() {
    let p = load_files(
        &[(
            "compose.yml",
            "\
services:
  s:
    image: busybox
    entrypoint: [sh, -c]
    command: ['echo hi']
    volumes: ['data:/data:ro', './here:/here', /anon]
    ports: ['8080:80', '127.0.0.1:8443:443']
    environment: [SET=1, UNSET]
  free:
    image: busybox
    entrypoint: []
    ports: ['80', '9000-9001:9000-9001']
volumes:
  data:
",
        )],
        &[],
    )
    .unwrap();
    let o = create_options(&p, "s", 1, "busybox").unwrap();
    assert_eq!(o.entrypoint.as_deref(), Some("sh"));
    assert_eq!(o.command, vec!["-c".to_string(), "echo hi".to_string()]);
    assert_eq!(
        o.env,
        vec!["SET=1".to_string()],
        "an unset variable is left out"
    );
    let m = &o.mounts;
    assert_eq!(
        (m[0].source.as_deref(), m[0].read_only),
        (Some("app_data"), true)
    );
    assert_eq!(m[1].source.as_deref(), Some("/project/here"), "{m:?}");
    assert_eq!(
        (m[2].source.as_deref(), m[2].target.as_str()),
        (None, "/anon")
    );
    assert_eq!(
        o.port_group.as_deref(),
        Some("app_s"),
        "fixed ports are shared by replicas"
    );
    let f = create_options(&p, "free", 2, "busybox").unwrap();
    assert_eq!(
        f.entrypoint.as_deref(),
        Some(""),
        "an empty list clears the image's"
    );
    assert_eq!(
        f.port_group, None,
        "a free port or a range is one container's"
    );
    assert_eq!(f.name.as_deref(), Some("app-free-2"));
}

#[test]
fn extends_builds_a_service_on_another() {
    let p = load_files(
        &[
            (
                "common.yaml",
                "services:\n  base:\n    image: busybox\n    environment: {A: '1', B: '1'}\n    ports: ['80']\n",
            ),
            (
                "compose.yml",
                "\
services:
  web:
    extends: {file: common.yaml, service: base}
    environment: {B: '2'}
  worker:
    extends: web
    command: work
",
            ),
        ],
        &[],
    )
    .unwrap();
    let web = &p.services["web"];
    assert_eq!(web.image.as_deref(), Some("busybox"));
    assert_eq!(web.environment["A"].as_deref(), Some("1"));
    assert_eq!(web.environment["B"].as_deref(), Some("2"));
    assert_eq!(web.ports.len(), 1);
    let worker = &p.services["worker"];
    assert_eq!(worker.environment["B"].as_deref(), Some("2"));
    assert_eq!(worker.command, Some(vec!["work".to_string()]));
    assert!(
        !p.services.contains_key("base"),
        "the other file's services stay there"
    );
    let e = error(&[(
        "compose.yml",
        "services:\n  a:\n    extends: b\n    image: x\n  b:\n    extends: a\n    image: x\n",
    )]);
    assert_eq!(
        e,
        "compose.yml:3: services.a.extends: extends cycle through \"a\""
    );
    let e = error(&[("compose.yml", "services:\n  a:\n    extends: nope\n")]);
    assert_eq!(
        e,
        "compose.yml:3: services.a.extends: extends undefined service \"nope\""
    );
}

#[test]
fn include_brings_other_files_resources_with_their_own_paths() {
    let p = load_files(
        &[
            (
                "compose.yml",
                "include:\n  - sub/db.yaml\nservices:\n  web:\n    image: busybox\n    depends_on: [db]\n",
            ),
            (
                "sub/db.yaml",
                "\
services:
  db:
    build: .
    volumes: ['./data:/data', 'dbdata:/var/lib/db']
volumes:
  dbdata:
",
            ),
        ],
        &[],
    );
    let p = p.unwrap_or_else(|e| panic!("{e}"));
    let db = &p.services["db"];
    assert_eq!(db.build.as_ref().unwrap().context, "/project/sub");
    assert_eq!(db.volumes[0].source.as_deref(), Some("/project/sub/data"));
    assert_eq!(p.volumes["dbdata"].name, "app_dbdata");
    let e = error(&[
        (
            "compose.yml",
            "include: [other.yaml]\nservices:\n  db:\n    image: x\n",
        ),
        ("other.yaml", "services:\n  db:\n    image: y\n"),
    ]);
    assert_eq!(
        e,
        "compose.yml: include[0]: services.db conflicts with an included one"
    );
}

/// The keys that map onto `run` flags: each reaches the create options, as the flag does.
const RUN_KEYS: &str = "\
services:
  app:
    image: busybox
    init: true
    shm_size: 96m
    pid: host
    ipc: shareable
    sysctls:
      net.ipv4.ip_unprivileged_port_start: 99
      kernel.shmmax: 123456
    group_add: [1234, audio]
    cgroup_parent: /mine
    domainname: example.test
    oom_score_adj: -200
    mac_address: 02:42:ac:11:00:09
    dns_search: [a.test]
    dns_opt: [ndots:2]
    security_opt: [no-new-privileges]
    devices: [/dev/fuse]
    stop_signal: SIGUSR1
    stop_grace_period: 1m30s
    logging:
      driver: local
      options:
        max-size: 1m
        max-file: 3
  side:
    image: busybox
    pid: service:app
    ipc: service:app
    network_mode: service:app
    sysctls: [kernel.msgmax=4096]
    links: [app:db]
";

#[test]
fn run_keys_become_the_create_options_of_their_run_flags() {
    let p = load_files(&[("compose.yml", RUN_KEYS)], &[]).unwrap();
    let o = create_options(&p, "app", 1, "busybox").unwrap();
    assert!(o.init);
    assert_eq!(o.shm_size, Some(96 << 20));
    assert_eq!(
        (o.pid_mode.as_str(), o.ipc_mode.as_str()),
        ("host", "shareable")
    );
    assert_eq!(
        o.sysctls,
        [
            "kernel.shmmax=123456",
            "net.ipv4.ip_unprivileged_port_start=99"
        ]
    );
    assert_eq!(o.group_add, ["1234", "audio"]);
    assert_eq!(o.cgroup_parent.as_deref(), Some("/mine"));
    assert_eq!(o.domainname.as_deref(), Some("example.test"));
    assert_eq!(o.oom_score_adj, Some(-200));
    assert_eq!(o.mac_address.as_deref(), Some("02:42:ac:11:00:09"));
    assert_eq!(o.dns_search, ["a.test"]);
    assert_eq!(o.dns_options, ["ndots:2"]);
    assert_eq!(o.security_opt, ["no-new-privileges"]);
    assert_eq!(o.devices, ["/dev/fuse"]);
    assert_eq!(o.stop_signal.as_deref(), Some("SIGUSR1"));
    assert_eq!(o.stop_timeout, Some(90));
    assert_eq!(o.log_driver.as_deref(), Some("local"));
    assert_eq!(o.log_opts, ["max-size=1m", "max-file=3"]);
    // `service:<name>` is that service's first container; it starts first.
    let o = create_options(&p, "side", 1, "busybox").unwrap();
    assert_eq!(o.pid_mode, "container:app-app-1");
    assert_eq!(o.ipc_mode, "container:app-app-1");
    assert_eq!(o.network, "container:app-app-1");
    assert_eq!(o.sysctls, ["kernel.msgmax=4096"]);
    assert_eq!(o.links, ["app-app-1:db"]);
    assert!(!o.init);
    assert_eq!(
        start_order(&p, &["side".to_string()], false),
        ["app".to_string(), "side".to_string()]
    );
    insta::assert_snapshot!(config(&[("compose.yml", RUN_KEYS)]));
}

#[test]
fn run_keys_of_the_wrong_type_name_file_line_and_key() {
    let cases = [
        "services:\n  web:\n    image: x\n    init: sometimes\n",
        "services:\n  web:\n    image: x\n    shm_size: lots\n",
        "services:\n  web:\n    image: x\n    sysctls: 3\n",
        "services:\n  web:\n    image: x\n    sysctls: [kernel.msgmax]\n",
        "services:\n  web:\n    image: x\n    group_add: audio\n",
        "services:\n  web:\n    image: x\n    logging:\n      driver: syslog\n",
        "services:\n  web:\n    image: x\n    logging:\n      options:\n        max-size: [1m]\n",
        "services:\n  web:\n    image: x\n    logging: {drivr: none}\n",
        "services:\n  web:\n    image: x\n    oom_score_adj: 5000\n",
        "services:\n  web:\n    image: x\n    pid: [host]\n",
    ];
    let out: Vec<String> = cases.iter().map(|c| error(&[("compose.yml", c)])).collect();
    insta::assert_snapshot!(out.join("\n"));
}

#[test]
fn network_priority_picks_the_network_the_containers_are_created_on() {
    let yaml = "\
services:
  web:
    image: busybox
    networks:
      back: {}
      front: {priority: 10}
networks:
  back:
  front:
";
    let p = load_files(&[("compose.yml", yaml)], &[]).unwrap();
    assert_eq!(p.services["web"].networks_in_order(), ["front", "back"]);
    assert_eq!(
        create_options(&p, "web", 1, "busybox").unwrap().network,
        "app_front"
    );
    assert!(config(&[("compose.yml", yaml)]).contains("priority: 10"));
    let bad = "services:\n  web:\n    image: x\n    networks:\n      default: {priority: high}\n";
    assert_eq!(
        error(&[("compose.yml", bad)]),
        "compose.yml:5: services.web.networks.default.priority: \"high\" is not a whole number"
    );
}
