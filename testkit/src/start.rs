//! Starting a request: the image made sure of, the container created (owned by this
//! process, so that the shim removes it if the process dies), files copied in, started,
//! and waited for. A failure on the way removes what was made.

use std::net::Ipv4Addr;

use tug::container::CreateOptions;
use tug::container::{CopyIn, CopyOptions};
use tug::network::{PortSpec, Proto};

use crate::client::Tug;
use crate::container::Container;
use crate::error::{Error, Result};
use crate::image::Image;
use crate::request::{ContainerRequest, CopyTo, DEFAULT_STARTUP_TIMEOUT};

/// Starts `req` on `tug`: see [`crate::ImageExt::start`].
pub(crate) fn start<I: Image>(tug: &Tug, req: ContainerRequest<I>) -> Result<Container> {
    let reference = req.reference();
    tug.prepare_image(&reference)?;
    let opts = create_options(&req, &reference)?;
    let engine = tug.engine();
    let record = engine
        .create_container(&opts)
        .map_err(|e| Error::engine(format!("creating a container from {reference}"), e))?;
    // From here on the handle removes the container when dropped, also on an error.
    let timeout = req.startup_timeout.unwrap_or(DEFAULT_STARTUP_TIMEOUT);
    let c = Container::new(
        engine.clone(),
        &record,
        req.healthcheck.clone(),
        (req.ready_conditions(), timeout),
    );
    let made = copy_files(&c, &req.copies).and_then(|()| c.start_process());
    if let Err(e) = made {
        return Err(Error::Start {
            id: c.id().to_string(),
            logs: c.log_tail(20),
            cause: Box::new(e),
        });
    }
    c.wait_until_ready()?;
    Ok(c)
}

/// The engine's create options for `req`.
fn create_options<I: Image>(req: &ContainerRequest<I>, reference: &str) -> Result<CreateOptions> {
    let image = &req.image;
    let env = image
        .env_vars()
        .into_iter()
        .chain(req.env.iter().cloned())
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let command = match &req.cmd {
        Some(c) => c.clone(),
        None => image.cmd(),
    };
    let loopback = Some(Ipv4Addr::LOCALHOST);
    let mut publish: Vec<PortSpec> = req
        .exposed_ports()
        .into_iter()
        .map(|p| PortSpec {
            host_ip: loopback,
            host_ports: None,
            container_ports: (p, p),
            proto: Proto::Tcp,
        })
        .collect();
    publish.extend(req.mapped.iter().map(|&(h, c)| PortSpec {
        host_ip: loopback,
        host_ports: Some((h, h)),
        container_ports: (c, c),
        proto: Proto::Tcp,
    }));
    let mounts = req
        .mounts
        .iter()
        .map(|m| m.spec())
        .collect::<Result<Vec<_>>>()?;
    Ok(CreateOptions {
        image: reference.to_string(),
        name: req.name.clone(),
        hostname: req.hostname.clone(),
        env,
        workdir: req.workdir.clone(),
        user: req.user.clone(),
        entrypoint: req.entrypoint.clone().or_else(|| image.entrypoint()),
        command,
        network: req.network.clone().unwrap_or_default(),
        network_aliases: req.aliases.clone(),
        publish,
        labels: req.labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        owner_pid: Some(std::process::id() as i32),
        mounts,
        resources: req.resources.clone(),
        ..Default::default()
    })
}

/// Copies the request's files into the created container.
fn copy_files(c: &Container, copies: &[CopyTo]) -> Result<()> {
    if copies.is_empty() {
        return Ok(());
    }
    let tar = files_tar(copies)?;
    let mut input: &[u8] = &tar;
    c.engine()
        .copy_to_container(c.id(), CopyIn::Tar(&mut input), "/", CopyOptions::default())
        .map_err(|e| Error::engine("copying files into the container", e))?;
    Ok(())
}

/// A tar of `copies` relative to `/`, with each file's parent dirs.
pub(crate) fn files_tar(copies: &[CopyTo]) -> Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    let mut dirs: Vec<String> = Vec::new();
    let io = |e| Error::Io("making the tar of files to copy".into(), e);
    for f in copies {
        let rel = f.path.strip_prefix('/').ok_or_else(|| {
            Error::Invalid(format!(
                "with_copy_to({:?}): the path must be absolute",
                f.path
            ))
        })?;
        let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
        if parts.is_empty() || parts.iter().any(|p| *p == "." || *p == "..") {
            return Err(Error::Invalid(format!(
                "with_copy_to({:?}): not a file path",
                f.path
            )));
        }
        for i in 1..parts.len() {
            let dir = parts[..i].join("/");
            if !dirs.contains(&dir) {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                h.set_mtime(0);
                h.set_uid(0);
                h.set_gid(0);
                b.append_data(&mut h, format!("{dir}/"), std::io::empty())
                    .map_err(io)?;
                dirs.push(dir);
            }
        }
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(f.mode);
        h.set_size(f.data.len() as u64);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        b.append_data(&mut h, parts.join("/"), f.data.as_slice())
            .map_err(io)?;
    }
    b.into_inner().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(path: &str) -> CopyTo {
        CopyTo {
            path: path.into(),
            data: b"hi".to_vec(),
            mode: 0o644,
        }
    }

    #[test]
    fn copies_become_a_tar_with_parent_dirs() {
        let tar = files_tar(&[copy("/a/b/c.txt"), copy("/a/d.txt")]).unwrap();
        let mut ar = tar::Archive::new(tar.as_slice());
        let names: Vec<String> = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a/", "a/b/", "a/b/c.txt", "a/d.txt"]);
    }

    #[test]
    fn relative_and_dotted_paths_are_refused() {
        assert!(files_tar(&[copy("rel")]).is_err());
        assert!(files_tar(&[copy("/a/../etc/x")]).is_err());
        assert!(files_tar(&[copy("/")]).is_err());
    }
}
