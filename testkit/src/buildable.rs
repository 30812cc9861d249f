//! Images built from a Dockerfile in a test, as testcontainers-rs's
//! `GenericBuildableImage` and `SyncBuilder` have them: the Dockerfile and the files of
//! its context are gathered into a tar, built by the engine ([`tug::Engine::build`]), and
//! named `name:tag`. A second build of the same content (in this test process or
//! another) is a hit of tug's build cache, so it costs milliseconds.

use std::path::{Path, PathBuf};

use tug::build::{BuildOptions, ContextSource, DockerfileSource};

use crate::client::Tug;
use crate::error::{Error, Result};
use crate::image::GenericImage;

/// A Dockerfile and its build context, to be built into `name:tag`.
#[derive(Debug, Clone)]
pub struct GenericBuildableImage {
    name: String,
    tag: String,
    dockerfile: Option<DockerfileText>,
    files: Vec<(ContextFile, String)>,
    build_args: Vec<(String, String)>,
    labels: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
enum DockerfileText {
    Path(PathBuf),
    Text(String),
}

#[derive(Debug, Clone)]
enum ContextFile {
    /// A host file or dir (a dir with everything below it).
    Host(PathBuf),
    Data(Vec<u8>),
}

impl GenericBuildableImage {
    /// An image to be built as `name:tag`.
    pub fn new(name: impl Into<String>, tag: impl Into<String>) -> GenericBuildableImage {
        GenericBuildableImage {
            name: name.into(),
            tag: tag.into(),
            dockerfile: None,
            files: Vec::new(),
            build_args: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// The Dockerfile, from a host file.
    pub fn with_dockerfile(mut self, source: impl Into<PathBuf>) -> Self {
        self.dockerfile = Some(DockerfileText::Path(source.into()));
        self
    }

    /// The Dockerfile's text.
    pub fn with_dockerfile_string(mut self, content: impl Into<String>) -> Self {
        self.dockerfile = Some(DockerfileText::Text(content.into()));
        self
    }

    /// A host file or dir, at `target` in the build context.
    pub fn with_file(mut self, source: impl Into<PathBuf>, target: impl Into<String>) -> Self {
        self.files
            .push((ContextFile::Host(source.into()), target.into()));
        self
    }

    /// Bytes, as the file `target` of the build context.
    pub fn with_data(mut self, data: impl Into<Vec<u8>>, target: impl Into<String>) -> Self {
        self.files
            .push((ContextFile::Data(data.into()), target.into()));
        self
    }

    /// tug: a `--label` of the built image.
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push((key.into(), value.into()));
        self
    }

    /// A hash of everything the build reads (the Dockerfile, the context, the build
    /// args), to tell whether an image of this name was built from this recipe.
    pub(crate) fn content_hash(&self) -> Result<String> {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let mut h = DefaultHasher::new();
        self.context_tar()?.hash(&mut h);
        self.build_args.hash(&mut h);
        Ok(format!("{:016x}", h.finish()))
    }

    /// `name:tag`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }

    /// tug: a `--build-arg`.
    pub fn with_build_arg(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.build_args.push((key.into(), value.into()));
        self
    }

    /// The build context as a tar, the Dockerfile at its root.
    fn context_tar(&self) -> Result<Vec<u8>> {
        let setup = |what: String| Error::Setup(what);
        let dockerfile = match &self.dockerfile {
            Some(DockerfileText::Text(t)) => t.clone().into_bytes(),
            Some(DockerfileText::Path(p)) => std::fs::read(p)
                .map_err(|e| setup(format!("reading the Dockerfile {}: {e}", p.display())))?,
            None => {
                return Err(setup(format!(
                    "building {}:{}: no Dockerfile (with_dockerfile or \
                     with_dockerfile_string)",
                    self.name, self.tag
                )));
            }
        };
        let mut tar = tar::Builder::new(Vec::new());
        tar.follow_symlinks(false);
        let append_data = |tar: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut h, path, data)
                .map_err(|e| setup(format!("the build context's {path}: {e}")))
        };
        append_data(&mut tar, "Dockerfile", &dockerfile)?;
        for (file, target) in &self.files {
            let target = target.trim_start_matches("./").trim_start_matches('/');
            match file {
                ContextFile::Data(d) => append_data(&mut tar, target, d)?,
                ContextFile::Host(p) if p.is_dir() => {
                    tar.append_dir_all(target, p).map_err(|e| {
                        setup(format!("adding {} to the build context: {e}", p.display()))
                    })?
                }
                ContextFile::Host(p) => tar.append_path_with_name(p, target).map_err(|e| {
                    setup(format!("adding {} to the build context: {e}", p.display()))
                })?,
            }
        }
        tar.into_inner()
            .map_err(|e| setup(format!("the build context: {e}")))
    }

