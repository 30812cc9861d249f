//! `tug images`, `tag`, `rmi`, `history`, `image inspect`, `import`, `save`, `load`, and the
//! `tug image ...` group.

use clap::{Args, Subcommand};

use super::{CliError, CliResult};
use crate::Engine;

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
    /// Filter output based on conditions provided (reference=PATTERN, dangling=true|false)
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

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a Go template
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

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

fn not_yet(what: &str) -> CliResult {
    Err(CliError::other(format!("{what} is not implemented yet")))
}

pub fn images(_engine: &Engine, _a: ImagesArgs) -> CliResult {
    not_yet("images")
}
pub fn tag(_engine: &Engine, _a: TagArgs) -> CliResult {
    not_yet("tag")
}
pub fn rmi(_engine: &Engine, _a: RmiArgs) -> CliResult {
    not_yet("rmi")
}
pub fn history(_engine: &Engine, _a: HistoryArgs) -> CliResult {
    not_yet("history")
}
pub fn inspect(_engine: &Engine, _a: InspectArgs) -> CliResult {
    not_yet("image inspect")
}
pub fn import(_engine: &Engine, _a: ImportArgs) -> CliResult {
    not_yet("import")
}
pub fn save(_engine: &Engine, _a: SaveArgs) -> CliResult {
    not_yet("save")
}
pub fn load(_engine: &Engine, _a: LoadArgs) -> CliResult {
    not_yet("load")
}
