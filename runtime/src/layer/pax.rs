//! A streaming pre-filter for the tar reader: PAX records whose key or value holds a
//! newline are re-encoded so that the tar crate, which splits PAX records on `\n`
//! instead of by their length prefixes (composefs/tar-rs#452), reads them right.
//!
//! A PAX record is `<len> <key>=<value>\n` and its value may hold any byte (a file
//! capability can hold a `\n`). The filter walks the 512-byte headers, and rewrites each
//! PAX extension entry (`x`, `g`) that has such a record:
//! - `path` / `linkpath` become a GNU long name / long link entry (`L` / `K`) right
//!   after the PAX entry (the tar crate prefers those to PAX anyway);
//! - any other record becomes `TUG.hex.<hex of key>=<hex of value>`, which
//!   [`decode_record`] turns back (read_meta takes xattrs and mtime from it); a
//!   layer's own `TUG.hex.*` records are re-encoded too, so they decode to themselves
//!   and are ignored, never taken for an xattr;
//! - `size`, `uid` and `gid` with a newline are refused: they are numbers.
//!
//! Entries without such records pass through byte for byte; entry data is copied
//! straight into the reader's buffer. The filter tracks each entry's data size (the
//! header's, or a preceding PAX `size`) exactly as the tar crate does, so both agree on
//! where the next header is. What it does not understand (a bad header checksum, a GNU
//! sparse entry with its extension blocks, a truncated stream) ends the filtering: the
//! rest passes through unchanged and the tar reader fails or succeeds as it would
//! without the filter, with its own error; nothing is altered that the filter did not
//! parse. A malformed PAX entry, one over [`MAX_PAX`], or an unusable record is an
//! error naming the entry: the tar crate would skip such records silently and read
//! the entry with a different path or size than a careful reader would.

use std::io::{self, Read};

/// The largest PAX extension entry read (they are held in memory).
pub const MAX_PAX: u64 = 4 * 1024 * 1024;

const BLOCK: usize = 512;

/// The key prefix of a re-encoded record: `TUG.hex.<hex key>=<hex value>`.
const HEX_PREFIX: &[u8] = b"TUG.hex.";

/// A `Read` adapter over an uncompressed tar stream; see the module doc.
pub struct PaxFilter<R> {
    inner: R,
    /// Bytes made by the filter (headers, PAX entries), given out before anything else.
    out: Vec<u8>,
    out_pos: usize,
    /// Bytes of the current entry's data (with padding) still to pass through.
    remaining: u64,
    /// The `size` of a preceding PAX local entry, for the next file entry.
    pending_size: Option<u64>,
    /// Past the end of the archive, or past something not understood.
    passthrough: bool,
    /// The name field of the last entry header, for errors.
    last: [u8; 100],
}

impl<R: Read> PaxFilter<R> {
    pub fn new(inner: R) -> Self {
        PaxFilter {
            inner,
            out: Vec::new(),
            out_pos: 0,
            remaining: 0,
            pending_size: None,
            passthrough: false,
            last: [0; 100],
        }
    }

    /// Reads the next header and what the filter needs of its entry into `out`.
    fn next_header(&mut self) -> io::Result<()> {
        self.out.clear();
        self.out_pos = 0;
        let mut block = [0u8; BLOCK];
        let got = read_full(&mut self.inner, &mut block)?;
        self.out.extend_from_slice(&block[..got]);
        if got < BLOCK || block.iter().all(|b| *b == 0) {
            // The end (or a truncated header): tar sees the same bytes and decides.
            self.passthrough = true;
            return Ok(());
        }
        let kind = block[156];
        let size = match (checksum_ok(&block), header_size(&block)) {
            (true, Some(size)) if kind != b'S' => size,
            _ => {
                self.passthrough = true;
                return Ok(());
            }
        };
        // As the tar crate: `L`, `K` and `x` are extension headers only with a ustar or
        // GNU magic (else they are entries of their own); a PAX `size` never applies to
        // an extension header; a `g` or any other entry consumes a pending `x`.
        let recognized = matches!(&block[257..265], b"ustar\x0000" | b"ustar  \x00");
        match kind {
            b'x' if recognized => self.pax_entry(block, size)?,
            b'L' | b'K' if recognized => self.remaining = padded(size),
            b'g' => {
                self.pending_size = None;
                self.pax_entry(block, size)?;
            }
            _ => {
                let size = match kind {
                    b'x' | b'L' | b'K' => size,
                    _ => self.pending_size.unwrap_or(size),
                };
                self.pending_size = None;
                self.remaining = padded(size);
                self.last.copy_from_slice(&block[..100]);
            }
        }
        Ok(())
    }

