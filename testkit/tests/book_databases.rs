//! The examples of the book's chapter "Databases in your tests" (book/src/databases.md
//! includes the lines between the ANCHOR comments), run here so that the book's code
//! compiles and passes against real servers.

mod common;

use std::path::Path;

use common::debian_base;
use tug_testkit::modules::{Postgres, Redis};
use tug_testkit::runners::SyncRunner;

#[test]
fn saves_a_note() {
    debian_base();
    // ANCHOR: postgres
    let pg = Postgres::default().start().unwrap();
    // postgres://postgres:postgres@127.0.0.1:PORT/postgres
    let mut db = postgres::Client::connect(&pg.connection_string(), postgres::NoTls).unwrap();
    db.batch_execute("CREATE TABLE notes (body text)").unwrap();
    db.execute("INSERT INTO notes VALUES ($1)", &[&"hello"])
        .unwrap();
    let row = db.query_one("SELECT body FROM notes", &[]).unwrap();
    assert_eq!(row.get::<_, String>(0), "hello");
    // ANCHOR_END: postgres
}

#[test]
fn caches_a_value() {
    debian_base();
    // ANCHOR: redis
    let redis = Redis::default().start().unwrap();
    let url = redis.url(); // redis://127.0.0.1:PORT
    assert!(url.starts_with("redis://127.0.0.1:"));
    // ... give `url` to your Redis client ...
    // ANCHOR_END: redis
}

#[test]
fn the_official_conventions() {
    debian_base();
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.sql");
    std::fs::write(&schema, "CREATE TABLE items (name text);").unwrap();
    let schema = schema.as_path();
    // ANCHOR: conventions
    let pg = Postgres::default()
        .with_user("app") // POSTGRES_USER
        .with_password("s3cret") // POSTGRES_PASSWORD
        .with_db("shop") // POSTGRES_DB
        .with_init_sql(schema) // a host file, into /docker-entrypoint-initdb.d/
        .start()
        .unwrap();
    let url = pg.connection_string(); // postgres://app:s3cret@127.0.0.1:PORT/shop
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    db.batch_execute("INSERT INTO items VALUES ('the schema is in place')")
        .unwrap();
    // ANCHOR_END: conventions
    let _: &Path = schema;
}

#[test]
fn a_database_per_test() {
    debian_base();
    // ANCHOR: fresh
    let pg = Postgres::default()
        .with_init_sql(b"CREATE TABLE notes (body text);".to_vec()) // or a file's Path
        .start()
        .unwrap();
    let a = pg.fresh_database().unwrap();
    let b = pg.fresh_database().unwrap();
    let mut in_a = postgres::Client::connect(&a.connection_string(), postgres::NoTls).unwrap();
    let mut in_b = postgres::Client::connect(&b.connection_string(), postgres::NoTls).unwrap();
    in_a.batch_execute("INSERT INTO notes VALUES ('only in a')")
        .unwrap();
    let count = |c: &mut postgres::Client| -> i64 {
        c.query_one("SELECT count(*) FROM notes", &[])
            .unwrap()
            .get(0)
    };
    assert_eq!((count(&mut in_a), count(&mut in_b)), (1, 0));
    // ANCHOR_END: fresh
}

#[test]
fn a_server_per_test_without_waiting() {
    debian_base();
    // ANCHOR: spare
    use tug_testkit::ImageExt;
    for _test in 0..3 {
        // The first start waits for its server; each later one takes the spare that was
        // made ready while the previous "test" ran, and a new spare is started.
        let pg = Postgres::default().with_spare(true).start().unwrap();
        let mut db = postgres::Client::connect(&pg.connection_string(), postgres::NoTls).unwrap();
        db.batch_execute("CREATE TABLE mine (n int)").unwrap(); // a new server each time
    }
    // ANCHOR_END: spare
    tug_testkit::Tug::shared().unwrap().remove_spares().unwrap();
}

// `scripts/test.sh` makes the Debian base before the tests; these two show whole tests.
// ANCHOR: shared
#[test]
fn test_one() {
    let db = Postgres::shared().fresh_database().unwrap();
    let mut client = postgres::Client::connect(&db.connection_string(), postgres::NoTls).unwrap();
    client.batch_execute("CREATE TABLE mine (n int)").unwrap();
}

#[test]
fn test_two() {
    // The same server as test_one's, another database: no table `mine` here.
    let db = Postgres::shared().fresh_database().unwrap();
    let mut client = postgres::Client::connect(&db.connection_string(), postgres::NoTls).unwrap();
    assert!(client.batch_execute("SELECT * FROM mine").is_err());
}
// ANCHOR_END: shared
