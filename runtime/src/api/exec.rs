//! Execs: `POST /containers/{id}/exec` records one (as Docker's daemon, in memory),
//! `POST /exec/{id}/start` runs it detached or hijacked, `GET /exec/{id}/json` tells its
//! state and exit code.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tug::container::ExecOptions;

use super::Server;
use super::error::{ApiError, ApiResult};
use super::router::{blocking, json, json_body, ok_empty};

/// An exec as created, then as it ran.
#[derive(Debug, Clone)]
pub struct ExecRecord {
    container: String,
    opts: ExecOptions,
    attach_stdout: bool,
    attach_stderr: bool,
    running: bool,
    exit_code: Option<i32>,
    /// Messages for the running exec's stream (its terminal's size).
    control: Option<tokio::sync::mpsc::Sender<Vec<u8>>>,
}

/// The ids of the execs this server keeps for container `id` (Docker's `ExecIDs`), or
/// `None` when it keeps none.
pub(super) fn ids_of(server: &Server, id: &str) -> Result<Option<Vec<String>>, ApiError> {
    let mut ids: Vec<String> = lock(server)?
        .iter()
        .filter(|(_, e)| e.container == id)
        .map(|(k, _)| k.clone())
        .collect();
    ids.sort();
    Ok((!ids.is_empty()).then_some(ids))
}

fn no_such_exec(id: &str) -> ApiError {
    ApiError::not_found(format!("No such exec instance: {id}"))
}

fn lock(
    server: &Server,
) -> Result<std::sync::MutexGuard<'_, std::collections::HashMap<String, ExecRecord>>, ApiError> {
    server
        .execs
        .lock()
        .map_err(|_| ApiError::internal("a lock of the server was poisoned"))
}

/// `POST /containers/{id}/exec`: 201 `{"Id": ...}`; the container must run.
pub async fn create(server: Arc<Server>, id: &str, req: Request<Incoming>) -> ApiResult {
    let body = json_body(req).await?;
    let command: Vec<String> = body["Cmd"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if command.is_empty() {
        return Err(ApiError::bad_request("No exec command specified"));
    }
    let text = |k: &str| {
        body[k]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let exec_id = new_id();
    let opts = ExecOptions {
        id: Some(exec_id.clone()),
        command,
        env: body["Env"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        user: text("User"),
        workdir: text("WorkingDir"),
        interactive: body["AttachStdin"].as_bool().unwrap_or(false),
        tty: body["Tty"].as_bool().unwrap_or(false),
        privileged: body["Privileged"].as_bool().unwrap_or(false),
        console_size: super::create::console_size(&body),
        ..Default::default()
    };
    let name = id.to_string();
    let c = blocking(&server, move |e| Ok(e.container(&name)?)).await?;
    if !c.state.running {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("container {} is not running", c.id),
        ));
    }
    lock(&server)?.insert(
        exec_id.clone(),
        ExecRecord {
            container: c.id.to_string(),
            opts,
            attach_stdout: body["AttachStdout"].as_bool().unwrap_or(true),
            attach_stderr: body["AttachStderr"].as_bool().unwrap_or(true),
            running: false,
            exit_code: None,
            control: None,
        },
    );
    Ok(json(StatusCode::CREATED, &json!({ "Id": exec_id })))
}

/// 64 random hex digits, as Docker's ids.
fn new_id() -> String {
    let mut b = [0u8; 32];
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `POST /exec/{id}/start` with `{"Detach": bool, "Tty": bool}`.
pub async fn start(server: Arc<Server>, id: &str, mut req: Request<Incoming>) -> ApiResult {
    let wants_upgrade = super::attach::wants_upgrade(&req);
    let upgrade = hyper::upgrade::on(&mut req);
    let body = json_body(req).await?;
    let detach = body["Detach"].as_bool().unwrap_or(false);
    let record = lock(&server)?
        .get(id)
        .cloned()
        .ok_or_else(|| no_such_exec(id))?;
    if record.running || record.exit_code.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("exec {id} has already run"),
        ));
    }
    let mut opts = record.opts.clone();
    if let Some(tty) = body["Tty"].as_bool() {
        opts.tty = tty || opts.tty;
    }
    let container = record.container.clone();
    if detach {
        opts.detach = true;
        blocking(&server, move |e| Ok(e.exec_container(&container, &opts)?)).await?;
        if let Some(r) = lock(&server)?.get_mut(id) {
            r.running = true;
        }
        return Ok(ok_empty(StatusCode::OK));
    }
    let (tty, stdin) = (opts.tty, opts.interactive);
    let name = container.clone();
    let c = blocking(&server, move |e| Ok(e.container(&name)?)).await?;
    if !c.state.running {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("container {} is not running", c.id),
        ));
    }
    let (control, control_rx) = tokio::sync::mpsc::channel(8);
    if let Some(r) = lock(&server)?.get_mut(id) {
        r.running = true;
        r.control = Some(control);
    }
    let exec_id = id.to_string();
    let streams = super::attach::Streams {
        stdout: record.attach_stdout,
        stderr: record.attach_stderr,
    };
    let run = ExecRun {
        server,
        exec_id,
        container,
        opts,
        tty,
        stdin,
        streams,
        control: control_rx,
    };
    if !wants_upgrade {
        let (io, answer) = super::attach::plain_stream(tty);
        tokio::spawn(run.relay(io));
        return Ok(answer);
    }
    // The process starts once the client has the `101` answer, as Docker's daemon does:
    // output sent with the answer's head would be read (and lost) by a client that reads
    // the head through a buffer before it takes the raw socket (docker-py does).
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        run.relay(TokioIo::new(upgraded)).await;
    });
    Ok(super::attach::upgrade_response(tty))
}

