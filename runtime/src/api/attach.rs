//! Hijacked streams: `POST /containers/{id}/attach` and an attached exec start answer
//! `101 Upgrade: tcp`, then relay the shim's stream over the connection: output as
//! Docker's multiplexed frames (raw bytes with a TTY), the client's bytes to stdin. A
//! client that did not ask for the upgrade (dockerode without `hijack`, as
//! testcontainers-node's exec) gets Docker's other answer: `200 OK` with the stream as
//! the body ([`plain_stream`]).

use std::os::unix::net::UnixStream;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tug::container::{StreamOutput, split_output, stdin_close_message, stdin_message};

use super::body::{Body, empty, mux_frame};
use super::error::{ApiError, ApiResult};
use super::query::Query;
use super::router::blocking;
use super::{PendingAttach, Server};

/// `POST /containers/{id}/attach?stream=1&stdin=&stdout=&stderr=`: attaches to a running
/// container, or waits for the start of a created one (`docker run` attaches first).
pub async fn attach(
    server: Arc<Server>,
    id: &str,
    query: Query,
    mut req: Request<Incoming>,
) -> ApiResult {
    let name = id.to_string();
    let c = blocking(&server, move |e| Ok(e.container(&name)?)).await?;
    let stdin = query.flag("stdin", false);
    // Only the streams asked for: `docker run -a stderr` has no writer for stdout, and
    // Docker's client panics on a frame of a stream it did not ask for.
    let streams = Streams {
        stdout: query.flag("stdout", false),
        stderr: query.flag("stderr", false),
    };
    let cid = c.id.to_string();
    let live = c.state.running || c.state.paused || c.state.restarting;
    let stream = if live {
        let id = cid.clone();
        Source::Now(blocking(&server, move |e| Ok(e.attach_stream(&id, stdin)?)).await?)
    } else {
        let id = cid.clone();
        blocking(&server, move |e| Ok(e.note_attach(&id)?)).await?;
        let (tx, rx) = oneshot::channel();
        server
            .pending
            .lock()
            .map_err(|_| ApiError::internal("a lock of the server was poisoned"))?
            .insert(cid.clone(), PendingAttach { stdin, stream: tx });
        Source::AtStart(rx)
    };
    let tty = c.config.tty;
    let attached = Attached {
        server,
        cid,
        stream,
        tty,
        stdin,
        streams,
    };
    if !wants_upgrade(&req) {
        let (io, answer) = plain_stream(tty);
        tokio::spawn(attached.relay(io));
        return Ok(answer);
    }
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        attached.relay(TokioIo::new(upgraded)).await;
    });
    Ok(upgrade_response(tty))
}

/// An attach, ready to be relayed over the client's connection.
struct Attached {
    server: Arc<Server>,
    cid: String,
    stream: Source,
    tty: bool,
    stdin: bool,
    streams: Streams,
}

impl Attached {
    async fn relay<I>(self, io: I)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let sock = match self.stream {
            Source::Now(s) => s,
            Source::AtStart(rx) => match rx.await {
                Ok(s) => s,
                Err(_) => return,
            },
        };
        let (server, cid) = (self.server, self.cid);
        relay(io, sock, self.tty, self.stdin, self.streams, None, |code| {
            if let Some(code) = code {
                let _ = server.exits.send((cid, code));
            }
        })
        .await;
    }
}

/// Whether the client asked to take the connection over (`Upgrade: tcp`), as the docker
/// CLI, docker-py, the Go client and bollard do.
pub fn wants_upgrade<B>(req: &Request<B>) -> bool {
    req.headers().contains_key(hyper::header::UPGRADE)
}

/// The connection of a client that did not ask for the upgrade, served as Docker's
/// daemon serves it: `200 OK` with the stream (multiplexed frames, raw bytes with a TTY)
/// as the body, which ends when the stream does. Such a client has no way to send input:
/// the process's stdin sees its end at once. Returns the end to relay over, and the
/// answer.
pub fn plain_stream(tty: bool) -> (tokio::io::DuplexStream, Response<Body>) {
    let (ours, mut theirs) = tokio::io::duplex(64 * 1024);
    let (tx, body) = super::body::channel();
    tokio::spawn(async move {
        let _ = theirs.shutdown().await;
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match theirs.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send(bytes::Bytes::copy_from_slice(&buf[..n]))
                        .await
                        .is_err()
                    {
                        // The client went: dropping our side ends the relay's writes.
                        break;
                    }
                }
            }
        }
    });
    let answer = Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", stream_kind(tty))
        .body(body)
        .unwrap_or_else(|_| Response::new(empty()));
    (ours, answer)
}

/// The media type of a hijacked stream (API 1.42's: multiplexed unless a TTY).
fn stream_kind(tty: bool) -> &'static str {
    if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    }
}

