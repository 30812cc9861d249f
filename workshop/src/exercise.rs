//! `exercise.toml`: what an exercise is (its files, chapter, hints, how it is graded).

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The repository's top directory (the workshop crate's parent), where `exercises/` and
/// `workshop/solutions/` are.
pub fn repo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// One exercise, as its `exercise.toml` describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    /// The folder's name (`01-run`), also the name on the command line.
    pub name: String,
    pub title: String,
    /// The book chapter (a file of `book/src/`) that shows the task.
    pub chapter: String,
    /// The files the learner edits (relative to the exercise's folder); `reset` puts them
    /// back.
    pub files: Vec<String>,
    /// The reference solution's folder (relative to the repository): only the files that
    /// differ from the handed-out ones.
    pub solution: PathBuf,
    /// Seconds the answer may take to run (commands.sh, a build); past it, it is stopped.
    pub time_budget: u64,
    /// Images the fresh state root holds before the answer runs (default: busybox).
    #[serde(default = "default_images")]
    pub images: Vec<String>,
    pub grade: GradeSpec,
    pub hints: Vec<Hint>,
    /// The exercise's folder (set when loaded).
    #[serde(skip)]
    pub dir: PathBuf,
}

fn default_images() -> Vec<String> {
    vec!["busybox:latest".into()]
}

/// `[grade]`: the kind of answer and, for the learner, what is checked.
#[derive(Debug, Clone, Deserialize)]
pub struct GradeSpec {
    pub kind: GradeKind,
    /// For `dockerfile`: the tag the built image gets.
    #[serde(default)]
    pub tag: Option<String>,
    /// What is checked, in words (shown by `check`; the checks themselves are Rust).
    #[serde(default)]
    pub checks: Vec<String>,
    /// Values the exercise's grade function reads (`Ctx::param`), e.g. `max_image_bytes`.
    #[serde(flatten)]
    pub params: toml::Table,
}

/// How an answer is run before its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GradeKind {
    /// `commands.sh`: tug commands run with bash in the fresh root.
    Commands,
    /// A `Dockerfile`: the folder is built as the context, then checked.
    Dockerfile,
    /// A `compose.yml` (not graded yet).
    Compose,
    /// A Rust test using tug_testkit (not graded yet).
    RustTest,
}

/// One rung of the hint ladder.
#[derive(Debug, Clone, Deserialize)]
pub struct Hint {
    pub text: String,
}

/// An `exercise.toml` that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);

/// Every exercise under `<repo>/exercises/`, sorted by name.
pub fn load_all(repo: &Path) -> Result<Vec<Exercise>, LoadError> {
    let dir = repo.join("exercises");
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| LoadError(format!("cannot read {}: {e}", dir.display())))?;
    let mut all = Vec::new();
    for entry in entries.flatten() {
        if entry.path().join("exercise.toml").is_file() {
            all.push(load_dir(&entry.path())?);
        }
    }
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(all)
}

/// The exercise `name`, with a list of the known ones when there is none.
pub fn load_one(repo: &Path, name: &str) -> Result<Exercise, LoadError> {
    let all = load_all(repo)?;
    let names: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
    let known = names.join(", ");
    all.iter()
        .find(|e| e.name == name)
        .cloned()
        .ok_or_else(|| LoadError(format!("no exercise {name:?}; there are: {known}")))
}

fn load_dir(dir: &Path) -> Result<Exercise, LoadError> {
    let path = dir.join("exercise.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| LoadError(format!("cannot read {}: {e}", path.display())))?;
    let mut ex: Exercise =
        toml::from_str(&text).map_err(|e| LoadError(format!("{}: {e}", path.display())))?;
    let folder = dir.file_name().unwrap_or_default().to_string_lossy();
    if ex.name != folder {
        return Err(LoadError(format!(
            "{}: name {:?} is not the folder's name {folder:?}",
            path.display(),
            ex.name
        )));
    }
    ex.dir = dir.to_path_buf();
    Ok(ex)
}
