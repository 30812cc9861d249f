//! [`Container::fresh_database`]: a database per test, copied from the fixture's.
//!
//! A copy (`CREATE DATABASE ... TEMPLATE`) costs PostgreSQL tens of milliseconds (it
//! copies the template's files and takes checkpoints), so each process keeps a few copies
//! ready per server, made by a background thread: a test takes one that is ready and the
//! thread makes the next while the test runs. A test's copy is dropped in the background
//! too, after the test. The statements go over the server's unix socket (no `psql`, no
//! TCP), on sessions of the fixture's own database ([`ADMIN_DB`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use tug::Engine;

use super::Postgres;
use super::pgwire::Session;
use crate::container::Container;
use crate::error::{Error, Result};

/// How many copies a process keeps ready per server.
const READY: usize = 3;

/// The database the fixture's sessions sit on: never a template, so that they never
/// hold one that a `CREATE DATABASE` (the fixture's or a test's) copies.
const ADMIN_DB: &str = "tug_testkit";

/// The server's unix socket in its container (Debian's and the official image's).
const SOCKET: &str = "/var/run/postgresql/.s.PGSQL.5432";

/// A database made for one test by [`Container::fresh_database`]: a copy of the fixture's
/// database (with the schema and data of its init scripts), dropped after the test.
#[derive(Debug)]
pub struct FreshDatabase<'c> {
    container: &'c Container<Postgres>,
    name: String,
}

impl FreshDatabase<'_> {
    /// The database's name (`test_<pid>_<n>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `postgres://USER:PASSWORD@127.0.0.1:PORT/<this database>`.
    pub fn connection_string(&self) -> String {
        let base = self.container.connection_string();
        match base.rsplit_once('/') {
            Some((prefix, _)) => format!("{prefix}/{}", self.name),
            None => base,
        }
    }
}

impl Drop for FreshDatabase<'_> {
    fn drop(&mut self) {
        let server = Server::of(self.container);
        let pool = pool_of(&server);
        pool.state().to_drop.push(std::mem::take(&mut self.name));
        pool.work.notify_all();
    }
}

impl Container<Postgres> {
    /// A new database for one test, copied from the fixture's database (with what its
    /// init scripts made), dropped after the test: tests that share one server do not
    /// see each other's data. No test may be connected to the fixture's database itself
    /// (PostgreSQL copies only a template nobody uses).
    pub fn fresh_database(&self) -> Result<FreshDatabase<'_>> {
        let server = Server::of(self);
        let pool = pool_of(&server);
        let ready = {
            let mut st = pool.state();
            st.wanted = READY;
            st.ready.pop()
        };
        pool.work.notify_all();
        let name = match ready {
            Some(name) => name,
            None => {
                let name = new_name();
                server.execute(&server.copy_statement(&name))?;
                name
            }
        };
        Ok(FreshDatabase {
            container: self,
            name,
        })
    }
}

/// What the statements need of a fixture, owned, for the background thread.
#[derive(Debug, Clone)]
struct Server {
    engine: Engine,
    id: String,
    user: String,
    template: String,
    /// The tmpfs tablespace the copies go to, with tug's image.
    memory: bool,
}

/// The tablespace on the fixture's tmpfs (see `Postgres::in_memory`).
const MEMORY_TABLESPACE: &str = "tug_memory";

impl Server {
    fn of(c: &Container<Postgres>) -> Server {
        Server {
            engine: c.engine().clone(),
            id: c.id().to_string(),
            user: c.image().user.clone(),
            template: c.image().db.clone(),
            memory: !c.image().in_memory.is_empty(),
        }
    }

    fn copy_statement(&self, name: &str) -> String {
        let tablespace = if self.memory {
            format!(" TABLESPACE {MEMORY_TABLESPACE}")
        } else {
            String::new()
        };
        format!(
            "CREATE DATABASE \"{name}\" TEMPLATE \"{}\" STRATEGY FILE_COPY{tablespace}",
            self.template
        )
    }

    /// Runs one statement as the superuser: on a session over the server's unix socket
    /// (kept for the next), else by `psql` in the container.
    fn execute(&self, sql: &str) -> Result<()> {
        let taken = {
            let mut pool = SESSIONS.lock().unwrap_or_else(|p| p.into_inner());
            pool.iter()
                .position(|(id, _)| *id == self.id)
                .map(|i| pool.swap_remove(i).1)
        };
        let Some(mut session) = taken.or_else(|| self.admin_session()) else {
            return self.psql(sql);
        };
        let result = session.execute(sql);
        SESSIONS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((self.id.clone(), session));
        result.map_err(|e| Error::Setup(format!("{sql}: {e}")))
    }

