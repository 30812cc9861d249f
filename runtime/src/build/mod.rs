//! `tug build`: Dockerfiles into images. The pure parts are here: the parser
//! ([`dockerfile`]), what config instructions do to an image config ([`config`]), the build
//! context with its `.dockerignore` rules ([`context`], [`ignore`]) and which stages a
//! target needs ([`plan`]). The builder that runs the steps comes with the rest of the
//! build issue (#10).

pub mod config;
pub mod context;
pub mod dockerfile;
mod glob;
pub mod ignore;
pub mod plan;
