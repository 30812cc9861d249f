//! `commit`, `diff` and `export`: a container's changes as a new image layer, as Docker's
//! A/C/D list, and its whole file system as a tar.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::image::commit::{CommitOptions, LayerStats};
use crate::image::{Image, Reference};
use crate::sandbox::RootfsSource;
use crate::snapshot::{Change, Rootfs, Snapshots};
use crate::{Engine, layer, snapshot};

use super::Error;
use super::lifecycle::rootfs_source;
use super::record::Container;

/// What `tug commit` takes besides the container.
#[derive(Debug, Clone, Default)]
pub struct ContainerCommit {
    pub reference: Option<Reference>,
    pub changes: Vec<String>,
    pub message: Option<String>,
    pub author: Option<String>,
}

impl Engine {
    /// Commits a container's changes as a new image: its image's layers plus one layer
    /// made from the container's writable layer (overlay whiteouts become OCI whiteouts),
    /// the container's config with `changes` applied, and a history entry.
    pub fn commit_container(&self, name: &str, opts: &ContainerCommit) -> crate::Result<Image> {
        let c = self.container(name)?;
        let (parent, lowers) = self.container_image_layers(&c)?;
        let source = rootfs_source(&c)?;
        let write = |out: &mut dyn Write| -> Result<LayerStats, crate::image::Error> {
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
                tar_size: stats.diff.tar_size,
            })
        };
        let mut cmd = c.path.clone();
        for a in &c.args {
            cmd.push(' ');
            cmd.push_str(a);
        }
        let image = self.commit_image(
            &parent,
            write,
            &CommitOptions {
                reference: opts.reference.clone(),
                config: image_config_of(&c),
                changes: opts.changes.clone(),
                message: opts.message.clone(),
                author: opts.author.clone(),
                created_by: cmd,
                empty_layer: false,
            },
        )?;
        Ok(image)
    }

    /// The changes of a container's file system against its image, as `docker diff`
    /// lists them.
    pub fn container_changes(&self, name: &str) -> crate::Result<Vec<Change>> {
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
    pub fn export_container(&self, name: &str, out: impl Write + Send) -> crate::Result<()> {
        let c = self.container(name)?;
        if is_running(&c) {
            let root = PathBuf::from(format!("/proc/{}/root", c.state.pid));
            layer::write_tree(&root, out)?;
            return Ok(());
        }
        match rootfs_source(&c)? {
            RootfsSource::Dir(dir) => {
                layer::write_tree(&dir, out)?;
            }
            RootfsSource::Overlay(r) => {
                with_mounted(&r, |merged| layer::write_tree(merged, out).map(|_| ()))??
            }
        }
        Ok(())
    }

    /// The container's image and the dirs its changes are measured against, bottom
    /// first: the image's layers and the container's init layer.
    fn container_image_layers(&self, c: &Container) -> crate::Result<(Image, Vec<PathBuf>)> {
        let store = self.image_store()?;
        let image = store.resolve(&c.image)?;
        let mut lowers = store.unpack(&Snapshots::open(self.root())?, &image.layers)?;
        let init = self.container_store().dir(&c.id).join(INIT_LAYER);
        if init.is_dir() {
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

/// The name of a container's init layer dir.
const INIT_LAYER: &str = "init";

/// Makes the container's init layer in its dir `dir`: the mount points that tug binds
/// or mounts over (/etc/hostname, /etc/hosts, /etc/resolv.conf, /dev, /proc, /sys), as
/// Docker's `-init` layer has them. It sits between the image and the writable layer, so
/// that these mount points are neither in `diff` nor in a committed image. Returns its
/// path.
pub(crate) fn make_init_layer(dir: &Path) -> Result<PathBuf, Error> {
    use std::os::unix::fs::DirBuilderExt;
    let init = dir.join(INIT_LAYER);
    let mut b = std::fs::DirBuilder::new();
    b.mode(0o755);
    for d in ["", "etc", "dev", "proc", "sys"] {
        let p = init.join(d);
        b.create(&p).map_err(|e| Error::io(&p, e))?;
    }
    for f in ["etc/hostname", "etc/hosts", "etc/resolv.conf"] {
        let p = init.join(f);
        std::fs::File::create(&p).map_err(|e| Error::io(&p, e))?;
    }
    Ok(init)
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
    m.retain(|_, v| !v.is_null());
    m
}

/// Runs `f` with the overlay `r` mounted at a temporary dir, in a thread that has its own
/// mount namespace (unshared from the process's), so the mount is never visible on the
/// host and vanishes with the thread even if `f` panics.
pub(crate) fn with_mounted<T: Send>(
    r: &Rootfs,
    f: impl FnOnce(&Path) -> T + Send,
) -> crate::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| -> crate::Result<T> {
            // unshare(2) with CLONE_FS gives this thread its own root/cwd, which the kernel
            // requires before a thread of a multi-threaded process can take a new mount
            // namespace; nothing else in the process changes.
            nix::sched::unshare(
                nix::sched::CloneFlags::CLONE_FS | nix::sched::CloneFlags::CLONE_NEWNS,
            )
            .map_err(|e| Error::Sys("unshare a mount namespace for export".into(), e.into()))?;
            nix::mount::mount(
                None::<&str>,
                "/",
                None::<&str>,
                nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .map_err(|e| Error::Sys("make mounts private for export".into(), e.into()))?;
            let target = MountDir(tempfile_dir(&r.work)?);
            r.mount_overlay(&target.0)
                .map_err(crate::Error::from)
                .map(|_| f(&target.0))
        })
        .join()
        .unwrap_or_else(|_| {
            Err(crate::Error::Config(
                "export: the mounting thread panicked".into(),
            ))
        })
    })
}

/// The mount point of [`with_mounted`]: unmounted and removed when dropped, also when
/// the callback panics.
struct MountDir(PathBuf);

impl Drop for MountDir {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// A fresh empty dir beside `work` (on the same file system as the container's dirs).
fn tempfile_dir(work: &Path) -> crate::Result<PathBuf> {
    let mut rnd = [0u8; 6];
    crate::fsutil::random_bytes(&mut rnd);
    let dir = work.with_file_name(format!("export-{}", crate::digest::to_hex(&rnd)));
    std::fs::create_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir)
}