/// The output streams a client attached to.
#[derive(Debug, Clone, Copy)]
pub struct Streams {
    pub stdout: bool,
    pub stderr: bool,
}

/// Where an attach's stream comes from.
enum Source {
    Now(UnixStream),
    AtStart(oneshot::Receiver<UnixStream>),
}

/// The `101 Switching Protocols` answer of a hijacked endpoint.
pub fn upgrade_response(tty: bool) -> Response<Body> {
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("Content-Type", stream_kind(tty))
        .header("Connection", "Upgrade")
        .header("Upgrade", "tcp")
        .body(empty())
        .unwrap_or_else(|_| Response::new(empty()))
}

/// Relays the shim's stream `sock` and the client's connection `io` until the process
/// exits or either side goes; output of a stream not in `streams` is dropped. `on_exit` hears the exit code (`None`: the stream ended
/// without one) before the client's connection closes, so that what the client asks
/// next (`wait`, an exec's inspect) knows it.
pub async fn relay<I>(
    io: I,
    sock: UnixStream,
    tty: bool,
    stdin: bool,
    streams: Streams,
    control: Option<mpsc::Receiver<Vec<u8>>>,
    on_exit: impl FnOnce(Option<i32>),
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Ok(()) = sock.set_nonblocking(true) else {
        return on_exit(None);
    };
    let Ok(sock) = tokio::net::UnixStream::from_std(sock) else {
        return on_exit(None);
    };
    let (mut shim_r, mut shim_w) = sock.into_split();
    let (mut client_r, mut client_w) = tokio::io::split(io);
    // The write half lives as long as the relay: dropping it would shut the socket's
    // write side, which the shim reads as the client gone. It carries the client's
    // bytes (as stdin) and the messages of `control` (an exec's resizes).
    let (closing, mut closing_rx) = tokio::sync::watch::channel(false);
    let mut input = tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        let mut reading = stdin;
        let mut control = control;
        loop {
            tokio::select! {
                _ = closing_rx.changed() => break,
                r = client_r.read(&mut buf), if reading => match r {
                    Ok(0) | Err(_) => {
                        let _ = shim_w.write_all(&stdin_close_message()).await;
                        reading = false;
                    }
                    Ok(n) => {
                        if shim_w.write_all(&stdin_message(&buf[..n])).await.is_err() {
                            reading = false;
                        }
                    }
                },
                m = next_control(&mut control) => match m {
                    Some(bytes) => {
                        let _ = shim_w.write_all(&bytes).await;
                    }
                    None => control = None,
                },
            }
        }
        // The relay is over: what the client still sends is read and dropped until it
        // closes its side. Closing a socket with unread bytes in it (a terminal's last
        // keys, a resize) resets the connection, and the client could see the reset
        // before the output it had not read yet (`docker exec -it` then loses the code).
        while let Ok(n) = client_r.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    });
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    let code = 'relay: loop {
        let n = match shim_r.read(&mut buf).await {
            Ok(0) | Err(_) => break None,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        let Ok(messages) = split_output(&mut pending) else {
            break None;
        };
        for m in messages {
            let (stream, data) = match m {
                StreamOutput::Stdout(d) if streams.stdout => (1, d),
                StreamOutput::Stderr(d) if streams.stderr => (2, d),
                StreamOutput::Stdout(_) | StreamOutput::Stderr(_) => continue,
                StreamOutput::Exit(code) => break 'relay Some(code),
            };
            let chunk = if tty { data } else { mux_frame(stream, &data) };
            if client_w.write_all(&chunk).await.is_err() {
                break 'relay None;
            }
        }
    };
    on_exit(code);
    let _ = client_w.flush().await;
    let _ = client_w.shutdown().await;
    // A lingering close: the input task drains the client's side until it closes (it
    // has our end of the stream by now), for at most two seconds.
    let _ = closing.send(true);
    if tokio::time::timeout(std::time::Duration::from_secs(2), &mut input)
        .await
        .is_err()
    {
        input.abort();
    }
}

/// Reads a started container's stream (no output asked) until its exit, for `wait`.
pub async fn watch_exit(server: Arc<Server>, c: tug::container::Container, sock: UnixStream) {
    let cid = c.id.to_string();
    let Ok(()) = sock.set_nonblocking(true) else {
        return;
    };
    let Ok(mut sock) = tokio::net::UnixStream::from_std(sock) else {
        return;
    };
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 8 * 1024];
    loop {
        let n = match sock.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        let Ok(messages) = split_output(&mut pending) else {
            return;
        };
        for m in messages {
            if let StreamOutput::Exit(code) = m {
                let _ = server.exits.send((cid, code));
                return;
            }
        }
    }
}

/// The next control message, or never when there is no channel.
async fn next_control(control: &mut Option<mpsc::Receiver<Vec<u8>>>) -> Option<Vec<u8>> {
    match control {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
