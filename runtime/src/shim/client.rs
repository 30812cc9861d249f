//! The shim's clients: connections on its socket (an attached CLI, `stop`, `wait`,
//! `logs -f`, an exec), each with what it has sent that is not a whole frame yet and
//! what waits to be written to it (the shim never blocks on a client).

use std::io::{ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// A client whose unsent output grows past this is dropped (it does not read).
const MAX_OUTBOX: usize = 4 << 20;

/// One connection.
pub(super) struct Client {
    /// Names the client for the exec it asked for, if any.
    pub id: u64,
    pub sock: UnixStream,
    pub inbuf: Vec<u8>,
    pub outbox: Vec<u8>,
    pub output: bool,
    pub stdin: bool,
    pub gone: bool,
    /// It asked for an exec: what it sends goes to that exec only, never to the
    /// container's process (also once the exec is done, or if it never started).
    pub exec: bool,
}

impl Client {
    pub fn new(id: u64, sock: UnixStream, output: bool, stdin: bool) -> Client {
        let _ = sock.set_nonblocking(true);
        Client {
            id,
            sock,
            inbuf: Vec::new(),
            outbox: Vec::new(),
            output,
            stdin,
            gone: false,
            exec: false,
        }
    }

    pub fn send(&mut self, frame: &[u8]) {
        if self.gone {
            return;
        }
        self.outbox.extend_from_slice(frame);
        self.flush();
        if self.outbox.len() > MAX_OUTBOX {
            self.gone = true;
        }
    }

    pub fn flush(&mut self) {
        while !self.outbox.is_empty() && !self.gone {
            match self.sock.write(&self.outbox) {
                Ok(n) => {
                    self.outbox.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => self.gone = true,
            }
        }
    }

    /// Writes what is queued, waiting at most a second (the shim is about to end).
    pub fn flush_blocking(&mut self) {
        let _ = self.sock.set_nonblocking(false);
        let _ = self.sock.set_write_timeout(Some(Duration::from_secs(1)));
        if !self.gone {
            let _ = self.sock.write_all(&self.outbox);
        }
    }
}

/// A RESIZE payload: rows u16 LE, cols u16 LE (the caller checked the length).
pub(super) fn winsize(p: &[u8]) -> libc::winsize {
    libc::winsize {
        ws_row: u16::from_le_bytes([p[0], p[1]]),
        ws_col: u16::from_le_bytes([p[2], p[3]]),
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}
