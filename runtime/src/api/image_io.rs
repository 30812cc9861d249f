//! The image endpoints that move whole images or their records: `history`, `get` (a
//! `docker save` archive, streamed), `load` (an archive in the request body, streamed
//! into the Engine's load), `import` (a root file system tar in the body), and the
//! registry credentials of `/auth` and of the `X-Registry-Auth` header of pulls and
//! pushes.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tug::image::ArchiveFormat;
use tug::registry::Credentials;

use super::Server;
use super::archive::ChannelWriter;
use super::body::{channel, empty};
use super::error::{ApiError, ApiResult};
use super::router::{blocking, json, json_body};

/// `GET /images/{name}/history`: Docker's `HistoryResponseItem`s, newest first.
pub async fn history(server: Arc<Server>, name: String) -> ApiResult {
    let (entries, tags) = blocking(&server, move |e| {
        let tags = super::images::repo_tags(&e.image(&name)?);
        Ok((e.image_history(&name)?, tags))
    })
    .await?;
    let out: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(i, h)| {
            json!({
                "Id": h.id.as_ref().map_or_else(|| "<missing>".to_string(), |d| d.to_string()),
                "Created": super::images::unix_seconds(h.created.as_deref()),
                "CreatedBy": h.created_by,
                "Tags": if i == 0 && !tags.is_empty() { json!(tags) } else { Value::Null },
                "Size": h.size,
                "Comment": h.comment,
            })
        })
        .collect();
    Ok(json(StatusCode::OK, &Value::Array(out)))
}

/// `GET /images/{name}/get` and `GET /images/get?names=A&names=B`: the images as one
/// `docker save` archive, streamed. Every name is checked first, so a missing one is a
/// 404, not a broken archive.
pub async fn get(server: Arc<Server>, names: Vec<String>) -> ApiResult {
    if names.is_empty() {
        return Err(ApiError::bad_request("no image names (names) to save"));
    }
    let check = names.clone();
    blocking(&server, move |e| {
        for n in &check {
            e.image(n)?;
        }
        Ok(())
    })
    .await?;
    let (tx, body) = channel();
    let engine = server.engine.clone();
    tokio::task::spawn_blocking(move || {
        // A failure half-way can only cut the archive short: the client sees a truncated
        // tar, as with Docker's daemon.
        if let Err(e) = engine.save_images(&names, ArchiveFormat::Docker, ChannelWriter(tx)) {
            eprintln!("tug system service: saving {names:?}: {}", tug::report(&e));
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/x-tar")
        .body(body)
        .unwrap_or_else(|_| Response::new(empty())))
}

/// The request body as a blocking `Read`, fed by a task that pulls its frames.
struct BodyReader {
    rx: mpsc::Receiver<Result<Bytes, String>>,
    chunk: Bytes,
}

impl BodyReader {
    fn new(req: Request<Incoming>) -> BodyReader {
        let (tx, rx) = mpsc::channel(16);
        let mut body = req.into_body();
        tokio::spawn(async move {
            while let Some(frame) = body.frame().await {
                let item = match frame {
                    Ok(f) => match f.into_data() {
                        Ok(d) => Ok(d),
                        Err(_) => continue,
                    },
                    Err(e) => Err(e.to_string()),
                };
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    break;
                }
            }
        });
        BodyReader {
            rx,
            chunk: Bytes::new(),
        }
    }
}

impl std::io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(b)) => self.chunk = b,
                Some(Err(e)) => {
                    return Err(std::io::Error::other(format!(
                        "reading the request body: {e}"
                    )));
                }
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        Ok(n)
    }
}

/// `POST /images/create?fromSrc=-&repo=&tag=&message=&changes=&platform=` (`docker
/// import`): the body is a tar of a root file system (plain or compressed), imported as it
/// arrives as a one-layer image; the answer is Docker's `{"status": "sha256:..."}` line. A
/// URL in `fromSrc` is refused: the client can download it and send it as the body.
pub async fn import(
    server: Arc<Server>,
    query: super::query::Query,
    req: Request<Incoming>,
) -> ApiResult {
    let source = query.get("fromSrc").unwrap_or_default();
    if source != "-" {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "importing from {source:?} is not supported by tug: download it and import it from the request body (fromSrc=-), e.g. `curl -L URL | docker import - NAME`"
            ),
        ));
    }
    if let Some(p) = query.get("platform").filter(|p| !p.is_empty()) {
        let host = format!("linux/{}", tug::image::host_arch());
        if p != host {
            return Err(ApiError::bad_request(format!(
                "platform {p:?}: only {host} can be imported on this machine"
            )));
        }
    }
    let reference = query.repo_tag()?;
    if let Some(r) = reference.as_ref().filter(|r| r.digest.is_some()) {
        return Err(ApiError::bad_request(format!(
            "{r}: an imported image is named by a tag, not a digest"
        )));
    }
    let opts = tug::image::ImportOptions {
        reference,
        changes: query.all("changes").iter().map(|c| c.to_string()).collect(),
        message: query
            .get("message")
            .filter(|m| !m.is_empty())
            .map(str::to_string),
        source: source.to_string(),
        created: None,
    };
    let input = BodyReader::new(req);
    let image = blocking(&server, move |e| Ok(e.import_image(input, &opts)?)).await?;
    let line = json!({ "status": image.id.to_string() }).to_string() + "\r\n";
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(super::body::full(line))
        .unwrap_or_else(|_| Response::new(empty())))
}

