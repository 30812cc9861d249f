//! The build context: the directory COPY and ADD read from, as the builder may see it —
//! nothing that `.dockerignore` excludes, nothing outside the directory (`..` and symlinks
//! resolve inside it, as if it were `/`) — and a digest of what a COPY reads, for the
//! build cache.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::digest::{Digest, HashingWriter};

use super::glob::Glob;
use super::ignore::Ignore;

/// A build context directory and its ignore rules.
#[derive(Debug, Clone)]
pub struct Context {
    root: PathBuf,
    ignore: Ignore,
}

/// One file of the context that a COPY source takes in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The path relative to the context root (`/`-separated, never empty for a file).
    pub rel: String,
    /// The path on the host.
    pub path: PathBuf,
    /// The path below the COPY destination: the entry's path relative to the source.
    pub dest_rel: String,
}

impl Context {
    /// The context at `root`, with `<dockerfile>.dockerignore` beside the Dockerfile if
    /// there is one, else `root/.dockerignore`.
    pub fn open(root: &Path, dockerfile: Option<&Path>) -> Result<Context, String> {
        let meta =
            fs::metadata(root).map_err(|e| format!("build context {}: {e}", root.display()))?;
        if !meta.is_dir() {
            return Err(format!("build context {}: not a directory", root.display()));
        }
        let beside = dockerfile.map(|d| {
            let mut name = d.as_os_str().to_owned();
            name.push(".dockerignore");
            PathBuf::from(name)
        });
        let candidates = beside.into_iter().chain([root.join(".dockerignore")]);
        let mut ignore = Ignore::default();
        for c in candidates {
            match fs::read_to_string(&c) {
                Ok(text) => {
                    ignore = Ignore::parse(&text);
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{}: {e}", c.display())),
            }
        }
        Ok(Context {
            root: root.to_path_buf(),
            ignore,
        })
    }

    /// A tree read as a context without ignore rules: another stage's or image's rootfs,
    /// which `COPY --from` reads.
    pub fn plain(root: &Path) -> Context {
        Context {
            root: root.to_path_buf(),
            ignore: Ignore::default(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The files a COPY source (`app.js`, `src/`, `*.json`, `.`) takes in, sorted, each
    /// with its path below the destination. A source with no match is an error, as in
    /// Docker.
    pub fn resolve(&self, source: &str) -> Result<Vec<Entry>, String> {
        let clean = clean_rel(source);
        if clean.starts_with("..") {
            return Err(format!(
                "{source}: forbidden path outside the build context"
            ));
        }
        let mut out = Vec::new();
        let has_glob = clean.contains(['*', '?', '[']);
        let tops: Vec<String> = if has_glob {
            self.glob_matches(&clean)?
        } else {
            vec![clean]
        };
        for top in tops {
            let host = self.in_root(&top)?;
            let meta = fs::metadata(&host)
                .map_err(|_| format!("{source}: not found in the build context"))?;
            let hidden = !top.is_empty()
                && self.ignore.excludes(&top)
                && !(meta.is_dir() && self.ignore.may_include_below(&top));
            if hidden {
                if has_glob {
                    continue;
                }
                return Err(format!(
                    "{source}: not found in the build context (excluded by .dockerignore)"
                ));
            }
            if meta.is_dir() {
                self.walk(&top, &host, "", &mut out)?;
            } else {
                let name = top.rsplit('/').next().unwrap_or(&top).to_string();
                out.push(Entry {
                    rel: top.clone(),
                    path: host,
                    dest_rel: name,
                });
            }
        }
        if out.is_empty() && has_glob {
            return Err(format!("{source}: no source files were specified"));
        }
        Ok(out)
    }

    /// Context paths at the depth of `pattern` that match it component by component.
    fn glob_matches(&self, pattern: &str) -> Result<Vec<String>, String> {
        let parts: Vec<&str> = pattern.split('/').collect();
        let mut found = vec![String::new()];
        for part in parts {
            let g = Glob::new(part, true);
            let mut next = Vec::new();
            for dir in &found {
                let host = self.in_root(dir)?;
                let Ok(rd) = fs::read_dir(&host) else {
                    continue;
                };
                let mut names: Vec<String> = rd
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| g.matches(n))
                    .collect();
                names.sort();
                next.extend(names.into_iter().map(|n| join_rel(dir, &n)));
            }
            found = next;
        }
        Ok(found)
    }

    /// Everything below the context dir `rel` (at `host`), not excluded, sorted; the dir
    /// itself is not an entry (COPY copies a dir's contents).
    fn walk(
        &self,
        rel: &str,
        host: &Path,
        below: &str,
        out: &mut Vec<Entry>,
    ) -> Result<(), String> {
        let rd = fs::read_dir(host).map_err(|e| format!("{}: {e}", host.display()))?;
        let mut names: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            let child_rel = join_rel(rel, &n);
            let child_below = join_rel(below, &n);
            let child_host = host.join(&n);
            let meta = fs::symlink_metadata(&child_host)
                .map_err(|e| format!("{}: {e}", child_host.display()))?;
            let excluded = self.ignore.excludes(&child_rel);
            if meta.is_dir() {
                if excluded && !self.ignore.may_include_below(&child_rel) {
                    continue;
                }
                if !excluded {
                    out.push(Entry {
                        rel: child_rel.clone(),
                        path: child_host.clone(),
                        dest_rel: child_below.clone(),
                    });
                }
                self.walk(&child_rel, &child_host, &child_below, out)?;
            } else if !excluded {
                out.push(Entry {
                    rel: child_rel,
                    path: child_host,
                    dest_rel: child_below,
                });
            }
        }
        Ok(())
    }

    /// The host path of the context path `rel`, its symlinks resolved inside the context
    /// (an absolute link target is taken from the context root, `..` stops at it).
    fn in_root(&self, rel: &str) -> Result<PathBuf, String> {
        let mut done: Vec<String> = Vec::new();
        let mut todo: Vec<String> = rel
            .split('/')
            .filter(|p| !p.is_empty())
            .rev()
            .map(String::from)
            .collect();
        let mut hops = 0;
        while let Some(part) = todo.pop() {
            match part.as_str() {
                "." => continue,
                ".." => {
                    done.pop();
                    continue;
                }
                _ => {}
            }
            let candidate = self.root.join(done.join("/")).join(&part);
            match fs::read_link(&candidate) {
                Ok(target) => {
                    hops += 1;
                    if hops > 40 {
                        return Err(format!("{rel}: too many levels of symbolic links"));
                    }
                    let t = target.to_string_lossy().into_owned();
                    if t.starts_with('/') {
                        done.clear();
                    }
                    todo.extend(
                        t.split('/')
                            .filter(|p| !p.is_empty())
                            .rev()
                            .map(String::from),
                    );
                }
                Err(_) => done.push(part),
            }
        }
        Ok(self.root.join(done.join("/")))
    }

    /// A digest of what `entries` hold: each path below the destination, type, mode,
    /// owner, size, link target and content. Times are left out, as BuildKit does, so a
    /// fresh checkout hits the cache.
    pub fn digest(entries: &[Entry]) -> Result<Digest, String> {
        let mut h = HashingWriter::new(std::io::sink());
        for e in entries {
            let meta = fs::symlink_metadata(&e.path)
                .map_err(|err| format!("{}: {err}", e.path.display()))?;
            h.write_all_ok(e.dest_rel.as_bytes());
            h.write_all_ok([0]);
            h.write_all_ok(
                format!(
                    "{:o} {} {} {}",
                    meta.mode(),
                    meta.uid(),
                    meta.gid(),
                    meta.len()
                )
                .as_bytes(),
            );
            h.write_all_ok([0]);
            if meta.file_type().is_symlink() {
                let t =
                    fs::read_link(&e.path).map_err(|err| format!("{}: {err}", e.path.display()))?;
                h.write_all_ok(t.as_os_str().as_encoded_bytes());
            } else if meta.is_file() {
                let mut f = fs::File::open(&e.path)
                    .map_err(|err| format!("{}: {err}", e.path.display()))?;
                std::io::copy(&mut f, &mut h)
                    .map_err(|err| format!("{}: {err}", e.path.display()))?;
            }
            h.write_all_ok([0]);
        }
        Ok(h.finish().0)
    }
}

/// A source path made relative and clean (`./a//b/` is `a/b`, `/x` is `x`, `.` is empty);
/// a path that climbs out keeps its leading `..`.
fn clean_rel(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let mut above = 0;
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() && !p.starts_with('/') {
                    above += 1;
                }
            }
            _ => parts.push(part),
        }
    }
    let mut out: Vec<&str> = std::iter::repeat_n("..", above).collect();
    out.extend(parts);
    out.join("/")
}

