//! [`Postgres`]: PostgreSQL 15 (Debian's), with the official image's conventions.

use std::borrow::Cow;
use std::path::PathBuf;

use super::{Bake, ModuleImage};
use crate::buildable::GenericBuildableImage;
use crate::container::Container;
use crate::copy::{CopyDataSource, CopyToContainer};
use crate::image::Image;
use crate::mounts::Mount;
use crate::ports::{ContainerPort, IntoContainerPort};
use crate::wait::{LogWaitStrategy, WaitFor};

const DOCKERFILE: &str = include_str!("../../../images/postgres/Dockerfile");
const ENTRYPOINT: &[u8] = include_bytes!("../../../images/postgres/docker-entrypoint.sh");

/// What a fixture with its own settings or scripts adds to the image's Dockerfile.
const BAKE_STEPS: &str = "
ARG POSTGRES_USER
ARG POSTGRES_PASSWORD
ARG POSTGRES_DB
COPY initdb/ /docker-entrypoint-initdb.d/
RUN docker-entrypoint.sh init-only
";

pub use super::pgfresh::FreshDatabase;

/// Where the fixture's tmpfs goes: the home of the tablespace that the databases of
/// `fresh_database` are made in (the entrypoint makes the directory for it).
pub(super) const MEMORY_DIR: &str = "/var/lib/postgresql/memory";
pub(super) const MEMORY_TABLESPACE_DIR: &str = "/var/lib/postgresql/memory/tablespace";

/// The port PostgreSQL listens on in its container.
pub const POSTGRES_PORT: ContainerPort = ContainerPort::Tcp(5432);

/// A PostgreSQL server. By default user, password and database are `postgres`, which the
/// image was initialised with, so it starts without initdb; other names, a password or
/// init scripts are applied by the entrypoint before the server listens on TCP (ready
/// means the final server accepts connections). Durability is off unless asked for.
///
/// With tug's image, what the entrypoint would apply at every start (the user, the
/// password, the database, the init scripts) is applied once, by `tug build`, into an
/// image of its own (`tug-postgres:15-init-<hash>`, a hash of the settings and the
/// scripts' content): the next start of the same fixture, in any process, starts the
/// server at once. `tug images tug-postgres` lists them; `tug rmi` removes them.
#[derive(Debug, Clone)]
pub struct Postgres {
    image: ModuleImage,
    env: Vec<(String, String)>,
    pub(super) user: String,
    password: String,
    pub(super) db: String,
    init: Vec<CopyToContainer>,
    bake: Bake,
    /// With tug's image: a tmpfs for the tablespace of the databases that
    /// `fresh_database` copies (a copy is a memory copy, a drop costs nothing). The
    /// server's own cluster stays in the container's layer, where it starts without
    /// being copied anywhere first. Empty with `with_durability` or another image.
    pub(super) in_memory: Vec<Mount>,
}

impl Default for Postgres {
    fn default() -> Self {
        Postgres {
            image: ModuleImage::own("tug-postgres", "15"),
            env: Vec::new(),
            user: "postgres".into(),
            password: "postgres".into(),
            db: "postgres".into(),
            init: Vec::new(),
            bake: Bake::default(),
            in_memory: vec![Mount::tmpfs_mount(MEMORY_DIR).with_mode(0o755)],
        }
    }
}

impl Postgres {
    /// The database to have (`POSTGRES_DB`).
    pub fn with_db(mut self, db: impl Into<String>) -> Self {
        self.db = db.into();
        self.bake()
    }

