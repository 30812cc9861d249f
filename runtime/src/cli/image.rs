//! `tug images`, `tag`, `rmi`, `history`, `image inspect`, `import`, `save`, `load`, and the
//! `tug image ...` group.

mod history;
pub(crate) mod list;

use std::io::{IsTerminal, Write};

use clap::{Args, Subcommand};

use super::{CliError, CliResult};
use tug::Engine;
use tug::image::ArchiveFormat;
use tug::image::ImportOptions;
use tug::image::{self as img, Reference};

pub use history::history;
pub use list::images;

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// List images
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove")]
    Rm(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Display detailed information on one or more images
    Inspect(InspectArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Save one or more images to a tar archive
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Remove unused images
    Prune(super::system::ImagePruneArgs),
}

pub fn dispatch(engine: &Engine, c: ImageCommand) -> CliResult {
    match c {
        ImageCommand::Ls(a) => images(engine, a),
        ImageCommand::Rm(a) => rmi(engine, a),
        ImageCommand::Tag(a) => tag(engine, a),
        ImageCommand::History(a) => history(engine, a),
        ImageCommand::Inspect(a) => inspect(engine, a),
        ImageCommand::Import(a) => import(engine, a),
        ImageCommand::Save(a) => save(engine, a),
        ImageCommand::Load(a) => load(engine, a),
        ImageCommand::Prune(a) => super::system::image_prune(engine, a),
    }
}

#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output using a Go template ("table ..." for a table, or "json")
    #[arg(long)]
    pub format: Option<String>,
    /// Filter output based on conditions provided (reference=PATTERN, dangling=true|false,
    /// label=KEY[=VALUE], before=IMAGE, since=IMAGE)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Only images of this repository, with an optional :tag
    pub repository: Option<String>,
}

#[derive(Args, Debug)]
pub struct TagArgs {
    /// SOURCE_IMAGE[:TAG]
    pub source: String,
    /// TARGET_IMAGE[:TAG]
    pub target: String,
}

#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Force removal of the image, even if a container uses it
    #[arg(short, long)]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long)]
    pub no_prune: bool,
    /// Images to remove
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub human: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Format output using a Go template
    #[arg(long)]
    pub format: Option<String>,
    pub image: String,
}

pub use super::NamesInspectArgs as InspectArgs;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR)
    #[arg(short, long)]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long)]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable (only linux/amd64 is accepted for now)
    #[arg(long)]
    pub platform: Option<String>,
    /// A rootfs tarball (plain, gzip), or - for STDIN
    pub file: String,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub output: Option<String>,
    /// Archive format: docker-archive (default, what `docker load` reads) or oci-archive
    #[arg(long, default_value = "docker-archive")]
    pub format: String,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long)]
    pub input: Option<String>,
    /// Suppress the load output
    #[arg(short, long)]
    pub quiet: bool,
}

/// An error of the image module as the CLI prints it.
fn err(e: img::Error) -> CliError {
    CliError::from(tug::Error::from(e))
}

fn out_err(e: std::io::Error) -> CliError {
    CliError::output(e)
}

/// `tug tag SOURCE TARGET`.
pub fn tag(engine: &Engine, a: TagArgs) -> CliResult {
    engine.tag_image(&a.source, &a.target).map_err(err)?;
    Ok(0)
}

/// `tug rmi`: every image in turn; errors are printed and the exit code is 1, as
/// Docker does.
pub fn rmi(engine: &Engine, a: RmiArgs) -> CliResult {
    let mut out = std::io::stdout().lock();
    let mut code = 0;
    for name in &a.images {
        let removed = if a.no_prune {
            engine.remove_image_no_prune(name, a.force)
        } else {
            engine.remove_image(name, a.force)
        };
        match removed {
            Ok(events) => {
                for e in events {
                    writeln!(out, "{e}").map_err(out_err)?;
                }
            }
            Err(e) => {
                eprintln!("tug: {}", err(e).message);
                code = 1;
            }
        }
    }
    Ok(code)
}

