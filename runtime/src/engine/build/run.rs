//! RUN: the command in a container of the image so far (its network, mounts, user and
//! working dir as the step and the config say), its output reported as it comes, its
//! changes committed as a layer; a failure leaves no container.

use std::collections::VecDeque;

use serde_json::Value;

use super::{Builder, State, arg_values, step_error};
use crate::build::config::{self, PROXY_ARGS};
use crate::build::copy::{self};
use crate::build::dockerfile::{Command, Heredoc, Run, Step};
use crate::build::{self, Event, history};
use crate::container::options::CreateOptions;
use crate::container::options::merge_env;
use crate::image::Image;
use crate::volume::MountSpec;
use crate::{Engine, Result};

/// The last lines of a failing RUN's output that its error shows.
const TAIL_LINES: usize = 10;

impl Builder<'_> {
    /// RUN: the command in a container of the image so far, on the stage's shell, with
    /// the config's env plus the ARGs in scope; its changes become a layer.
    pub(super) fn run_step(&mut self, st: &mut State, step: &Step, r: &Run) -> Result<bool> {
        let err = |m: String| step_error(&self.file, step, m);
        let runtime = st.runtime();
        let argv = match &r.command {
            Command::Exec(v) => v.clone(),
            Command::Shell(text) => {
                let mut a = config::shell(&runtime);
                a.push(heredoc_script(text, &r.heredocs));
                a
            }
        };
        if r.security.as_deref() == Some("insecure") {
            return Err(err(
                "RUN --security=insecure needs the security.insecure entitlement, which tug \
                 build does not grant"
                    .into(),
            ));
        }
        let network = match r.network.as_deref().or(self.opts.network.as_deref()) {
            None | Some("default") => "bridge".to_string(),
            Some(n @ ("none" | "host")) => n.to_string(),
            Some(other) => {
                return Err(err(format!(
                    "RUN --network={other}: expected default, none or host"
                )));
            }
        };
        let mounts = self.run_mounts(r).map_err(err)?;
        let args = st.scope.run_args();
        let proxies: Vec<String> = PROXY_ARGS
            .iter()
            .filter(|p| !st.scope.args.iter().any(|(k, _)| k == *p))
            .filter_map(|p| {
                self.opts
                    .build_args
                    .iter()
                    .rev()
                    .find(|(k, _)| k == p)
                    .map(|(k, v)| format!("{k}={v}"))
            })
            .collect();
        let key = st
            .key
            .then("run")
            .part(&step.original)
            .parts(&argv)
            .parts(&arg_values(&st.scope))
            .part(&network)
            .parts(&mounts.iter().map(|m| format!("{m:?}")).collect::<Vec<_>>())
            .finish();
        st.key = key.clone();
        if let Some(img) = self.cached_image(st, &key)? {
            self.set_image(st, img)?;
            return Ok(true);
        }
        let base = self.materialize_base(st)?;
        let env = merge_env(&merge_env(&st.env(), &args), &proxies);
        let get = |k: &str| {
            runtime
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(String::from)
        };
        let opts = CreateOptions {
            image: base.id.to_string(),
            entrypoint: Some(String::new()),
            command: argv.clone(),
            env,
            workdir: get("WorkingDir"),
            user: get("User"),
            network,
            mounts,
            owner_pid: Some(std::process::id() as i32),
            labels: vec!["io.tug.build=1".into()],
            ..CreateOptions::default()
        };
        let c = self.engine.create_container(&opts)?;
        let guard = RemoveOnDrop {
            engine: self.engine,
            id: c.id.to_string(),
            mounts: c.mounts.clone(),
        };
        // A process that cannot start (no such user, no such executable) fails the step,
        // with its line, and the guard removes the container.
        self.engine.start_detached(&guard.id).map_err(|e| {
            step_error(
                &self.file,
                step,
                format!("RUN failed to start: {}", crate::report(&e)),
            )
        })?;
        let no = self.step_no();
        self.emit(Event::Running {
            step: no,
            container: &guard.id,
        });
        let mut tail: VecDeque<String> = VecDeque::new();
        for entry in self.engine.follow_logs(&guard.id, true)? {
            let stderr = entry.stream == "stderr";
            for line in entry.log.lines() {
                self.emit(Event::Output {
                    step: no,
                    line,
                    stderr,
                });
                if tail.len() == TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line.to_string());
            }
        }
        let code = self.engine.wait_container(&guard.id)?;
        if code != 0 {
            return Err(build::Error::RunFailed {
                file: self.file.clone(),
                line: step.pos.line,
                command: format!("{:?}", argv.join(" ")),
                code,
                tail: tail.into(),
            }
            .into());
        }
        let layer = self
            .engine
            .stage_container_layer(&guard.id, self.opts.source_date_epoch)?;
        let container = guard.id.clone();
        drop(guard);
        self.emit(Event::Removed {
            step: no,
            container: &container,
        });
        let now = self.now();
        st.add_history(&now, history::run(&argv, &args), false);
        self.store_step(st, &key, &base.layers, Some(layer))?;
        self.run += 1;
        Ok(false)
    }

    /// The image a RUN container starts from: the last one stored (a stage `FROM scratch`
    /// with nothing yet gets an empty one).
    fn materialize_base(&mut self, st: &mut State) -> Result<Image> {
        match &st.image {
            Some(img) => Ok(img.clone()),
            None => self.materialize(st),
        }
    }

    /// RUN --mount: `cache` (a dir kept under the state root between builds), `tmpfs`,
    /// and `bind` of a context path (read-only); the others are refused.
    fn run_mounts(&self, r: &Run) -> std::result::Result<Vec<MountSpec>, String> {
        let mut out = Vec::new();
        for m in &r.mounts {
            let get = |k: &str| {
                m.iter()
                    .rev()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.as_str())
            };
            let kind = get("type").unwrap_or("bind");
            if !matches!(kind, "cache" | "tmpfs" | "bind") {
                return Err(format!(
                    "RUN --mount=type={kind} is not supported by tug build (it builds cache, \
                     tmpfs and bind mounts)"
                ));
            }
            let target = get("target")
                .or(get("dst"))
                .or(get("destination"))
                .ok_or_else(|| format!("RUN --mount=type={kind}: no target"))?;
            let spec = match kind {
                "cache" => {
                    let id = get("id").unwrap_or(target);
                    let dir = self
                        .engine
                        .root()
                        .join("build-cache-mounts")
                        .join(crate::Digest::of(id.as_bytes()).hex());
                    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                    // uid, gid and mode of the cache dir (BuildKit's defaults: 0, 0, 0755).
                    let num = |k: &str, default: u32, radix: u32| -> Result<u32, String> {
                        get(k).map_or(Ok(default), |v| {
                            u32::from_str_radix(v, radix).map_err(|_| {
                                format!("RUN --mount=type=cache,{k}={v}: not a number")
                            })
                        })
                    };
                    let (uid, gid, mode) = (
                        num("uid", 0, 10)?,
                        num("gid", 0, 10)?,
                        num("mode", 0o755, 8)?,
                    );
                    std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                        .and_then(|_| {
                            use std::os::unix::fs::PermissionsExt;
                            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
                        })
                        .map_err(|e| format!("{}: {e}", dir.display()))?;
                    let mut spec = MountSpec::bind(&dir, target);
                    if let Ok(s) = &mut spec {
                        s.read_only = matches!(get("ro").or(get("readonly")), Some("" | "true"));
                    }
                    spec
                }
                "tmpfs" => MountSpec::tmpfs(target, &[]),
                _ => {
                    // bind (the other types were refused above)
                    if get("from").is_some() {
                        return Err(
                            "RUN --mount=type=bind,from=... is not supported by tug build yet"
                                .into(),
                        );
                    }
                    if matches!(get("rw").or(get("readwrite")), Some("" | "true")) {
                        return Err(
                            "RUN --mount=type=bind,rw is not supported by tug build yet: \
                                    the writes could reach the build context"
                                .into(),
                        );
                    }
                    let ctx = self
                        .context
                        .as_ref()
                        .ok_or("RUN --mount=type=bind needs a build context")?;
                    let src = copy::rel(get("source").or(get("src")).unwrap_or("/"));
                    let host = ctx.root().join(&src);
                    let mut spec = MountSpec::bind(&host, target);
                    if let Ok(s) = &mut spec {
                        s.read_only = true;
                    }
                    spec
                }
            };
            out.push(spec.map_err(|e| format!("RUN --mount: {}", crate::report(&e)))?);
        }
        Ok(out)
    }
}

