//! What `run`/`create` ask for, and Docker's rules for combining it with the image's
//! config: ENTRYPOINT/CMD overrides, environment merging, `--env-file`.

use super::Error;

/// The description of a container to create (the flags of `tug create`/`tug run`).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The image reference or id.
    pub image: String,
    pub name: Option<String>,
    pub hostname: Option<String>,
    /// `KEY=VALUE` pairs (already resolved from `-e KEY` and `--env-file`).
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    /// `--entrypoint`: `Some("")` clears the image's entrypoint.
    pub entrypoint: Option<String>,
    /// The arguments after the image (override CMD).
    pub command: Vec<String>,
    pub interactive: bool,
    /// Whether stdin closes when the attached client that writes it goes (`StdinOnce`):
    /// Docker's `run -i` in the foreground and `create -i` say yes, `run -d -i` and
    /// Compose's `stdin_open` no, so each later `attach` can write again. `None`: as
    /// `interactive`.
    pub stdin_once: Option<bool>,
    pub tty: bool,
    /// The terminal's size (rows, columns) from its first byte on, for a container with
    /// a TTY (the API's `HostConfig.ConsoleSize`); later sizes come by resize.
    pub console_size: Option<(u16, u16)>,
    pub read_only: bool,
    pub privileged: bool,
    /// `--network`: `bridge` (also when empty), `none`, `host`, `container:<name|id>`,
    /// or a user network's name or id.
    pub network: String,
    /// `--network-alias`: more names on a user network.
    pub network_aliases: Vec<String>,
    /// `--ip`: a fixed address on the network.
    pub ip: Option<std::net::Ipv4Addr>,
    /// `--mac-address`.
    pub mac_address: Option<String>,
    /// `-p`/`--publish`, parsed (see `network::ports::parse_publish`).
    pub publish: Vec<crate::network::ports::PortSpec>,
    /// `-P`/`--publish-all`: every exposed port on a free host port.
    pub publish_all: bool,
    /// Containers with the same group share their published host ports, balanced over
    /// the running ones (compose's replicas behind one port); `None`: a port is one
    /// container's.
    pub port_group: Option<String>,
    /// `--expose`: more exposed ports (`80`, `80/udp`, `8000-8010`).
    pub expose: Vec<String>,
    /// `--dns`, `--dns-search`, `--dns-option`.
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// `--add-host host:ip`.
    pub extra_hosts: Vec<String>,
    /// `--link name[:alias]` (default bridge).
    pub links: Vec<String>,
    pub security_opt: Vec<String>,
    /// `--cap-add`, `--cap-drop`: capability names (`NET_ADMIN`, `CAP_NET_ADMIN`, `ALL`).
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// `--device HOST[:CONTAINER][:PERMS]`, unparsed.
    pub devices: Vec<String>,
    /// `KEY=VALUE` labels.
    pub labels: Vec<String>,
    /// `--rm`.
    pub auto_remove: bool,
    /// `--restart`.
    pub restart_policy: super::record::RestartPolicy,
    /// `--log-opt KEY=VALUE` (json-file: `max-size`, `max-file`).
    pub log_opts: Vec<String>,
    /// An owning process: when it dies, the shim stops and removes the container.
    pub owner_pid: Option<i32>,
    /// `-v`, `--mount`, `--tmpfs`, parsed (see `volume::mountspec`).
    pub mounts: Vec<crate::volume::MountSpec>,
    /// `--volumes-from`.
    pub volumes_from: Vec<crate::volume::VolumesFrom>,
    /// `--memory`, `--cpus`, `--pids-limit`...: the cgroup limits.
    pub resources: crate::sandbox::cgroups::Resources,
    /// `--ulimit`: resource limits of the container's processes.
    pub ulimits: Vec<super::ulimit::Ulimit>,
    /// `--stop-signal`: what `stop` sends first (else the image's STOPSIGNAL, else
    /// SIGTERM).
    pub stop_signal: Option<String>,
    /// `--stop-timeout`: seconds `stop` waits before SIGKILL when not told (`-1`: no
    /// limit; unset: 10).
    pub stop_timeout: Option<i64>,
    /// `--shm-size` in bytes (unset or 0: Docker's 64 MiB).
    pub shm_size: Option<i64>,
    /// `--init`: run the process under a small PID 1 that forwards signals and reaps
    /// zombies.
    pub init: bool,
    /// `--pid`, `--ipc`, `--uts`, `--cgroupns` (empty: Docker's defaults).
    pub pid_mode: String,
    pub ipc_mode: String,
    pub uts_mode: String,
    pub cgroupns_mode: String,
    /// `--sysctl KEY=VALUE` (namespaced ones only).
    pub sysctls: Vec<String>,
    /// `--domainname`.
    pub domainname: Option<String>,
    /// `--group-add`: group names or gids.
    pub group_add: Vec<String>,
    /// `--oom-score-adj` (-1000 to 1000).
    pub oom_score_adj: Option<i64>,
    /// `--cgroup-parent`.
    pub cgroup_parent: Option<String>,
    /// `--device-cgroup-rule`: `TYPE MAJOR:MINOR ACCESS` (`c 42:* rmw`).
    pub device_cgroup_rules: Vec<String>,
    /// `--cidfile`: a file made before the container (one that exists is refused) that
    /// gets its id.
    pub cidfile: Option<std::path::PathBuf>,
    /// `--log-driver`: `json-file` (unset), `local` or `none`.
    pub log_driver: Option<String>,
    /// `--health-*`, `--no-healthcheck`: over the image's `HEALTHCHECK`, setting by
    /// setting (an empty test keeps the image's command).
    pub healthcheck: Option<super::Healthcheck>,
}

