//! `compose config` against what `docker compose` v2 prints for the same files. Each
//! test names the upstream fixture it mirrors and, where upstream states the expected
//! output, asserts it verbatim; the rest is snapshotted. Upstream: docker/compose's e2e
//! tests (`pkg/e2e/compose_test.go`, `config_test.go`, `publish_test.go`, whose inputs
//! are under `pkg/e2e/testdata/` and `fixtures/`) and compose-go's
//! `loader/full-example.yml` with its expected `fullExampleYAML`
//! (`loader/full-struct_test.go`, as it stood before compose-go replaced it by per-key
//! tests; its output is un-normalised, so only per-service blocks are compared).

use super::config_yaml;
use super::tests::load_files;

fn config_env(files: &[(&str, &str)], env: &[(&str, &str)]) -> String {
    config_yaml(&load_files(files, env).unwrap_or_else(|e| panic!("{e}")))
}

fn config(files: &[(&str, &str)]) -> String {
    config_env(files, &[])
}

/// docker/compose `TestConfig` (testdata/TestConfig/compose.yaml): the context made
/// absolute, the dockerfile kept, the default network named. Expected output verbatim.
#[test]
fn e2e_test_config_build_context() {
    let out = config(&[
        (
            "compose.yml",
            "services:\n  nginx:\n    build:\n      context: nginx-build\n      dockerfile: Dockerfile\n",
        ),
        ("nginx-build/Dockerfile", "FROM busybox\n"),
    ]);
    assert_eq!(
        out,
        "\
name: app
services:
  nginx:
    build:
      context: /project/nginx-build
      dockerfile: Dockerfile
    networks:
      default: null
networks:
  default:
    name: app_default
"
    );
}

/// docker/compose `TestLocalComposeConfig` (testdata/TestLocalComposeConfig): the port
/// shorthand with a defaulted variable expands to the long form. Expected fragment
/// verbatim.
#[test]
fn e2e_test_local_compose_config_port_shorthand() {
    let out = config(&[(
        "compose.yml",
        "services:\n  test:\n    image: test\n    ports:\n      - ${PORT:-8080}:80\n",
    )]);
    assert!(
        out.contains(
            "
    ports:
      - mode: ingress
        target: 80
        published: \"8080\"
        protocol: tcp"
        ),
        "{out}"
    );
}

/// docker/compose `TestPublishChecks`' `config` of the published `oci` project
/// (fixtures/publish/oci: an `app` service, its environment from an override). Expected
/// output verbatim.
#[test]
fn e2e_publish_oci_config() {
    let out = config_env(
        &[
            ("compose.yml", "services:\n  app:\n    image: alpine\n"),
            (
                "compose-override.yml",
                "services:\n  app:\n    environment:\n      HELLO: WORLD\n",
            ),
        ],
        &[("COMPOSE_PROJECT_NAME", "oci")],
    );
    assert_eq!(
        out,
        "\
name: oci
services:
  app:
    environment:
      HELLO: WORLD
    image: alpine
    networks:
      default: null
networks:
  default:
    name: oci_default
"
    );
}