    /// The superuser (`POSTGRES_USER`).
    pub fn with_user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self.bake()
    }

    /// Its password (`POSTGRES_PASSWORD`).
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = password.into();
        self.bake()
    }

    /// An SQL script (a host file, or its text as bytes) run once before the server is
    /// ready, after the ones given before it (`/docker-entrypoint-initdb.d/`).
    pub fn with_init_sql(mut self, sql: impl Into<CopyDataSource>) -> Self {
        let n = self.init.len();
        let name = format!("{n:03}-init.sql");
        let sql = sql.into();
        self.bake.add_script(&name, &sql);
        self.init.push(CopyToContainer::new(
            sql,
            format!("/docker-entrypoint-initdb.d/{name}"),
        ));
        self.bake()
    }

    /// Every `*.sql` file of `dir`, in name order, as [`Postgres::with_init_sql`].
    pub fn with_migrations(mut self, dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "sql"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        for f in files {
            self = self.with_init_sql(f);
        }
        self
    }

    /// Keeps PostgreSQL's durability settings (fsync, synchronous_commit,
    /// full_page_writes, wal_init_zero), which the fixture turns off for speed by
    /// default, and the databases of `fresh_database` on disk (in the container's own
    /// layer) instead of in memory.
    pub fn with_durability(mut self) -> Self {
        self.env.push(("POSTGRES_DURABLE".into(), "1".into()));
        self.in_memory = Vec::new();
        self
    }

    /// Runs `name:tag` (the official `postgres`, say) instead of tug's image.
    pub fn with_image(mut self, name: impl Into<String>, tag: impl Into<String>) -> Self {
        self.image.replace(name.into(), tag.into());
        self.in_memory = Vec::new();
        self.bake()
    }

    /// Works out the baked image after a change of the settings.
    fn bake(mut self) -> Self {
        let default =
            self.user == "postgres" && self.password == "postgres" && self.db == "postgres";
        let mut bake = std::mem::take(&mut self.bake);
        bake.update(&self.image, &self.settings(), !default);
        self.bake = bake;
        self
    }

    /// The settings the entrypoint applies, as build args of the baked image.
    fn settings(&self) -> [(&str, &str); 3] {
        [
            ("POSTGRES_USER", &self.user),
            ("POSTGRES_PASSWORD", &self.password),
            ("POSTGRES_DB", &self.db),
        ]
    }
}

impl Image for Postgres {
    fn name(&self) -> &str {
        &self.image.name
    }

    fn tag(&self) -> &str {
        self.bake.tag.as_deref().unwrap_or(&self.image.tag)
    }

    fn ready_conditions(&self) -> Vec<WaitFor> {
        // tug's image logs the ready line once, for the final server (its temporary init
        // server logs to a file); the official image logs it for both.
        let times = if self.image.own { 1 } else { 2 };
        vec![WaitFor::log(
            LogWaitStrategy::stderr("database system is ready to accept connections")
                .with_times(times),
        )]
    }

    fn env_vars(
        &self,
    ) -> impl IntoIterator<Item = (impl Into<Cow<'_, str>>, impl Into<Cow<'_, str>>)> {
        let mut v: Vec<(&str, &str)> = vec![
            ("POSTGRES_USER", &self.user),
            ("POSTGRES_PASSWORD", &self.password),
            ("POSTGRES_DB", &self.db),
        ];
        v.extend(self.env.iter().map(|(k, val)| (k.as_str(), val.as_str())));
        v
    }

    fn copy_to_sources(&self) -> impl IntoIterator<Item = &CopyToContainer> {
        // Baked into the image: nothing left to apply at start.
        self.bake.pending(&self.init).iter()
    }

    fn expose_ports(&self) -> &[ContainerPort] {
        &[POSTGRES_PORT]
    }

    fn mounts(&self) -> impl IntoIterator<Item = &Mount> {
        self.in_memory.iter()
    }

    fn recipe(&self) -> Option<GenericBuildableImage> {
        self.bake.recipe(
            &self.image,
            DOCKERFILE,
            ENTRYPOINT,
            BAKE_STEPS,
            &self.settings(),
        )
    }
}

impl Postgres {
    /// The test run's one default server ([`crate::ImageExt::shared`]): started by the
    /// first test that asks (in any process of a `cargo nextest` run), then the same for
    /// every test, removed when the run ends. Give each test its own database with
    /// [`Container::fresh_database`].
    ///
    /// # Panics
    /// When the server cannot start (the error says why): it is a test's fixture.
    pub fn shared() -> &'static Container<Postgres> {
        use crate::ImageExt;
        use crate::runners::SyncRunner;
        static SHARED: std::sync::OnceLock<Container<Postgres>> = std::sync::OnceLock::new();
        SHARED.get_or_init(|| {
            Postgres::default()
                .shared()
                .start()
                .unwrap_or_else(|e| panic!("Postgres::shared(): {e}"))
        })
    }
}

impl Container<Postgres> {
    /// `postgres://USER:PASSWORD@127.0.0.1:PORT/DB`.
    pub fn connection_string(&self) -> String {
        let i = self.image();
        let port = self.get_host_port_ipv4(5432.tcp()).unwrap_or(0);
        format!(
            "postgres://{}:{}@127.0.0.1:{port}/{}",
            i.user, i.password, i.db
        )
    }
}
