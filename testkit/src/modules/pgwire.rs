//! Just enough of PostgreSQL's wire protocol (version 3.0) for the fixture's own
//! statements (`CREATE DATABASE`, `DROP DATABASE`): a startup without a password, as the
//! server trusts its unix socket, and simple queries. A test talks to the server with a
//! client crate of its choice; this keeps the testkit free of one.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

/// A session on the server's unix socket.
#[derive(Debug)]
pub(crate) struct Session {
    stream: UnixStream,
}

impl Session {
    /// Starts a session as `user` on `database` over `stream`.
    pub(crate) fn start(stream: UnixStream, user: &str, database: &str) -> Result<Session, String> {
        let mut body = Vec::new();
        body.extend_from_slice(&196_608u32.to_be_bytes()); // protocol 3.0
        for (k, v) in [("user", user), ("database", database)] {
            body.extend_from_slice(k.as_bytes());
            body.push(0);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut msg = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        msg.extend_from_slice(&body);
        // A server that stops answering fails the statement instead of the test hanging
        // (a CREATE DATABASE waits at most 5 s for a template's other sessions).
        let limit = Some(std::time::Duration::from_secs(60));
        stream
            .set_read_timeout(limit)
            .and_then(|()| stream.set_write_timeout(limit))
            .map_err(|e| e.to_string())?;
        let mut s = Session { stream };
        s.stream.write_all(&msg).map_err(|e| e.to_string())?;
        s.until_ready()?;
        Ok(s)
    }

    /// Runs `sql` (one statement, no rows wanted) and returns the server's error, if any.
    pub(crate) fn execute(&mut self, sql: &str) -> Result<(), String> {
        let mut msg = vec![b'Q'];
        msg.extend_from_slice(&((sql.len() + 5) as u32).to_be_bytes());
        msg.extend_from_slice(sql.as_bytes());
        msg.push(0);
        self.stream.write_all(&msg).map_err(|e| e.to_string())?;
        self.until_ready()
    }

    /// Reads messages up to ReadyForQuery: the first error the server sent, if any.
    fn until_ready(&mut self) -> Result<(), String> {
        let mut error = None;
        loop {
            let (kind, body) = self.read_message()?;
            match kind {
                b'Z' => return error.map_or(Ok(()), Err),
                b'E' => error = Some(error_text(&body)),
                b'R' => {
                    let code = body
                        .get(..4)
                        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                    if code != Some(0) {
                        return Err(format!(
                            "the server asks for a password (authentication request {code:?}); \
                             the fixture expects its unix socket to be trusted"
                        ));
                    }
                }
                // Parameters, the backend's key, notices, command tags, rows: not needed.
                _ => {}
            }
        }
    }

    fn read_message(&mut self) -> Result<(u8, Vec<u8>), String> {
        let mut head = [0u8; 5];
        self.stream
            .read_exact(&mut head)
            .map_err(|e| e.to_string())?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if !(4..=64 << 20).contains(&len) {
            return Err(format!("a message of {len} bytes from the server"));
        }
        let mut body = vec![0u8; len - 4];
        self.stream
            .read_exact(&mut body)
            .map_err(|e| e.to_string())?;
        Ok((head[0], body))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.stream.write_all(&[b'X', 0, 0, 0, 4]);
    }
}

/// An ErrorResponse's severity, code and message (`ERROR 42P04: database "x" already
/// exists`).
fn error_text(body: &[u8]) -> String {
    let (mut severity, mut code, mut message) = ("", "", "");
    for field in body.split(|&b| b == 0) {
        let Some((&kind, value)) = field.split_first() else {
            continue;
        };
        let value = std::str::from_utf8(value).unwrap_or("");
        match kind {
            b'S' => severity = value,
            b'C' => code = value,
            b'M' => message = value,
            _ => {}
        }
    }
    format!("{severity} {code}: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_response_is_read_as_the_server_says_it() {
        let body = b"SERROR\0VERROR\0C42P04\0Mdatabase \"x\" already exists\0\0";
        assert_eq!(
            error_text(body),
            "ERROR 42P04: database \"x\" already exists"
        );
        assert_eq!(error_text(b""), " : ");
    }

    /// A fake server on a socket pair: a startup that asks for a password is refused
    /// with a clear error, and a query's error is returned after ReadyForQuery.
    #[test]
    fn the_session_reads_up_to_ready_for_query() {
        let msg = |kind: u8, body: &[u8]| {
            let mut m = vec![kind];
            m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
            m.extend_from_slice(body);
            m
        };
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut replies = msg(b'R', &0u32.to_be_bytes());
        replies.extend(msg(b'S', b"server_version\x0015\0"));
        replies.extend(msg(b'Z', b"I"));
        replies.extend(msg(b'E', b"SERROR\0C42P04\0Mexists\0\0"));
        replies.extend(msg(b'Z', b"I"));
        b.write_all(&replies).unwrap();
        let mut s = Session::start(a, "postgres", "template1").unwrap();
        assert_eq!(
            s.execute("CREATE DATABASE x").unwrap_err(),
            "ERROR 42P04: exists"
        );

        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(&msg(b'R', &10u32.to_be_bytes())).unwrap();
        let e = Session::start(a, "postgres", "template1").unwrap_err();
        assert!(e.contains("password"), "{e}");
    }
}
