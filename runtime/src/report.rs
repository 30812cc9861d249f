//! The one place a chain of errors becomes text.
//!
//! Every error of tug either shows its own context and hands its cause out through
//! `source()` (a message without the cause, plus `#[source]`), or is `#[error(transparent)]`
//! over another error. So `Display` of an error says only what failed at its level, and
//! whoever shows an error to a person prints it through [`Report`], which walks the chain:
//! `what failed: why: why`. This is the shape of std's (unstable) `std::error::Report` and of
//! anyhow's `{:#}`.

use std::error::Error;
use std::fmt;

/// An error shown with its causes, one line: `reading /x: No such file or directory (os
/// error 2)`.
pub struct Report<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(e) = cause {
            write!(f, ": {e}")?;
            cause = e.source();
        }
        Ok(())
    }
}

/// `e` and its causes as one line of text (see [`Report`]).
pub fn report(e: &(dyn Error + 'static)) -> String {
    Report(e).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{link::LinkError, nft::NftError};
    use crate::{container, image, layer, network, registry, sandbox, snapshot, volume};
    use std::io;

    fn os(code: i32) -> io::Error {
        io::Error::from_raw_os_error(code)
    }

    /// One error of every variant that has a cause, nested as they nest in the engine.
    fn every_chained_variant() -> Vec<crate::Error> {
        let layer = crate::Digest::of(b"layer");
        let layer_read = || layer::Error::Read {
            at: "entry etc/passwd".into(),
            source: os(5),
        };
        vec![
            crate::Error::Io("reading /state/x".into(), os(2)),
            image::Error::Io("reading the index".into(), os(13)).into(),
            image::Error::Snapshot(snapshot::Error::Layer {
                layer: layer.clone(),
                source: layer_read(),
            })
            .into(),
            snapshot::Error::Io("making the snapshot dir".into(), os(28)).into(),
            snapshot::Error::Open {
                layer: layer.clone(),
                source: Box::new(image::Error::Io("opening the blob".into(), os(2))),
            }
            .into(),
            crate::rootfs::Error::Io("making the upper dir".into(), os(28)).into(),
            crate::rootfs::Error::Mount {
                target: "/merged".into(),
                source: os(22),
            }
            .into(),
            image::Error::Users(Box::new(container::Error::Io(
                "reading the record".into(),
                os(2),
            )))
            .into(),
            layer::Error::Io("creating the layer dir".into(), os(17)).into(),
            layer_read().into(),
            layer::Error::Write {
                entry: "usr/bin/x".into(),
                source: os(28),
            }
            .into(),
            container::Error::Io("reading the record".into(), os(2)).into(),
            container::Error::Sys("kill".into(), os(3)).into(),
            sandbox::Error::Io("clone".into(), os(1)).into(),
            sandbox::cgroups::Error::Io("creating the cgroup".into(), os(13)).into(),
            sandbox::cgroups::Error::Write {
                file: "memory.max".into(),
                value: "1".into(),
                source: os(16),
            }
            .into(),
            registry::Error::Unpack(
                "busybox".into(),
                snapshot::Error::Layer {
                    layer,
                    source: layer_read(),
                },
            )
            .into(),
            registry::Error::Io("writing the blob".into(), os(28)).into(),
            volume::Error::Io("creating the volume".into(), os(28)).into(),
            network::Error::Io("locking the store".into(), os(11)).into(),
            network::Error::from(LinkError::Op {
                op: "creating bridge",
                dev: "tug0".into(),
                source: os(17),
            })
            .into(),
            network::Error::from(LinkError::Netns {
                what: "entering",
                source: os(1),
            })
            .into(),
            network::Error::from(NftError::Spawn {
                op: "add",
                table: "tug".into(),
                source: os(2),
            })
            .into(),
            network::Error::from(NftError::Netlink {
                op: "delete",
                table: "tug".into(),
                source: os(1),
            })
            .into(),
            network::Error::from(NftError::Forward(os(30))).into(),
            network::Error::from(NftError::Sysctl("route_localnet".into(), os(30))).into(),
        ]
    }

    #[test]
    fn every_cause_is_printed_once() {
        for e in every_chained_variant() {
            let mut level: &(dyn Error + 'static) = &e;
            let mut depth = 0;
            while let Some(cause) = level.source() {
                let (own, why) = (level.to_string(), cause.to_string());
                assert!(
                    !own.contains(&why),
                    "{e:?}: level {depth} ({own:?}) prints its cause ({why:?}) too"
                );
                level = cause;
                depth += 1;
            }
            assert!(depth > 0, "{e:?} has no cause to walk");
            let shown = report(&e);
            let parts: Vec<&str> = shown.split(": ").collect();
            for (i, p) in parts.iter().enumerate() {
                assert!(!parts[i + 1..].contains(p), "{shown:?} repeats {p:?}");
            }
        }
    }

    #[test]
    fn a_report_shows_every_level_once() {
        let e: crate::Error = image::Error::Snapshot(snapshot::Error::Layer {
            layer: crate::Digest::of(b"x"),
            source: layer::Error::Read {
                at: "entry a".into(),
                source: io::Error::other("unexpected end of file"),
            },
        })
        .into();
        assert_eq!(
            report(&e),
            format!(
                "unpacking the layers: layer {}: reading the layer stream (entry a): unexpected end of file",
                crate::Digest::of(b"x")
            )
        );
    }
}
