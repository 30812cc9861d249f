//! `tug build` on the Engine: the stages a target needs, each from its base image through
//! its steps. Config instructions change the config in memory and add an empty-layer
//! history entry; RUN, COPY and ADD (in `build_steps.rs`) each make a layer and an image
//! in the store (untagged, named by the build cache), as Docker's classic builder did, so
//! that the cache can reuse any prefix of a build. Only the `-t` names are moved at the
//! end, so a failed build moves no tag.

mod cache;
mod copy;
mod run;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::build::cache::{Cache, Key};

use crate::build::config::{self, Scope};
use crate::build::context::Context;
use crate::build::dockerfile::{self, Dockerfile, Instruction, Step};
use crate::build::plan::{self, Source};
use crate::build::{self, BuildOptions, Built, ContextSource, DockerfileSource, Event, history};
use crate::image::{Image, Reference};
use crate::registry::{PullOptions, Silent};
use crate::{Engine, Result};

impl Engine {
    /// Builds the image that `opts` describe, reporting progress to `events`, and names
    /// it with `opts.tags`.
    pub fn build(&self, opts: &BuildOptions, events: &mut dyn FnMut(Event<'_>)) -> Result<Built> {
        match self.build_once(opts, events) {
            // An image the cache named was removed by another process while this build
            // used it (an `rmi`, a prune, a `compose down --rmi`): the cache misses it
            // now, so a second go makes it again.
            Err(crate::Error::Image(crate::image::Error::NotFound(id)))
                if id.starts_with("sha256:") =>
            {
                self.build_once(opts, events)
            }
            r => r,
        }
    }

    fn build_once(&self, opts: &BuildOptions, events: &mut dyn FnMut(Event<'_>)) -> Result<Built> {
        let dockerfile_path = match &opts.dockerfile {
            DockerfileSource::Path(p) => Some(p.clone()),
            _ => None,
        };
        let mut _unpacked = None;
        let context = match &opts.context {
            ContextSource::Dir(dir) => Some(
                Context::open(dir, dockerfile_path.as_deref()).map_err(build::Error::Context)?,
            ),
            ContextSource::Tar(bytes) => {
                let dir = ScratchDir(scratch_dir(self)?);
                crate::layer::extract(&bytes[..], &dir.0, None).map_err(|e| {
                    build::Error::Context(format!(
                        "the build context archive: {}",
                        crate::report(&e)
                    ))
                })?;
                let ctx = Context::open(&dir.0, None).map_err(build::Error::Context)?;
                _unpacked = Some(dir);
                Some(ctx)
            }
            ContextSource::None => None,
        };
        let (file, text, _) = match &opts.dockerfile {
            DockerfileSource::Path(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    build::Error::Context(format!(
                        "cannot read the Dockerfile {}: {e}",
                        p.display()
                    ))
                })?;
                (p.display().to_string(), text, Some(p.clone()))
            }
            DockerfileSource::Text { name, text } => (name.clone(), text.clone(), None),
            DockerfileSource::InContext(rel) => {
                let root = context
                    .as_ref()
                    .map(|c| c.root().to_path_buf())
                    .ok_or_else(|| {
                        build::Error::Context(format!("{rel}: there is no build context"))
                    })?;
                let text = crate::build::copy::read_in_root(&root, rel).ok_or_else(|| {
                    build::Error::Context(format!("cannot read {rel} in the build context"))
                })?;
                (rel.clone(), text, None)
            }
        };
        let df = dockerfile::parse(&text, &file).map_err(build::Error::from)?;
        let tags = opts
            .tags
            .iter()
            .map(|t| Reference::parse(t))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let order = plan::stages_for(&df, opts.target.as_deref()).map_err(build::Error::Context)?;
        let mut meta = Scope {
            build_args: opts.build_args.clone(),
            escape: df.directives.escape,
            ..Scope::default()
        };
        // BuildKit's automatic platform args, usable in FROM lines and by a stage that
        // declares them: this machine's platform (tug builds for it only).
        let arch = crate::sandbox::seccomp::Target::native_arch();
        for (k, v) in [
            ("TARGETPLATFORM", format!("linux/{arch}")),
            ("TARGETOS", "linux".to_string()),
            ("TARGETARCH", arch.to_string()),
            ("TARGETVARIANT", String::new()),
            ("BUILDPLATFORM", format!("linux/{arch}")),
            ("BUILDOS", "linux".to_string()),
            ("BUILDARCH", arch.to_string()),
            ("BUILDVARIANT", String::new()),
        ] {
            meta.args.push((k.to_string(), Some(v)));
        }
        for step in &df.meta_args {
            if let Instruction::Arg(decls) = &step.instruction {
                for d in decls {
                    meta.declare(d, None)
                        .map_err(|m| step_error(&file, step, m))?;
                }
            }
        }
        let mut b = Builder {
            engine: self,
            opts,
            file,
            df: &df,
            current_stage: 0,
            context,
            cache: Cache::open(self.root()),
            meta,
            built: HashMap::new(),
            pulled: Vec::new(),
            cache_from: Vec::new(),
            events,
            step_no: 0,
            run: 0,
            cached: 0,
            last_stage: *order.last().unwrap_or(&0),
            single_stage: df.stages.len() == 1,
            onbuild: false,
        };
        for r in &opts.cache_from {
            // As Docker: a cache source that cannot be had is skipped, not an error.
            if let Ok(img) = b.base_image(r)
                && let Ok(config) = b.raw_config(&img)
            {
                b.cache_from.push((img, config));
            }
        }
        for &i in &order {
            let image = b.stage(i)?;
            b.built.insert(i, image);
        }
        let image = b
            .built
            .remove(&b.last_stage)
            .ok_or_else(|| build::Error::Context("the Dockerfile has no stage".into()))?;
        for t in &tags {
            self.tag_image(&image.id.to_string(), &t.to_string())?;
        }
        Ok(Built {
            id: image.id.clone(),
            manifest_digest: image.manifest_digest.clone(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            steps_run: b.run,
            steps_cached: b.cached,
        })
    }
}

/// A build in progress.
pub(super) struct Builder<'a> {
    pub(super) engine: &'a Engine,
    pub(super) opts: &'a BuildOptions,
    /// The Dockerfile's name in errors.
    pub(super) file: String,
    pub(super) df: &'a Dockerfile,
    /// The stage being built (what `--from` names are seen from).
    pub(super) current_stage: usize,
    pub(super) context: Option<Context>,
    pub(super) cache: Cache,
    /// The ARGs before the first FROM.
    meta: Scope,
    /// The image each built stage ended with.
    pub(super) built: HashMap<usize, Image>,
    /// The references `--pull` already pulled in this build.
    pulled: Vec<String>,
    /// `--cache-from` images with their configs.
    cache_from: Vec<(Image, Value)>,
    events: &'a mut dyn FnMut(Event<'_>),
    step_no: usize,
    pub(super) run: usize,
    pub(super) cached: usize,
    last_stage: usize,
    single_stage: bool,
    /// Whether the step running is a base image's ONBUILD trigger (for its progress
    /// text).
    onbuild: bool,
}

