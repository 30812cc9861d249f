//! The build cache as the builder uses it: a step's image found by its key (in this
//! state root's cache, else in a `--cache-from` image's cache trail), a step's result
//! stored and remembered, and the stage's config changes stored as an image; and the
//! Engine's view of the cache (`builder prune`, `system df`, intermediate images).

use serde_json::{Value, json};

use crate::build::BuildCachePrune;
use crate::build::cache::{Cache, Key};
use crate::image::Image;
use crate::{Digest, Engine, Result};

use super::{Builder, State};

impl Engine {
    /// `tug builder prune`: forgets every cache entry and removes the images only the
    /// cache held (no name, no container).
    pub fn prune_build_cache(&self) -> Result<BuildCachePrune> {
        let cache = Cache::open(self.root());
        let digests = cache.digests();
        let entries = cache
            .clear()
            .map_err(|e| crate::Error::Io("the build cache".into(), e))?;
        let in_use: std::collections::HashSet<String> =
            self.containers()?.into_iter().map(|c| c.image).collect();
        let mut images = Vec::new();
        for img in self.image_store()?.list()? {
            let cached = digests.contains(&img.id);
            if cached && img.names.is_empty() && !in_use.contains(&img.id.to_string()) {
                self.remove_image_no_prune(&img.id.to_string(), true)?;
                images.push(img.id);
            }
        }
        Ok(BuildCachePrune { entries, images })
    }

    /// The build cache's images that no tag names, and the bytes their layers hold that
    /// no other image shares (what `tug builder prune` would free), for `system df`.
    pub fn build_cache_usage(&self) -> Result<(usize, u64)> {
        let cached = self.build_cache_images();
        let store = self.image_store()?;
        let images = store.list()?;
        let (cache_only, others): (Vec<&Image>, Vec<&Image>) = images
            .iter()
            .partition(|i| i.names.is_empty() && cached.contains(&i.id));
        let shared: std::collections::HashSet<&Digest> = others
            .iter()
            .flat_map(|i| i.layers.iter().map(|l| &l.digest))
            .collect();
        let mut counted = std::collections::HashSet::new();
        let mut bytes = 0;
        for img in &cache_only {
            for l in &img.layers {
                if !shared.contains(&l.digest) && counted.insert(&l.digest) {
                    bytes += store.layer_size(l);
                }
            }
        }
        Ok((cache_only.len(), bytes))
    }

    /// The build's intermediate images, which `tug images` leaves out unless `-a` and
    /// `tug image prune` keeps, as Docker treats a classic build's: images the build
    /// cache made that have no name and are the parent of another image (its layers and
    /// history go on from theirs). A build's untagged result is not one of them: it is
    /// listed, and dangling.
    pub fn intermediate_images(&self) -> Result<Vec<Digest>> {
        let cached = self.build_cache_images();
        if cached.is_empty() {
            return Ok(Vec::new());
        }
        let images = self.image_store()?.list()?;
        let history_len = |i: &Image| i.config.history().as_ref().map_or(0, Vec::len);
        let is_parent = |p: &Image| {
            images.iter().any(|c| {
                c.id != p.id
                    && history_len(c) > history_len(p)
                    && c.layers.len() >= p.layers.len()
                    && c.layers[..p.layers.len()]
                        .iter()
                        .zip(&p.layers)
                        .all(|(a, b)| a.digest == b.digest)
            })
        };
        Ok(images
            .iter()
            .filter(|i| i.names.is_empty() && cached.contains(&i.id) && is_parent(i))
            .map(|i| i.id.clone())
            .collect())
    }

    /// The ids of the images the build cache names (images `tug images` leaves out
    /// unless asked for all, as Docker hides intermediate images).
    pub fn build_cache_images(&self) -> Vec<Digest> {
        Cache::open(self.root()).digests()
    }
}

