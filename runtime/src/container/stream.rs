//! A container's (or an exec's) attached stream as a caller outside the process relays it
//! (the Docker API server's hijacked connections): the shim's connection, and the typed
//! messages that go over it, so that no face needs to know the shim's framing.

use std::os::unix::net::UnixStream;

use super::Error;
use super::exec::ExecOptions;
use crate::container::Ctx;
use crate::shim::{self, Attach, proto};

/// What the shim sends on an attached stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamOutput {
    /// Bytes of the process's stdout (or of its terminal).
    Stdout(Vec<u8>),
    /// Bytes of its stderr.
    Stderr(Vec<u8>),
    /// The process exited with this code (the last message).
    Exit(i32),
}

/// Splits the complete messages off the front of `buf` (bytes read from an attached
/// stream so far); the rest stays for the next read. An error on a corrupt stream.
pub fn split_output(buf: &mut Vec<u8>) -> Result<Vec<StreamOutput>, String> {
    Ok(proto::split_frames(buf)?
        .into_iter()
        .filter_map(|(kind, p)| match kind {
            proto::STDOUT => Some(StreamOutput::Stdout(p)),
            proto::STDERR => Some(StreamOutput::Stderr(p)),
            proto::EXIT => Some(StreamOutput::Exit(proto::payload_i32(&p))),
            _ => None,
        })
        .collect())
}

/// The bytes that send `data` to the process's stdin on an attached stream.
pub fn stdin_message(data: &[u8]) -> Vec<u8> {
    proto::frame(proto::STDIN, data)
}

/// The bytes that close the process's stdin (the caller's input ended).
pub fn stdin_close_message() -> Vec<u8> {
    proto::frame(proto::STDIN_CLOSE, &[])
}

/// The bytes that set the process's terminal size.
pub fn resize_message(rows: u16, cols: u16) -> Vec<u8> {
    let mut p = rows.to_le_bytes().to_vec();
    p.extend_from_slice(&cols.to_le_bytes());
    proto::frame(proto::RESIZE, &p)
}

impl Ctx<'_> {
    /// The work of `Engine::start_container_stream`.
    pub(crate) fn start_stream(
        &self,
        name: &str,
        output: bool,
        stdin: bool,
        parked: Option<crate::shim::Parked>,
    ) -> crate::container::Result<UnixStream> {
        let c = self.container(name)?;
        if c.state.running || c.state.restarting || c.state.paused {
            return Err(Error::Conflict(format!(
                "container {} is already running",
                c.short_name()
            )));
        }
        let (sock, _) = self.launch_shim_for(&c, Attach { output, stdin }, parked)?;
        Ok(sock)
    }

    /// The work of `Engine::attach_stream`.
    pub(crate) fn attach_stream(
        &self,
        name: &str,
        stdin: bool,
    ) -> crate::container::Result<UnixStream> {
        let c = self.container(name)?;
        let not_running =
            || Error::Conflict("You cannot attach to a stopped container, start it first".into());
        if !(c.state.running || c.state.restarting || c.state.paused) {
            return Err(not_running());
        }
        let mut sock = shim::connect(self.run_root(), &c.id).map_err(|_| not_running())?;
        proto::write_frame(&mut sock, proto::ATTACH, &[1, stdin as u8])
            .map_err(|e| Error::Sys("attaching".into(), e))?;
        super::journal::emit(self.root(), &c, "attach", &[]);
        Ok(sock)
    }

    /// The work of `Engine::note_attach`.
    pub(crate) fn note_attach(&self, name: &str) -> crate::container::Result<()> {
        let c = self.container(name)?;
        super::journal::emit(self.root(), &c, "attach", &[]);
        Ok(())
    }

    /// The work of `Engine::resize_container`.
    pub(crate) fn resize_tty(
        &self,
        name: &str,
        rows: u16,
        cols: u16,
    ) -> crate::container::Result<()> {
        let c = self.running_container(name)?;
        let mut sock = shim::connect(self.run_root(), &c.id)
            .map_err(|_| Error::Conflict(format!("container {} is not running", c.id)))?;
        std::io::Write::write_all(&mut sock, &resize_message(rows, cols))
            .map_err(|e| Error::Sys("talking to the container's shim".into(), e))
    }

    /// The work of `Engine::exec_stream`.
    pub(crate) fn exec_stream(
        &self,
        name: &str,
        opts: &ExecOptions,
    ) -> crate::container::Result<UnixStream> {
        let opts = ExecOptions {
            detach: false,
            ..opts.clone()
        };
        Ok(self.exec_start(name, &opts, false)?.1)
    }
}
