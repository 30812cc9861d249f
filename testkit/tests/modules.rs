//! The database modules against real servers: Redis PING/SET/GET over RESP, PostgreSQL
//! SQL round trips through the `postgres` crate, the official images' environment
//! conventions and init scripts. The images are built on first use from Debian's
//! packages (a minute or two, once); their base comes from `images/debian/build.sh`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

mod common;

use common::debian_base;
use tug_testkit::modules::{Postgres, Redis};
use tug_testkit::runners::SyncRunner;

/// One RESP command and its reply line(s).
fn resp(stream: &mut BufReader<TcpStream>, args: &[&str]) -> String {
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.get_mut().write_all(req.as_bytes()).unwrap();
    let mut line = String::new();
    stream.read_line(&mut line).unwrap();
    if line.starts_with('$') && line.trim() != "$-1" {
        let mut data = String::new();
        stream.read_line(&mut data).unwrap();
        return data.trim_end().to_string();
    }
    line.trim_end().to_string()
}

#[test]
fn redis_answers_ping_set_and_get() {
    debian_base();
    let redis = Redis::default().start().unwrap();
    let url = redis.url();
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let mut s = BufReader::new(TcpStream::connect(("127.0.0.1", port)).unwrap());
    assert_eq!(resp(&mut s, &["PING"]), "+PONG");
    assert_eq!(resp(&mut s, &["SET", "greeting", "hello"]), "+OK");
    assert_eq!(resp(&mut s, &["GET", "greeting"]), "hello");
    // REDIS_ARGS reach the server.
    let small = Redis::default()
        .with_args("--maxmemory 12mb")
        .start()
        .unwrap();
    let port = small.get_host_port_ipv4(6379).unwrap();
    let mut s = BufReader::new(TcpStream::connect(("127.0.0.1", port)).unwrap());
    s.get_mut()
        .write_all(b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$9\r\nmaxmemory\r\n")
        .unwrap();
    let mut lines = Vec::new();
    for _ in 0..5 {
        let mut l = String::new();
        s.read_line(&mut l).unwrap();
        lines.push(l.trim_end().to_string());
    }
    assert_eq!(
        lines.last().unwrap(),
        &(12 * 1024 * 1024).to_string(),
        "{lines:?}"
    );
}

#[test]
fn postgres_round_trips_sql() {
    debian_base();
    let pg = Postgres::default().start().unwrap();
    let url = pg.connection_string();
    assert!(
        url.starts_with("postgres://postgres:postgres@127.0.0.1:"),
        "{url}"
    );
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute("CREATE TABLE notes (id serial PRIMARY KEY, body text)")
        .unwrap();
    client
        .execute("INSERT INTO notes (body) VALUES ($1)", &[&"hello"])
        .unwrap();
    let row = client.query_one("SELECT body FROM notes", &[]).unwrap();
    assert_eq!(row.get::<_, String>(0), "hello");
    // The durability settings are off by default.
    let fsync: String = client.query_one("SHOW fsync", &[]).unwrap().get(0);
    assert_eq!(fsync, "off");
}

/// A warm spare is a server of its own, as new as a fresh start: what one test wrote is
/// not in the next test's server.
#[test]
fn a_postgres_spare_is_a_fresh_server() {
    use tug_testkit::ImageExt;
    debian_base();
    let request = || Postgres::default().with_db("spares").with_spare(true);
    let first = request().start().unwrap();
    let mut c = postgres::Client::connect(&first.connection_string(), postgres::NoTls).unwrap();
    c.batch_execute("CREATE TABLE mine (n int); INSERT INTO mine VALUES (1)")
        .unwrap();
    let second = request().start().unwrap();
    assert_ne!(second.id(), first.id());
    assert_ne!(second.connection_string(), first.connection_string());
    let mut c2 = postgres::Client::connect(&second.connection_string(), postgres::NoTls).unwrap();
    let tables: i64 = c2
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'mine'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0);
    drop((c, c2, first, second));
    let removed = tug_testkit::Tug::shared().unwrap().remove_spares().unwrap();
    assert_eq!(removed, 1, "the spare made after the second start");
}

