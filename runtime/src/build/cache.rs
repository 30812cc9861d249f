//! The build cache: which image a build step made, keyed by everything the step's result
//! depends on. A key chains the key of the step before it (so the whole parent chain
//! counts), the instruction as written, the ARG and ENV values it sees and, for COPY and
//! ADD, a digest of the content it reads. An entry is one small file under
//! `<root>/build-cache/` holding the image's id, written to a temporary
//! name and renamed, so a crash never leaves a half entry; an entry whose image is gone
//! is a miss.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::Digest;

/// The file listing every image the cache made.
const IMAGES_LOG: &str = ".images";

/// A cache key: the hash of a step and everything before it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key(String);

impl Key {
    /// The key of a stage's base: the base image's manifest digest (or `scratch`) and
    /// the platform.
    pub fn base(base: &str) -> Key {
        KeyBuilder::new("base").part(base).finish()
    }

    /// The next key in a chain, from this one.
    pub fn then(&self, kind: &str) -> KeyBuilder {
        KeyBuilder::new(kind).part(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Builds a key from length-prefixed parts, so that no two lists of parts hash alike.
pub struct KeyBuilder(Sha256);

impl KeyBuilder {
    fn new(kind: &str) -> KeyBuilder {
        KeyBuilder(Sha256::new())
            .part("tug-build-cache-v1")
            .part(kind)
    }

    pub fn part(mut self, s: &str) -> KeyBuilder {
        self.0.update((s.len() as u64).to_le_bytes());
        self.0.update(s.as_bytes());
        self
    }

    pub fn parts<'a>(mut self, list: impl IntoIterator<Item = &'a String>) -> KeyBuilder {
        let list: Vec<&String> = list.into_iter().collect();
        self = self.part(&list.len().to_string());
        for s in list {
            self = self.part(s);
        }
        self
    }

    pub fn finish(self) -> Key {
        Key(crate::digest::to_hex(&self.0.finalize()))
    }
}

/// The cache's directory of entries.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache of the state root `root`.
    pub fn open(root: &Path) -> Cache {
        Cache {
            dir: root.join("build-cache"),
        }
    }

    /// The image id recorded for `key`, if any (whether the image still exists
    /// is for the caller to check).
    pub fn get(&self, key: &Key) -> Option<Digest> {
        fs::read_to_string(self.dir.join(key.as_str()))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Records that `key` made the image `digest` (its id): written whole to a
    /// temporary file and renamed over the entry.
    pub fn put(&self, key: &Key, digest: &Digest) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let mut rnd = [0u8; 6];
        crate::fsutil::random_bytes(&mut rnd);
        let tmp = self
            .dir
            .join(format!(".tmp-{}", crate::digest::to_hex(&rnd)));
        let mut f = fs::File::create(&tmp)?;
        let written = f
            .write_all(format!("{digest}\n").as_bytes())
            .and_then(|_| f.sync_all())
            .and_then(|_| fs::rename(&tmp, self.dir.join(key.as_str())));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
            return written;
        }
        // Every image the cache made, also once its entry names a newer one (after
        // `--no-cache`), so that `builder prune` finds them all. One short line per
        // append, which O_APPEND keeps whole.
        let mut log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(IMAGES_LOG))?;
        log.write_all(format!("{digest}\n").as_bytes())
    }

    /// The id of every image the cache made (entries and the log), each once.
    pub fn digests(&self) -> Vec<Digest> {
        let mut out: Vec<Digest> = fs::read_to_string(self.dir.join(IMAGES_LOG))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        if let Ok(rd) = fs::read_dir(&self.dir) {
            out.extend(
                rd.flatten()
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .filter_map(|e| fs::read_to_string(e.path()).ok())
                    .filter_map(|s| s.trim().parse().ok()),
            );
        }
        out.sort_by(|a, b| a.hex().cmp(b.hex()));
        out.dedup();
        out
    }

    /// Removes every entry (and the temporary files a crash left); returns how many
    /// entries there were.
    pub fn clear(&self) -> io::Result<usize> {
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut n = 0;
        for e in rd.flatten() {
            if !e.file_name().to_string_lossy().starts_with('.') {
                n += 1;
            }
            fs::remove_file(e.path())?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_chain_and_differ_by_every_part() {
        let a = Key::base("sha256:aa");
        let b = Key::base("sha256:ab");
        assert_ne!(a, b);
        let s1 = a.then("step").part("RUN x").finish();
        assert_eq!(s1, a.then("step").part("RUN x").finish());
        assert_ne!(s1, b.then("step").part("RUN x").finish());
        assert_ne!(s1, a.then("step").part("RUN y").finish());
        // Parts are length-prefixed: moving a boundary changes the key.
        assert_ne!(
            a.then("s").part("ab").part("c").finish(),
            a.then("s").part("a").part("bc").finish()
        );
    }

    #[test]
    fn entries_are_whole_or_absent() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path());
        let k = Key::base("x");
        assert_eq!(cache.get(&k), None);
        let d: Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        cache.put(&k, &d).unwrap();
        assert_eq!(cache.get(&k), Some(d.clone()));
        assert_eq!(cache.digests(), vec![d.clone()]);
        // A temporary file of a crashed write is neither an entry nor a digest.
        fs::write(dir.path().join("build-cache/.tmp-x"), "sha256:").unwrap();
        assert_eq!(cache.digests().len(), 1);
        // An entry that names a newer image keeps the old one listed.
        let d2: Digest = format!("sha256:{}", "b".repeat(64)).parse().unwrap();
        cache.put(&k, &d2).unwrap();
        assert_eq!(cache.get(&k), Some(d2.clone()));
        assert_eq!(cache.digests(), vec![d.clone(), d2]);
        assert_eq!(cache.clear().unwrap(), 1);
        assert_eq!(cache.get(&k), None);
        assert!(cache.digests().is_empty());
    }
}
