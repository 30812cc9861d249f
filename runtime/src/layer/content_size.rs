//! The size Docker gives a layer, read off its tar stream as it passes.
//!
//! Docker's `images`, `history` and `system df` count a layer as the bytes of its files
//! once unpacked (its storage driver's `directory.Size` of the layer's dir): each regular
//! file's length, a hard link's other names nothing more, a symlink the length of its
//! target, dirs, devices, fifos and whiteouts nothing. The tar's own headers and padding
//! do not count, so the tar's length overstates small-file layers (busybox's 400
//! symlinks: 8%). [`ContentSize`] parses the headers of an uncompressed tar fed to it in
//! pieces of any size and sums that, PAX `size` and `linkpath` records and GNU long link
//! names included.

use std::io::{self, Read};

const BLOCK: usize = 512;
/// The longest PAX or GNU long-name body kept to read (a longer one is skipped).
const MAX_META: u64 = 1 << 20;

/// A header's extension being read: its body, and what it is.
#[derive(Debug)]
struct Meta {
    /// A PAX header of the next entry (`x`), else a GNU long link name (`K`).
    pax: bool,
    body: Vec<u8>,
    /// Bytes of the body still to come, and the padding after it.
    left: u64,
    pad: u64,
}

/// The running sum of a tar stream's content sizes (see the module).
#[derive(Debug, Default)]
pub struct ContentSize {
    total: u64,
    /// Bytes fed.
    fed: u64,
    header: Vec<u8>,
    /// Bytes of the current entry's data and padding still to pass.
    skip: u64,
    meta: Option<Meta>,
    /// From the extension headers before the next entry.
    next_size: Option<u64>,
    next_link_len: Option<u64>,
}

impl ContentSize {
    pub fn new() -> Self {
        ContentSize::default()
    }

    /// The content size of the entries whose headers have passed.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// How many bytes of the stream were fed (0: it was not read).
    pub fn bytes(&self) -> u64 {
        self.fed
    }

    /// Takes the next bytes of the stream.
    pub fn feed(&mut self, mut buf: &[u8]) {
        self.fed += buf.len() as u64;
        while !buf.is_empty() {
            if let Some(m) = &mut self.meta {
                if m.left > 0 {
                    let n = (m.left as usize).min(buf.len());
                    if (m.body.len() as u64) < MAX_META {
                        m.body.extend_from_slice(&buf[..n]);
                    }
                    m.left -= n as u64;
                    buf = &buf[n..];
                    continue;
                }
                let m = self.meta.take().expect("a meta header");
                self.skip = m.pad;
                if m.pax {
                    self.read_pax(&m.body);
                } else {
                    let len = m.body.iter().position(|&b| b == 0).unwrap_or(m.body.len());
                    self.next_link_len = Some(len as u64);
                }
                continue;
            }
            if self.skip > 0 {
                let n = (self.skip.min(buf.len() as u64)) as usize;
                self.skip -= n as u64;
                buf = &buf[n..];
                continue;
            }
            let n = (BLOCK - self.header.len()).min(buf.len());
            self.header.extend_from_slice(&buf[..n]);
            buf = &buf[n..];
            if self.header.len() == BLOCK {
                let h = std::mem::take(&mut self.header);
                self.on_header(&h);
            }
        }
    }

    fn on_header(&mut self, h: &[u8]) {
        if h.iter().all(|&b| b == 0) {
            return; // the end-of-archive blocks
        }
        let kind = h[156];
        let size = match kind {
            b'x' | b'g' | b'K' | b'L' => field_number(&h[124..136]),
            _ => self
                .next_size
                .take()
                .unwrap_or_else(|| field_number(&h[124..136])),
        };
        let pad = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        match kind {
            b'x' | b'K' => {
                self.meta = Some(Meta {
                    pax: kind == b'x',
                    body: Vec::new(),
                    left: size,
                    pad: pad - size,
                });
                if size == 0 {
                    // An empty body: nothing to wait for.
                    let m = self.meta.take().expect("just set");
                    if m.pax {
                        self.read_pax(&m.body);
                    }
                }
                return;
            }
            // Global PAX headers and GNU long names change no size.
            b'g' | b'L' => {
                self.skip = pad;
                return;
            }
            b'0' | 0 | b'7' => self.total += size,
            b'2' => {
                let field = &h[157..257];
                let len = field.iter().position(|&b| b == 0).unwrap_or(field.len());
                self.total += self.next_link_len.unwrap_or(len as u64);
            }
            // Hard links (counted with their first name), dirs, devices, fifos.
            _ => {}
        }
        self.next_link_len = None;
        self.skip = pad;
    }

    /// A PAX body's `size` and `linkpath` records, for the next entry.
    fn read_pax(&mut self, mut body: &[u8]) {
        while !body.is_empty() {
            let Some(sp) = body.iter().position(|&b| b == b' ') else {
                return;
            };
            let Some(len) = std::str::from_utf8(&body[..sp])
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
                .filter(|&l| l > sp && l <= body.len())
            else {
                return;
            };
            let record = &body[sp + 1..len];
            let record = record.strip_suffix(b"\n").unwrap_or(record);
            if let Some(eq) = record.iter().position(|&b| b == b'=') {
                let (key, value) = (&record[..eq], &record[eq + 1..]);
                match key {
                    b"size" => {
                        self.next_size =
                            std::str::from_utf8(value).ok().and_then(|v| v.parse().ok())
                    }
                    b"linkpath" => self.next_link_len = Some(value.len() as u64),
                    _ => {}
                }
            }
            body = &body[len..];
        }
    }
}

/// A header's numeric field: octal digits (spaces and NULs around them), or GNU's
/// base-256 form (the first byte's high bit set).
fn field_number(f: &[u8]) -> u64 {
    if f.first().is_some_and(|b| b & 0x80 != 0) {
        return f[1..].iter().fold(u64::from(f[0] & 0x7f), |n, &b| {
            n.wrapping_shl(8) | u64::from(b)
        });
    }
    f.iter()
        .skip_while(|&&b| b == b' ' || b == 0)
        .take_while(|&&b| (b'0'..=b'7').contains(&b))
        .fold(0u64, |n, &b| n.wrapping_mul(8) + u64::from(b - b'0'))
}

/// A reader that passes a tar stream through, summing its content size.
pub struct ContentSizeReader<R> {
    pub inner: R,
    pub size: ContentSize,
}

impl<R> ContentSizeReader<R> {
    pub fn new(inner: R) -> Self {
        ContentSizeReader {
            inner,
            size: ContentSize::new(),
        }
    }
}

impl<R: Read> Read for ContentSizeReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.size.feed(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
#[path = "content_size_tests.rs"]
mod tests;
