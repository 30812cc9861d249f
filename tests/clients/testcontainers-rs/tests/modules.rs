//! testcontainers-modules, unchanged: its Redis module on the image tug builds from
//! `images/redis` (`tug-redis:7`, loaded into the server's root by the test that runs
//! this project), reached on its mapped port with the Redis protocol.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use testcontainers_modules::redis::{REDIS_PORT, Redis};
use testcontainers_modules::testcontainers::ImageExt;
use testcontainers_modules::testcontainers::runners::SyncRunner;

/// One command in RESP; the first line of the answer.
fn command(conn: &mut BufReader<TcpStream>, args: &[&str]) -> String {
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req += &format!("${}\r\n{a}\r\n", a.len());
    }
    conn.get_mut().write_all(req.as_bytes()).expect("send");
    let mut line = String::new();
    conn.read_line(&mut line).expect("answer");
    if line.starts_with('$') && line.trim() != "$-1" {
        line.clear();
        conn.read_line(&mut line).expect("bulk string");
    }
    line.trim_end().to_string()
}

#[test]
fn redis_module_runs_on_tugs_redis_image() {
    let node = Redis::default()
        .with_name("tug-redis")
        .with_tag("7")
        .start()
        .expect("start the Redis module");
    let port = node.get_host_port_ipv4(REDIS_PORT).expect("the mapped port");
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut conn = BufReader::new(stream);
    assert_eq!(command(&mut conn, &["PING"]), "+PONG");
    assert_eq!(command(&mut conn, &["SET", "greeting", "from-tug"]), "+OK");
    assert_eq!(command(&mut conn, &["GET", "greeting"]), "from-tug");
    node.rm().expect("remove");
}