fn join_rel(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}/{b}")
    }
}

/// Writes to a hashing sink, which cannot fail.
trait WriteAllOk {
    fn write_all_ok(&mut self, bytes: impl AsRef<[u8]>);
}

impl WriteAllOk for HashingWriter<std::io::Sink> {
    fn write_all_ok(&mut self, bytes: impl AsRef<[u8]>) {
        // A sink takes every byte.
        let _ = std::io::Write::write_all(self, bytes.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (p, data) in files {
            let path = d.path().join(p);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            if let Some(target) = data.strip_prefix("->") {
                std::os::unix::fs::symlink(target, &path).unwrap();
            } else {
                fs::write(&path, data).unwrap();
            }
        }
        d
    }

    fn dests(c: &Context, src: &str) -> Vec<String> {
        c.resolve(src)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
            .into_iter()
            .map(|e| e.dest_rel)
            .collect()
    }

    #[test]
    fn sources_resolve_as_dockers_copy_does() {
        let d = tree(&[
            ("app.js", "a"),
            ("package.json", "{}"),
            ("src/main.rs", "m"),
            ("src/lib/x.rs", "x"),
            ("node_modules/dep/i.js", "i"),
            ("secret.env", "s"),
            ("docs/a.md", "a"),
            ("docs/keep.md", "k"),
            (
                ".dockerignore",
                "node_modules\n*.env\ndocs\n!docs/keep.md\n",
            ),
            ("link-out", "->/etc"),
            ("up", "->../../.."),
        ]);
        let c = Context::open(d.path(), None).unwrap();
        assert_eq!(dests(&c, "app.js"), ["app.js"]);
        assert_eq!(dests(&c, "./src/"), ["lib", "lib/x.rs", "main.rs"]);
        assert_eq!(dests(&c, "*.js*"), ["app.js", "package.json"]);
        assert_eq!(dests(&c, "docs"), ["keep.md"]);
        let all = dests(&c, ".");
        assert!(all.contains(&"src/main.rs".to_string()), "{all:?}");
        assert!(
            !all.iter()
                .any(|p| p.starts_with("node_modules") || p.ends_with(".env")),
            "{all:?}"
        );
        for (src, want) in [
            ("../x", "outside the build context"),
            ("nope", "not found"),
            ("secret.env", "excluded by .dockerignore"),
            ("*.nothing", "no source files"),
        ] {
            let e = c.resolve(src).unwrap_err();
            assert!(e.contains(want), "{src}: {e}");
        }
        // Symlinks resolve inside the context: /etc there is the context's etc.
        assert!(c.resolve("link-out/passwd").is_err());
        assert_eq!(c.in_root("up/app.js").unwrap(), d.path().join("app.js"));
    }

    #[test]
    fn the_digest_follows_content_not_times() {
        let d = tree(&[("a", "one"), ("b/c", "two")]);
        let c = Context::open(d.path(), None).unwrap();
        let first = Context::digest(&c.resolve(".").unwrap()).unwrap();
        let f = fs::File::options()
            .write(true)
            .open(d.path().join("a"))
            .unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(Context::digest(&c.resolve(".").unwrap()).unwrap(), first);
        fs::write(d.path().join("b/c"), "tw0").unwrap();
        assert_ne!(Context::digest(&c.resolve(".").unwrap()).unwrap(), first);
    }

    #[test]
    fn a_dockerfile_may_have_its_own_ignore_file() {
        let d = tree(&[
            ("x", "1"),
            ("y", "2"),
            (".dockerignore", "x"),
            ("Dev.Dockerfile.dockerignore", "y"),
        ]);
        let c = Context::open(d.path(), Some(&d.path().join("Dev.Dockerfile"))).unwrap();
        assert!(c.resolve("x").is_ok());
        assert!(c.resolve("y").is_err());
    }

    #[test]
    fn paths_clean_like_docker() {
        assert_eq!(clean_rel("./a//b/"), "a/b");
        assert_eq!(clean_rel("/x/../y"), "y");
        assert_eq!(clean_rel("."), "");
        assert_eq!(clean_rel("../a"), "../a");
        assert_eq!(clean_rel("a/../../b"), "../b");
    }
}
