//! `tug cp` (and `tug container cp`): copy files between a container and the host.

use std::path::Path;

use clap::Args;

use super::{CliError, CliResult};
use tug::Engine;
use tug::container::{CopyIn, CopyOptions, CopyOut};

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// Suppress progress output during copy
    #[arg(short, long)]
    pub quiet: bool,
    /// CONTAINER:SRC_PATH or SRC_PATH|-
    pub source: String,
    /// DEST_PATH|- or CONTAINER:DEST_PATH
    pub destination: String,
}

/// One side of the copy: a path in a container, or a local path (`-`: a tar stream).
#[derive(Debug, PartialEq, Eq)]
enum Side<'a> {
    Container(&'a str, &'a str),
    Local(&'a str),
}

/// Docker's reading of an argument: a path that starts with `/` or `.` is local even with
/// a `:` in it; else `NAME:PATH` names a container.
fn side(arg: &str) -> Side<'_> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return Side::Local(arg);
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.is_empty() => Side::Container(c, p),
        _ => Side::Local(arg),
    }
}

/// `tug cp`: every failure exits 1, as `docker cp` does.
pub fn cp(engine: &Engine, a: CpArgs) -> CliResult {
    let opts = CopyOptions {
        archive: a.archive,
        follow_link: a.follow_link,
    };
    let failed = |e: tug::Error| {
        let mut e = CliError::from(e);
        e.code = 1;
        e
    };
    let usage = |m: &str| CliError {
        code: 1,
        message: m.to_string(),
    };
    match (side(&a.source), side(&a.destination)) {
        (Side::Container(..), Side::Container(..)) => {
            Err(usage("copying between containers is not supported"))
        }
        (Side::Local(_), Side::Local(_)) => {
            Err(usage("must specify at least one container source"))
        }
        (Side::Container(_, ""), _) | (_, Side::Container(_, "")) => {
            Err(usage("filesystem path cannot be empty"))
        }
        (Side::Container(name, src), Side::Local(dest)) => {
            let to = if dest == "-" {
                use std::io::IsTerminal;
                if std::io::stdout().is_terminal() {
                    return Err(usage(
                        "cowardly refusing to write a tar archive to a terminal",
                    ));
                }
                let mut out = std::io::stdout();
                return engine
                    .copy_from_container(name, src, CopyOut::Tar(&mut out), opts)
                    .map(|_| 0)
                    .map_err(failed);
            } else {
                CopyOut::Path(Path::new(dest))
            };
            let size = engine
                .copy_from_container(name, src, to, opts)
                .map_err(failed)?;
            report(a.quiet, size, dest);
            Ok(0)
        }
        (Side::Local(src), Side::Container(name, dest)) => {
            let mut stdin = std::io::stdin();
            let from = if src == "-" {
                CopyIn::Tar(&mut stdin)
            } else {
                CopyIn::Path(Path::new(src))
            };
            let size = engine
                .copy_to_container(name, from, dest, opts)
                .map_err(failed)?;
            if src != "-" {
                report(a.quiet, size, &a.destination);
            }
            Ok(0)
        }
    }
}

/// Docker's closing line, on a terminal only (as Docker shows its progress).
fn report(quiet: bool, size: u64, dest: &str) {
    use std::io::IsTerminal;
    if !quiet && std::io::stderr().is_terminal() {
        eprintln!(
            "Successfully copied {} to {dest}",
            super::format::human_size(size)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_split_as_docker_does() {
        assert_eq!(
            side("web:/etc/hostname"),
            Side::Container("web", "/etc/hostname")
        );
        assert_eq!(side("./a:b"), Side::Local("./a:b"));
        assert_eq!(side("/x:y"), Side::Local("/x:y"));
        assert_eq!(side("-"), Side::Local("-"));
        assert_eq!(side("file"), Side::Local("file"));
    }
}