/// The shell script of a RUN with heredocs: a command that is only `<<EOF` runs the
/// heredoc's body as the script (as BuildKit does); otherwise the heredocs follow the
/// command line and the shell feeds them.
fn heredoc_script(text: &str, heredocs: &[Heredoc]) -> String {
    if heredocs.is_empty() {
        return text.to_string();
    }
    if heredocs.len() == 1 {
        let marker = text
            .trim()
            .trim_start_matches("<<")
            .trim_start_matches('-')
            .trim_matches(['"', '\'']);
        if marker == heredocs[0].name {
            return heredocs[0].body.clone();
        }
    }
    let mut s = text.to_string();
    s.push('\n');
    for h in heredocs {
        s.push_str(&h.body);
        if !h.body.ends_with('\n') && !h.body.is_empty() {
            s.push('\n');
        }
        s.push_str(&h.name);
        s.push('\n');
    }
    s
}

/// A RUN's container, removed with its anonymous volumes when dropped (also when the
/// step fails).
struct RemoveOnDrop<'a> {
    engine: &'a Engine,
    id: String,
    mounts: Vec<Value>,
}

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.engine.remove_container(&self.id, true);
        let _ = self.engine.remove_anonymous_volumes(&self.mounts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(name: &str, body: &str) -> Heredoc {
        Heredoc {
            name: name.into(),
            expand: true,
            chomp: false,
            body: body.into(),
        }
    }

    #[test]
    fn a_lone_heredoc_is_the_script() {
        assert_eq!(
            heredoc_script("<<EOF", &[doc("EOF", "apt-get update\n")]),
            "apt-get update\n"
        );
        assert_eq!(heredoc_script("<<-\"EOF\"", &[doc("EOF", "x\n")]), "x\n");
        assert_eq!(
            heredoc_script("cat <<A >/a", &[doc("A", "first\n")]),
            "cat <<A >/a\nfirst\nA\n"
        );
        assert_eq!(heredoc_script("echo hi", &[]), "echo hi");
    }
}
