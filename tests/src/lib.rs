//! Helpers shared by the end-to-end tests: a private state root per test, the `tug` binary,
//! and the images the tests use.
