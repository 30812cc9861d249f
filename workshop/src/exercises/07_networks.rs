//! 07-networks: server runs on a user network, the client's answer came out, and the
//! grader's own probe on that network gets the page of `server` by name.

use crate::{Ctx, Failure};

const ANSWER: &str = "pong from server";

pub fn grade(ctx: &Ctx<'_>) -> Result<(), Failure> {
    let server = ctx.must_run("server", "container server to be running")?;
    let nets: Vec<&String> = server.network_settings.networks.keys().collect();
    let Some(net) = nets
        .iter()
        .find(|n| !matches!(n.as_str(), "bridge" | "host" | "none"))
    else {
        return Err(Failure::new(
            "server on a network of your own (not the default bridge)",
            format!(
                "it is on: {}",
                nets.iter()
                    .map(|n| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    ctx.pass(format!("server is running on the network {net}"));
    ctx.expect_output_line(ANSWER, "the client's answer")?;
    ctx.pass("the client got the answer");
    // nc, not wget: busybox-static's wget crashes resolving names in tug's containers.
    let get = r#"printf "GET / HTTP/1.0\r\n\r\n" | nc -w 2 server 80"#;
    let probe = ctx.tug(&["run", "--rm", "--network", net, "busybox", "sh", "-c", get])?;
    let got = String::from_utf8_lossy(&probe.stdout);
    if !got.lines().any(|l| l.trim_end() == ANSWER) {
        return Err(Failure::new(
            format!("a container on {net} to reach http://server/ by name"),
            format!(
                "it got {:?} {}",
                got.trim(),
                String::from_utf8_lossy(&probe.stderr).trim()
            ),
        ));
    }
    ctx.pass(format!(
        "a container on {net} reaches http://server/ by name"
    ));
    Ok(())
}
