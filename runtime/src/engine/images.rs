//! The engine's read side of the image store: listing, inspecting and the history of
//! images, so that a face never opens the store itself.

use std::collections::HashSet;
use std::io::{Read, Write};

use crate::image::archive::{self, ArchiveFormat, Loaded};
use crate::image::busybox::{self, BusyboxSource};
use crate::image::commit::{CommitOptions, LayerStats, StagedLayer};
use crate::image::import::{self, ImportOptions};
use crate::image::prune::{PruneReport, disk_usage};
use crate::image::remove::{self, RemoveEvent};
use crate::image::view::{self, HistoryEntry};
use crate::image::{Error, Image, Store};
use crate::{Digest, Engine, Result};

/// An image as `images` lists it: the image and its size uncompressed.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    pub image: Image,
    /// The sum of its layers' uncompressed sizes.
    pub size: u64,
}

impl Engine {
    /// The image store of this engine.
    pub fn image_store(&self) -> Result<Store, Error> {
        Store::open(self.root())
    }

    fn images_in(&self, store: &Store) -> Result<Vec<ImageSummary>> {
        Ok(store
            .list()?
            .into_iter()
            .map(|image| ImageSummary {
                size: store.image_size(&image),
                image,
            })
            .collect())
    }

    /// Every image in the store, each once (with all its names), with its size.
    pub fn images(&self) -> Result<Vec<ImageSummary>> {
        self.images_in(&self.image_store()?)
    }

    /// The image a name, id or id prefix refers to.
    pub fn image(&self, name: &str) -> Result<Image> {
        Ok(self.image_store()?.resolve(name)?)
    }

    /// `image inspect`'s JSON for the image `name` refers to, with Docker's field names.
    pub fn inspect_image(&self, name: &str) -> Result<serde_json::Value> {
        let store = self.image_store()?;
        let image = store.resolve(name)?;
        Ok(view::inspect(
            &store,
            &image,
            self.config().storage_driver.name(),
        )?)
    }

    /// The history of the image `name` refers to, newest first, as `docker history`
    /// lists it.
    pub fn image_history(&self, name: &str) -> Result<Vec<HistoryEntry>> {
        let store = self.image_store()?;
        let image = store.resolve(name)?;
        Ok(view::history(&store, &image))
    }
}

