//! The layer's byte stream before its entries are applied: gzip detected by its magic
//! bytes and decompressed, the uncompressed tar hashed (its diff id), either on the
//! calling thread or on a second thread that feeds the writer through a channel.

use std::io::{self, BufReader, Read};
use std::sync::mpsc::{Receiver, sync_channel};

use super::{BUF_SIZE, Error};
use crate::Digest;
use crate::digest::HashingReader;

/// What a consumer of the stream returned, with the digest and size of the whole
/// uncompressed tar.
pub(super) struct Decoded<T> {
    pub value: T,
    pub diff_id: Digest,
    pub tar_size: u64,
}

/// Gives `consume` the uncompressed, hashed stream of `reader` (plain or gzip).
/// `consume` must read the stream to its end, so the digest covers all of it.
pub(super) fn hashed<T>(
    reader: impl Read,
    consume: impl FnOnce(&mut dyn Read) -> Result<T, Error>,
) -> Result<Decoded<T>, Error> {
    let mut hashing = HashingReader::new(decoded(reader)?);
    let value = consume(&mut hashing)?;
    let (diff_id, tar_size) = hashing.finish();
    Ok(Decoded {
        value,
        diff_id,
        tar_size,
    })
}

/// As [`hashed`], with the decompression and hashing on a second thread, overlapped with
/// `consume` (a gzip layer unpacks faster on a machine with a spare core).
pub(super) fn threaded<T>(
    reader: impl Read + Send,
    consume: impl FnOnce(&mut dyn Read) -> Result<T, Error>,
) -> Result<Decoded<T>, Error> {
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(8);
        let worker = scope.spawn(move || -> Result<(Digest, u64), Error> {
            let mut hashing = HashingReader::new(decoded(reader)?);
            loop {
                let mut chunk = vec![0u8; BUF_SIZE];
                let n = match hashing.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        break;
                    }
                };
                chunk.truncate(n);
                if tx.send(Ok(chunk)).is_err() {
                    break; // the consumer gave up (an error of its own)
                }
            }
            Ok(hashing.finish())
        });
        let mut stream = ChannelReader {
            rx,
            cur: Vec::new(),
            pos: 0,
            failed: false,
        };
        let result = consume(&mut stream);
        drop(stream); // unblocks the worker if the consumer stopped early
        let hashed = match worker.join() {
            Ok(h) => h,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let value = result?;
        let (diff_id, tar_size) = hashed?;
        Ok(Decoded {
            value,
            diff_id,
            tar_size,
        })
    })
}

/// The reading end of [`threaded`]'s pipe of decompressed chunks.
struct ChannelReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
    failed: bool,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::other("the layer stream failed earlier"));
        }
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.cur = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.failed = true;
                    return Err(e);
                }
                Err(_) => return Ok(0), // the sender is done: end of stream
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The uncompressed tar stream of a layer: gzip is detected by its magic bytes.
fn decoded<'a>(reader: impl Read + 'a) -> Result<Box<dyn Read + 'a>, Error> {
    // The first bytes tell gzip from tar; read them whole even from a trickling pipe.
    let mut reader = reader;
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        match reader.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Error::Read {
                    at: "its start".into(),
                    source: e,
                });
            }
        }
    }
    let magic = &head[..got];
    let input = BufReader::with_capacity(
        BUF_SIZE,
        io::Cursor::new(head).take(got as u64).chain(reader),
    );
    Ok(match magic {
        [0x1f, 0x8b, ..] => Box::new(BufReader::with_capacity(
            BUF_SIZE,
            flate2::bufread::MultiGzDecoder::new(input),
        )),
        [0x28, 0xb5, 0x2f, 0xfd] => {
            return Err(Error::Read {
                at: "its start".into(),
                source: io::Error::new(
                    io::ErrorKind::Unsupported,
                    "zstd-compressed layers are not supported",
                ),
            });
        }
        _ => Box::new(input),
    })
}
