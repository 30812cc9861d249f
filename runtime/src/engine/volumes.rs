//! The volume commands on the [`Engine`]: what `tug volume create|ls|inspect|rm|prune`
//! and the other faces call.

use serde_json::Value;

use crate::Engine;
use crate::volume::{Error, Volume, VolumeOptions, VolumeStore, plan};

impl Engine {
    /// The volume store of this engine.
    pub(crate) fn volume_store(&self) -> VolumeStore {
        VolumeStore::open(self.root())
    }

    /// `volume create`: makes volume `opts.name` (anonymous when `None`), or returns the
    /// existing one of that name.
    pub fn create_volume(&self, opts: &VolumeOptions) -> crate::Result<Volume> {
        let (v, made) = self.volume_store().create(opts)?;
        if made {
            self.volume_event("create", &v);
        }
        Ok(v)
    }

    /// A volume event in the journal (`tug events`, the API's `/events`).
    fn volume_event(&self, action: &str, v: &Volume) {
        let attrs = [("driver".to_string(), v.driver.clone())].into();
        crate::events::emit(self.root(), "volume", action, &v.name, attrs);
    }

    /// Every volume, by name.
    pub fn volumes(&self) -> crate::Result<Vec<Volume>> {
        Ok(self.volume_store().list()?)
    }

    /// Volume `name`.
    pub fn volume(&self, name: &str) -> crate::Result<Volume> {
        Ok(self.volume_store().get(name)?)
    }

    /// The ids of the containers (running or not) that use volume `name`.
    pub fn volume_users(&self, name: &str) -> crate::Result<Vec<String>> {
        Ok(self.volume_store().users(name)?)
    }

    /// `volume rm`: refuses while any container uses the volume; with `force` a missing
    /// volume is no error (`Ok(None)`).
    pub fn remove_volume(&self, name: &str, force: bool) -> crate::Result<Option<Volume>> {
        match self.volume_store().remove(name) {
            Ok(v) => {
                self.volume_event("destroy", &v);
                Ok(Some(v))
            }
            Err(Error::NotFound(_)) if force => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// `volume prune`: removes the unused anonymous volumes (every unused one with `all`)
    /// that `keep` accepts; returns each name with the bytes it held.
    pub fn prune_volumes(
        &self,
        all: bool,
        keep: impl Fn(&Volume) -> bool,
    ) -> crate::Result<Vec<(String, u64)>> {
        let gone = self.volume_store().prune(all, keep)?;
        for (name, _) in &gone {
            let attrs = [("driver".to_string(), "local".to_string())].into();
            crate::events::emit(self.root(), "volume", "destroy", name, attrs);
        }
        Ok(gone)
    }

    /// Removes the anonymous volumes among `mounts` (a removed container's Docker
    /// `Mounts` records; `rm -v`, `run --rm`) that no other container uses; named volumes
    /// stay. Returns the names removed.
    pub fn remove_anonymous_volumes(&self, mounts: &[Value]) -> crate::Result<Vec<String>> {
        Ok(plan::remove_anonymous(&self.volume_store(), mounts)?)
    }
}
