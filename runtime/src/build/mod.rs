//! `tug build`: Dockerfiles into images. Here so far: the parser ([`dockerfile`]), what
//! config instructions do to an image config ([`config`]) and the build context's
//! `.dockerignore` rules ([`ignore`]); the builder comes with the rest of
//! the build issue.

pub mod config;
pub mod context;
pub mod dockerfile;
mod glob;
pub mod ignore;
