//! A container's cgroup as the engine reports it: one `stats` sample. (`pause`,
//! `unpause` and `stats` themselves are Engine methods, in `engine/containers.rs`.)

use super::record::Container;
use crate::sandbox::cgroups::Stats;

/// One `stats` sample of a container.
#[derive(Debug, Clone)]
pub struct ContainerStats {
    pub container: Container,
    /// `None` when the container is not running (Docker shows zeros).
    pub stats: Option<Stats>,
}