#[test]
fn postgres_takes_the_official_images_conventions_and_init_sql() {
    debian_base();
    let pg = Postgres::default()
        .with_user("app")
        .with_password("s3cret")
        .with_db("appdb")
        .with_init_sql(b"CREATE TABLE seen (n int); INSERT INTO seen VALUES (42);".to_vec())
        .start()
        .unwrap();
    let url = pg.connection_string();
    assert!(url.starts_with("postgres://app:s3cret@127.0.0.1:"), "{url}");
    assert!(url.ends_with("/appdb"), "{url}");
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let row = client
        .query_one(
            "SELECT current_user::text, current_database()::text, (SELECT n FROM seen)",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "app");
    assert_eq!(row.get::<_, String>(1), "appdb");
    assert_eq!(row.get::<_, i32>(2), 42);
    // A wrong password is refused: the password is really set.
    let bad = url.replace("s3cret", "wrong");
    assert!(postgres::Client::connect(&bad, postgres::NoTls).is_err());
}

#[test]
fn settings_and_init_scripts_are_applied_once_into_an_image_of_their_own() {
    use tug_testkit::Image as _;
    use tug_testkit::core::ExecCommand;
    debian_base();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("schema.sql");
    std::fs::write(
        &script,
        "CREATE TABLE kept (n int); INSERT INTO kept VALUES (7);",
    )
    .unwrap();
    let fixture = || {
        Postgres::default()
            .with_db("baked")
            .with_init_sql(script.as_path())
    };
    let first = fixture().start().unwrap();
    let tag = first.image().tag().to_string();
    assert!(tag.starts_with("15-init-"), "{tag}");
    let again = fixture().start().unwrap();
    assert_eq!(
        again.image().tag(),
        tag,
        "the same image for the same fixture"
    );
    // The script is in the image's data, not applied again: none is left to run.
    let mut ls = again
        .exec(ExecCommand::new([
            "sh",
            "-c",
            "ls /docker-entrypoint-initdb.d | grep -c sql",
        ]))
        .unwrap();
    assert_eq!(ls.stdout_to_vec().unwrap(), b"0\n");
    let mut c = postgres::Client::connect(&again.connection_string(), postgres::NoTls).unwrap();
    let n: i32 = c.query_one("SELECT n FROM kept", &[]).unwrap().get(0);
    assert_eq!(n, 7);
    // Another script's content is another image.
    std::fs::write(
        &script,
        "CREATE TABLE kept (n int); INSERT INTO kept VALUES (8);",
    )
    .unwrap();
    let changed = fixture().start().unwrap();
    assert_ne!(changed.image().tag(), tag);
    let mut c = postgres::Client::connect(&changed.connection_string(), postgres::NoTls).unwrap();
    let n: i32 = c.query_one("SELECT n FROM kept", &[]).unwrap().get(0);
    assert_eq!(n, 8);
}

#[test]
fn mariadb_answers_a_query_as_the_user_it_was_given() {
    debian_base();
    let db = tug_testkit::modules::MariaDb::default()
        .with_db("shop")
        .with_user("app", "pw")
        .with_init_sql(b"CREATE TABLE items (n INT); INSERT INTO items VALUES (7);".to_vec())
        .start()
        .unwrap();
    let url = db.connection_string();
    assert!(
        url.starts_with("mysql://app:pw@127.0.0.1:") && url.ends_with("/shop"),
        "{url}"
    );
    // The client of the image, over TCP to the server's address inside the container.
    let mut out = db
        .exec(tug_testkit::core::ExecCommand::new([
            "mariadb",
            "-h127.0.0.1",
            "-uapp",
            "-ppw",
            "shop",
            "-N",
            "-e",
            "SELECT current_user(), SUM(n) FROM items",
        ]))
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout_to_vec().unwrap()).unwrap(),
        "app@%\t7\n"
    );
}

