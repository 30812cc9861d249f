//! [`MariaDb`]: Debian's MariaDB (10.11), with the official image's conventions.

use std::borrow::Cow;

use super::{Bake, ModuleImage};
use crate::buildable::GenericBuildableImage;
use crate::container::Container;
use crate::copy::{CopyDataSource, CopyToContainer};
use crate::image::Image;
use crate::ports::{ContainerPort, IntoContainerPort};
use crate::wait::{LogWaitStrategy, WaitFor};

const DOCKERFILE: &str = include_str!("../../../images/mariadb/Dockerfile");
const ENTRYPOINT: &[u8] = include_bytes!("../../../images/mariadb/docker-entrypoint.sh");

/// What a baked fixture adds to the image's Dockerfile.
const BAKE_STEPS: &str = "
ARG MARIADB_ROOT_PASSWORD
ARG MARIADB_ALLOW_EMPTY_ROOT_PASSWORD
ARG MARIADB_DATABASE
ARG MARIADB_USER
ARG MARIADB_PASSWORD
COPY initdb/ /docker-entrypoint-initdb.d/
RUN docker-entrypoint.sh init-only
";

/// The port MariaDB listens on in its container.
pub const MARIADB_PORT: ContainerPort = ContainerPort::Tcp(3306);

/// A MariaDB server: by default the database `test` and `root` without a password, as
/// testcontainers-modules has it; the data directory is initialised in the image.
#[derive(Debug, Clone)]
pub struct MariaDb {
    image: ModuleImage,
    env: Vec<(String, String)>,
    db: String,
    user: Option<(String, String)>,
    root_password: Option<String>,
    init: Vec<CopyToContainer>,
    bake: Bake,
}

impl Default for MariaDb {
    fn default() -> Self {
        MariaDb {
            image: ModuleImage::own("tug-mariadb", "10"),
            env: Vec::new(),
            db: "test".into(),
            user: None,
            root_password: None,
            init: Vec::new(),
            bake: Bake::default(),
        }
        .bake()
    }
}

impl MariaDb {
    /// The database to have (`MARIADB_DATABASE`).
    pub fn with_db(mut self, db: impl Into<String>) -> Self {
        self.db = db.into();
        self.bake()
    }

    /// A user with all rights on the database (`MARIADB_USER`, `MARIADB_PASSWORD`).
    pub fn with_user(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.user = Some((user.into(), password.into()));
        self.bake()
    }

    /// root's password (`MARIADB_ROOT_PASSWORD`; none by default).
    pub fn with_root_password(mut self, password: impl Into<String>) -> Self {
        self.root_password = Some(password.into());
        self.bake()
    }

    /// An SQL script run once, in the database, before the server is ready.
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

    /// Works out the baked image (see [`Postgres`](super::Postgres)) after a change of
    /// the settings: always baked (the entrypoint has root's accounts and the database
    /// to make), but when `with_env` gave settings of its own, applied at start.
    fn bake(mut self) -> Self {
        let mut bake = std::mem::take(&mut self.bake);
        bake.update(&self.image, &self.settings(), true);
        if !self.env.is_empty() {
            bake.tag = None;
        }
        self.bake = bake;
        self
    }

    /// The settings the entrypoint applies, as build args of the baked image.
    fn settings(&self) -> [(&str, &str); 5] {
        let (user, password) = match &self.user {
            Some((u, p)) => (u.as_str(), p.as_str()),
            None => ("", ""),
        };
        [
            (
                "MARIADB_ROOT_PASSWORD",
                self.root_password.as_deref().unwrap_or(""),
            ),
            (
                "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD",
                if self.root_password.is_none() {
                    "1"
                } else {
                    ""
                },
            ),
            ("MARIADB_DATABASE", &self.db),
            ("MARIADB_USER", user),
            ("MARIADB_PASSWORD", password),
        ]
    }

    /// More environment for the server (`MARIADB_*` the official image knows).
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self.bake()
    }

    /// Runs `name:tag` (the official `mariadb`, say) instead of tug's image.
    pub fn with_image(mut self, name: impl Into<String>, tag: impl Into<String>) -> Self {
        self.image.replace(name.into(), tag.into());
        self.bake()
    }
}

impl Image for MariaDb {
    fn name(&self) -> &str {
        &self.image.name
    }

    fn tag(&self) -> &str {
        self.bake.tag.as_deref().unwrap_or(&self.image.tag)
    }

    fn ready_conditions(&self) -> Vec<WaitFor> {
        // tug's image logs the line once, for the final server; the official one also
        // for its temporary init server.
        let times = if self.image.own { 1 } else { 2 };
        vec![WaitFor::log(
            LogWaitStrategy::stderr("ready for connections").with_times(times),
        )]
    }

    fn env_vars(
        &self,
    ) -> impl IntoIterator<Item = (impl Into<Cow<'_, str>>, impl Into<Cow<'_, str>>)> {
        let mut v: Vec<(&str, &str)> = vec![("MARIADB_DATABASE", &self.db)];
        match &self.root_password {
            Some(p) => v.push(("MARIADB_ROOT_PASSWORD", p)),
            None => v.push(("MARIADB_ALLOW_EMPTY_ROOT_PASSWORD", "1")),
        }
        if let Some((u, p)) = &self.user {
            v.push(("MARIADB_USER", u));
            v.push(("MARIADB_PASSWORD", p));
        }
        v.extend(self.env.iter().map(|(k, val)| (k.as_str(), val.as_str())));
        v
    }

    fn copy_to_sources(&self) -> impl IntoIterator<Item = &CopyToContainer> {
        // Baked into the image: nothing left to apply at start.
        self.bake.pending(&self.init).iter()
    }

    fn expose_ports(&self) -> &[ContainerPort] {
        &[MARIADB_PORT]
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

impl Container<MariaDb> {
    /// `mysql://USER[:PASSWORD]@127.0.0.1:PORT/DB` (the user given, else root).
    pub fn connection_string(&self) -> String {
        let i = self.image();
        let port = self.get_host_port_ipv4(3306.tcp()).unwrap_or(0);
        let auth = match (&i.user, &i.root_password) {
            (Some((u, p)), _) => format!("{u}:{p}"),
            (None, Some(p)) => format!("root:{p}"),
            (None, None) => "root".to_string(),
        };
        format!("mysql://{auth}@127.0.0.1:{port}/{}", i.db)
    }
}
