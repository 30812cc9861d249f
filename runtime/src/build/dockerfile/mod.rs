//! The Dockerfile parser: text in, typed stages and instructions out, or an error that names
//! the file, line and column, the instruction and what was expected. Hand-written after the
//! Dockerfile reference and BuildKit's behaviour; it never panics on any input.
//!
//! Parsing is in three passes: `lines` (parser directives, comments, continuations,
//! heredoc bodies), `instruction` (each logical line's keyword, flags and arguments), and
//! the grouping into stages here. Variable substitution (`$VAR`, `${VAR:-x}`) is not done
//! here: it needs the build's ARG and ENV values, so the builder calls [`expand`] on the
//! words where Docker applies it; the words keep their quotes until then.

mod expand;
mod instruction;
mod lines;
mod words;

#[cfg(test)]
mod tests;

pub use expand::{ExpandError, expand, expand_words};
pub use instruction::go_duration_nanos;
pub use lines::Directives;

/// A position in a Dockerfile: line and column, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dockerfile {
    pub directives: Directives,
    /// The `ARG`s before the first `FROM` (usable in `FROM` lines only).
    pub meta_args: Vec<Step>,
    pub stages: Vec<Stage>,
}

/// A build stage: from one `FROM` to the next.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stage {
    pub pos: Pos,
    /// The base: an image reference, a previous stage's name, or `scratch` (before
    /// substitution of the meta args).
    pub base: String,
    /// The stage's name (`FROM ... AS name`), lowercased as Docker does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    pub steps: Vec<Step>,
}

/// One instruction and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Step {
    pub pos: Pos,
    pub end_line: usize,
    /// The instruction as written (continuations joined), for history and errors.
    pub original: String,
    pub instruction: Instruction,
}

/// A command of RUN, CMD, ENTRYPOINT or HEALTHCHECK.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Command {
    /// `["executable", "arg"]`: run as is.
    Exec(Vec<String>),
    /// `command text`: run by the stage's SHELL (`/bin/sh -c` by default).
    Shell(String),
}

/// A heredoc (`<<EOF` ... `EOF`) of RUN, COPY or ADD.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Heredoc {
    pub name: String,
    /// False when the marker was quoted (`<<"EOF"`): no substitution in the body.
    pub expand: bool,
    /// `<<-EOF`: leading tabs were stripped.
    pub chomp: bool,
    pub body: String,
}

/// A `key=value` of ENV or LABEL, or a declared ARG (value optional); the words keep
/// their quotes until substitution.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyValue {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// RUN.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Run {
    pub command: Command,
    /// `--mount=...` values, each as its `key=value` list.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Vec<(String, String)>>,
    /// `--network=default|none|host`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// `--security=insecure|sandbox`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub heredocs: Vec<Heredoc>,
}

/// COPY or ADD: sources (context paths, URLs for ADD, heredoc names) and a destination.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Copy {
    pub sources: Vec<String>,
    pub dest: String,
    /// COPY --from=<stage|index|image>.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chown: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chmod: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub link: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub parents: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// ADD --checksum=sha256:...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// ADD --keep-git-dir.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub keep_git_dir: bool,
    /// ADD --unpack=true|false (None: unpack local archives, as Docker).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unpack: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub heredocs: Vec<Heredoc>,
}

/// HEALTHCHECK.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: disable the base image's check.
    None,
    Check {
        command: Command,
        /// Go-style durations as written (`30s`, `1m30s`), checked to parse.
        #[serde(skip_serializing_if = "Option::is_none")]
        interval: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        timeout: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        start_period: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        start_interval: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        retries: Option<u32>,
    },
}

/// Every instruction of the Dockerfile reference.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Instruction {
    From {
        base: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        platform: Option<String>,
    },
    Run(Run),
    Cmd(Command),
    Entrypoint(Command),
    Shell(Vec<String>),
    Env(Vec<KeyValue>),
    Label(Vec<KeyValue>),
    Arg(Vec<KeyValue>),
    Expose(Vec<String>),
    Workdir(String),
    User(String),
    Volume(Vec<String>),
    Stopsignal(String),
    Copy(Copy),
    Add(Copy),
    Healthcheck(Healthcheck),
    Onbuild(Box<Instruction>),
    Maintainer(String),
}

/// A Dockerfile that does not parse: where, which instruction, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{}:{}: {message}{}", pos.line, pos.column, excerpt(instruction))]
pub struct Error {
    /// The file's name as the user gave it (`Dockerfile` when read from stdin).
    pub file: String,
    pub pos: Pos,
    /// The instruction's text (its first line).
    pub instruction: String,
    pub message: String,
}

impl Error {
    pub(crate) fn at(pos: Pos, text: &str, message: impl Into<String>) -> Error {
        Error {
            file: "Dockerfile".into(),
            pos,
            instruction: text.lines().next().unwrap_or("").trim().to_string(),
            message: message.into(),
        }
    }
}

/// ` (in: TEXT)`, the instruction shortened to one screen line.
fn excerpt(text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    let short: String = text.chars().take(72).collect();
    let more = if short.len() < text.len() { "..." } else { "" };
    format!("\n  {short}{more}")
}

/// Parses a Dockerfile's text; `file` names it in errors.
pub fn parse(src: &str, file: &str) -> Result<Dockerfile, Error> {
    parse_text(src).map_err(|mut e| {
        e.file = file.to_string();
        e
    })
}

/// Parses one instruction on its own (no FROM needed), as `--change` of `import` and
/// `commit` takes it: the text must hold exactly one instruction.
pub fn parse_instruction(text: &str) -> Result<Step, Error> {
    let (directives, logical) = lines::split(text)?;
    match logical.as_slice() {
        [one] => instruction::parse(one, directives.escape),
        [] => Err(Error::at(
            Pos { line: 1, column: 1 },
            text,
            "no instruction",
        )),
        [_, second, ..] => Err(Error::at(second.pos, &second.text, "one instruction only")),
    }
}

fn parse_text(src: &str) -> Result<Dockerfile, Error> {
    let (directives, logical) = lines::split(src)?;
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for l in &logical {
        let step = instruction::parse(l, directives.escape)?;
        match (&step.instruction, stages.last_mut()) {
            (
                Instruction::From {
                    base,
                    name,
                    platform,
                },
                _,
            ) => {
                if let Some(n) = name
                    && stages.iter().any(|s| s.name.as_deref() == Some(n))
                {
                    return Err(Error::at(
                        step.pos,
                        &step.original,
                        format!("duplicate stage name {n:?}"),
                    ));
                }
                stages.push(Stage {
                    pos: step.pos,
                    base: base.clone(),
                    name: name.clone(),
                    platform: platform.clone(),
                    steps: Vec::new(),
                });
            }
            (_, Some(stage)) => stage.steps.push(step),
            (Instruction::Arg(_), None) => meta_args.push(step),
            (_, None) => {
                return Err(Error::at(
                    step.pos,
                    &step.original,
                    "no build stage in current context: the first instruction must be FROM (only ARG may come before it)",
                ));
            }
        }
    }
    if stages.is_empty() {
        return Err(Error::at(
            Pos { line: 1, column: 1 },
            "",
            "the Dockerfile has no instructions: it needs at least a FROM",
        ));
    }
    Ok(Dockerfile {
        directives,
        meta_args,
        stages,
    })
}
