//! Published ports and networks: 32 parallel fixtures on distinct host ports, HTTP
//! waits, and two containers on a test network reaching each other by name.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use tug_testkit::core::WaitFor;
use tug_testkit::runners::SyncRunner;
use tug_testkit::{Error, GenericImage, ImageExt, Network, Tug};

/// The body of `GET /` on 127.0.0.1:`port`.
fn http_get(port: u16) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

fn web(body: &str) -> tug_testkit::ContainerRequest<GenericImage> {
    GenericImage::new("busybox", "latest")
        .with_cmd(["httpd", "-f", "-p", "8080", "-h", "/www"])
        .with_copy_to("/www/index.html", body.as_bytes().to_vec())
        .with_exposed_port(8080)
        .with_wait_for(WaitFor::port(8080))
}

#[test]
fn exposed_port_answers_on_a_free_host_port() {
    let c = web("hello").start().unwrap();
    let port = c.get_host_port_ipv4(8080).unwrap();
    assert_eq!(c.get_host().unwrap().to_string(), "127.0.0.1");
    assert_eq!(http_get(port), "hello");
    assert!(matches!(
        c.get_host_port_ipv4(9999),
        Err(Error::PortNotExposed {
            port: tug_testkit::core::ContainerPort::Tcp(9999),
            ..
        })
    ));
    let out = c.exec(["cat", "/www/index.html"]).unwrap();
    assert_eq!(out.stdout, b"hello");
    let table = tug::network::endpoint::ports_table(c.id());
    assert!(common::host_net_names().contains(&table));
    drop(c);
    assert_eq!(common::gone_from_host(&[table]), Vec::<String>::new());
}

#[test]
fn mapped_port_is_the_given_host_port() {
    // A port that was free a moment ago (the start fails clearly if it was taken since).
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = GenericImage::new("busybox", "latest")
        .with_cmd(["httpd", "-f", "-p", "8080", "-h", "/www"])
        .with_copy_to("/www/index.html", b"mapped".to_vec())
        .with_mapped_port(free, 8080)
        .with_wait_for(WaitFor::port(8080))
        .start()
        .unwrap();
    assert_eq!(c.get_host_port_ipv4(8080).unwrap(), free);
    assert_eq!(http_get(free), "mapped");
}

#[test]
fn http_wait_gets_the_status_through_the_published_port() {
    let c = GenericImage::new("busybox", "latest")
        .with_cmd(["sh", "-c", "sleep 0.2; exec httpd -f -p 8080 -h /www"])
        .with_copy_to("/www/index.html", b"ok".to_vec())
        .with_exposed_port(8080)
        .with_wait_for(WaitFor::http("/"))
        .with_wait_for(WaitFor::http("/missing").on_port(8080).with_status(404))
        .start()
        .unwrap();
    assert_eq!(http_get(c.get_host_port_ipv4(8080).unwrap()), "ok");
}

#[test]
fn thirty_two_parallel_fixtures_get_distinct_ports() {
    Tug::shared()
        .unwrap()
        .prepare_image("busybox:latest")
        .unwrap();
    let fixtures: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..32)
            .map(|i| s.spawn(move || web(&format!("fixture {i}")).start()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let fixtures: Vec<_> = fixtures.into_iter().map(Result::unwrap).collect();
    let mut ports: Vec<u16> = fixtures
        .iter()
        .map(|c| c.get_host_port_ipv4(8080).unwrap())
        .collect();
    for (i, (c, p)) in fixtures.iter().zip(&ports).enumerate() {
        assert_eq!(http_get(*p), format!("fixture {i}"), "fixture {}", c.id());
    }
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 32, "host ports collide: {ports:?}");
    let ids: Vec<String> = fixtures.iter().map(|c| c.id().to_string()).collect();
    drop(fixtures);
    assert!(ids.iter().all(|id| common::is_gone(id)));
}

#[test]
fn containers_on_a_test_network_reach_each_other_by_name() {
    let net = Network::new().unwrap();
    let name = format!("web-{}", net.name());
    let _server = web("by name")
        .with_network(net.name())
        .with_container_name(&name)
        .with_network_alias("site")
        .start()
        .unwrap();
    let client = GenericImage::new("busybox", "latest")
        .with_cmd(["sleep", "60"])
        .with_network(net.name())
        .start()
        .unwrap();
    for host in [name.as_str(), "site"] {
        let out = client
            .exec(["wget", "-qO-", &format!("http://{host}:8080/")])
            .unwrap();
        assert_eq!(
            (out.exit_code, String::from_utf8_lossy(&out.stdout).as_ref()),
            (0, "by name"),
            "{host}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(client.ip_address(net.name()).unwrap().is_some());
    let root = Tug::shared().unwrap().engine().root().to_path_buf();
    let bridge = tug::network::record::bridge_name(&root, net.name());
    assert!(
        common::host_net_names().contains(&bridge),
        "no bridge {bridge}"
    );
    // Containers first, then the network (drop order is the reverse of declaration).
    drop(client);
    drop(_server);
    let net_name = net.name().to_string();
    drop(net);
    assert!(
        Tug::shared().unwrap().engine().network(&net_name).is_err(),
        "network {net_name} left behind"
    );
}
