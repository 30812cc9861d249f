//! The per-container supervisor. Not built yet: see the lifecycle issue. Until then the
//! foreground `tug run` supervises its container itself through [`crate::container`].
