//! 06-echo: bytes sent in on the host's port 45678 come out of its port 45679.

use crate::{Ctx, Failure};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

const IN: u16 = 45678;
const OUT: u16 = 45679;

pub fn grade(ctx: &Ctx<'_>) -> Result<(), Failure> {
    ctx.must_run("echo", "container echo to be running")?;
    ctx.pass("container echo is running");
    // Nothing published: no need to knock for seconds on a port that cannot answer.
    for port in [IN, OUT] {
        if ctx.host_port("echo", &format!("{port}/tcp")) != Some(port) {
            return Err(Failure::new(
                format!("the container's port {port} published on the host's port {port}"),
                "it is not (`tug port echo` lists what is)",
            ));
        }
    }
    ctx.pass("both ports are published");
    let receiver = connect(ctx, OUT)?;
    ctx.pass(format!("a connection to 127.0.0.1:{OUT} opens"));
    let line = format!(
        "echo-check {}-{:?}",
        std::process::id(),
        std::time::Instant::now()
    );
    let mut sender = connect(ctx, IN)?;
    sender
        .write_all(format!("{line}\n").as_bytes())
        .and_then(|()| sender.shutdown(std::net::Shutdown::Write))
        .map_err(|e| Failure::new(format!("to send a line to 127.0.0.1:{IN}"), e.to_string()))?;
    let mut got = String::new();
    let read = BufReader::new(receiver).read_line(&mut got);
    if got.trim_end() != line {
        return Err(Failure::new(
            format!("the line sent to {IN} to come out of {OUT} within 3 s"),
            match read {
                Err(e) => format!("nothing came: {e}"),
                Ok(_) if got.is_empty() => "the connection closed with nothing".into(),
                Ok(_) => format!("{got:?} came"),
            },
        ));
    }
    ctx.pass(format!("a line sent to {IN} comes out of {OUT}"));
    Ok(())
}

/// A connection to the host's `port`, retried for 3 s while the container runs. A
/// connection that opens but is reset at once (nothing behind the port) counts as none.
fn connect(ctx: &Ctx<'_>, port: u16) -> Result<TcpStream, Failure> {
    let mut last = String::new();
    let mut stream = None;
    ctx.wait_for(Duration::from_secs(3), || {
        match crate::net::connect(port) {
            Ok(s) => {
                s.set_read_timeout(Some(Duration::from_secs(3))).ok();
                stream = Some(s);
                return Ok(true);
            }
            Err(e) => last = e.to_string(),
        }
        ctx.must_run("echo", "container echo to keep running")?;
        Ok(false)
    })?;
    stream.ok_or_else(|| {
        Failure::new(
            format!("a connection to 127.0.0.1:{port} from the host"),
            format!("it failed: {last}; is the port published (`tug port echo`)?"),
        )
    })
}