#[test]
fn a_registry_takes_a_push_and_serves_a_pull() {
    debian_base();
    let reg = tug_testkit::modules::Registry::default().start().unwrap();
    let tug = tug_testkit::find_tug_binary().unwrap();
    let name = format!("{}/testkit/bb:1", reg.address());
    let run = |root: Option<&std::path::Path>, args: &[&str]| {
        let mut c = std::process::Command::new(&tug);
        c.args(args);
        if let Some(r) = root {
            c.env("TUG_ROOT", r.join("root"))
                .env("TUG_RUN", r.join("run"));
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "tug {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(None, &["tag", "busybox:latest", &name]);
    run(None, &["push", "-q", &name]);
    run(None, &["rmi", &name]);
    // A fresh state root pulls it back.
    let fresh = tempfile::Builder::new()
        .prefix("reg")
        .tempdir_in("/var/tmp")
        .unwrap();
    run(Some(fresh.path()), &["pull", "-q", &name]);
    let id = run(
        Some(fresh.path()),
        &["image", "inspect", "-f", "{{.Id}}", &name],
    );
    let want = run(
        None,
        &["image", "inspect", "-f", "{{.Id}}", "busybox:latest"],
    );
    assert_eq!(id, want);
}

#[test]
fn fresh_databases_are_copies_of_the_template_and_isolated() {
    debian_base();
    let pg = Postgres::default()
        .with_init_sql(b"CREATE TABLE seed (n int); INSERT INTO seed VALUES (1);".to_vec())
        .start()
        .unwrap();
    let a = pg.fresh_database().unwrap();
    let b = pg.fresh_database().unwrap();
    assert_ne!(a.name(), b.name());
    let mut ca = postgres::Client::connect(&a.connection_string(), postgres::NoTls).unwrap();
    let mut cb = postgres::Client::connect(&b.connection_string(), postgres::NoTls).unwrap();
    // Both have what the init script made; what one test writes the other does not see.
    ca.batch_execute("INSERT INTO seed VALUES (2)").unwrap();
    let count = |c: &mut postgres::Client| -> i64 {
        c.query_one("SELECT count(*) FROM seed", &[])
            .unwrap()
            .get(0)
    };
    assert_eq!(count(&mut ca), 2);
    assert_eq!(count(&mut cb), 1);
    // The copies are made in the tablespace on the fixture's tmpfs; the server's own
    // databases are where the image has them.
    let tablespace = |c: &mut postgres::Client, db: &str| -> String {
        c.query_one(
            "SELECT t.spcname::text FROM pg_database d \
             JOIN pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = $1",
            &[&db],
        )
        .unwrap()
        .get(0)
    };
    assert_eq!(tablespace(&mut ca, a.name()), "tug_memory");
    assert_eq!(tablespace(&mut ca, "postgres"), "pg_default");
    drop(ca);
    let name = a.name().to_string();
    drop(a);
    // Dropped after the test, in the background.
    let gone = common::eventually(std::time::Duration::from_secs(10), || {
        let n: i64 = cb
            .query_one(
                "SELECT count(*) FROM pg_database WHERE datname = $1",
                &[&name],
            )
            .unwrap()
            .get(0);
        n == 0
    });
    assert!(gone, "{name} dropped after its guard");
}

#[test]
fn sixteen_tests_each_get_their_own_postgres_at_once() {
    debian_base();
    let threads: Vec<_> = (0..16)
        .map(|i| {
            std::thread::spawn(move || {
                let pg = Postgres::default().start().unwrap();
                let mut c =
                    postgres::Client::connect(&pg.connection_string(), postgres::NoTls).unwrap();
                c.batch_execute(&format!(
                    "CREATE TABLE mine (n int); INSERT INTO mine VALUES ({i})"
                ))
                .unwrap();
                let n: i32 = c.query_one("SELECT n FROM mine", &[]).unwrap().get(0);
                assert_eq!(n, i);
                pg.id().to_string()
            })
        })
        .collect();
    let mut ids: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 16, "sixteen servers");
}

#[test]
fn the_shared_postgres_gives_each_test_its_own_database_at_once() {
    debian_base();
    let pg = Postgres::shared();
    assert_eq!(
        Postgres::shared().id(),
        pg.id(),
        "one server for the process"
    );
    // Eight tests at once, each in its own fresh database.
    let names: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                s.spawn(move || {
                    let db = Postgres::shared().fresh_database().unwrap();
                    let mut c = postgres::Client::connect(&db.connection_string(), postgres::NoTls)
                        .unwrap();
                    c.batch_execute(&format!(
                        "CREATE TABLE t (n int); INSERT INTO t VALUES ({i})"
                    ))
                    .unwrap();
                    let n: i64 = c.query_one("SELECT sum(n) FROM t", &[]).unwrap().get(0);
                    assert_eq!(n, i, "only this test's row");
                    db.name().to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 8, "{names:?}");
    // Every one is dropped after its guard, in the background.
    let mut c = postgres::Client::connect(&pg.connection_string(), postgres::NoTls).unwrap();
    let gone = common::eventually(std::time::Duration::from_secs(10), || {
        let left: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_database WHERE datname = ANY($1)",
                &[&names],
            )
            .unwrap()
            .get(0);
        left == 0
    });
    assert!(gone, "the tests' databases are dropped: {names:?}");
}

#[test]
fn a_pull_policy_of_never_refuses_a_missing_image() {
    use tug_testkit::{GenericImage, ImageExt, PullPolicy};
    let e = GenericImage::new("tug-test-not-here", "1")
        .with_pull_policy(PullPolicy::Never)
        .start()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("tug-test-not-here:1 is not in the store") && e.contains("never"),
        "{e}"
    );
}