/// An attached exec, ready to start and be relayed over the client's connection.
struct ExecRun {
    server: Arc<Server>,
    exec_id: String,
    container: String,
    opts: ExecOptions,
    tty: bool,
    stdin: bool,
    streams: super::attach::Streams,
    control: tokio::sync::mpsc::Receiver<Vec<u8>>,
}

impl ExecRun {
    async fn relay<I>(self, mut io: I)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let ExecRun {
            server,
            exec_id,
            container,
            opts,
            tty,
            stdin,
            streams,
            control,
        } = self;
        let finish = |code: i32| {
            if let Ok(mut execs) = server.execs.lock()
                && let Some(r) = execs.get_mut(&exec_id)
            {
                r.running = false;
                r.exit_code = Some(code);
                r.control = None;
            }
        };
        let started = blocking(&server, move |e| Ok(e.exec_stream(&container, &opts))).await;
        let (code, why) = match started {
            Ok(Ok(sock)) => {
                super::attach::relay(io, sock, tty, stdin, streams, Some(control), |code| {
                    finish(code.unwrap_or(126))
                })
                .await;
                return;
            }
            // The command could not run: Docker's 126 or 127, and why, on the stream.
            Ok(Err(tug::Error::Container(tug::container::Error::Start(code, msg)))) => (code, msg),
            Ok(Err(e)) => (126, tug::report(&e)),
            Err(e) => (126, e.message),
        };
        use tokio::io::AsyncWriteExt;
        let chunk = if tty {
            format!("{why}\r\n").into_bytes()
        } else {
            super::body::mux_frame(2, format!("{why}\n").as_bytes())
        };
        finish(code);
        let _ = io.write_all(&chunk).await;
        let _ = io.shutdown().await;
    }
}

/// `GET /exec/{id}/json`.
pub async fn inspect(server: Arc<Server>, id: &str) -> ApiResult {
    let r = lock(&server)?
        .get(id)
        .cloned()
        .ok_or_else(|| no_such_exec(id))?;
    let entrypoint = r.opts.command.first().cloned().unwrap_or_default();
    let args = r.opts.command.get(1..).unwrap_or_default();
    let v = json!({
        "ID": id,
        "Running": r.running,
        "ExitCode": r.exit_code,
        "ProcessConfig": {
            "tty": r.opts.tty,
            "entrypoint": entrypoint,
            "arguments": args,
            "privileged": r.opts.privileged,
            "user": r.opts.user.clone().unwrap_or_default(),
        },
        "OpenStdin": r.opts.interactive,
        "OpenStdout": r.attach_stdout,
        "OpenStderr": r.attach_stderr,
        "CanRemove": false,
        "ContainerID": r.container,
        "DetachKeys": "",
        "Pid": 0,
    });
    Ok(json(StatusCode::OK, &v))
}

/// `POST /exec/{id}/resize?h=&w=`: the size of a running exec's terminal.
pub async fn resize(server: Arc<Server>, id: &str, query: super::query::Query) -> ApiResult {
    let size = |k: &str| {
        query
            .get(k)
            .and_then(|v| v.parse::<u16>().ok())
            .unwrap_or(0)
    };
    let control = lock(&server)?
        .get(id)
        .ok_or_else(|| no_such_exec(id))?
        .control
        .clone();
    if let Some(c) = control {
        let _ = c
            .send(tug::container::resize_message(size("h"), size("w")))
            .await;
    }
    Ok(ok_empty(StatusCode::OK))
}