    /// A new session on [`ADMIN_DB`] (made on first use), or `None` when the socket
    /// cannot be reached (an image that keeps it elsewhere).
    fn admin_session(&self) -> Option<Session> {
        let connect = |db: &str| {
            let stream = self.engine.connect_unix(&self.id, SOCKET).ok()?;
            Session::start(stream, &self.user, db).ok()
        };
        let mut session = match connect(ADMIN_DB) {
            Some(s) => s,
            None => {
                let mut first = connect("template1")?;
                // From template0, which nobody can be connected to (a copy of a template
                // that others use fails). Another thread or process may make it at the
                // same time: then it exists, as wanted.
                let _ = first.execute(&format!("CREATE DATABASE {ADMIN_DB} TEMPLATE template0"));
                drop(first);
                connect(ADMIN_DB)?
            }
        };
        if self.memory {
            // Each new session asks for it: the first makes it, the others (of this or
            // another process) are told it exists, which is as good.
            let _ = session.execute(&format!(
                "CREATE TABLESPACE {MEMORY_TABLESPACE} LOCATION '{}'",
                super::postgres::MEMORY_TABLESPACE_DIR
            ));
        }
        Some(session)
    }

    /// Runs one statement as the superuser with `psql` in the container.
    fn psql(&self, sql: &str) -> Result<()> {
        let opts = tug::container::ExecOptions {
            command: [
                "psql",
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-U",
                &self.user,
                "-d",
                "template1",
                "-c",
                sql,
            ]
            .map(String::from)
            .to_vec(),
            ..Default::default()
        };
        let out = self
            .engine
            .exec_output(&self.id, &opts)
            .map_err(|e| Error::engine(format!("psql {sql:?}"), e))?;
        match out.exit_code {
            0 => Ok(()),
            code => Err(Error::Setup(format!(
                "psql {sql:?} exited with {code}: {}",
                String::from_utf8_lossy(&out.stderr)
            ))),
        }
    }
}

/// The fixture's sessions, by container id, kept for the next statement.
static SESSIONS: Mutex<Vec<(String, Session)>> = Mutex::new(Vec::new());

/// The copies of one server that this process keeps ready, and those to drop.
#[derive(Debug, Default)]
struct PoolState {
    ready: Vec<String>,
    to_drop: Vec<String>,
    /// How many to keep ready: 0 until the first `fresh_database`.
    wanted: usize,
}

#[derive(Debug, Default)]
struct Pool {
    state: Mutex<PoolState>,
    work: Condvar,
}

impl Pool {
    fn state(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The pool of a server, with its background thread started on first use.
fn pool_of(server: &Server) -> Arc<Pool> {
    static POOLS: Mutex<Option<HashMap<String, Arc<Pool>>>> = Mutex::new(None);
    let mut pools = POOLS.lock().unwrap_or_else(|p| p.into_inner());
    let pools = pools.get_or_insert_with(HashMap::new);
    if let Some(p) = pools.get(&server.id) {
        return p.clone();
    }
    let pool = Arc::new(Pool::default());
    pools.insert(server.id.clone(), pool.clone());
    let (p, s) = (pool.clone(), server.clone());
    std::thread::Builder::new()
        .name("tug-pg-fresh".into())
        .spawn(move || keep_ready(&p, &s))
        .ok();
    pool
}

/// The background thread: drops what tests are done with, keeps copies ready, and ends
/// when the server is gone.
fn keep_ready(pool: &Pool, server: &Server) {
    loop {
        let job = {
            let mut st = pool.state();
            loop {
                if let Some(name) = st.to_drop.pop() {
                    break Job::Drop(name);
                }
                if st.ready.len() < st.wanted {
                    break Job::Copy;
                }
                st = pool.work.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        };
        let done = match job {
            Job::Drop(name) => {
                server.execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            }
            Job::Copy => {
                let name = new_name();
                let made = server.execute(&server.copy_statement(&name));
                if made.is_ok() {
                    pool.state().ready.push(name);
                }
                made
            }
        };
        if done.is_err() && server.engine.container(&server.id).is_err() {
            return; // the server is gone, and its databases with it
        }
        if done.is_err() {
            // The server refuses (stopping, or the template is in use): the tests make
            // their copies themselves and say why.
            pool.state().wanted = 0;
        }
    }
}

enum Job {
    Drop(String),
    Copy,
}

/// `test_<pid>_<n>`: unique among the processes that share a server.
fn new_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "test_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
