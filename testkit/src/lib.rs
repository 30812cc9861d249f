//! Throwaway containers for `#[test]`, in the spirit of testcontainers, on the tug engine.
//!
//! Not built yet: see the testkit issue. The crate compiles so the workspace is whole.
