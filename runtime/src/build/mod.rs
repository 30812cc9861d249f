//! `tug build`: Dockerfiles into images. The parser ([`dockerfile`]) is here; the builder
//! comes with the rest of the build issue.

pub mod dockerfile;