/// A stage's state between steps: the last image stored, the config being built on it,
/// and the cache key of everything so far.
pub(super) struct State {
    pub(super) image: Option<Image>,
    /// The whole image config (`config`, `history`, `rootfs`...).
    pub(super) config: Value,
    pub(super) key: Key,
    /// Whether `config` has changes `image` does not have.
    pub(super) pending: bool,
    pub(super) scope: Scope,
}

impl State {
    /// The image config's `config` object (Env, Cmd, WorkingDir...).
    pub(super) fn runtime(&self) -> Map<String, Value> {
        self.config
            .get("config")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    pub(super) fn set_runtime(&mut self, runtime: Map<String, Value>) {
        if let Some(obj) = self.config.as_object_mut() {
            obj.insert("config".into(), Value::Object(runtime));
        }
    }

    /// Adds a history entry made now (or at the build's epoch).
    pub(super) fn add_history(&mut self, created: &str, created_by: String, empty_layer: bool) {
        let mut entry = Map::new();
        entry.insert("created".into(), json!(created));
        entry.insert("created_by".into(), json!(created_by));
        entry.insert("comment".into(), json!("buildkit.dockerfile.v0"));
        if empty_layer {
            entry.insert("empty_layer".into(), json!(true));
        }
        if let Some(obj) = self.config.as_object_mut() {
            let h = obj.entry("history").or_insert_with(|| json!([]));
            if !h.is_array() {
                *h = json!([]);
            }
            if let Some(list) = h.as_array_mut() {
                list.push(Value::Object(entry));
            }
            obj.insert("created".into(), json!(created));
        }
    }

    /// The ENV of the config.
    pub(super) fn env(&self) -> Vec<String> {
        self.runtime()
            .get("Env")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Builder<'_> {
    /// The time every `created` field gets: `SOURCE_DATE_EPOCH`, else now.
    pub(super) fn now(&self) -> String {
        let secs = self.opts.source_date_epoch.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
        crate::image::import::rfc3339(secs)
    }

    pub(super) fn emit(&mut self, e: Event<'_>) {
        (self.events)(e);
    }

    pub(super) fn step_no(&self) -> usize {
        self.step_no
    }

    /// Builds stage `idx`; returns its last image.
    fn stage(&mut self, idx: usize) -> Result<Image> {
        self.current_stage = idx;
        let stage = &self.df.stages[idx];
        let from = Step {
            pos: stage.pos,
            end_line: stage.pos.line,
            original: format!("FROM {}", stage.base),
            instruction: Instruction::Maintainer(String::new()),
        };
        let base_name = self
            .meta
            .expand(&stage.base)
            .map_err(|m| step_error(&self.file, &from, m))?;
        if let Some(p) = &stage.platform {
            let p = self
                .meta
                .expand(p)
                .map_err(|m| step_error(&self.file, &from, m))?;
            let native = format!("linux/{}", crate::sandbox::seccomp::Target::native_arch());
            if p != native {
                return Err(step_error(
                    &self.file,
                    &from,
                    format!(
                        "FROM --platform={p}: tug builds for this machine's platform only ({native})"
                    ),
                ));
            }
        }
        let label = self.stage_label(idx);
        let total = stage.steps.len() + 1;
        self.step_no += 1;
        let no = self.step_no;
        let from_text = format!("FROM {base_name}");
        self.emit(Event::Step {
            step: no,
            stage: &label,
            index: 1,
            total,
            text: &from_text,
        });
        let started = Instant::now();
        let (image, key) = match plan::source(self.df, idx, &base_name) {
            Source::Stage(i) => {
                let img = self.built.get(&i).cloned().ok_or_else(|| {
                    step_error(&self.file, &from, format!("stage {i} was not built"))
                })?;
                let key = Key::base(&img.manifest_digest.to_string());
                (Some(img), key)
            }
            Source::Scratch => (None, Key::base("scratch")),
            Source::Image(r) => {
                let img = self.base_image(&r)?;
                let key = Key::base(&img.manifest_digest.to_string());
                (Some(img), key)
            }
        };
        self.emit(Event::Done {
            step: no,
            seconds: started.elapsed().as_secs_f64(),
        });
        if self.opts.step_images
            && let Some(img) = &image
        {
            self.emit(Event::Image {
                step: no,
                id: &img.id,
            });
        }
        let config = match &image {
            Some(img) => self.raw_config(img)?,
            None => scratch_config(),
        };
        let mut st = State {
            image,
            config,
            key,
            pending: false,
            scope: Scope {
                build_args: self.opts.build_args.clone(),
                escape: self.df.directives.escape,
                ..Scope::default()
            },
        };
        // As BuildKit: a stage whose base has no PATH gets the default one in its
        // config, so `ENV PATH=/x:$PATH` and every RUN see it.
        if !st.env().iter().any(|e| e.starts_with("PATH=")) {
            let mut runtime = st.runtime();
            config::set_env(
                &mut runtime,
                "PATH",
                crate::container::options::DEFAULT_PATH,
            );
            st.set_runtime(runtime);
            st.pending = true;
            st.key = st.key.then("default-path").finish();
        }
        st.scope.env = st.env();
        // The base's ONBUILD triggers run first, and the new image has none of its own
        // until this stage adds some.
        let mut runtime = st.runtime();
        if let Some(triggers) = runtime.remove("OnBuild") {
            st.set_runtime(runtime);
            st.pending = true;
            st.key = st.key.then("onbuild-cleared").finish();
            for t in triggers.as_array().into_iter().flatten() {
                let text = t.as_str().unwrap_or_default();
                let mut step = dockerfile::parse_instruction(text).map_err(|mut e| {
                    e.file = self.file.clone();
                    e.pos = stage.pos;
                    e.message = format!("the base image's ONBUILD trigger: {}", e.message);
                    build::Error::from(e)
                })?;
                step.pos = stage.pos;
                self.onbuild = true;
                let done = self.step(&mut st, &step, &label, 1, total);
                self.onbuild = false;
                done?;
            }
        }
        for (n, step) in stage.steps.iter().enumerate() {
            self.step(&mut st, step, &label, n + 2, total)?;
        }
        if idx == self.last_stage && !self.opts.labels.is_empty() {
            let mut runtime = st.runtime();
            let labels = runtime.entry("Labels").or_insert_with(|| json!({}));
            if !labels.is_object() {
                *labels = json!({});
            }
            let mut key = st.key.then("labels");
            for (k, v) in &self.opts.labels {
                if let Some(m) = labels.as_object_mut() {
                    m.insert(k.clone(), json!(v));
                }
                key = key.part(k).part(v);
            }
            st.set_runtime(runtime);
            st.key = key.finish();
            st.pending = true;
        }
        self.materialize(&mut st)
    }

    /// `[name n/m]` of BuildKit's progress: the stage's name, or `stage-N`; nothing for a
    /// one-stage Dockerfile.
    fn stage_label(&self, idx: usize) -> String {
        if self.single_stage {
            return String::new();
        }
        self.df.stages[idx]
            .name
            .clone()
            .unwrap_or_else(|| format!("stage-{idx}"))
    }

    /// A base image: from the store, else pulled (always pulled once with `--pull`).
    pub(super) fn base_image(&mut self, reference: &str) -> Result<Image> {
        let pull = self.opts.pull && !self.pulled.iter().any(|p| p == reference);
        if !pull && let Ok(img) = self.engine.image(reference) {
            return Ok(img);
        }
        self.emit(Event::Pulling { reference });
        self.engine
            .pull(reference, &PullOptions::default(), &Silent)?;
        self.pulled.push(reference.to_string());
        self.engine.image(reference)
    }
}

impl Builder<'_> {
    /// Runs one step.
    fn step(
        &mut self,
        st: &mut State,
        step: &Step,
        label: &str,
        index: usize,
        total: usize,
    ) -> Result<()> {
        self.step_no += 1;
        let no = self.step_no;
        let mut text = one_line(&step.original);
        if self.onbuild {
            text = format!("ONBUILD {text}");
        }
        self.emit(Event::Step {
            step: no,
            stage: label,
            index,
            total,
            text: &text,
        });
        let started = Instant::now();
        let cached = match &step.instruction {
            Instruction::Run(r) => self.run_step(st, step, r)?,
            Instruction::Copy(c) => self.copy_step(st, step, c, false)?,
            Instruction::Add(c) => self.copy_step(st, step, c, true)?,
            other => {
                self.config_step(st, step, other)?;
                // With an image per step, a config step's image may come from the cache
                // (and Docker's classic builder says so).
                self.opts.step_images
                    && self
                        .cached_image(st, &st.key.then("image").finish())?
                        .is_some()
            }
        };
        if cached {
            self.cached += 1;
            self.emit(Event::Cached { step: no });
        } else {
            self.emit(Event::Done {
                step: no,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        if self.opts.step_images {
            // The step's image: a layer step stored it already; a config step's is
            // stored now (named by the cache, so a rebuild finds it).
            let img = self.materialize(st)?;
            self.emit(Event::Image {
                step: no,
                id: &img.id,
            });
        }
        Ok(())
    }

    /// A step that changes only the config (and ARG, which changes the scope).
    fn config_step(&mut self, st: &mut State, step: &Step, ins: &Instruction) -> Result<()> {
        let err = |m: String| step_error(&self.file, step, m);
        let mut runtime = st.runtime();
        match ins {
            Instruction::Arg(decls) => {
                for d in decls {
                    let inherited = self.meta.get(&d.key);
                    st.scope.declare(d, inherited).map_err(err)?;
                }
            }
            Instruction::Maintainer(m) => {
                if let Some(obj) = st.config.as_object_mut() {
                    obj.insert("author".into(), json!(m));
                }
            }
            Instruction::From { .. } => {}
            other => {
                config::apply(&mut runtime, other, &mut st.scope, &step.original).map_err(err)?;
                st.set_runtime(runtime.clone());
            }
        }
        let created_by = history::config_step(ins, &step.original, &runtime);
        let now = self.now();
        st.add_history(&now, created_by, true);
        st.key = st
            .key
            .then("config")
            .part(&step.original)
            .parts(&arg_values(&st.scope))
            .finish();
        st.pending = true;
        Ok(())
    }
}

/// The declared ARGs with their values, for cache keys.
pub(super) fn arg_values(scope: &Scope) -> Vec<String> {
    scope
        .args
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect()
}

/// The config of an image made `FROM scratch`.
fn scratch_config() -> Value {
    json!({
        "architecture": crate::sandbox::seccomp::Target::native_arch(),
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": []
    })
}

/// An error at a step: the file, line and column, the instruction and what went wrong.
pub(super) fn step_error(file: &str, step: &Step, message: String) -> crate::Error {
    let mut e = dockerfile::Error::at(step.pos, &step.original, message);
    e.file = file.to_string();
    build::Error::from(e).into()
}

/// The instruction's text on one line, for progress.
fn one_line(original: &str) -> String {
    original.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A path in the build's scratch space under the state root.
pub(super) fn scratch_dir(engine: &Engine) -> Result<PathBuf> {
    let mut rnd = [0u8; 6];
    crate::fsutil::random_bytes(&mut rnd);
    let dir = engine
        .root()
        .join("build-tmp")
        .join(crate::digest::to_hex(&rnd));
    std::fs::create_dir_all(&dir)
        .map_err(|e| crate::Error::Io(format!("creating {}", dir.display()), e))?;
    // Removed by an interrupted `tug build` on its way out (see `entry::remove_own_staging`).
    crate::fsutil::staging_add(&dir);
    Ok(dir)
}

/// A scratch dir of the build, removed when dropped.
pub(super) struct ScratchDir(pub(super) PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        crate::fsutil::staging_forget(&self.0);
    }
}
