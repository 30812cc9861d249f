//! `tug commit`, `tug diff` and `tug export`.

use std::io::Write;

use clap::Args;

use super::{CliError, CliResult};
use tug::Engine;
use tug::container::ContainerCommit;
use tug::image::Reference;

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long)]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short, long)]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub pause: bool,
    pub container: String,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    pub container: String,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub output: Option<String>,
    pub container: String,
}

/// `tug commit`: prints the new image's id, as Docker does.
pub fn commit(engine: &Engine, a: CommitArgs) -> CliResult {
    let reference = match &a.reference {
        Some(r) => Some(Reference::parse(r).map_err(tug::Error::from)?),
        None => None,
    };
    let image = engine.commit_container(
        &a.container,
        &ContainerCommit {
            reference,
            changes: a.change,
            message: a.message,
            author: a.author,
            pause: a.pause,
            config: Default::default(),
        },
    )?;
    println!("{}", image.id);
    Ok(0)
}

/// `tug diff`: `A`, `C` and `D` lines as Docker prints them.
pub fn diff(engine: &Engine, a: DiffArgs) -> CliResult {
    let mut out = std::io::stdout().lock();
    for c in engine.container_changes(&a.container)? {
        writeln!(out, "{c}").map_err(CliError::output)?;
    }
    Ok(0)
}

/// `tug export`: the container's file system as a tar, to a file or stdout (never to a
/// terminal).
pub fn export(engine: &Engine, a: ExportArgs) -> CliResult {
    use std::io::IsTerminal;
    match a.output.as_deref() {
        Some(path) if path != "-" => {
            // Written beside the target and renamed, so a failed export leaves no half file.
            let target = std::path::Path::new(path);
            let tmp = target.with_file_name(format!(
                ".{}.tug-export",
                target
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("export")
            ));
            let f = std::fs::File::create(&tmp)
                .map_err(|e| CliError::other(format!("cannot create {}: {e}", tmp.display())))?;
            let result = engine.export_container(&a.container, std::io::BufWriter::new(f));
            if let Err(e) = result {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
            std::fs::rename(&tmp, target)
                .map_err(|e| CliError::other(format!("cannot write {path}: {e}")))?;
        }
        _ => {
            if std::io::stdout().is_terminal() {
                return Err(CliError::usage(
                    "cowardly refusing to write a tar to the terminal: use -o or redirect stdout",
                ));
            }
            engine.export_container(
                &a.container,
                std::io::BufWriter::with_capacity(256 * 1024, std::io::stdout()),
            )?;
        }
    }
    Ok(0)
}