/// `POST /images/load?quiet=`: the archive in the body (docker-archive or OCI, plain or
/// gzip) loaded as it arrives; the answer is the classic `{"stream": "Loaded image:
/// NAME\n"}` lines. A malformed archive loads nothing and is an error.
pub async fn load(server: Arc<Server>, req: Request<Incoming>) -> ApiResult {
    let input = BodyReader::new(req);
    let loaded = blocking(&server, move |e| Ok(e.load_images(input)?)).await?;
    let mut lines = String::new();
    for l in &loaded {
        for (name, old) in &l.replaced {
            let msg = format!(
                "The image {name} already exists, renaming the old one with ID {old} to empty string\n"
            );
            lines += &(json!({ "stream": msg }).to_string() + "\n");
        }
        if l.names.is_empty() {
            let msg = format!("Loaded image ID: {}\n", l.id);
            lines += &(json!({ "stream": msg }).to_string() + "\n");
        }
        for n in &l.names {
            let msg = format!("Loaded image: {n}\n");
            lines += &(json!({ "stream": msg }).to_string() + "\n");
        }
    }
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(super::body::full(lines))
        .unwrap_or_else(|_| Response::new(empty())))
}

/// Decodes base64 as clients send it: URL-safe (the Go client) or standard, padded or
/// not.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let normal: String = text
        .trim()
        .chars()
        .filter(|c| *c != '=')
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(normal)
        .ok()
}

/// The credentials of an auth config (`{"username", "password", "serveraddress"}`); None
/// when it names no user (the CLI sends `{}` for an anonymous pull).
fn credentials_of(v: &Value) -> Option<Credentials> {
    let username = v["username"].as_str().filter(|u| !u.is_empty())?;
    Some(Credentials {
        username: username.to_string(),
        password: v["password"].as_str().unwrap_or_default().to_string(),
    })
}

/// The credentials of a request's `X-Registry-Auth` header (base64url of an auth config
/// as JSON); None without the header or for an anonymous one.
pub fn registry_auth(headers: &HeaderMap) -> Result<Option<Credentials>, ApiError> {
    let Some(value) = headers.get("x-registry-auth") else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::bad_request("X-Registry-Auth: not text"))?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    let bytes =
        decode_base64(text).ok_or_else(|| ApiError::bad_request("X-Registry-Auth: not base64"))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(format!("X-Registry-Auth: not a JSON auth config: {e}"))
    })?;
    Ok(credentials_of(&v))
}

/// `POST /auth`: checks the credentials against the registry (Docker Hub when no
/// `serveraddress`) and stores nothing, as Docker's daemon: the client keeps them and
/// sends them with each pull and push.
pub async fn auth(server: Arc<Server>, req: Request<Incoming>) -> ApiResult {
    let body = json_body(req).await?;
    let creds = credentials_of(&body)
        .ok_or_else(|| ApiError::bad_request("a user name (username) is required"))?;
    let address = body["serveraddress"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or("docker.io")
        .to_string();
    let checked = blocking(&server, move |e| Ok(e.check_credentials(&address, &creds))).await?;
    match checked {
        Ok(()) => Ok(json(
            StatusCode::OK,
            &json!({ "Status": "Login Succeeded", "IdentityToken": "" }),
        )),
        Err(e @ tug::registry::Error::Unauthorized { .. })
        | Err(e @ tug::registry::Error::Denied { .. }) => {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, tug::report(&e)))
        }
        Err(e) => Err(ApiError::internal(tug::report(&e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_auth_reads_url_safe_and_standard_base64() {
        // A user name whose base64 holds '/' (standard) where URL-safe has '_'.
        let json = r#"{"username":"a???","password":"s3cret","serveraddress":"h:5000"}"#;
        let std = base64::engine::general_purpose::STANDARD.encode(json);
        let url = base64::engine::general_purpose::URL_SAFE.encode(json);
        assert_ne!(std, url, "the sample must differ between the alphabets");
        for text in [std.as_str(), url.as_str(), url.trim_end_matches('=')] {
            let mut h = HeaderMap::new();
            h.insert("X-Registry-Auth", text.parse().unwrap());
            let c = registry_auth(&h).unwrap().expect("credentials");
            assert_eq!(
                (c.username.as_str(), c.password.as_str()),
                ("a???", "s3cret")
            );
        }
        let mut h = HeaderMap::new();
        h.insert("X-Registry-Auth", "e30=".parse().unwrap());
        assert!(registry_auth(&h).unwrap().is_none(), "{{}} is anonymous");
        assert!(registry_auth(&HeaderMap::new()).unwrap().is_none());
        h.insert("X-Registry-Auth", "!!!".parse().unwrap());
        assert_eq!(
            registry_auth(&h).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }
}
