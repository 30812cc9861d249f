//! Blobs over the distribution API: downloads verified (digest and size) while they
//! stream, resumed with `Range` after a broken connection; uploads that skip blobs the
//! registry has (HEAD), mount them from another repository, or send them whole or in
//! chunks.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use ureq::http::Method;

use super::Error;
use super::client::{Client, Payload, Req, transport_detail};
use super::manifest::Descriptor;
use crate::Digest;

/// How often a broken blob stream is resumed before giving up.
const STREAM_RETRIES: u32 = 3;
/// Blobs larger than this are uploaded in chunks of this size (`PATCH`), others whole.
pub const DEFAULT_CHUNK_SIZE: u64 = 64 << 20;

/// Progress of one blob: called with the bytes moved since the last call.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// A file being written and hashed; it can start from a partial file of an earlier try.
struct HashedFile {
    file: File,
    hasher: Sha256,
    len: u64,
}

impl HashedFile {
    /// Opens `path`, hashing what an earlier try left in it.
    fn resume(path: &Path) -> io::Result<HashedFile> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut len = 0;
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            len += n as u64;
        }
        Ok(HashedFile { file, hasher, len })
    }

    fn restart(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.hasher = Sha256::new();
        self.len = 0;
        Ok(())
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)?;
        self.hasher.update(buf);
        self.len += buf.len() as u64;
        Ok(())
    }

    fn digest(&self) -> Digest {
        let hex = crate::digest::to_hex(&self.hasher.clone().finalize());
        // to_hex of a sha256 output is 64 lowercase hex digits, which from_hex accepts.
        Digest::from_hex(&hex).expect("sha256 hex is a digest")
    }
}

/// Downloads blob `desc` of `repo` into `dir/<hex>`, verified; returns that path. A
/// partial `dir/<hex>.partial` of an earlier try is resumed. On a digest or size
/// mismatch the partial file is removed and nothing is left under the final name.
pub fn download(
    client: &Client,
    repo: &str,
    desc: &Descriptor,
    dir: &Path,
    scopes: &[String],
    progress: Progress<'_>,
) -> Result<PathBuf, Error> {
    let t = &client.target;
    let done = dir.join(desc.digest.hex());
    let partial = dir.join(format!("{}.partial", desc.digest.hex()));
    let lock_path = dir.join(format!("{}.lock", desc.digest.hex()));
    let _lock = crate::fsutil::lock_exclusive(&lock_path)
        .map_err(|e| t.io(format!("locking {}", lock_path.display()), e))?;
    if done.exists() {
        progress(desc.size);
        return Ok(done);
    }
    let mut out = HashedFile::resume(&partial)
        .map_err(|e| t.io(format!("opening {}", partial.display()), e))?;
    if out.len > desc.size {
        out.restart()
            .map_err(|e| t.io(format!("truncating {}", partial.display()), e))?;
    }
    progress(out.len);
    let what = format!("GET blob {}", desc.digest);
    let mut broken = 0;
    let mut buf = vec![0u8; 256 << 10];
    while out.len < desc.size || desc.size == 0 {
        let mut headers = vec![("accept-encoding", "identity".to_string())];
        if out.len > 0 {
            headers.push(("range", format!("bytes={}-", out.len)));
        }
        let resp = client.send(
            &Req {
                method: Method::GET,
                url: client.url(&format!("/v2/{repo}/blobs/{}", desc.digest)),
                headers,
                scopes,
                what: what.clone(),
                body_timeout: Some(body_timeout(desc.size - out.len)),
            },
            &|| Ok(Payload::Empty),
        )?;
        match resp.status().as_u16() {
            200 if out.len > 0 => {
                // The server ignored the range: start over (progress counts again).
                out.restart()
                    .map_err(|e| t.io(format!("truncating {}", partial.display()), e))?;
            }
            200 | 206 => {}
            _ => return Err(client.error_from(resp, &what)),
        }
        let mut reader = resp.into_body().into_with_config().limit(u64::MAX).reader();
        let result: Result<(), ureq::Error> = loop {
            match reader.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    if out.len + n as u64 > desc.size {
                        break Ok(()); // too long: the size check below fails it
                    }
                    out.write(&buf[..n])
                        .map_err(|e| t.io(format!("writing {}", partial.display()), e))?;
                    progress(n as u64);
                }
                Err(e) => break Err(ureq::Error::Io(e)),
            }
        };
        match result {
            Ok(()) => break,
            Err(e) if broken < STREAM_RETRIES => {
                broken += 1;
                let _ = e;
                std::thread::sleep(Duration::from_millis(250) * 2u32.pow(broken));
            }
            Err(e) => {
                return Err(Error::Unreachable {
                    reference: t.reference.clone(),
                    registry: t.registry.clone(),
                    detail: format!("{what}: {}", transport_detail(&e)),
                });
            }
        }
    }
    let actual = out.digest();
    if actual != desc.digest || out.len != desc.size {
        let size = out.len;
        drop(out);
        let _ = std::fs::remove_file(&partial);
        return Err(Error::DigestMismatch {
            reference: t.reference.clone(),
            registry: t.registry.clone(),
            expected: desc.digest.clone(),
            actual,
            size,
            expected_size: desc.size,
        });
    }
    out.file
        .sync_all()
        .map_err(|e| t.io(format!("syncing {}", partial.display()), e))?;
    std::fs::rename(&partial, &done)
        .map_err(|e| t.io(format!("renaming {}", partial.display()), e))?;
    Ok(done)
}

