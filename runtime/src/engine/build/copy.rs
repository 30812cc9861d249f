//! COPY and ADD: the files (context, another stage's or image's rootfs, heredocs, ADD's
//! archives and URLs) extracted into an overlay of the image so far, mounted in a private
//! mount namespace without a container; the overlay's upper dir becomes the layer.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Builder, ScratchDir, State, arg_values, scratch_dir, step_error};
use crate::Result;
use crate::build::config::{self};
use crate::build::context::{Context, Entry};
use crate::build::copy::{self, Attrs, Item};
use crate::build::dockerfile::{Copy, Step};
use crate::build::history;
use crate::build::plan::{self, Source};
use crate::image::commit::LayerStats;
use crate::rootfs::Rootfs;

impl Builder<'_> {
    /// COPY and ADD: the sources (context files, another stage's or image's files,
    /// heredocs; for ADD also local archives, unpacked, and URLs) extracted into an
    /// overlay of the image so far; the overlay's upper dir becomes the layer.
    pub(super) fn copy_step(
        &mut self,
        st: &mut State,
        step: &Step,
        c: &Copy,
        add: bool,
    ) -> Result<bool> {
        let file = self.file.clone();
        let err = |m: String| step_error(&file, step, m);
        let word = if add { "ADD" } else { "COPY" };
        let exp = |w: &str| st.scope.expand(w);
        let dest_word = exp(&c.dest).map_err(err)?;
        let workdir = st
            .runtime()
            .get("WorkingDir")
            .and_then(Value::as_str)
            .unwrap_or("/")
            .to_string();
        let dest = copy::rel(&config::join_dir(&workdir, &dest_word));
        let dest_is_dir_word = dest_word.ends_with('/')
            || dest_word == "."
            || dest_word == ".."
            || dest_word.ends_with("/.")
            || dest_word.ends_with("/..");
        let mut sources = Vec::new();
        for s in &c.sources {
            if s.starts_with("<<") {
                sources.push(s.clone());
            } else {
                sources.push(exp(s).map_err(err)?);
            }
        }
        if c.link || c.parents || !c.exclude.is_empty() || c.keep_git_dir {
            // --link only changes how BuildKit stacks the layer: the files are the same.
            if c.parents || !c.exclude.is_empty() {
                return Err(err(format!(
                    "{word} --parents and --exclude are not supported by tug build yet"
                )));
            }
        }
        let mode = c
            .chmod
            .as_deref()
            .map(|m| {
                exp(m)
                    .map_err(err)
                    .and_then(|m| copy::parse_chmod(&m).map_err(err))
            })
            .transpose()?;
        let chown = c
            .chown
            .as_deref()
            .map(|s| exp(s).map_err(err))
            .transpose()?;

        // Where the files come from, and the cache key of their content.
        let from =
            match &c.from {
                Some(f) => {
                    let name = exp(f).map_err(err)?;
                    Some(match plan::source(self.df, self.current_stage, &name) {
                        Source::Stage(i) => self.built.get(&i).cloned().ok_or_else(|| {
                            err(format!("--from={name}: stage {i} was not built"))
                        })?,
                        Source::Scratch => {
                            return Err(err(format!(
                                "--from={name}: the scratch image has no files"
                            )));
                        }
                        Source::Image(r) => self.base_image(&r)?,
                    })
                }
                None => None,
            };
        let mut key = st
            .key
            .then(word)
            .part(&step.original)
            .part(&dest)
            .parts(&arg_values(&st.scope))
            .part(chown.as_deref().unwrap_or(""))
            .part(&format!("{mode:?}"));
        let mut context_sources: Vec<(String, Vec<Entry>)> = Vec::new();
        let mut urls: Vec<String> = Vec::new();
        match &from {
            Some(img) => key = key.part(&img.id.to_string()),
            None => {
                for s in sources.iter().filter(|s| !s.starts_with("<<")) {
                    if add && (s.starts_with("http://") || s.starts_with("https://")) {
                        urls.push(s.clone());
                        continue;
                    }
                    if add && (s.starts_with("git@") || s.ends_with(".git")) {
                        return Err(err(format!(
                            "ADD {s}: git sources are not supported by tug build; clone in \
                             the context or use a RUN with git"
                        )));
                    }
                    let ctx = self.context.as_ref().ok_or_else(|| {
                        err(format!(
                            "{word} {s}: there is no build context (the Dockerfile came on \
                             stdin with `-`)"
                        ))
                    })?;
                    let entries = ctx.resolve(s).map_err(err)?;
                    let digest = Context::digest(&entries).map_err(err)?;
                    key = key.part(s).part(&digest.to_string());
                    context_sources.push((s.clone(), entries));
                }
            }
        }
        for h in &c.heredocs {
            key = key.part(&h.name).part(&h.body);
        }
        // URLs are fetched every time, as Docker does: their content is in the key.
        let scratch = ScratchDir(scratch_dir(self.engine)?);
        let downloads = self.download(&urls, c, &scratch.0).map_err(err)?;
        for (url, _, _, digest) in &downloads {
            key = key.part(url).part(&digest.to_string());
        }
        let key = key.finish();
        st.key = key.clone();
        if let Some(img) = self.cached_image(st, &key)? {
            self.set_image(st, img)?;
            return Ok(true);
        }
        if sources.len() > 1 && !dest_is_dir_word {
            return Err(err(format!(
                "When using {word} with more than one source file, the destination must be a \
                 directory and end with a /"
            )));
        }

        let heredoc_items: Vec<(String, Vec<u8>)> = c
            .heredocs
            .iter()
            .map(|h| -> std::result::Result<_, String> {
                let body = if h.expand {
                    exp(&h.body)?
                } else {
                    h.body.clone()
                };
                Ok((h.name.clone(), body.into_bytes()))
            })
            .collect::<std::result::Result<_, _>>()
            .map_err(err)?;
        let snapshots = crate::snapshot::Snapshots::open(self.engine.root())?;
        let store = self.engine.image_store()?;
        let base_layers = st
            .image
            .as_ref()
            .map(|i| i.layers.clone())
            .unwrap_or_default();
        let lowers = store.unpack(&snapshots, &base_layers)?;
        let target = Rootfs {
            lowers: lowers.clone(),
            upper: scratch.0.join("upper"),
            work: scratch.0.join("work"),
            volatile: true,
        };
        let from_rootfs = match &from {
            Some(img) => Some(Rootfs {
                lowers: store.unpack(&snapshots, &img.layers)?,
                upper: scratch.0.join("from-upper"),
                work: scratch.0.join("from-work"),
                volatile: true,
            }),
            None => None,
        };
        for d in [&target.upper, &target.work]
            .into_iter()
            .chain(from_rootfs.iter().flat_map(|r| [&r.upper, &r.work]))
        {
            std::fs::create_dir_all(d)
                .map_err(|e| crate::Error::Io(format!("creating {}", d.display()), e))?;
        }
        let plan = CopyPlan {
            word,
            add,
            unpack: c.unpack.unwrap_or(true),
            sources: &sources,
            context_sources: &context_sources,
            downloads: &downloads,
            heredocs: &heredoc_items,
            dest: &dest,
            dest_is_dir_word,
            chown: chown.as_deref(),
            mode,
            keep_owner: from.is_some(),
            epoch: self.opts.source_date_epoch.unwrap_or_else(now_secs),
            tar_path: scratch.0.join("files.tar"),
        };
        let done = crate::rootfs::with_mounted(&target, |merged| match &from_rootfs {
            Some(fr) => crate::rootfs::with_mounted(fr, |src| plan.apply(merged, Some(src)))
                .map_err(|e| crate::report(&e))
                .and_then(|r| r),
            None => plan.apply(merged, None),
        })?;
        done.map_err(err)?;
        let clamp = self.opts.source_date_epoch;
        let upper = target.upper.clone();
        let layer = self.engine.stage_layer(|out: &mut dyn Write| {
            let stats = crate::layer::write_diff_gzip_clamped(&upper, &lowers, clamp, out)
                .map_err(|e| crate::image::Error::Invalid(crate::report(&e)))?;
            Ok(LayerStats {
                content_size: stats.diff.content_size,
                diff_id: stats.diff.diff_id,
            })
        })?;
        let now = self.now();
        st.add_history(&now, history::copy(&step.original), false);
        self.store_step(st, &key, &base_layers, Some(layer))?;
        self.run += 1;
        drop(scratch);
        Ok(false)
    }

    /// Fetches ADD's URLs into `dir`, checking `--checksum`; returns (url, file, name,
    /// content digest).
    fn download(
        &self,
        urls: &[String],
        c: &Copy,
        dir: &Path,
    ) -> std::result::Result<Vec<(String, PathBuf, String, crate::Digest)>, String> {
        let mut out = Vec::new();
        for (n, url) in urls.iter().enumerate() {
            let resp = ureq::get(url)
                .header("Accept-Encoding", "identity")
                .call()
                .map_err(|e| format!("ADD {url}: {e}"))?;
            let path = dir.join(format!("download-{n}"));
            let mut f =
                std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut h = crate::digest::HashingWriter::new(&mut f);
            std::io::copy(&mut resp.into_body().into_reader(), &mut h)
                .map_err(|e| format!("ADD {url}: {e}"))?;
            let (digest, _, _) = h.finish();
            if let Some(want) = &c.checksum
                && digest.to_string() != *want
            {
                return Err(format!(
                    "ADD {url}: digest mismatch: the checksum is {want}, the content's is {digest}"
                ));
            }
            let name = url
                .split(['?', '#'])
                .next()
                .unwrap_or(url)
                .rsplit('/')
                .find(|s| !s.is_empty())
                .unwrap_or("index.html")
                .to_string();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            out.push((url.clone(), path, name, digest));
        }
        Ok(out)
    }
}