/// compose-go's `full-example.yml`, its keys that tug reads (not: annotations, ssh,
/// secrets, configs, label_file, env_file, external_links, network_mode, uts,
/// storage_opt, build's extra keys, deploy's swarm keys, ipv6/mac of networks, volume
/// consistency).
const FULL_EXAMPLE: &str = r#"
name: full_example_project_name
services:
  bar:
    build:
      dockerfile_inline: |
        FROM alpine
        RUN echo "hello" > /world.txt
  foo:
    build:
      context: ./dir
      dockerfile: Dockerfile
      args:
        foo: bar
      target: foo
    cap_add:
      - ALL
    cap_drop:
      - NET_ADMIN
      - SYS_ADMIN
    cgroup_parent: m-executor-abcd
    command: bundle exec thin -p 3000
    container_name: my-web-container
    depends_on:
      - db
      - redis
    deploy:
      replicas: 6
      resources:
        limits:
          cpus: '0.001'
          memory: 50M
        reservations:
          cpus: '0.0001'
          memory: 20M
      restart_policy:
        condition: on-failure
        delay: 5s
        max_attempts: 3
        window: 120s
    devices:
      - source: /dev/ttyUSB0
        target: /dev/ttyUSB0
        permissions: rwm
    dns:
      - 8.8.8.8
      - 9.9.9.9
    dns_search:
      - dc1.example.com
      - dc2.example.com
    domainname: foo.com
    entrypoint: ["/code/entrypoint.sh", "-p", "3000"]
    environment:
      BAZ: baz_from_service_def
      QUX:
    expose:
     - "3000"
     - 8000
    extra_hosts:
      - "otherhost:50.31.209.229"
      - "somehost:162.242.195.82"
    hostname: foo
    healthcheck:
      test: echo "hello world"
      interval: 10s
      timeout: 1s
      retries: 5
      start_period: 15s
      start_interval: 5s
    image: redis
    ipc: host
    labels:
      com.example.description: "Accounting webapp"
      com.example.number: 42
      com.example.empty-label:
    links:
     - db
     - db:database
     - redis
    logging:
      driver: local
      options:
        max-size: 10m
        max-file: 3
    mac_address: 02:42:ac:11:65:43
    networks:
      some-network:
        aliases:
         - alias1
         - alias3
      other-network:
        ipv4_address: 172.16.238.10
      other-other-network:
    pid: "host"
    ports:
      - 3000
      - "3001-3005"
      - "8000:8000"
      - "9090-9091:8080-8081"
      - "49100:22"
      - "127.0.0.1:8001:8001"
      - "127.0.0.1:5000-5010:5000-5010"
    privileged: true
    read_only: true
    restart: always
    security_opt:
      - label=level:s0:c100,c200
      - label=type:svirt_apache_t
    stdin_open: true
    stop_grace_period: 20s
    stop_signal: SIGUSR1
    sysctls:
      net.core.somaxconn: 1024
      net.ipv4.tcp_syncookies: 0
    tmpfs:
      - /run
      - /tmp
    tty: true
    ulimits:
      nproc: 65535
      nofile:
        soft: 20000
        hard: 40000
    user: someone
    volumes:
      - /var/lib/anonymous
      - /opt/data:/var/lib/data
      - .:/code
      - ./static:/var/www/html
      - datavolume:/var/lib/volume
      - type: tmpfs
        target: /opt/tmpfs
        tmpfs:
          size: 10000
    working_dir: /code
    x-bar: baz
    x-foo: bar
  db:
    image: postgres
  redis:
    image: redis
networks:
  some-network:
  other-network:
    driver: overlay
    driver_opts:
      foo: "bar"
      baz: 1
    ipam:
      config:
      - subnet: 172.28.0.0/16
        gateway: 172.28.5.254
  other-other-network:
volumes:
  datavolume:
x-foo: bar
x-bar: baz
x-nested:
  foo: bar
  bar: baz
"#;

/// Blocks of compose-go's `fullExampleYAML` for service `foo`, verbatim.
const FULL_EXAMPLE_BLOCKS: &[&str] = &[
    "
    cap_add:
      - ALL
    cap_drop:
      - NET_ADMIN
      - SYS_ADMIN
    cgroup_parent: m-executor-abcd
    command:
      - bundle
      - exec
      - thin
      - -p
      - \"3000\"
",
    "
    container_name: my-web-container
    depends_on:
      db:
        condition: service_started
        required: true
      redis:
        condition: service_started
        required: true
    deploy:
",
    "
      resources:
        limits:
          cpus: 0.001
          memory: \"52428800\"
        reservations:
          cpus: 0.0001
          memory: \"20971520\"
",
    "
      restart_policy:
        condition: on-failure
        delay: 5s
        max_attempts: 3
        window: 2m0s
",
    "
    devices:
      - source: /dev/ttyUSB0
        target: /dev/ttyUSB0
        permissions: rwm
    dns:
      - 8.8.8.8
      - 9.9.9.9
    dns_search:
      - dc1.example.com
      - dc2.example.com
    domainname: foo.com
    entrypoint:
      - /code/entrypoint.sh
      - -p
      - \"3000\"
",
    "
    expose:
      - \"3000\"
      - \"8000\"
",
    "
    extra_hosts:
      - otherhost=50.31.209.229
      - somehost=162.242.195.82
    hostname: foo
    healthcheck:
      test:
        - CMD-SHELL
        - echo \"hello world\"
      timeout: 1s
      interval: 10s
      retries: 5
      start_period: 15s
      start_interval: 5s
    image: redis
    ipc: host
",
    "
      com.example.description: Accounting webapp
      com.example.empty-label: \"\"
      com.example.number: \"42\"
",
    "
    links:
      - db
      - db:database
      - redis
",
    "
    mac_address: 02:42:ac:11:65:43
",
    "
      other-network:
        ipv4_address: 172.16.238.10
",
    "
      other-other-network: null
      some-network:
        aliases:
          - alias1
          - alias3
    pid: host
    ports:
      - mode: ingress
        target: 3000
        protocol: tcp
      - mode: ingress
        target: 3001
        protocol: tcp
      - mode: ingress
        target: 3002
        protocol: tcp
      - mode: ingress
        target: 3003
        protocol: tcp
      - mode: ingress
        target: 3004
        protocol: tcp
      - mode: ingress
        target: 3005
        protocol: tcp
      - mode: ingress
        target: 8000
        published: \"8000\"
        protocol: tcp
      - mode: ingress
        target: 8080
        published: \"9090\"
        protocol: tcp
      - mode: ingress
        target: 8081
        published: \"9091\"
        protocol: tcp
      - mode: ingress
        target: 22
        published: \"49100\"
        protocol: tcp
      - mode: ingress
        host_ip: 127.0.0.1
        target: 8001
        published: \"8001\"
        protocol: tcp
      - mode: ingress
        host_ip: 127.0.0.1
        target: 5000
        published: \"5000\"
        protocol: tcp
",
    "
      - mode: ingress
        host_ip: 127.0.0.1
        target: 5010
        published: \"5010\"
        protocol: tcp
    privileged: true
    read_only: true
    restart: always
",
    "
    security_opt:
      - label=level:s0:c100,c200
      - label=type:svirt_apache_t
    stdin_open: true
    stop_grace_period: 20s
    stop_signal: SIGUSR1
",
    "
    sysctls:
      net.core.somaxconn: \"1024\"
      net.ipv4.tcp_syncookies: \"0\"
    tmpfs:
      - /run
      - /tmp
    tty: true
    ulimits:
      nofile:
        soft: 20000
        hard: 40000
      nproc: 65535
    user: someone
    volumes:
      - type: volume
        target: /var/lib/anonymous
        volume: {}
      - type: bind
        source: /opt/data
        target: /var/lib/data
        bind: {}
      - type: bind
        source: /project
        target: /code
        bind: {}
      - type: bind
        source: /project/static
        target: /var/www/html
        bind: {}
",
    "
      - type: volume
        source: datavolume
        target: /var/lib/volume
        volume: {}
",
    "
      - type: tmpfs
        target: /opt/tmpfs
        tmpfs:
          size: \"10000\"
    working_dir: /code
    x-bar: baz
    x-foo: bar
",
    "
x-bar: baz
x-foo: bar
x-nested:
  bar: baz
  foo: bar
",
    "
  bar:
    build:
      context: /project
      dockerfile_inline: |
        FROM alpine
        RUN echo \"hello\" > /world.txt
",
];

