//! Ready-made images for tests, as testcontainers-modules has them: [`Postgres`],
//! [`MariaDb`], [`Redis`] and a [`Registry`], each a real server started in one line and
//! reached on a host port:
//!
//! ```no_run
//! use tug_testkit::modules::{Postgres, Redis};
//! use tug_testkit::runners::SyncRunner;
//!
//! let pg = Postgres::default().with_db("app").start().unwrap();
//! let url = pg.connection_string(); // postgres://postgres:postgres@127.0.0.1:PORT/app
//! let redis = Redis::default().start().unwrap();
//! let url = redis.url(); // redis://127.0.0.1:PORT
//! ```
//!
//! Their images are built by `tug build` from the Dockerfiles of the repository's
//! `images/` (embedded here) on `debian:bookworm-slim`, the first time a module starts
//! (Debian's packages come from Debian's mirror; a minute or two, once), then come from
//! the build cache. `with_image(name, tag)` runs another image instead (the official one,
//! pulled from a registry), with the same environment conventions.

mod mariadb;
mod pgfresh;
mod pgwire;
mod postgres;
mod redis;
mod registry;

pub use mariadb::MariaDb;
pub use postgres::{FreshDatabase, Postgres};
pub use redis::Redis;
pub use registry::Registry;

use crate::buildable::GenericBuildableImage;

/// The base image the modules' Dockerfiles start from.
pub const DEBIAN: &str = "debian:bookworm-slim";

/// The image a module runs: tug's own, built from the module's recipe, or another one
/// by name (`with_image`).
#[derive(Debug, Clone)]
pub(crate) struct ModuleImage {
    pub(crate) name: String,
    pub(crate) tag: String,
    /// Whether it is tug's own image (built from the recipe).
    pub(crate) own: bool,
}

impl ModuleImage {
    pub(crate) fn own(name: &str, tag: &str) -> ModuleImage {
        ModuleImage {
            name: name.into(),
            tag: tag.into(),
            own: true,
        }
    }

    /// Another image instead of tug's own.
    pub(crate) fn replace(&mut self, name: String, tag: String) {
        *self = ModuleImage {
            name,
            tag,
            own: false,
        };
    }

    /// The recipe of tug's own image: its Dockerfile and the files beside it.
    pub(crate) fn recipe(
        &self,
        dockerfile: &str,
        files: &[(&str, &[u8])],
    ) -> Option<GenericBuildableImage> {
        if !self.own {
            return None;
        }
        let mut b =
            GenericBuildableImage::new(&self.name, &self.tag).with_dockerfile_string(dockerfile);
        for (path, data) in files {
            b = b.with_data(data.to_vec(), *path);
        }
        Some(b)
    }
}

/// A module's settings and init scripts applied once, by `tug build`, into an image of
/// their own (`<name>:<tag>-init-<hash>`), so that the next start of the same fixture
/// starts the server at once: the module's Dockerfile with `steps` added, which run its
/// entrypoint's `init-only` mode with the settings as build args.
#[derive(Debug, Clone)]
pub(crate) struct Bake {
    /// The init scripts' names and content, read when given (`None`: one could not be
    /// read, so the scripts are copied at start and applied there).
    pub(crate) scripts: Option<Vec<(String, Vec<u8>)>>,
    /// The baked image's tag, when there is one (see [`Bake::update`]).
    pub(crate) tag: Option<String>,
}

impl Default for Bake {
    fn default() -> Self {
        Bake {
            scripts: Some(Vec::new()),
            tag: None,
        }
    }
}

impl Bake {
    /// Records an init script (a copy into `/docker-entrypoint-initdb.d/<name>`).
    pub(crate) fn add_script(&mut self, name: &str, source: &crate::copy::CopyDataSource) {
        use crate::copy::CopyDataSource;
        let data = match source {
            CopyDataSource::Data(d) => Some(d.clone()),
            CopyDataSource::File(p) => std::fs::read(p).ok(),
        };
        self.scripts = match (self.scripts.take(), data) {
            (Some(mut all), Some(d)) => {
                all.push((name.to_string(), d));
                Some(all)
            }
            _ => None,
        };
    }

    /// Works out the tag after a change: baked when the image is the module's own, the
    /// scripts could be read, and `needed` (the settings differ from the image's, or
    /// there are scripts).
    pub(crate) fn update(&mut self, image: &ModuleImage, settings: &[(&str, &str)], needed: bool) {
        use std::hash::{DefaultHasher, Hash, Hasher};
        self.tag = match &self.scripts {
            Some(scripts) if image.own && (needed || !scripts.is_empty()) => {
                let mut h = DefaultHasher::new();
                (settings, scripts).hash(&mut h);
                Some(format!("{}-init-{:016x}", image.tag, h.finish()))
            }
            _ => None,
        };
    }

    /// The init scripts still to copy in at start: none when they are baked.
    pub(crate) fn pending<'a>(
        &self,
        init: &'a [crate::copy::CopyToContainer],
    ) -> &'a [crate::copy::CopyToContainer] {
        if self.tag.is_some() { &[] } else { init }
    }

    /// The recipe of the baked image, or of the module's own when nothing is baked.
    pub(crate) fn recipe(
        &self,
        image: &ModuleImage,
        dockerfile: &str,
        entrypoint: &[u8],
        steps: &str,
        settings: &[(&str, &str)],
    ) -> Option<GenericBuildableImage> {
        let base = image.recipe(dockerfile, &[("docker-entrypoint.sh", entrypoint)])?;
        let (Some(tag), Some(scripts)) = (&self.tag, &self.scripts) else {
            return Some(base);
        };
        let mut b = GenericBuildableImage::new(&image.name, tag)
            .with_dockerfile_string(format!("{dockerfile}{steps}"))
            .with_data(entrypoint.to_vec(), "docker-entrypoint.sh")
            .with_data(Vec::new(), "initdb/.keep");
        for (k, v) in settings {
            b = b.with_build_arg(*k, *v);
        }
        for (name, data) in scripts {
            b = b.with_data(data.clone(), format!("initdb/{name}"));
        }
        Some(b)
    }
}