const SIGKILL_HELPER: &str = "TUG_TESTKIT_MODULES_SIGKILL_HELPER";

/// The helper: a Postgres of its own, a shared one and a fresh database, then waits to be
/// killed. A no-op when run as an ordinary test.
#[test]
fn helper_holds_databases_until_killed() {
    if std::env::var_os(SIGKILL_HELPER).is_none() {
        return;
    }
    let own = Postgres::default().start().unwrap();
    let db = Postgres::shared().fresh_database().unwrap();
    println!(
        "\ncontainers {} {} {}",
        own.id(),
        Postgres::shared().id(),
        db.name()
    );
    std::thread::sleep(std::time::Duration::from_secs(600));
}

#[test]
fn a_sigkilled_test_binary_leaves_no_database_server() {
    debian_base();
    let mut helper = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_holds_databases_until_killed",
            "--nocapture",
        ])
        .env(SIGKILL_HELPER, "1")
        // Not a nextest test process: the shared server is the helper's own.
        .env_remove("NEXTEST_RUN_ID")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = helper.stdout.take().unwrap();
    let line = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.find("containers ").map(|i| l[i + 11..].to_string()));
    let Some(line) = line else {
        let _ = helper.kill();
        let _ = helper.wait();
        panic!("the helper exited without its servers");
    };
    let ids: Vec<&str> = line.split_whitespace().take(2).collect();
    assert_eq!(ids.len(), 2, "{line}");
    helper.kill().unwrap();
    helper.wait().unwrap();
    let killed = std::time::Instant::now();
    for id in ids {
        assert!(
            common::eventually(std::time::Duration::from_secs(5), || common::is_gone(id)),
            "server {id} still there 5 s after its test binary was killed"
        );
    }
    println!("both servers gone {:?} after the SIGKILL", killed.elapsed());
}