    /// Reads the data of a PAX entry of `size` bytes (its header is in `out`), and
    /// rewrites the entry if it must be.
    fn pax_entry(&mut self, mut block: [u8; BLOCK], size: u64) -> io::Result<()> {
        let what = || {
            format!(
                "the PAX header {:?} (after entry {:?})",
                String::from_utf8_lossy(until_nul(&block[..100])),
                String::from_utf8_lossy(until_nul(&self.last)),
            )
        };
        if size > MAX_PAX {
            return Err(invalid(format!(
                "{}: {size} bytes, more than the {MAX_PAX} read",
                what()
            )));
        }
        // `size` <= MAX_PAX, so it fits a usize.
        let (start, size) = (self.out.len(), size as usize);
        self.out.resize(start + padded(size as u64) as usize, 0);
        if read_full(&mut self.inner, &mut self.out[start..])? < self.out.len() - start {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{}: the stream ends inside it", what()),
            ));
        }
        let body = &self.out[start..start + size];
        let local = block[156] == b'x';
        let fail = |why: BadRecord| invalid(format!("{}: {why}", what()));
        if !needs_rewrite(body).map_err(fail)? {
            if local {
                self.pending_size = pax_size(body);
            }
            return Ok(());
        }
        let r = rewrite_records(body, local).map_err(fail)?;
        if local {
            self.pending_size = pax_size(&r.records);
        }
        self.out.clear();
        set_size(&mut block, r.records.len() as u64);
        self.out.extend_from_slice(&block);
        push_padded(&mut self.out, &r.records);
        for (flag, bytes) in [(b'L', r.path), (b'K', r.linkpath)] {
            if let Some(mut bytes) = bytes {
                bytes.push(0);
                self.out
                    .extend_from_slice(&gnu_long_header(flag, bytes.len()));
                push_padded(&mut self.out, &bytes);
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for PaxFilter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.out_pos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.out_pos);
                buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
                self.out_pos += n;
                return Ok(n);
            }
            if self.remaining > 0 {
                let want = usize::try_from(self.remaining).unwrap_or(usize::MAX);
                let n = buf.len().min(want);
                let got = self.inner.read(&mut buf[..n])?;
                if got == 0 {
                    // Truncated inside an entry: let the tar reader see the end.
                    self.passthrough = true;
                }
                self.remaining -= got as u64;
                return Ok(got);
            }
            if self.passthrough {
                return self.inner.read(buf);
            }
            self.next_header()?;
        }
    }
}

/// A PAX entry's records after re-encoding.
#[derive(Debug, PartialEq)]
struct Rewritten {
    records: Vec<u8>,
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
}

/// Whether a record must be re-encoded: it holds a newline, or its key looks like a
/// re-encoded one (so that [`decode_record`] never takes a layer's own record for one).
fn must_encode(key: &[u8], value: &[u8]) -> bool {
    key.contains(&b'\n') || value.contains(&b'\n') || key.starts_with(HEX_PREFIX)
}

/// A pax record that does not parse: where it starts in the header's body, and why.
#[derive(Debug, thiserror::Error)]
#[error("the record at byte {offset}: {why}")]
struct BadRecord {
    offset: usize,
    why: String,
}

/// Parses `body`'s records by their length prefixes: whether one must be re-encoded.
fn needs_rewrite(body: &[u8]) -> Result<bool, BadRecord> {
    let mut rest = body;
    let mut offset = 0usize;
    while !rest.is_empty() && !rest.iter().all(|b| *b == 0) {
        let (len, key, value) = parse_record(rest).map_err(|why| BadRecord {
            offset,
            why: why.into(),
        })?;
        if must_encode(key, value) {
            return Ok(true);
        }
        rest = &rest[len..];
        offset += len;
    }
    Ok(false)
}

/// Re-encodes `body`'s records (see the module doc). Only a `local` entry's path and
/// link path become GNU long names (the tar crate ignores global ones).
fn rewrite_records(body: &[u8], local: bool) -> Result<Rewritten, BadRecord> {
    let mut out = Rewritten {
        records: Vec::with_capacity(body.len()),
        path: None,
        linkpath: None,
    };
    let mut rest = body;
    let mut offset = 0usize;
    while !rest.is_empty() {
        if rest.iter().all(|b| *b == 0) {
            break; // NUL padding some writers leave: not a record
        }
        let (len, key, value) = parse_record(rest).map_err(|why| BadRecord {
            offset,
            why: why.into(),
        })?;
        if must_encode(key, value) {
            match key {
                b"path" if local => out.path = Some(value.to_vec()),
                b"linkpath" if local => out.linkpath = Some(value.to_vec()),
                b"size" | b"uid" | b"gid" => {
                    return Err(BadRecord {
                        offset,
                        why: format!("a newline in a number ({})", String::from_utf8_lossy(key)),
                    });
                }
                _ => {
                    let mut k = HEX_PREFIX.to_vec();
                    k.extend(hex(key));
                    push_record(&mut out.records, &k, &hex(value));
                }
            }
        } else {
            out.records.extend_from_slice(&rest[..len]);
        }
        rest = &rest[len..];
        offset += len;
    }
    Ok(out)
}