/// The write side: names, removal and pruning. Whether an image is in use is the
/// Engine's to say (the image store knows no containers).
impl Engine {
    /// Whether `reference` (a name, `name:tag`, or an id) names an image in the store.
    pub fn has_image(&self, reference: &str) -> Result<bool, Error> {
        match self.image_store()?.resolve(reference) {
            Ok(_) => Ok(true),
            Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Names the image `source` (a reference or id) `target` too.
    pub fn tag_image(&self, source: &str, target: &str) -> Result<(), Error> {
        let store = self.image_store()?;
        remove::tag(&store, source, target)?;
        if let Ok(image) = store.resolve(target) {
            image_event(self.root(), "tag", &image.id.to_string(), target);
        }
        Ok(())
    }

    /// Removes `name`: a tag is untagged (and the image deleted with its last tag); an id
    /// deletes the image with all its tags. An image a container uses is refused unless
    /// `force`, which then only untags it. A deleted image's untagged parents that a
    /// build made and nothing else needs go too, as Docker's `rmi` (see
    /// [`Engine::remove_image_no_prune`]). Blobs and snapshots no image needs any more
    /// are removed.
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Vec<RemoveEvent>, Error> {
        self.remove_image_as(name, force, true)
    }

    /// [`Engine::remove_image`] that keeps the image's untagged parents (`rmi
    /// --no-prune`).
    pub fn remove_image_no_prune(
        &self,
        name: &str,
        force: bool,
    ) -> Result<Vec<RemoveEvent>, Error> {
        self.remove_image_as(name, force, false)
    }

    fn remove_image_as(
        &self,
        name: &str,
        force: bool,
        prune: bool,
    ) -> Result<Vec<RemoveEvent>, Error> {
        let users = |id: &Digest| {
            self.containers_using_image(id)
                .map_err(|e| Error::Users(Box::new(e)))
        };
        let store = self.image_store()?;
        let image = store.resolve(name).ok();
        // The untag's actor is the image, as Docker's (its attribute the name removed).
        let image_id = image.as_ref().map(|i| i.id.to_string());
        let mut events = remove::remove(&store, name, force, users)?;
        if prune
            && let Some(image) = image
            && events.contains(&RemoveEvent::Deleted(image.id.clone()))
        {
            self.prune_parents(&store, image, &mut events)?;
        }
        for e in &events {
            match e {
                RemoveEvent::Untagged(r) => {
                    let id = image_id.clone().unwrap_or_else(|| r.to_string());
                    image_event(self.root(), "untag", &id, &r.to_string())
                }
                RemoveEvent::Deleted(d) => {
                    image_event(self.root(), "delete", &d.to_string(), &d.to_string())
                }
            }
        }
        Ok(events)
    }

    /// Deletes the parents of `child` (just deleted) that a build made, that have no name,
    /// no other child and no container, nearest first, as Docker's `rmi` prunes a
    /// classic build's intermediate images.
    fn prune_parents(
        &self,
        store: &Store,
        mut child: Image,
        events: &mut Vec<RemoveEvent>,
    ) -> Result<(), Error> {
        let cached = self.build_cache_images();
        if cached.is_empty() {
            return Ok(());
        }
        let in_use = |id: &Digest| {
            self.containers_using_image(id)
                .map_err(|e| Error::Users(Box::new(e)))
        };
        loop {
            let images = store.list()?;
            let parent = images
                .iter()
                .filter(|p| p.names.is_empty() && cached.contains(&p.id))
                .filter(|p| is_parent_of(p, &child))
                .max_by_key(|p| history_len(p));
            let Some(parent) = parent else {
                return Ok(());
            };
            let other_child = images
                .iter()
                .any(|c| c.id != parent.id && is_parent_of(parent, c));
            if other_child || !in_use(&parent.id)?.is_empty() {
                return Ok(());
            }
            let id = parent.id.to_string();
            events.extend(remove::remove(store, &id, false, in_use)?);
            child = parent.clone();
        }
    }

    /// Removes dangling images (no name), or with `all` every image that no container
    /// uses, of those `keep` lets go (the prune filters), and the staging files and dirs that killed commands left. The bytes
    /// reclaimed are measured on disk (blobs and snapshots), so layers that other images
    /// share are not counted.
    pub fn prune_images(
        &self,
        all: bool,
        keep: impl Fn(&Image) -> bool,
    ) -> Result<PruneReport, Error> {
        let store = self.image_store()?;
        let in_use: HashSet<String> = self
            .containers()
            .map_err(|e| Error::Users(Box::new(e)))?
            .into_iter()
            .map(|c| c.image)
            .collect();
        let before = disk_usage(self.root());
        let mut report = PruneReport::default();
        // A build's intermediate images are not dangling: `tug builder prune` removes
        // them.
        let intermediate = self
            .intermediate_images()
            .map_err(|e| Error::Users(Box::new(e)))?;
        for image in store.list()? {
            let kept = !image.names.is_empty() || intermediate.contains(&image.id);
            if in_use.contains(&image.id.to_string()) || (!all && kept) || !keep(&image) {
                continue;
            }
            // Removing by id deletes every name; `force` only matters for images in use,
            // which were skipped above.
            report
                .events
                .extend(self.remove_image_no_prune(&image.id.to_string(), true)?);
        }
        // What killed pulls, loads, commits and imports left behind.
        let abandoned = crate::fsutil::remove_abandoned(&store.tmp_dir(), "blob-")
            + crate::fsutil::remove_abandoned(&self.root().join("snapshots"), ".tmp-");
        report.reclaimed = before.saturating_sub(disk_usage(self.root())) + abandoned;
        Ok(report)
    }
}

/// Images in and out: import, the busybox image, save and load.
impl Engine {
    /// Imports a rootfs tar (plain or gzip) as a one-layer image, unpacks its layer, and
    /// tags it. A tar that does not unpack (corrupt, hostile) fails and leaves the store
    /// as it was.
    pub fn import_image(
        &self,
        input: impl Read + Send,
        opts: &ImportOptions,
    ) -> Result<Image, Error> {
        let image = import::import(self.root(), input, opts)?;
        image_event(
            self.root(),
            "import",
            &image.id.to_string(),
            &image.id.to_string(),
        );
        Ok(image)
    }

    /// Makes the `busybox` image from the host's busybox-static and tags it `reference`
    /// (`busybox:latest`, say): the image `images/busybox/build.sh` makes, without the
    /// repository. Making it again gives the same image.
    pub fn create_busybox_image(&self, reference: &str) -> Result<Image, Error> {
        self.create_busybox_image_from(&BusyboxSource::host()?, reference)
    }

    /// [`Engine::create_busybox_image`] from a given busybox.
    pub fn create_busybox_image_from(
        &self,
        source: &BusyboxSource,
        reference: &str,
    ) -> Result<Image, Error> {
        busybox::create(self.root(), source, reference)
    }

    /// Writes the images `names` (references or ids) to `out` as an archive. A name that
    /// is a tag saves that tag; an id saves every tag of the image.
    pub fn save_images(
        &self,
        names: &[String],
        format: ArchiveFormat,
        out: impl Write,
    ) -> Result<(), Error> {
        archive::save(&self.image_store()?, names, format, out)
    }

    /// Loads the images of an archive (docker-archive or oci-archive, plain or gzip),
    /// unpacks their layers and tags them.
    pub fn load_images(&self, input: impl Read + Send) -> Result<Vec<Loaded>, Error> {
        let loaded = archive::load(self.root(), input)?;
        for l in &loaded {
            let name = l
                .names
                .first()
                .map_or_else(|| l.id.to_string(), |n| n.to_string());
            image_event(self.root(), "load", &l.id.to_string(), &name);
        }
        Ok(loaded)
    }
}

impl Engine {
    /// Writes a new gzip layer with `write_layer` (which returns its diff id and tar
    /// size) into the image store's staging dir. Dropped unused, it is removed.
    pub fn stage_layer(
        &self,
        write_layer: impl FnOnce(&mut dyn std::io::Write) -> Result<LayerStats, Error>,
    ) -> Result<StagedLayer, Error> {
        crate::image::commit::stage_layer(&self.image_store()?, write_layer)
    }

    /// Stores a new image: `parent`'s layers plus one layer that `write_layer` writes
    /// (returning its diff id and tar size), with `opts`' config, changes and history.
    /// The layer is unpacked before the image is named, so a failure leaves the store as
    /// it was.
    pub fn commit_image(
        &self,
        parent: &Image,
        write_layer: impl FnOnce(&mut dyn std::io::Write) -> Result<LayerStats, Error>,
        opts: &CommitOptions,
    ) -> Result<Image, Error> {
        crate::image::commit::commit_image(
            self.root(),
            &self.image_store()?,
            parent,
            write_layer,
            opts,
        )
    }

    /// Stores an image made of `base` layers plus `layer` (if any), with `config` (a whole
    /// image config; the new layer's diff id is appended to its `rootfs.diff_ids`, and its
    /// null fields are dropped), named `reference` or untagged. The layers are unpacked
    /// before the image is listed, so a failure leaves the store as it was.
    pub fn store_image(
        &self,
        base: &[crate::image::LayerInfo],
        layer: Option<StagedLayer>,
        config: serde_json::Value,
        reference: Option<&crate::image::Reference>,
    ) -> Result<Image, Error> {
        crate::image::commit::store_image(
            self.root(),
            &self.image_store()?,
            base,
            layer,
            config,
            reference,
        )
    }
}

/// Records an image event: the actor is the image (`id`), its attribute the `name`.
fn image_event(root: &std::path::Path, action: &str, id: &str, name: &str) {
    let attrs = [("name".to_string(), name.to_string())].into();
    crate::events::emit(root, "image", action, id, attrs);
}

fn history_len(i: &Image) -> usize {
    i.config.history().as_ref().map_or(0, Vec::len)
}

/// Whether `child` was built on `parent`: its history and layers go on from the parent's.
fn is_parent_of(parent: &Image, child: &Image) -> bool {
    let (ph, ch) = (
        parent.config.history().clone().unwrap_or_default(),
        child.config.history().clone().unwrap_or_default(),
    );
    parent.id != child.id
        && ph.len() < ch.len()
        && ph.iter().zip(&ch).all(|(a, b)| a == b)
        && parent.layers.len() <= child.layers.len()
        && parent
            .layers
            .iter()
            .zip(&child.layers)
            .all(|(a, b)| a.digest == b.digest)
}
