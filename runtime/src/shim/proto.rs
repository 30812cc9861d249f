//! The protocol between the shim and its clients (the CLI attached to a container, `stop`,
//! `kill`, `wait`, `logs -f`, `exec`): frames of `[type: u8][length: u32 LE][payload]` on
//! a unix stream socket.
//!
//! An exec is one connection: the client sends [`EXEC`]; the shim answers [`STARTED`] or
//! [`FAILED`], relays the process's output as [`STDOUT`]/[`STDERR`] and ends with
//! [`EXIT`]; [`STDIN`], [`STDIN_CLOSE`], [`RESIZE`] and [`KILL`] on that connection go to
//! the exec'd process, not to the container's.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

/// Shim → client: the container's process started (payload: its pid, i32 LE).
pub const STARTED: u8 = b'S';
/// Shim → client: the start failed (payload: exit code i32 LE, then the message).
pub const FAILED: u8 = b'F';
/// Shim → client: output on the container's stdout (or its terminal).
pub const STDOUT: u8 = b'1';
/// Shim → client: output on the container's stderr.
pub const STDERR: u8 = b'2';
/// Shim → client: the container's process exited (payload: exit code i32 LE).
pub const EXIT: u8 = b'X';

/// Client → shim: send me the output (payload: 1 byte, non-zero to attach stdin too).
pub const ATTACH: u8 = b'A';
/// Client → shim: bytes for the container's stdin.
pub const STDIN: u8 = b'0';
/// Client → shim: the client's stdin ended.
pub const STDIN_CLOSE: u8 = b'C';
/// Client → shim: the window size (rows u16 LE, cols u16 LE).
pub const RESIZE: u8 = b'W';
/// Client → shim: send a signal (payload: signo i32 LE).
pub const KILL: u8 = b'K';
/// Client → shim: stop (payload: signo i32 LE): signal, and no restart afterwards.
pub const STOP: u8 = b'T';
/// Client → shim: remove the container when its process ends, as its owner's death does,
/// but keep its anonymous volumes (`rm -f` without `-v`; the remover sends a `STOP`
/// next, which a shim without this frame acts on alone). No payload.
pub const REMOVE: u8 = b'R';
/// Client → shim: run a process in the container (payload: an [`ExecRequest`], JSON).
pub const EXEC: u8 = b'E';
/// Client → shim: serve the container's embedded DNS server from now on, if it does not
/// yet (it joined its first user network while it runs); answered by `STARTED` or
/// `FAILED`.
pub const DNS: u8 = b'D';
/// Client → shim: the IPv6 side of the published ports relays to this address from now
/// on (payload: 4 bytes of IPv4), or to nothing (no payload): the network that carried
/// them changed while the container runs. Answered by `STARTED` or `FAILED`.
pub const PROXY: u8 = b'P';

/// What an exec runs, made by the container side from the container's spec and the
/// exec's options; the shim adds the pid of the container's process it supervises.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecRequest {
    /// Args, env and cwd of the exec; capabilities, no_new_privileges and additional
    /// gids as the container's own process has them.
    pub process: oci_spec::runtime::Process,
    /// Docker's `--user`, resolved in the container's own /etc/passwd and /etc/group.
    pub user: String,
    /// A pty made in the container's devpts (`-t`), relayed by the shim.
    pub tty: bool,
    /// The client's STDIN frames go to the process (`-i`); else its stdin is /dev/null.
    pub stdin: bool,
    /// `-d`: the process runs on alone; the client goes once it started.
    pub detach: bool,
    /// The container's seccomp filter, `None` if unconfined.
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    /// The client's window size (rows, cols), set on the pty before the process runs.
    pub window: Option<(u16, u16)>,
    /// The container's `--group-add` groups (names or gids), which its execs join too.
    #[serde(default)]
    pub group_add: Vec<String>,
    /// The exec's id in the events journal (`exec_die`'s `execID`); empty for none.
    #[serde(default)]
    pub exec_id: String,
}

/// The largest frame either side accepts.
pub const MAX_FRAME: usize = 1 << 20;

/// Encodes one frame.
pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(5 + payload.len());
    v.push(kind);
    v.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    v.extend_from_slice(payload);
    v
}

/// A frame with an i32 payload.
pub fn frame_i32(kind: u8, n: i32) -> Vec<u8> {
    frame(kind, &n.to_le_bytes())
}

/// The i32 at the start of a payload (0 when too short).
pub fn payload_i32(p: &[u8]) -> i32 {
    p.get(..4)
        .and_then(|b| b.try_into().ok())
        .map(i32::from_le_bytes)
        .unwrap_or(0)
}

/// Splits complete frames off the front of `buf` (bytes received so far); the rest stays.
pub fn split_frames(buf: &mut Vec<u8>) -> Result<Vec<(u8, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while buf.len() - at >= 5 {
        let len = u32::from_le_bytes([buf[at + 1], buf[at + 2], buf[at + 3], buf[at + 4]]) as usize;
        if len > MAX_FRAME {
            return Err(format!("frame of {len} bytes is too large"));
        }
        if buf.len() - at < 5 + len {
            break;
        }
        out.push((buf[at], buf[at + 5..at + 5 + len].to_vec()));
        at += 5 + len;
    }
    buf.drain(..at);
    Ok(out)
}

/// Reads one frame (blocking). `None` at the end of the stream.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::other(format!(
            "frame of {len} bytes is too large"
        )));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(Some((head[0], payload)))
}

/// Writes one frame (blocking).
pub fn write_frame(w: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    w.write_all(&frame(kind, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_whole_and_keep_the_rest() {
        let mut buf = frame(STDOUT, b"hello");
        buf.extend(frame_i32(EXIT, 3));
        let tail = frame(STDERR, b"abc");
        buf.extend_from_slice(&tail[..4]);
        let frames = split_frames(&mut buf).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0], (STDOUT, b"hello".to_vec()));
        assert_eq!(payload_i32(&frames[1].1), 3);
        assert_eq!(buf, tail[..4].to_vec());
        let mut big = vec![STDOUT];
        big.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(split_frames(&mut big).is_err());
    }
}
