//! `commit`, `diff` and `export`: a container's changes as a new image layer, as Docker's
//! A/C/D list, and its whole file system as a tar.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::image::commit::{CommitOptions, LayerStats, StagedLayer};
use crate::image::{Image, Reference};
use crate::sandbox::RootfsSource;
use crate::snapshot::{Change, Rootfs, Snapshots};
use crate::{layer, snapshot};

use super::ctx::Ctx;
use super::lifecycle::rootfs_source;
use super::record::Container;
use super::{Error, Result};

/// What `tug commit` takes besides the container.
#[derive(Debug, Clone, Default)]
pub struct ContainerCommit {
    pub reference: Option<Reference>,
    pub changes: Vec<String>,
    pub message: Option<String>,
    pub author: Option<String>,
    /// Freeze a running container during the commit (Docker's default, `--pause`), so
    /// that the layer is one consistent moment; a container paused already stays so.
    pub pause: bool,
    /// An image config (Docker's field names) to merge over the container's, as the API's
    /// commit body is, and as Docker merges it: a field set here wins, `Env` is merged by
    /// variable, `Labels`, `ExposedPorts` and `Volumes` by key. The changes apply after it.
    pub config: Map<String, Value>,
}

impl Ctx<'_> {
    /// Commits a container's changes as a new image: its image's layers plus one layer
    /// made from the container's writable layer (overlay whiteouts become OCI whiteouts),
    /// the container's config with `changes` applied, and a history entry.
    pub(crate) fn commit_container(&self, name: &str, opts: &ContainerCommit) -> Result<Image> {
        let c = self.container(name)?;
        let (parent, lowers) = self.container_image_layers(&c)?;
        let source = rootfs_source(&c)?;
        let write = |out: &mut dyn Write| -> std::result::Result<LayerStats, crate::image::Error> {
            let stats = match &source {
                RootfsSource::Overlay(r) => layer::write_diff_gzip(&r.upper, &lowers, out),
                RootfsSource::Dir(dir) => {
                    let changes = snapshot::copy_changes(dir, &lowers).map_err(to_image_error)?;
                    layer::write_changes_gzip(dir, &changes, out)
                }
            }
            .map_err(to_image_error)?;
            Ok(LayerStats {
                diff_id: stats.diff.diff_id,
                content_size: stats.diff.content_size,
            })
        };
        let mut cmd = c.path.clone();
        for a in &c.args {
            cmd.push(' ');
            cmd.push_str(a);
        }
        let image = crate::image::commit::commit_image(
            self.root(),
            &self.image_store()?,
            &parent,
            write,
            &CommitOptions {
                reference: opts.reference.clone(),
                config: {
                    let mut config = image_config_of(&c);
                    merge_user_config(&mut config, &opts.config);
                    config
                },
                changes: opts.changes.clone(),
                message: opts.message.clone(),
                author: opts.author.clone(),
                created_by: cmd,
                empty_layer: false,
            },
        )?;
        Ok(image)
    }

    /// Writes a container's changes as a layer into the image store's staging dir (a
    /// build's RUN step), every mtime after `clamp_mtime` written as `clamp_mtime`.
    pub(crate) fn stage_container_layer(
        &self,
        name: &str,
        clamp_mtime: Option<u64>,
    ) -> Result<StagedLayer> {
        let c = self.container(name)?;
        let (_, lowers) = self.container_image_layers(&c)?;
        let RootfsSource::Overlay(r) = rootfs_source(&c)? else {
            return Err(Error::Unsupported(
                "a build needs the overlay storage driver".into(),
            ));
        };
        let layer =
            crate::image::commit::stage_layer(&self.image_store()?, |out: &mut dyn Write| {
                let stats = layer::write_diff_gzip_clamped(&r.upper, &lowers, clamp_mtime, out)
                    .map_err(to_image_error)?;
                Ok(LayerStats {
                    content_size: stats.diff.content_size,
                    diff_id: stats.diff.diff_id,
                })
            })?;
        Ok(layer)
    }

    /// The changes of a container's file system against its image, as `docker diff`
    /// lists them.
    pub(crate) fn container_changes(&self, name: &str) -> Result<Vec<Change>> {
        let c = self.container(name)?;
        let (_, lowers) = self.container_image_layers(&c)?;
        Ok(match rootfs_source(&c)? {
            RootfsSource::Overlay(r) => snapshot::changes(&r.upper, &lowers)?,
            RootfsSource::Dir(dir) => snapshot::copy_changes(&dir, &lowers)?,
        })
    }

    /// Writes a container's whole file system as a tar (`docker export`): the running
    /// container's root as its processes see it, or a stopped one's rootfs mounted for
    /// the moment in a private mount namespace of a helper thread.
    pub(crate) fn export_container(&self, name: &str, out: impl Write + Send) -> Result<()> {
        let c = self.container(name)?;
        match rootfs_source(&c)? {
            // The vfs driver's rootfs dir holds the files; the container's mounts (/proc,
            // /sys, /dev, volumes) are in its own mount namespace, not there.
            RootfsSource::Dir(dir) => {
                layer::write_tree(&dir, out)?;
            }
            // A stopped container: its rootfs mounted for the moment.
            RootfsSource::Overlay(r) if !is_running(&c) => {
                with_mounted(&r, |merged| layer::write_tree(merged, out).map(|_| ()))??
            }
            // A running one: overlayfs refuses a second mount on an upper dir in use, so
            // its upper dir is mounted as the top lower dir of a throwaway overlay. Like
            // Docker, this exports the rootfs, not the container's mounts.
            RootfsSource::Overlay(r) => {
                let dir = self.container_store().dir(&c.id);
                let view = Rootfs {
                    lowers: r.lowers.iter().chain([&r.upper]).cloned().collect(),
                    upper: dir.join("export-upper"),
                    work: dir.join("export-work"),
                    volatile: true,
                };
                let written =
                    with_mounted(&view, |merged| layer::write_tree(merged, out).map(|_| ()));
                for d in [&view.upper, &view.work] {
                    let _ = std::fs::remove_dir_all(d);
                }
                written??
            }
        }
        Ok(())
    }

    /// The container's image and the dirs its changes are measured against, bottom
    /// first: the image's layers and the container's init layer.
    fn container_image_layers(&self, c: &Container) -> Result<(Image, Vec<PathBuf>)> {
        let store = self.image_store()?;
        let image = store.resolve(&c.image)?;
        let mut lowers = store.unpack(&Snapshots::open(self.root())?, &image.layers)?;
        let own = self.container_store().dir(&c.id).join(INIT_LAYER);
        let shared = self.root().join(SHARED_INIT_LAYER);
        if let Some(init) = [own, shared].into_iter().find(|d| d.is_dir()) {
            lowers.push(init);
        }
        Ok((image, lowers))
    }
}