/// The final (entrypoint, cmd) as Docker computes them: `--entrypoint` replaces the
/// image's entrypoint and drops its CMD; arguments replace CMD.
pub fn entrypoint_and_cmd(
    image_entrypoint: &[String],
    image_cmd: &[String],
    entrypoint_flag: Option<&str>,
    args: &[String],
) -> (Vec<String>, Vec<String>) {
    let entrypoint = match entrypoint_flag {
        Some("") => Vec::new(),
        Some(e) => vec![e.to_string()],
        None => image_entrypoint.to_vec(),
    };
    let cmd = if !args.is_empty() {
        args.to_vec()
    } else if entrypoint_flag.is_some() {
        Vec::new()
    } else {
        image_cmd.to_vec()
    };
    (entrypoint, cmd)
}

fn key(kv: &str) -> &str {
    kv.split_once('=').map(|(k, _)| k).unwrap_or(kv)
}

/// `base` with each of `overrides` replacing the entry of the same key, or appended.
pub fn merge_env(base: &[String], overrides: &[String]) -> Vec<String> {
    let mut out = base.to_vec();
    for o in overrides {
        match out.iter_mut().find(|e| key(e) == key(o)) {
            Some(slot) => *slot = o.clone(),
            None => out.push(o.clone()),
        }
    }
    out
}

/// Docker's default PATH.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The process's environment: PATH, HOSTNAME, TERM (with a tty), then the container's
/// env overriding them, as Docker builds it. A variable without a value (`KEY`, as the
/// API gets `docker run -e KEY` when the client's KEY is unset) unsets KEY.
pub fn process_env(
    hostname: &str,
    tty: bool,
    link_env: &[String],
    config_env: &[String],
) -> Vec<String> {
    let mut base = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    if tty {
        base.push("TERM=xterm".into());
    }
    // As Docker: the links' variables, then the config's, which win.
    merge_env(&merge_env(&base, link_env), config_env)
        .into_iter()
        .filter(|e| e.contains('='))
        .collect()
}

/// One `-e` value: `KEY=VALUE` as it is; `KEY` alone takes the value from `lookup` (tug's
/// environment), or is dropped when unset.
pub fn resolve_env_arg(arg: &str, lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    if arg.contains('=') {
        return Some(arg.to_string());
    }
    lookup(arg).map(|v| format!("{arg}={v}"))
}

/// Parses an `--env-file`: one `KEY=VALUE` or `KEY` per line, `#` comments and blank
/// lines skipped. `file` names the file in errors.
pub fn parse_env_file(
    file: &str,
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let k = key(line);
        if k.is_empty() || k.contains(char::is_whitespace) {
            return Err(Error::Invalid(format!(
                "{file}:{}: variable {k:?} contains whitespace or is empty",
                n + 1
            )));
        }
        if let Some(v) = resolve_env_arg(line, &lookup) {
            out.push(v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn args_replace_cmd_and_keep_entrypoint() {
        let (e, c) = entrypoint_and_cmd(&v(&["/ep"]), &v(&["sh"]), None, &v(&["ls", "-l"]));
        assert_eq!((e, c), (v(&["/ep"]), v(&["ls", "-l"])));
        let (e, c) = entrypoint_and_cmd(&v(&["/ep"]), &v(&["sh"]), None, &[]);
        assert_eq!((e, c), (v(&["/ep"]), v(&["sh"])));
    }

    #[test]
    fn entrypoint_flag_clears_cmd_unless_args_given() {
        let (e, c) = entrypoint_and_cmd(&v(&["/ep"]), &v(&["sh"]), Some("echo"), &[]);
        assert_eq!((e, c), (v(&["echo"]), v(&[])));
        let (e, c) = entrypoint_and_cmd(&[], &v(&["sh"]), Some("echo"), &v(&["hi"]));
        assert_eq!((e, c), (v(&["echo"]), v(&["hi"])));
        let (e, c) = entrypoint_and_cmd(&v(&["/ep"]), &v(&["sh"]), Some(""), &v(&["id"]));
        assert_eq!((e, c), (v(&[]), v(&["id"])));
    }

    #[test]
    fn env_overrides_by_key_in_place() {
        let env = merge_env(&v(&["PATH=/bin", "A=1"]), &v(&["A=2", "B=3"]));
        assert_eq!(env, v(&["PATH=/bin", "A=2", "B=3"]));
        let env = process_env("box", true, &[], &v(&["PATH=/x", "HOME=/h"]));
        assert_eq!(
            env,
            v(&["PATH=/x", "HOSTNAME=box", "TERM=xterm", "HOME=/h"])
        );
        // A bare key unsets: it is never passed on as it is.
        let env = process_env("box", false, &[], &v(&["HOSTNAME", "UNSET", "A=1"]));
        assert_eq!(
            env,
            v(&[
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "A=1"
            ])
        );
    }

    #[test]
    fn bare_keys_take_tugs_env_or_vanish() {
        let lookup = |k: &str| (k == "SET").then(|| "yes".to_string());
        assert_eq!(resolve_env_arg("SET", lookup).as_deref(), Some("SET=yes"));
        assert_eq!(resolve_env_arg("UNSET", lookup), None);
        assert_eq!(resolve_env_arg("A=", lookup).as_deref(), Some("A="));
    }

    #[test]
    fn env_files_skip_comments_and_reject_bad_keys() {
        let lookup = |k: &str| (k == "SET").then(|| "yes".to_string());
        let env = parse_env_file("f", "# c\n\nA=1\n  B=two words\nSET\nUNSET\n", lookup).unwrap();
        assert_eq!(env, v(&["A=1", "B=two words", "SET=yes"]));
        let err = parse_env_file("f", "A=1\nBAD KEY=1\n", lookup).unwrap_err();
        assert!(err.to_string().contains("f:2"), "{err}");
    }
}
