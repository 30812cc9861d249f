//! The example of the book's chapter "Testing with throwaway containers"
//! (book/src/testing.md includes the lines between the ANCHOR comments), run here so
//! that the book's code compiles and passes.

// ANCHOR: example
use std::io::{Read, Write};
use std::net::TcpStream;

use tug_testkit::core::WaitFor;
use tug_testkit::runners::SyncRunner;
use tug_testkit::{GenericImage, ImageExt};

#[test]
fn the_server_says_hello() {
    // busybox's httpd serving one file; `start` returns when the port listens.
    let web = GenericImage::new("busybox", "latest")
        .with_exposed_port(8080)
        .with_wait_for(WaitFor::port(8080))
        .with_cmd(["httpd", "-f", "-p", "8080", "-h", "/www"])
        .with_copy_to("/www/index.html", b"hello".to_vec())
        .start()
        .expect("start the web server");

    // The container's port 8080 is published on a free port of the host.
    let port = web.get_host_port_ipv4(8080).unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.ends_with("hello"), "{answer}");

    // A command inside the running container.
    let out = web.exec(["cat", "/www/index.html"]).unwrap();
    assert_eq!(out.stdout, b"hello");
} // `web` is dropped here: the container is stopped and removed.
// ANCHOR_END: example
