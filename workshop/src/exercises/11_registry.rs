//! 11-registry: greeter:1 is in the registry, and a fresh state root pulls and runs it.
//! The setup runs the host's docker-registry (Debian's) on a free loopback port, its
//! storage in the grading's directory, and gives its address as $REGISTRY.

use crate::{Ctx, Failure, GradeRoot};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

pub fn setup(ctx: &Ctx<'_>) -> Result<(), Failure> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| Failure::setup("a free loopback port", e.to_string()))?
        .port();
    let dir = ctx.root.dir().join("registry");
    let config = dir.join("config.yml");
    let text = format!(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
        dir.join("data").display()
    );
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&config, text))
        .map_err(|e| Failure::setup("the registry's config", e.to_string()))?;
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            Failure::setup(
                "to run docker-registry (apt-get install docker-registry)",
                e.to_string(),
            )
        })?;
    ctx.keep_child(child);
    let up = ctx.wait_for(Duration::from_secs(5), || {
        Ok(crate::net::http_get(port, "/v2/").is_ok())
    })?;
    if !up {
        return Err(Failure::setup(
            "the registry to answer",
            format!("nothing on 127.0.0.1:{port}"),
        ));
    }
    ctx.set_env("REGISTRY", &format!("127.0.0.1:{port}"));
    Ok(())
}

pub fn grade(ctx: &Ctx<'_>) -> Result<(), Failure> {
    let registry = ctx
        .env()
        .into_iter()
        .find(|(k, _)| k == "REGISTRY")
        .map(|(_, v)| v)
        .ok_or_else(|| Failure::setup("a registry", "the setup gave none"))?;
    let port: u16 = registry
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let status =
        manifest_status(port).map_err(|e| Failure::setup("to ask the registry", e.to_string()))?;
    if status != 200 {
        return Err(Failure::new(
            format!("the registry at {registry} to have greeter:1"),
            format!(
                "GET /v2/greeter/manifests/1 answered {status}{}",
                ctx.commands_said()
            ),
        ));
    }
    ctx.pass("the registry has greeter:1");

    let other = GradeRoot::new(&ctx.tug_bin)
        .map_err(|e| Failure::setup("a second state root", e.to_string()))?;
    let image = format!("{registry}/greeter:1");
    let tug = |args: &[&str]| {
        Command::new(&ctx.tug_bin)
            .args(args)
            .envs(other.envs())
            .stdin(Stdio::null())
            .output()
    };
    let pulled =
        tug(&["pull", &image]).map_err(|e| Failure::setup("to run tug pull", e.to_string()))?;
    if !pulled.status.success() {
        return Err(Failure::new(
            format!("a fresh state root to pull {image}"),
            format!(
                "`tug pull` failed: {}",
                String::from_utf8_lossy(&pulled.stderr).trim()
            ),
        ));
    }
    let ran = tug(&["run", "--rm", &image])
        .map_err(|e| Failure::setup("to run tug run", e.to_string()))?;
    let said = String::from_utf8_lossy(&ran.stdout);
    if said.trim() != "hello from the registry" {
        return Err(Failure::new(
            format!(
                "a container of {image}, pulled elsewhere, to print \"hello from the registry\""
            ),
            format!(
                "it printed {:?} {}",
                said.trim(),
                String::from_utf8_lossy(&ran.stderr).trim()
            ),
        ));
    }
    ctx.pass("a fresh state root pulls it, and it says hello");
    Ok(())
}

/// The status of `GET /v2/greeter/manifests/1`, asking for the manifest kinds tug pushes.
fn manifest_status(port: u16) -> std::io::Result<u16> {
    let mut s = crate::net::connect(port)?;
    write!(
        s,
        "GET /v2/greeter/manifests/1 HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    String::from_utf8_lossy(&head[9..12])
        .parse()
        .map_err(|_| std::io::Error::other("not an HTTP status"))
}
