//! The README's demo of the testkit: a throwaway busybox web server, started in one line
//! and waited for until it listens, asked for a page over its published port, and removed
//! when it goes out of scope. Run by scripts/demo.sh.

use std::io::{Read, Write};
use std::net::TcpStream;

use tug_testkit::core::WaitFor;
use tug_testkit::runners::SyncRunner;
use tug_testkit::{GenericImage, ImageExt};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let web = GenericImage::new("busybox", "latest")
        .with_cmd(["httpd", "-f", "-p", "8080", "-h", "/www"])
        .with_copy_to(
            "/www/index.html",
            b"hello from a testkit fixture\n".to_vec(),
        )
        .with_exposed_port(8080)
        .with_wait_for(WaitFor::port(8080))
        .start()?;
    let port = web.get_host_port_ipv4(8080)?;
    let mut conn = TcpStream::connect(("127.0.0.1", port))?;
    conn.write_all(b"GET /index.html HTTP/1.0\r\n\r\n")?;
    let mut reply = String::new();
    conn.read_to_string(&mut reply)?;
    let body = reply.split("\r\n\r\n").nth(1).unwrap_or_default();
    println!(
        "container {} answered on 127.0.0.1:{port}: {}",
        &web.id()[..12],
        body.trim_end()
    );
    Ok(())
}