    /// The images named by the Dockerfile's `FROM` lines (as written, before ARG
    /// substitution).
    fn bases(text: &str) -> Vec<String> {
        text.lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                let first = words.next()?;
                if !first.eq_ignore_ascii_case("FROM") {
                    return None;
                }
                words.find(|w| !w.starts_with("--")).map(String::from)
            })
            .collect()
    }
}

/// Builds a [`GenericBuildableImage`], as testcontainers' `runners::SyncBuilder`.
pub trait SyncBuilder {
    /// Builds the image on [`Tug::shared`] and returns it as a [`GenericImage`] to start.
    /// The local `busybox` base is made from the host's busybox-static when missing;
    /// other bases are pulled if the store lacks them.
    fn build_image(self) -> Result<GenericImage>;

    /// tug: [`SyncBuilder::build_image`] on the given client.
    fn build_image_on(self, tug: &Tug) -> Result<GenericImage>;
}

impl SyncBuilder for GenericBuildableImage {
    fn build_image(self) -> Result<GenericImage> {
        self.build_image_on(Tug::shared()?)
    }

    fn build_image_on(self, tug: &Tug) -> Result<GenericImage> {
        let context = self.context_tar()?;
        let text = match &self.dockerfile {
            Some(DockerfileText::Text(t)) => t.clone(),
            Some(DockerfileText::Path(p)) => std::fs::read_to_string(p).unwrap_or_default(),
            None => String::new(),
        };
        for base in Self::bases(&text) {
            if base == "busybox" || base.starts_with("busybox:") {
                tug.prepare_image(&base)?;
            }
        }
        let reference = format!("{}:{}", self.name, self.tag);
        let mut opts = BuildOptions::new(Path::new("."));
        opts.context = ContextSource::Tar(context);
        opts.dockerfile = DockerfileSource::InContext("Dockerfile".into());
        opts.tags = vec![reference.clone()];
        opts.build_args = self.build_args.clone();
        opts.labels = self.labels.clone();
        tug.engine()
            .build(&opts, &mut |_| {})
            .map_err(|e| Error::engine(format!("building {reference}"), e))?;
        Ok(GenericImage::new(self.name, self.tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_are_the_from_images() {
        let df = "ARG V=1\nFROM --platform=linux/amd64 busybox:latest AS a\nfrom debian\nRUN x\n";
        assert_eq!(
            GenericBuildableImage::bases(df),
            vec!["busybox:latest".to_string(), "debian".to_string()]
        );
    }

    #[test]
    fn the_context_has_the_dockerfile_and_the_files() {
        let img = GenericBuildableImage::new("x", "1")
            .with_dockerfile_string("FROM busybox\n")
            .with_data("hi", "./data/hi.txt");
        let tar = img.context_tar().unwrap();
        let mut a = tar::Archive::new(&tar[..]);
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, vec!["Dockerfile", "data/hi.txt"]);
        let none = GenericBuildableImage::new("x", "1").context_tar();
        assert!(none.is_err());
    }
}
