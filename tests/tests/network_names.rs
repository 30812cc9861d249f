//! User-defined networks and names: containers reach each other by name, by
//! `--network-alias` and by 12-hex id on a user network and not across networks; `--link`
//! on the default bridge (where names do not resolve), and its alias on a user network
//! for the linking container; `network connect`/`disconnect` of a running container
//! change what its peers resolve, a created one joins at start;
//! `--ip` and `--mac-address`; `network rm` of a network in use fails.

use std::net::Ipv4Addr;

use tug_e2e::net::NetTest;
use tug_e2e::{code, text};

/// Busybox's `ping` resolving `name`: asserts it resolves to `ip` and answers.
fn pings(n: &NetTest, args: &[&str], name: &str, ip: Ipv4Addr) {
    let out = n.run(&[args, &["ping", "-c1", "-W2", name]].concat());
    let out_text = text(&out);
    assert!(
        out_text.contains(&format!("PING {name} ({ip})")),
        "{args:?} ping {name}: {out_text}"
    );
    assert!(out.status.success(), "{args:?} ping {name}: {out_text}");
}

/// Busybox's `ping` failing to resolve `name`.
fn does_not_resolve(n: &NetTest, args: &[&str], name: &str) {
    let out = n.run(&[args, &["ping", "-c1", "-W1", name]].concat());
    assert_ne!(code(&out), 0, "{args:?} ping {name}: {}", text(&out));
    assert!(
        text(&out).contains(&format!("bad address '{name}'")),
        "{args:?} ping {name}: {}",
        text(&out)
    );
}

#[test]
fn names_aliases_and_ids_resolve_on_a_user_network_and_not_across() {
    let n = NetTest::new();
    n.network("names-app", &[]);
    n.network("names-other", &[]);
    let id = n.run_d(&[
        "--name",
        "names-db",
        "--network",
        "names-app",
        "--network-alias",
        "database",
        "busybox",
        "sleep",
        "60",
    ]);
    let ip = n.ip_on("names-db", "names-app");
    let on_app = ["run", "--rm", "--network", "names-app", "busybox"];
    pings(&n, &on_app, "names-db", ip);
    pings(&n, &on_app, "database", ip);
    pings(&n, &on_app, &id[..12], ip);
    // A running peer sees the names too (its hosts file is kept current).
    n.run_d(&[
        "--name",
        "names-web",
        "--network",
        "names-app",
        "busybox",
        "sleep",
        "60",
    ]);
    pings(&n, &["exec", "names-web"], "database", ip);
    let web_ip = n.ip_on("names-web", "names-app");
    pings(&n, &["exec", "names-db"], "names-web", web_ip);
    // Not from another network.
    let on_other = ["run", "--rm", "--network", "names-other", "busybox"];
    does_not_resolve(&n, &on_other, "names-db");
    does_not_resolve(&n, &on_other, "database");
    // A stopped peer's name goes away.
    n.ok(&["stop", "-t", "0", "names-web"]);
    does_not_resolve(&n, &["exec", "names-db"], "names-web");
    // And comes back with it, at the same address.
    n.ok(&["start", "names-web"]);
    pings(&n, &["exec", "names-db"], "names-web", web_ip);
    pings(&n, &["exec", "names-web"], "names-db", ip);
    n.finish();
}

