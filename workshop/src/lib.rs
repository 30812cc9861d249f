//! The workshop grader: checks a learner's exercise by running it on the tug engine.
//!
//! An exercise is a folder `exercises/NN-name/` with an `exercise.toml` ([`Exercise`]).
//! [`grade`] copies the learner's folder (or the folder with a solution laid over it) and
//! makes a fresh state root for it ([`GradeRoot`]) with the exercise's images; runs the
//! exercise's setup if it has one (a container, a registry, variables); runs the answer —
//! a `commands.sh` of tug commands, a Dockerfile to build, a Rust test on tug_testkit —
//! and calls the exercise's grade function (`exercises/<name>.rs`), which checks behaviour
//! through a [`Ctx`]: containers, ports, logs, images, volumes, a registry. Everything the
//! answer made is removed afterwards. The `tug-workshop` binary (`main.rs`, `cli.rs`,
//! `watch.rs`) is the learner's face over it.

mod ctx;
mod exercise;
pub mod exercises;
mod grade;
mod net;
pub mod progress;
mod root;

pub use ctx::{CommandsRun, Ctx, Failure};
pub use exercise::{Exercise, GradeKind, GradeSpec, Hint, LoadError, load_all, load_one, repo_dir};
pub use grade::{Answer, GradeError, Report, find_tug_binary, grade, grade_solution};
pub use root::GradeRoot;