#[test]
fn compose_go_full_example() {
    let out = config(&[
        ("compose.yml", FULL_EXAMPLE),
        ("dir/Dockerfile", "FROM x\n"),
    ]);
    for block in FULL_EXAMPLE_BLOCKS {
        assert!(out.contains(block), "missing:{block}\nin:\n{out}");
    }
    insta::assert_snapshot!(out);
}

/// Values go-yaml quotes or folds (its representer's and emitter's rules), in the
/// places compose files have them: environment values that read as numbers, YAML 1.1
/// booleans and sexagesimals, leading indicators, `: ` and ` #` inside, a command past
/// 80 columns, `$` escaped as `$$`. No upstream fixture states these outputs.
#[test]
fn quoting_and_folding_of_values() {
    let text = r#"
services:
  web:
    image: busybox
    command: ["sh", "-c", "while true; do echo serving on port 8080 with a rather long line of text; sleep 1; done"]
    environment:
      ANSWER: "yes"
      OFF: "off"
      TIME: "12:30"
      PORTS: "8080:80"
      STAR: "*"
      COLON: "a: b"
      HASH: "x #y"
      NUM: 42
      FLOAT: "1.5"
      DOLLAR: "$$HOME"
      EMPTY: ""
      DATE: "2024-01-31"
      QUOTE: "it's"
      MULTI: "line one\nline two\n"
    healthcheck:
      test: ["CMD-SHELL", "wget -q -O- http://localhost:8080/health || exit 1"]
      interval: 1m30s
      start_period: 500ms
"#;
    insta::assert_snapshot!(config(&[("compose.yml", text)]));
}

/// compose-go's `ParsePortConfig` orders a range's ports by their text (it sorts the
/// keys `8/tcp`, `9/tcp`, `10/tcp` of the parsed port set).
#[test]
fn a_port_range_is_ordered_as_text() {
    let p = load_files(
        &[(
            "compose.yml",
            "services:\n  s:\n    image: x\n    ports: [\"8-10:8-10\"]\n",
        )],
        &[],
    )
    .unwrap();
    let ports: Vec<(u16, Option<String>)> = p.services["s"]
        .ports
        .iter()
        .map(|p| (p.target, p.published.clone()))
        .collect();
    let s = |x: &str| Some(x.to_string());
    assert_eq!(ports, [(10, s("10")), (8, s("8")), (9, s("9"))]);
}