#[test]
fn link_resolves_on_the_default_bridge_where_names_do_not() {
    let n = NetTest::new();
    n.run_d(&["--name", "links-db", "busybox", "sleep", "60"]);
    let ip = n.ip_on("links-db", "bridge");
    let linked = ["run", "--rm", "--link", "links-db:mysql", "busybox"];
    pings(&n, &linked, "mysql", ip);
    pings(&n, &linked, "links-db", ip);
    does_not_resolve(&n, &["run", "--rm", "busybox"], "links-db");
    let out = n.run(&["run", "--rm", "--link", "nope:x", "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    n.finish();
}

#[test]
fn link_alias_resolves_on_a_user_network_for_the_linking_container_only() {
    let n = NetTest::new();
    n.network("ulinks-net", &[]);
    n.run_d(&[
        "--name",
        "ulinks-db",
        "--network",
        "ulinks-net",
        "busybox",
        "sleep",
        "60",
    ]);
    let ip = n.ip_on("ulinks-db", "ulinks-net");
    let linked = [
        "run",
        "--rm",
        "--network",
        "ulinks-net",
        "--link",
        "ulinks-db:store",
        "busybox",
    ];
    pings(&n, &linked, "store", ip);
    pings(&n, &linked, "ulinks-db", ip);
    does_not_resolve(
        &n,
        &["run", "--rm", "--network", "ulinks-net", "busybox"],
        "store",
    );
    n.finish();
}

/// `env` of a container, as sorted lines.
fn env_lines(out: &std::process::Output) -> Vec<String> {
    assert!(out.status.success(), "{}", text(out));
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn a_legacy_link_sets_dockers_environment_variables() {
    let n = NetTest::new();
    n.run_d(&[
        "--name",
        "linkenv-db",
        "--expose",
        "6379",
        "--expose",
        "53/udp",
        "-e",
        "REDIS_VERSION=7.2",
        "busybox",
        "sleep",
        "60",
    ]);
    let ip = n.ip_on("linkenv-db", "bridge");
    let out = n.run(&[
        "run",
        "--rm",
        "--name",
        "linkenv-web",
        "--link",
        "linkenv-db:my-db",
        "-e",
        "MY_DB_ENV_REDIS_VERSION=mine",
        "busybox",
        "env",
    ]);
    let env: Vec<String> = env_lines(&out)
        .into_iter()
        .filter(|l| l.starts_with("MY_DB_"))
        .collect();
    let want = [
        "MY_DB_ENV_REDIS_VERSION=mine".to_string(),
        "MY_DB_NAME=/linkenv-web/my-db".to_string(),
        format!("MY_DB_PORT=udp://{ip}:53"),
        format!("MY_DB_PORT_53_UDP=udp://{ip}:53"),
        format!("MY_DB_PORT_53_UDP_ADDR={ip}"),
        "MY_DB_PORT_53_UDP_PORT=53".to_string(),
        "MY_DB_PORT_53_UDP_PROTO=udp".to_string(),
        format!("MY_DB_PORT_6379_TCP=tcp://{ip}:6379"),
        format!("MY_DB_PORT_6379_TCP_ADDR={ip}"),
        "MY_DB_PORT_6379_TCP_PORT=6379".to_string(),
        "MY_DB_PORT_6379_TCP_PROTO=tcp".to_string(),
    ];
    assert_eq!(env, want, "the config's -e wins over a link's variable");

    // An exec sees them too (as Docker's); a container without links has none.
    n.run_d(&[
        "--name",
        "linkenv-app",
        "--link",
        "linkenv-db",
        "busybox",
        "sleep",
        "60",
    ]);
    let out = n.run(&["exec", "linkenv-app", "env"]);
    let env = env_lines(&out);
    assert!(
        env.contains(&"LINKENV_DB_ENV_REDIS_VERSION=7.2".to_string()),
        "{env:?}"
    );
    assert!(
        env.contains(&"LINKENV_DB_NAME=/linkenv-app/linkenv-db".to_string()),
        "{env:?}"
    );
    assert!(
        !env.iter()
            .any(|l| l.contains("_ENV_PATH=") || l.contains("_ENV_HOME=")),
        "{env:?}"
    );
    let plain = env_lines(&n.run(&["exec", "linkenv-db", "env"]));
    assert!(!plain.iter().any(|l| l.contains("_PORT")), "{plain:?}");
    n.finish();
}

#[test]
fn connect_and_disconnect_change_what_peers_resolve() {
    let n = NetTest::new();
    n.network("conn-app", &[]);
    n.run_d(&[
        "--name",
        "conn-db",
        "--network",
        "conn-app",
        "busybox",
        "sleep",
        "60",
    ]);
    n.run_d(&["--name", "conn-web", "busybox", "sleep", "60"]);
    let in_db = ["exec", "conn-db"];
    does_not_resolve(&n, &in_db, "conn-web");

    n.ok(&[
        "network", "connect", "--alias", "webby", "conn-app", "conn-web",
    ]);
    let ip = n.ip_on("conn-web", "conn-app");
    pings(&n, &in_db, "conn-web", ip);
    pings(&n, &in_db, "webby", ip);
    // The running container got its interface on the network at once.
    let addrs = n.exec("conn-web", &["ip", "-o", "-4", "addr", "show"]);
    assert!(
        text(&addrs).contains(&format!("inet {ip}/")),
        "{}",
        text(&addrs)
    );
    // And it resolves its new peers.
    let db_ip = n.ip_on("conn-db", "conn-app");
    pings(&n, &["exec", "conn-web"], "conn-db", db_ip);
    // A rename: peers find it by its new name, not by the old one.
    n.ok(&["rename", "conn-web", "conn-site"]);
    pings(&n, &in_db, "conn-site", ip);
    does_not_resolve(&n, &in_db, "conn-web");
    let id = n.inspect_f("conn-site", "{{.Id}}");
    let names = n.inspect_network("conn-app")["Containers"][&id]["Name"].clone();
    assert_eq!(names, "conn-site");

    n.ok(&["network", "disconnect", "conn-app", "conn-site"]);
    does_not_resolve(&n, &in_db, "conn-site");
    does_not_resolve(&n, &in_db, "webby");
    let addrs = n.exec("conn-site", &["ip", "-o", "-4", "addr", "show"]);
    assert!(
        !text(&addrs).contains(&format!("inet {ip}/")),
        "{}",
        text(&addrs)
    );
    let nets = n.inspect_f(
        "conn-site",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
    );
    assert_eq!(nets, "bridge");
    n.finish();
}

#[test]
fn fixed_ip_mac_address_and_hostname_on_a_user_network() {
    let n = NetTest::new();
    n.network("fixed-app", &[]);
    let subnet = n.inspect_network("fixed-app")["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .expect("a subnet")
        .to_string();
    let base: Ipv4Addr = subnet.split('/').next().unwrap().parse().unwrap();
    let ip = Ipv4Addr::from(u32::from(base) + 50);
    let ip_s = ip.to_string();
    let mac = "02:42:0a:de:ad:99";
    let out = n.run_rm_ok(&[
        "--network",
        "fixed-app",
        "--ip",
        &ip_s,
        "--mac-address",
        mac,
        "--hostname",
        "fixedhost",
        "busybox",
        "sh",
        "-c",
        "ip -o -4 addr show eth0; cat /sys/class/net/eth0/address; hostname; cat /etc/hosts",
    ]);
    assert!(out.contains(&format!("inet {ip}/")), "{out}");
    assert!(out.contains(&format!("{mac}\n")), "{out}");
    assert!(out.contains("\nfixedhost\n"), "{out}");
    assert!(out.contains(&format!("{ip}\tfixedhost")), "{out}");
    // The same address twice is refused.
    n.run_d(&[
        "--name",
        "fixed-one",
        "--network",
        "fixed-app",
        "--ip",
        &ip_s,
        "busybox",
        "sleep",
        "60",
    ]);
    let out = n.run(&[
        "run",
        "--rm",
        "--network",
        "fixed-app",
        "--ip",
        &ip_s,
        "busybox",
        "true",
    ]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(text(&out).contains("already in use"), "{}", text(&out));
    // --ip is for user networks only (Docker's message).
    let out = n.run(&["run", "--rm", "--ip", &ip_s, "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        text(&out).contains("user specified IP address is supported on user defined networks only"),
        "{}",
        text(&out)
    );
    n.finish();
}

#[test]
fn network_rm_of_a_network_in_use_fails() {
    let n = NetTest::new();
    n.network("inuse-app", &[]);
    let id = n.run_d(&["--network", "inuse-app", "busybox", "sleep", "60"]);
    let out = n.run(&["network", "rm", "inuse-app"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("has active endpoints"),
        "{}",
        text(&out)
    );
    assert!(
        n.ok(&["network", "ls", "--format", "{{.Name}}"])
            .lines()
            .any(|l| l == "inuse-app")
    );
    n.ok(&["rm", "-f", &id]);
    n.finish();
}

#[test]
fn a_created_container_connected_to_a_network_joins_it_at_start() {
    let n = NetTest::new();
    n.network("late-app", &[]);
    n.run_d(&[
        "--name",
        "late-db",
        "--network",
        "late-app",
        "busybox",
        "sleep",
        "60",
    ]);
    let id = n.ok(&["create", "--name", "late-web", "busybox", "sleep", "60"]);
    n.remember(&id);
    n.ok(&["network", "connect", "late-app", "late-web"]);
    n.ok(&["start", "late-web"]);
    let ip = n.ip_on("late-web", "late-app");
    let bridge_ip = n.ip_on("late-web", "bridge");
    let out = n.exec("late-web", &["ip", "-o", "-4", "addr", "show"]);
    assert!(
        text(&out).contains(&format!("inet {ip}/")),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains(&format!("inet {bridge_ip}/")),
        "{}",
        text(&out)
    );
    pings(&n, &["exec", "late-db"], "late-web", ip);
    let db_ip = n.ip_on("late-db", "late-app");
    pings(&n, &["exec", "late-web"], "late-db", db_ip);
    n.finish();
}

#[test]
fn connecting_after_a_disconnect_takes_a_free_interface_name() {
    let n = NetTest::new();
    for net in ["ifn-a", "ifn-b", "ifn-c"] {
        n.network(net, &[]);
    }
    n.run_d(&["--name", "ifn-box", "busybox", "sleep", "60"]);
    n.ok(&["network", "connect", "ifn-a", "ifn-box"]);
    n.ok(&["network", "connect", "ifn-b", "ifn-box"]);
    n.ok(&["network", "disconnect", "ifn-a", "ifn-box"]);
    // eth1 (ifn-a's) is free again; eth2 is ifn-b's: ifn-c gets eth1.
    n.ok(&["network", "connect", "ifn-c", "ifn-box"]);
    let ip_b = n.ip_on("ifn-box", "ifn-b");
    let ip_c = n.ip_on("ifn-box", "ifn-c");
    let addrs = text(&n.exec("ifn-box", &["ip", "-o", "-4", "addr", "show"]));
    assert!(addrs.contains(&format!("eth2    inet {ip_b}/")), "{addrs}");
    assert!(addrs.contains(&format!("eth1    inet {ip_c}/")), "{addrs}");
    n.finish();
}