/// What a COPY or ADD writes, decided before the overlay is mounted.
struct CopyPlan<'a> {
    word: &'a str,
    add: bool,
    unpack: bool,
    sources: &'a [String],
    context_sources: &'a [(String, Vec<Entry>)],
    downloads: &'a [(String, PathBuf, String, crate::Digest)],
    heredocs: &'a [(String, Vec<u8>)],
    dest: &'a str,
    dest_is_dir_word: bool,
    chown: Option<&'a str>,
    mode: Option<u32>,
    keep_owner: bool,
    epoch: u64,
    tar_path: PathBuf,
}

impl CopyPlan<'_> {
    /// Writes the files into `merged` (the stage's rootfs, mounted); `from` is the rootfs
    /// of `--from`'s stage or image.
    fn apply(&self, merged: &Path, from: Option<&Path>) -> std::result::Result<(), String> {
        let owner = match self.chown {
            Some(spec) => Some(copy::resolve_chown(
                spec,
                copy::read_in_root(merged, "etc/passwd").as_deref(),
                copy::read_in_root(merged, "etc/group").as_deref(),
            )?),
            None => None,
        };
        let attrs = Attrs {
            owner,
            keep_owner: self.keep_owner,
            mode: self.mode,
            bytes_mtime: self.epoch,
        };
        let resolved: Vec<(String, Vec<Entry>)> = match from {
            Some(src) => {
                let ctx = Context::plain(src);
                self.sources
                    .iter()
                    .map(|s| Ok((s.clone(), ctx.resolve(s)?)))
                    .collect::<std::result::Result<_, String>>()?
            }
            None => self.context_sources.to_vec(),
        };
        let dest_exists_dir = copy::is_dir_in_root(merged, self.dest);
        let mut items = Vec::new();
        let mut archives = Vec::new();
        for (source, entries) in &resolved {
            // The source names one file (not a dir whose content is one file).
            let single_file = entries.len() == 1
                && entries[0].rel == copy::rel(source)
                && !entries[0].path.is_dir()
                && !source.contains(['*', '?', '[']);
            if self.add && self.unpack && single_file && is_archive(&entries[0].path) {
                archives.push(entries[0].path.clone());
                continue;
            }
            let into_dir = self.dest_is_dir_word || dest_exists_dir || !single_file;
            for e in entries {
                let dest = if into_dir {
                    copy::join(self.dest, &e.dest_rel)
                } else {
                    self.dest.to_string()
                };
                items.push(Item::Host {
                    path: e.path.clone(),
                    dest,
                });
            }
        }
        for (_, path, name, _) in self.downloads {
            let into_dir = self.dest_is_dir_word || dest_exists_dir;
            let dest = if into_dir {
                copy::join(self.dest, name)
            } else {
                self.dest.to_string()
            };
            items.push(Item::Host {
                path: path.clone(),
                dest,
            });
        }
        for (name, body) in self.heredocs {
            let into_dir = self.dest_is_dir_word || dest_exists_dir || self.sources.len() > 1;
            let dest = if into_dir {
                copy::join(self.dest, name)
            } else {
                self.dest.to_string()
            };
            items.push(Item::Bytes {
                body: body.clone(),
                dest,
            });
        }
        if items.iter().any(
            |i| matches!(i, Item::Host { dest, .. } | Item::Bytes { dest, .. } if dest.is_empty()),
        ) {
            return Err(format!(
                "{}: cannot copy a file onto the root dir",
                self.word
            ));
        }
        let f = std::fs::File::create(&self.tar_path)
            .map_err(|e| format!("{}: {e}", self.tar_path.display()))?;
        copy::write_tar(&items, attrs, std::io::BufWriter::new(f))?;
        let f = std::fs::File::open(&self.tar_path)
            .map_err(|e| format!("{}: {e}", self.tar_path.display()))?;
        crate::layer::extract(std::io::BufReader::new(f), merged, None)
            .map_err(|e| format!("{}: {}", self.word, crate::report(&e)))?;
        for a in archives {
            self.unpack_archive(&a, merged, owner)?;
        }
        Ok(())
    }

    /// ADD of a local tar (plain, gzip, bzip2 or xz): its content under the destination
    /// dir.
    fn unpack_archive(
        &self,
        archive: &Path,
        merged: &Path,
        owner: Option<(u32, u32)>,
    ) -> std::result::Result<(), String> {
        // The destination dir, made (0755, as Docker) and opened inside the rootfs, so a
        // symlink of the image cannot point the extraction at a host dir.
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(self.epoch);
        h.set_size(0);
        if !self.dest.is_empty() && !copy::is_dir_in_root(merged, self.dest) {
            tar.append_data(&mut h, format!("{}/", self.dest), std::io::empty())
                .map_err(|e| e.to_string())?;
        }
        let bytes = tar.into_inner().map_err(|e| e.to_string())?;
        crate::layer::extract(&bytes[..], merged, None)
            .map_err(|e| format!("ADD: {}", crate::report(&e)))?;
        let dir = copy::open_dir_in_root(merged, self.dest)
            .map_err(|e| format!("ADD: the destination {}: {e}", self.dest))?;
        let dir_path = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
        let f = std::fs::File::open(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
        let mut magic = [0u8; 6];
        let n = std::fs::File::open(archive)
            .and_then(|mut f| f.read(&mut magic))
            .unwrap_or(0);
        let fail = |e: String| format!("ADD {}: {e}", archive.display());
        let extracted = if n >= 3 && &magic[..3] == b"BZh" {
            let r = bzip2::read::BzDecoder::new(std::io::BufReader::new(f));
            crate::layer::extract(r, &dir_path, owner)
        } else if n == 6 && magic == XZ_MAGIC {
            // lzma-rs decodes into a writer: through a file of the build's scratch dir.
            let plain = self.tar_path.with_extension("xz-plain");
            let mut out = std::fs::File::create(&plain).map_err(|e| fail(e.to_string()))?;
            lzma_rs::xz_decompress(&mut std::io::BufReader::new(f), &mut out)
                .map_err(|e| fail(format!("not a valid xz stream: {e}")))?;
            let r = std::fs::File::open(&plain).map_err(|e| fail(e.to_string()))?;
            crate::layer::extract(std::io::BufReader::new(r), &dir_path, owner)
        } else {
            // Plain or gzip: extract tells them apart.
            crate::layer::extract(std::io::BufReader::new(f), &dir_path, owner)
        };
        extracted.map_err(|e| fail(crate::report(&e)))?;
        Ok(())
    }
}

/// Seconds since the epoch, now.
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The first bytes of an xz stream.
const XZ_MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0];

/// Whether a file is a tar archive ADD unpacks: gzip, bzip2, xz, or a plain tar
/// (`ustar` at offset 257).
fn is_archive(path: &Path) -> bool {
    let mut buf = [0u8; 262];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let b = &buf[..n];
    b.starts_with(&[0x1f, 0x8b])
        || b.starts_with(b"BZh")
        || b.starts_with(&XZ_MAGIC)
        || (n >= 262 && &b[257..262] == b"ustar")
}