/// Whether the container's init is alive: the record says running and its pid is the
/// init (pid 1) of a pid namespace of its own, so a reused pid is never taken for it.
pub(crate) fn is_running(c: &Container) -> bool {
    if !c.state.running || c.state.pid <= 0 {
        return false;
    }
    std::fs::read_to_string(format!("/proc/{}/status", c.state.pid))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("NSpid:")).map(|ids| {
                ids.split_whitespace().count() >= 2 && ids.split_whitespace().last() == Some("1")
            })
        })
        .unwrap_or(false)
}

/// The name of a container's own init layer dir (containers made before the init layer
/// was shared have one).
const INIT_LAYER: &str = "init";

/// The init layer the containers of a state root share, in the root.
const SHARED_INIT_LAYER: &str = "init-layer";

/// The init layer of state root `root`'s containers, made at the first call: the mount
/// points that tug binds or mounts over (/etc/hostname, /etc/hosts, /etc/resolv.conf,
/// /dev, /proc, /sys), as Docker's `-init` layer has them. It sits between the image and
/// the writable layer, so that these mount points are neither in `diff` nor in a
/// committed image. Every container has the same one, and overlayfs never writes to a
/// lower dir: one dir serves them all, which spares each create eight inodes (ext4 looks
/// long for a free one where many were deleted recently: a test suite's containers).
/// Made aside and renamed into place, so that a concurrent create sees it whole or not.
pub(crate) fn shared_init_layer(root: &Path) -> Result<PathBuf, Error> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let init = root.join(SHARED_INIT_LAYER);
    let complete = |d: &Path| d.join("etc/resolv.conf").is_file();
    if complete(&init) {
        return Ok(init);
    }
    let mut suffix = [0u8; 6];
    crate::fsutil::random_bytes(&mut suffix);
    let hex: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = root.join(format!(".{SHARED_INIT_LAYER}.{hex}"));
    let made = (|| {
        let mut b = std::fs::DirBuilder::new();
        b.mode(0o755);
        for d in ["", "etc", "dev", "proc", "sys"] {
            let p = tmp.join(d);
            b.create(&p).map_err(|e| Error::io(&p, e))?;
            // The mode as Docker's, whatever the umask.
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .map_err(|e| Error::io(&p, e))?;
        }
        for f in ["etc/hostname", "etc/hosts", "etc/resolv.conf"] {
            let p = tmp.join(f);
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(&p)
                .and_then(|f| {
                    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
                })
                .map_err(|e| Error::io(&p, e))?;
        }
        std::fs::rename(&tmp, &init).map_err(|e| Error::io(&init, e))
    })();
    match made {
        Ok(()) => Ok(init),
        Err(_) if complete(&init) => {
            // Another create put its own in place first.
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(init)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            if init.exists() {
                // Only a hand that took files out of it makes it incomplete.
                return Err(Error::Invalid(format!(
                    "{}: an incomplete init layer ({e}): remove it, and the next create makes it again",
                    init.display()
                )));
            }
            Err(e)
        }
    }
}