/// How long receiving `bytes` may take before the stream counts as stalled and is
/// resumed: two minutes, plus the time at 64 KiB/s (a slow link, not a dead one).
fn body_timeout(bytes: u64) -> Duration {
    Duration::from_secs(120 + bytes / (64 << 10))
}

/// Opens a blob of the local store at an offset, for (re)sending it.
pub type OpenAt<'a> = &'a (dyn Fn(u64) -> io::Result<Box<dyn Read + Send>> + Sync);

/// What an upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uploaded {
    /// The registry had the blob already (HEAD answered 200).
    Exists,
    /// The registry mounted it from another repository.
    Mounted(String),
    /// We sent it.
    Pushed,
}

/// Uploads blob `desc` to `repo`, unless the registry has it; tries a cross-repository
/// mount from `mount_from` first when given.
#[allow(clippy::too_many_arguments)]
pub fn upload(
    client: &Client,
    repo: &str,
    desc: &Descriptor,
    open_at: OpenAt<'_>,
    mount_from: Option<&str>,
    chunk_size: u64,
    scopes: &[String],
    progress: Progress<'_>,
) -> Result<Uploaded, Error> {
    let what = format!("HEAD blob {}", desc.digest);
    let resp = client.send(
        &Req {
            method: Method::HEAD,
            url: client.url(&format!("/v2/{repo}/blobs/{}", desc.digest)),
            headers: vec![],
            scopes,
            what: what.clone(),
            body_timeout: None,
        },
        &|| Ok(Payload::Empty),
    )?;
    match resp.status().as_u16() {
        200 => {
            progress(desc.size);
            return Ok(Uploaded::Exists);
        }
        404 => {}
        _ => return Err(client.error_from(resp, &what)),
    }
    let mut start = format!("/v2/{repo}/blobs/uploads/");
    if let Some(from) = mount_from {
        start.push_str(&format!("?mount={}&from={from}", desc.digest));
    }
    let what = format!("POST blob upload {}", desc.digest);
    let resp = client.send(
        &Req {
            method: Method::POST,
            url: client.url(&start),
            headers: vec![],
            scopes,
            what: what.clone(),
            body_timeout: None,
        },
        &|| Ok(Payload::Empty),
    )?;
    let status = resp.status().as_u16();
    if status == 201 && mount_from.is_some() {
        progress(desc.size);
        return Ok(Uploaded::Mounted(
            mount_from.unwrap_or_default().to_string(),
        ));
    }
    if status != 202 {
        return Err(client.error_from(resp, &what));
    }
    let mut location = location(client, &resp, &what)?;
    let mut sent = 0u64;
    if desc.size > chunk_size {
        while sent < desc.size {
            let len = chunk_size.min(desc.size - sent);
            let what = format!("PATCH blob {} at {sent}", desc.digest);
            let offset = sent;
            let resp = client.send(
                &Req {
                    method: Method::PATCH,
                    url: client.url(&location),
                    headers: vec![
                        ("content-type", "application/octet-stream".into()),
                        ("content-range", format!("{}-{}", offset, offset + len - 1)),
                    ],
                    scopes,
                    what: what.clone(),
                    body_timeout: None,
                },
                &|| {
                    let r = open_at(offset)?;
                    Ok(Payload::Reader(Box::new(r.take(len)), len))
                },
            )?;
            if resp.status().as_u16() != 202 {
                return Err(client.error_from(resp, &what));
            }
            location = self::location(client, &resp, &what)?;
            sent += len;
            progress(len);
        }
    }
    let sep = if location.contains('?') { '&' } else { '?' };
    let url = client.url(&format!("{location}{sep}digest={}", desc.digest));
    let what = format!("PUT blob {}", desc.digest);
    let remaining = desc.size - sent;
    let resp = client.send(
        &Req {
            method: Method::PUT,
            url,
            headers: vec![("content-type", "application/octet-stream".into())],
            scopes,
            what: what.clone(),
            body_timeout: None,
        },
        &|| {
            if remaining == 0 {
                return Ok(Payload::Empty);
            }
            let r = open_at(sent)?;
            Ok(Payload::Reader(
                Box::new(Counting {
                    inner: r.take(remaining),
                    progress,
                }),
                remaining,
            ))
        },
    )?;
    if resp.status().as_u16() != 201 {
        return Err(client.error_from(resp, &what));
    }
    Ok(Uploaded::Pushed)
}

fn location(
    client: &Client,
    resp: &ureq::http::Response<ureq::Body>,
    what: &str,
) -> Result<String, Error> {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| Error::Protocol {
            reference: client.target.reference.clone(),
            registry: client.target.registry.clone(),
            what: what.to_string(),
            status: resp.status().as_u16(),
            detail: "no Location header".into(),
        })
}

/// A reader that reports what passes through it.
struct Counting<'a, R> {
    inner: R,
    progress: Progress<'a>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.progress)(n as u64);
        Ok(n)
    }
}
