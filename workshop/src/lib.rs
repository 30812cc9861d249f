//! The workshop grader: checks a learner's exercise by running it on the tug engine.
//!
//! Not built yet: see the workshop issue. The crate compiles so the workspace is whole.
