//! 12-testing, solved: the page through the published port, its body checked.

use std::io::{Read, Write};
use tug_testkit::core::WaitFor;
use tug_testkit::runners::SyncRunner;
use tug_testkit::GenericImage;

#[test]
fn greeter_says_hello() {
    let greeter = GenericImage::new("greeter", "1")
        .with_exposed_port(80)
        .with_wait_for(WaitFor::port(80))
        .start()
        .expect("start greeter:1");
    let port = greeter.get_host_port_ipv4(80).expect("the host port of 80");

    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    conn.write_all(b"GET / HTTP/1.0\r\nHost: greeter\r\n\r\n").expect("send");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("read");
    let (_, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert_eq!(body.trim(), "hello");
}