fn to_image_error(e: impl std::error::Error + 'static) -> crate::image::Error {
    crate::image::Error::Invalid(format!(
        "cannot write the container's layer: {}",
        crate::Report(&e)
    ))
}

/// The container's config in the image config's field names, for `commit`.
fn image_config_of(c: &Container) -> Map<String, Value> {
    let cfg = &c.config;
    let mut m = Map::new();
    m.insert("Env".into(), json!(cfg.env));
    if !cfg.user.is_empty() {
        m.insert("User".into(), json!(cfg.user));
    }
    m.insert("WorkingDir".into(), json!(cfg.working_dir));
    m.insert("Cmd".into(), json!(cfg.cmd));
    m.insert("Entrypoint".into(), json!(cfg.entrypoint));
    if !cfg.labels.is_empty() {
        m.insert("Labels".into(), json!(cfg.labels));
    }
    if let Some(v) = &cfg.volumes {
        m.insert("Volumes".into(), v.clone());
    }
    // The check the container ran with (the image's under its --health-* flags), as
    // Docker's commit keeps it.
    if let Some(h) = &cfg.healthcheck {
        m.insert("Healthcheck".into(), json!(h));
    }
    m.retain(|_, v| !v.is_null());
    m
}

/// Merges a caller's image config over the container's, as Docker's commit does: a field
/// the caller set wins; `Env` is the caller's plus the container's variables it does not
/// name; `Labels`, `ExposedPorts` and `Volumes` are the union (the caller's value wins);
/// without an `Entrypoint` of its own the caller keeps the container's, and without a
/// `Cmd` either, the container's `Cmd` too. Unset means null, empty or absent.
pub(crate) fn merge_user_config(base: &mut Map<String, Value>, user: &Map<String, Value>) {
    let set = |v: &&Value| match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    };
    let user_field = |k: &str| user.get(k).filter(set);
    for k in [
        "User",
        "WorkingDir",
        "StopSignal",
        "Healthcheck",
        "Shell",
        "OnBuild",
    ] {
        if let Some(v) = user_field(k) {
            base.insert(k.into(), v.clone());
        }
    }
    if let Some(Value::Array(env)) = user_field("Env") {
        let key = |v: &Value| {
            let s = v.as_str().unwrap_or_default();
            s.split_once('=').map_or(s, |(k, _)| k).to_string()
        };
        let named: std::collections::HashSet<String> = env.iter().map(key).collect();
        let mut merged = env.clone();
        if let Some(Value::Array(old)) = base.get("Env") {
            merged.extend(old.iter().filter(|v| !named.contains(&key(v))).cloned());
        }
        base.insert("Env".into(), Value::Array(merged));
    }
    for k in ["Labels", "ExposedPorts", "Volumes"] {
        if let Some(Value::Object(add)) = user_field(k) {
            let mut union = match base.get(k) {
                Some(Value::Object(o)) => o.clone(),
                _ => Map::new(),
            };
            union.extend(add.iter().map(|(k, v)| (k.clone(), v.clone())));
            base.insert(k.into(), Value::Object(union));
        }
    }
    if let Some(ep) = user_field("Entrypoint") {
        base.insert("Entrypoint".into(), ep.clone());
        match user_field("Cmd") {
            Some(cmd) => base.insert("Cmd".into(), cmd.clone()),
            None => base.remove("Cmd"),
        };
    } else if let Some(cmd) = user_field("Cmd") {
        base.insert("Cmd".into(), cmd.clone());
    }
}