/// `tug image inspect`: Docker's JSON for each image, or each through `--format`.
pub fn inspect(engine: &Engine, a: InspectArgs) -> CliResult {
    let mut values = Vec::new();
    let mut code = 0;
    for name in &a.names {
        match engine.inspect_image(name) {
            Ok(v) => values.push(v),
            Err(e) => {
                eprintln!("tug: {}", CliError::from(e).message);
                code = 1;
            }
        }
    }
    if !values.is_empty() || a.format.is_none() {
        super::print_inspect(&values, a.format.as_deref())?;
    }
    Ok(code)
}

/// `tug import FILE|- [REPOSITORY[:TAG]]`: prints the new image's id.
pub fn import(engine: &Engine, a: ImportArgs) -> CliResult {
    if let Some(p) = &a.platform {
        let host = format!("linux/{}", img::host_arch());
        if *p != host {
            return Err(CliError::usage(format!(
                "--platform {p:?}: only {host} can be imported on this machine"
            )));
        }
    }
    let reference = match &a.reference {
        Some(r) => {
            let r = Reference::parse(r).map_err(err)?;
            if r.digest.is_some() {
                return Err(CliError::usage(format!(
                    "{r}: an imported image is named by a tag, not a digest"
                )));
            }
            Some(r)
        }
        None => None,
    };
    let created = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) if !s.is_empty() => Some(
            s.trim()
                .parse::<u64>()
                .ok()
                .filter(|&n| n <= img::MAX_CREATED)
                .ok_or_else(|| {
                    CliError::usage(format!(
                        "SOURCE_DATE_EPOCH={s:?} is not a number of seconds between 1970 and 9999"
                    ))
                })?,
        ),
        _ => None,
    };
    let opts = ImportOptions {
        reference,
        changes: a.change.clone(),
        message: a.message.clone(),
        source: a.file.clone(),
        created,
    };
    let image = if a.file == "-" {
        engine.import_image(std::io::stdin(), &opts)
    } else {
        let f = std::fs::File::open(&a.file)
            .map_err(|e| CliError::other(format!("cannot open {}: {e}", a.file)))?;
        engine.import_image(f, &opts)
    }
    .map_err(err)?;
    println!("{}", image.id);
    Ok(0)
}

/// `tug save`: to `-o FILE` (written under a temporary name, then renamed) or stdout.
pub fn save(engine: &Engine, a: SaveArgs) -> CliResult {
    let format: ArchiveFormat = a.format.parse().map_err(err)?;
    match &a.output {
        Some(path) => {
            let path = std::path::Path::new(path);
            let tmp = path.with_file_name(format!(
                ".{}.tmp{}",
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default(),
                std::process::id()
            ));
            let f = std::fs::File::create(&tmp)
                .map_err(|e| CliError::other(format!("cannot create {}: {e}", path.display())))?;
            let res = engine
                .save_images(&a.images, format, std::io::BufWriter::new(&f))
                .map_err(err)
                .and_then(|_| f.sync_all().map_err(out_err))
                .and_then(|_| std::fs::rename(&tmp, path).map_err(out_err));
            if res.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            res?;
        }
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                return Err(CliError::usage(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect",
                ));
            }
            engine
                .save_images(&a.images, format, std::io::BufWriter::new(stdout.lock()))
                .map_err(err)?;
        }
    }
    Ok(0)
}

/// `tug load`: from `-i FILE` or stdin; prints `Loaded image: NAME` (or `Loaded image
/// ID: ID` for an untagged one).
pub fn load(engine: &Engine, a: LoadArgs) -> CliResult {
    let loaded = match &a.input {
        Some(path) => {
            let f = std::fs::File::open(path)
                .map_err(|e| CliError::other(format!("cannot open {path}: {e}")))?;
            engine.load_images(f)
        }
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(CliError::usage(
                    "requested load from stdin, but stdin is a terminal: use -i or redirect",
                ));
            }
            engine.load_images(stdin)
        }
    }
    .map_err(err)?;
    if !a.quiet {
        let mut out = std::io::stdout().lock();
        for l in loaded {
            for (name, old) in &l.replaced {
                writeln!(
                    out,
                    "The image {name} already exists, renaming the old one with ID {old} to empty string"
                )
                .map_err(out_err)?;
            }
            if l.names.is_empty() {
                writeln!(out, "Loaded image ID: {}", l.id).map_err(out_err)?;
            }
            for n in l.names {
                writeln!(out, "Loaded image: {n}").map_err(out_err)?;
            }
        }
    }
    Ok(0)
}
