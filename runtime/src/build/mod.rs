//! Dockerfile parsing and `tug build`. Not built yet: see the build issue.