/// Runs `f` with the overlay `r` mounted at a temporary dir, in a thread of its own mount
/// namespace (see [`crate::rootfs::with_mounted`]).
pub(crate) fn with_mounted<T: Send>(r: &Rootfs, f: impl FnOnce(&Path) -> T + Send) -> Result<T> {
    Ok(crate::rootfs::with_mounted(r, f)?)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// Creates racing for the shared init layer all get the same complete dir (the mount
    /// points, with Docker's modes), and no half-made copy is left beside it.
    #[test]
    fn the_init_layer_is_made_once_whole_for_racing_creates() {
        let root = tempfile::tempdir().unwrap();
        let made: Vec<PathBuf> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..8)
                .map(|_| s.spawn(|| shared_init_layer(root.path()).unwrap()))
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let init = root.path().join(SHARED_INIT_LAYER);
        assert!(made.iter().all(|p| *p == init), "{made:?}");
        let mode = |p: &str| {
            std::fs::metadata(init.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        for d in ["etc", "dev", "proc", "sys"] {
            assert_eq!(mode(d), 0o755, "{d}");
        }
        for f in ["etc/hostname", "etc/hosts", "etc/resolv.conf"] {
            assert_eq!(mode(f), 0o644, "{f}");
            assert_eq!(std::fs::metadata(init.join(f)).unwrap().len(), 0, "{f}");
        }
        let entries: Vec<_> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, [SHARED_INIT_LAYER]);
        // Found whole, it is used as it is.
        assert_eq!(shared_init_layer(root.path()).unwrap(), init);
    }

    /// An init layer someone took a file out of is not used, and the error says what to
    /// do; nothing half-made is left beside it.
    #[test]
    fn an_incomplete_init_layer_is_refused_with_what_to_do() {
        let root = tempfile::tempdir().unwrap();
        let init = shared_init_layer(root.path()).unwrap();
        std::fs::remove_file(init.join("etc/resolv.conf")).unwrap();
        let e = shared_init_layer(root.path()).unwrap_err().to_string();
        assert!(
            e.contains("incomplete init layer") && e.contains("remove it"),
            "{e}"
        );
        let entries: Vec<_> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, [SHARED_INIT_LAYER]);
        std::fs::remove_dir_all(&init).unwrap();
        assert_eq!(shared_init_layer(root.path()).unwrap(), init);
    }

    /// The API's commit body merges over the container's config as Docker's does.
    #[test]
    fn a_commit_body_merges_over_the_container_config() {
        let mut base = json!({
            "Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "WorkingDir": "/w",
            "Labels": {"x": "1", "y": "1"},
        })
        .as_object()
        .unwrap()
        .clone();
        let unset = json!({"Env": null, "Cmd": [], "User": "", "Labels": {}});
        merge_user_config(&mut base, unset.as_object().unwrap());
        assert_eq!(base["Cmd"], json!(["sh"]));
        assert_eq!(base["Env"], json!(["PATH=/bin", "A=1"]));
        let user = json!({
            "Env": ["A=2$HOME", "B=3"], "Cmd": ["top"], "User": "nobody",
            "Labels": {"y": "2"}, "ExposedPorts": {"80/tcp": {}},
        });
        merge_user_config(&mut base, user.as_object().unwrap());
        assert_eq!(base["Env"], json!(["A=2$HOME", "B=3", "PATH=/bin"]));
        assert_eq!(base["Cmd"], json!(["top"]));
        assert_eq!(base["User"], json!("nobody"));
        assert_eq!(base["WorkingDir"], json!("/w"));
        assert_eq!(base["Labels"], json!({"x": "1", "y": "2"}));
        assert_eq!(base["ExposedPorts"], json!({"80/tcp": {}}));
        // An Entrypoint of the caller's own drops the container's Cmd.
        merge_user_config(
            &mut base,
            json!({"Entrypoint": ["/e"]}).as_object().unwrap(),
        );
        assert_eq!(base["Entrypoint"], json!(["/e"]));
        assert!(!base.contains_key("Cmd"), "{base:?}");
    }
}
