//! Images built from a Dockerfile in a test, written as for testcontainers-rs's
//! `GenericBuildableImage` and `SyncBuilder` (only the crate name differs), started and
//! served; a second build of the same content comes from the build cache.

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use tug_testkit::{
    GenericBuildableImage, Image,
    core::{IntoContainerPort, WaitFor},
    runners::{SyncBuilder, SyncRunner},
};

fn page_image() -> GenericBuildableImage {
    GenericBuildableImage::new("tug-testkit-built-page", "1")
        .with_dockerfile_string(
            "FROM busybox\n\
             COPY www/ /www/\n\
             COPY motd /etc/motd\n\
             EXPOSE 8080\n\
             CMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
        )
        .with_data("<h1>built in a test</h1>\n", "./www/index.html")
        .with_data("hello\n", "motd")
}

#[test]
fn a_built_image_starts_and_serves_its_files() -> Result<(), Box<dyn std::error::Error>> {
    let image = page_image().build_image()?;
    let c = image
        .with_exposed_port(8080.tcp())
        .with_wait_for(WaitFor::port(8080))
        .start()?;
    let port = c.get_host_port_ipv4(8080)?;
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    std::io::Write::write_all(&mut s, b"GET / HTTP/1.0\r\n\r\n")?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    assert!(body.contains("<h1>built in a test</h1>"), "{body}");
    Ok(())
}

#[test]
fn an_unchanged_image_is_rebuilt_from_the_cache() -> Result<(), Box<dyn std::error::Error>> {
    let first = page_image().build_image()?;
    let started = Instant::now();
    let again = page_image().build_image()?;
    // Generous: a cache hit takes milliseconds, a real build with a COPY at least a
    // container-less overlay mount per step; this only tells the two apart.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!((first.name(), first.tag()), (again.name(), again.tag()));
    // A Dockerfile without a context file it names fails with the step.
    let err = GenericBuildableImage::new("tug-testkit-broken", "1")
        .with_dockerfile_string("FROM busybox\nCOPY missing /x\n")
        .build_image()
        .unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    Ok(())
}

/// An image's `VOLUME` gives each container an anonymous volume; the container's drop
/// (and `rm`) takes it along, as testcontainers' `docker rm -fv` does, so a suite of many
/// fixtures leaves no volumes behind.
#[test]
fn a_dropped_container_takes_its_anonymous_volumes() -> Result<(), Box<dyn std::error::Error>> {
    let image = GenericBuildableImage::new("tug-testkit-anon-volume", "1")
        .with_dockerfile_string("FROM busybox\nVOLUME /data\nCMD [\"sleep\", \"60\"]\n")
        .build_image()?;
    let engine = tug_testkit::Tug::shared()?.engine();
    let volume_of = |id: &str| -> Result<String, Box<dyn std::error::Error>> {
        let c = engine.container(id)?;
        let v = c
            .mounts
            .iter()
            .find(|m| m["Destination"] == "/data")
            .and_then(|m| m["Name"].as_str())
            .ok_or("no volume at /data")?
            .to_string();
        Ok(v)
    };
    let exists = |name: &str| -> Result<bool, Box<dyn std::error::Error>> {
        Ok(engine.volumes()?.iter().any(|v| v.name == name))
    };
    let c = image.clone().start()?;
    let dropped = volume_of(c.id())?;
    assert!(exists(&dropped)?);
    drop(c);
    assert!(!exists(&dropped)?, "the drop removed volume {dropped}");
    let c = image.start()?;
    let removed = volume_of(c.id())?;
    c.rm()?;
    assert!(!exists(&removed)?, "rm removed volume {removed}");
    Ok(())
}