impl Builder<'_> {
    /// An image's config as stored (every field, also the ones oci-spec does not know:
    /// Healthcheck, OnBuild, Shell).
    pub(super) fn raw_config(&self, img: &Image) -> Result<Value> {
        let blob = self.engine.image_store()?.read_blob(&img.id)?;
        let mut v: Value = serde_json::from_slice(&blob).map_err(|e| {
            crate::image::Error::Invalid(format!("the config of image {}: {e}", img.id))
        })?;
        if let Some(obj) = v.as_object_mut()
            && !obj.get("config").is_some_and(Value::is_object)
        {
            obj.insert("config".into(), json!({}));
        }
        Ok(v)
    }

    /// Moves the state onto `img` (made by a step or found in the cache).
    pub(super) fn set_image(&self, st: &mut State, img: Image) -> Result<()> {
        st.config = self.raw_config(&img)?;
        st.image = Some(img);
        st.pending = false;
        Ok(())
    }

    /// The image the cache names for `key`, if it is still in the store, else one made
    /// from a `--cache-from` image whose build made `key` (never with `--no-cache`).
    pub(super) fn cached_image(&self, st: &State, key: &Key) -> Result<Option<Image>> {
        if self.opts.no_cache {
            return Ok(None);
        }
        if let Some(id) = self.cache.get(key)
            && let Ok(img) = self.engine.image(&id.to_string())
        {
            return Ok(Some(img));
        }
        for (img, config) in &self.cache_from {
            let Some(entry) = trail(config)
                .iter()
                .position(|e| e.get("key").and_then(Value::as_str) == Some(key.as_str()))
            else {
                continue;
            };
            // The image as that step left it: its first layers and history entries, and
            // this build's config (the key says it is the same).
            let trail_so_far: Vec<Value> = trail(config)[..=entry].to_vec();
            let e = &trail_so_far[entry];
            let n_layers = e.get("layers").and_then(Value::as_u64).unwrap_or(u64::MAX) as usize;
            let n_history = e.get("history").and_then(Value::as_u64).unwrap_or(u64::MAX) as usize;
            let history = config.get("history").and_then(Value::as_array);
            let (Some(layers), Some(history)) = (
                img.layers.get(..n_layers),
                history.and_then(|h| h.get(..n_history)),
            ) else {
                continue;
            };
            let mut cfg = st.config.clone();
            if let Some(obj) = cfg.as_object_mut() {
                obj.insert("history".into(), Value::Array(history.to_vec()));
                obj.insert(
                    "rootfs".into(),
                    json!({"type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.to_string()).collect::<Vec<_>>()}),
                );
                obj.insert(TRAIL.into(), Value::Array(trail_so_far));
                if let Some(created) = history.last().and_then(|h| h.get("created")) {
                    obj.insert("created".into(), created.clone());
                }
            }
            // The diff ids are the config's: store_image appends none without a layer.
            let made = self.engine.store_image(layers, None, cfg, None)?;
            self.remember(key, &made);
            return Ok(Some(made));
        }
        Ok(None)
    }

    /// Records `img` as what `key` makes; a cache that cannot be written only costs a
    /// rebuild next time.
    pub(super) fn remember(&self, key: &Key, img: &Image) {
        let _ = self.cache.put(key, &img.id);
    }

    /// Stores what a step made (`base` layers plus `layer`, the state's config) as the
    /// image `key` names, with the step in the config's cache trail (what `--cache-from`
    /// reads), and moves the state onto it.
    pub(super) fn store_step(
        &mut self,
        st: &mut State,
        key: &Key,
        base: &[crate::image::LayerInfo],
        layer: Option<crate::image::commit::StagedLayer>,
    ) -> Result<Image> {
        let n_layers = base.len() + usize::from(layer.is_some());
        let n_history = st
            .config
            .get("history")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if let Some(obj) = st.config.as_object_mut() {
            let t = obj.entry(TRAIL).or_insert_with(|| json!([]));
            if !t.is_array() {
                *t = json!([]);
            }
            if let Some(list) = t.as_array_mut() {
                list.push(json!({"key": key.as_str(), "layers": n_layers, "history": n_history}));
            }
        }
        let img = self
            .engine
            .store_image(base, layer, st.config.clone(), None)?;
        self.remember(key, &img);
        self.set_image(st, img.clone())?;
        Ok(img)
    }

    /// The stage's state as an image in the store (the config changes since the last
    /// layer step, without a new layer).
    pub(super) fn materialize(&mut self, st: &mut State) -> Result<Image> {
        if !st.pending
            && let Some(img) = &st.image
        {
            return Ok(img.clone());
        }
        let key = st.key.then("image").finish();
        if let Some(img) = self.cached_image(st, &key)? {
            self.set_image(st, img.clone())?;
            return Ok(img);
        }
        let layers = st
            .image
            .as_ref()
            .map(|i| i.layers.clone())
            .unwrap_or_default();
        self.store_step(st, &key, &layers, None)
    }
}

/// The image config's field that lists, for each step of the build that made it, the
/// step's cache key and how many layers and history entries the image had after it: the
/// inline cache `--cache-from` reads (as BuildKit's `moby.buildkit.cache.v0`).
pub(super) const TRAIL: &str = "tug.build.cache.v1";

/// The cache trail of an image config.
fn trail(config: &Value) -> &[Value] {
    config
        .get(TRAIL)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}
