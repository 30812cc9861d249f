//! Named and anonymous volumes and bind mounts. Not built yet: see the lifecycle issue.