/// Parses the record at the start of `data`: its length, key and value.
fn parse_record(data: &[u8]) -> Result<(usize, &[u8], &[u8]), &'static str> {
    let digits = data.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 10 {
        return Err("no length prefix");
    }
    if data.get(digits) != Some(&b' ') {
        return Err("no space after the length");
    }
    let len = std::str::from_utf8(&data[..digits])
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .ok_or("a bad length")?;
    if len <= digits + 1 || len > data.len() {
        return Err("the length runs past the entry or is too small");
    }
    if data[len - 1] != b'\n' {
        return Err("the record does not end with a newline");
    }
    let kv = &data[digits + 1..len - 1];
    let eq = kv.iter().position(|b| *b == b'=').ok_or("no '=' in it")?;
    if eq == 0 {
        return Err("an empty key");
    }
    Ok((len, &kv[..eq], &kv[eq + 1..]))
}

/// Appends the record `key=value` with its length prefix.
fn push_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    // The length counts its own digits: find the fixed point.
    let mut len = body + 1;
    while body + len.to_string().len() != len {
        len = body + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// The first `size` record as the tar crate reads it (the first one decides).
fn pax_size(records: &[u8]) -> Option<u64> {
    let mut rest = records;
    while let Ok((len, key, value)) = parse_record(rest) {
        if key == b"size" {
            return std::str::from_utf8(value).ok()?.parse().ok();
        }
        rest = &rest[len..];
    }
    None
}

/// Turns a re-encoded `TUG.hex.*` record back into its key and value; `None` for any
/// other record.
pub fn decode_record(key: &[u8], value: &[u8]) -> Option<io::Result<(Vec<u8>, Vec<u8>)>> {
    let hex_key = key.strip_prefix(HEX_PREFIX)?;
    Some(match (unhex(hex_key), unhex(value)) {
        (Some(k), Some(v)) => Ok((k, v)),
        _ => Err(invalid(format!(
            "a malformed {:?} PAX record",
            String::from_utf8_lossy(key)
        ))),
    })
}

fn hex(bytes: &[u8]) -> Vec<u8> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 15)]);
    }
    out
}

fn unhex(hex: &[u8]) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    hex.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

/// Reads until `buf` is full or the stream ends; returns how much was read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Whether the header's checksum is right (as the tar crate checks it: unsigned).
fn checksum_ok(block: &[u8; BLOCK]) -> bool {
    octal(&block[148..156]).is_some_and(|sum| sum == u64::from(checksum(block)))
}

fn checksum(block: &[u8; BLOCK]) -> u32 {
    block[..148]
        .iter()
        .chain(&block[156..])
        .map(|b| u32::from(*b))
        .sum::<u32>()
        + 8 * u32::from(b' ')
}

/// The header's size field: octal, or GNU base-256 (for sizes of 8 GiB and more).
fn header_size(block: &[u8; BLOCK]) -> Option<u64> {
    let field = &block[124..136];
    if field[0] & 0x80 != 0 {
        // Base-256: the tar crate reads the last 8 bytes.
        let mut v = [0u8; 8];
        v.copy_from_slice(&field[4..]);
        Some(u64::from_be_bytes(v))
    } else {
        octal(field)
    }
}

/// An octal number field, with the NUL and space padding tar writers use.
fn octal(field: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(until_nul(field))
        .ok()?
        .trim_matches(' ');
    u64::from_str_radix(s, 8).ok()
}

fn until_nul(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    &field[..end]
}

/// Sets the header's size (octal) and recomputes its checksum.
fn set_size(block: &mut [u8; BLOCK], size: u64) {
    block[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    set_checksum(block);
}

fn set_checksum(block: &mut [u8; BLOCK]) {
    block[148..156].fill(b' ');
    let sum = checksum(block);
    block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// A GNU long name (`L`) or long link (`K`) header for `size` bytes of name.
fn gnu_long_header(flag: u8, size: usize) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    h[..13].copy_from_slice(b"././@LongLink");
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = flag;
    h[257..265].copy_from_slice(b"ustar  \0");
    set_size(&mut h, size as u64);
    h
}

/// The entry data size rounded up to whole blocks.
fn padded(size: u64) -> u64 {
    size.div_ceil(BLOCK as u64).saturating_mul(BLOCK as u64)
}

fn push_padded(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(data);
    out.resize(
        out.len() + (padded(data.len() as u64) as usize - data.len()),
        0,
    );
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

#[cfg(test)]
#[path = "pax_tests.rs"]
mod tests;
