//! `tug port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's published ports (its
//! `NetworkSettings.Ports`), printed and ordered as Docker prints them.

use std::io::Write;

use clap::Args;

use super::{CliError, CliResult};
use tug::Engine;

#[derive(Args, Debug)]
pub struct PortArgs {
    /// The container's name or id
    pub container: String,
    /// Only this private port (tcp unless a protocol is given)
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub private_port: Option<String>,
}

pub fn port(engine: &Engine, a: PortArgs) -> CliResult {
    // Every failure of `port` is the daemon's for Docker's CLI: exit 1.
    let c = engine.container(&a.container).map_err(|e| CliError {
        code: 1,
        ..CliError::from(e)
    })?;
    let lines = tug::network::port_lines(
        &c.network_settings.ports,
        a.private_port.as_deref(),
        &a.container,
    )
    .map_err(|e| CliError {
        code: 1,
        message: tug::report(&e),
    })?;
    let mut out = std::io::stdout().lock();
    for line in lines {
        writeln!(out, "{line}").map_err(CliError::output)?;
    }
    Ok(0)
}
