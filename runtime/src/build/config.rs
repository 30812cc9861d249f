//! What the config-changing instructions (ENV, LABEL, EXPOSE, WORKDIR, USER, VOLUME,
//! STOPSIGNAL, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD) do to an image's `config`
//! object (Docker's field names: `Env`, `Cmd`, `ExposedPorts`...), with variables
//! substituted where Docker substitutes them; and the ARG/ENV scope of a stage.
//! `tug build` and `tug import/commit --change` share it.

use serde_json::{Map, Value, json};

use super::dockerfile::{Command, Healthcheck, Instruction, KeyValue, expand};

/// Build args Docker lets every Dockerfile use without declaring them, and keeps out of
/// the image's history.
pub const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The variables a stage's instructions see: the image's ENV (which wins) and the ARGs
/// declared so far, with their values from `--build-arg` or their defaults.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Declared ARGs in order, with their values (None: declared without a value).
    pub args: Vec<(String, Option<String>)>,
    /// `--build-arg` values given by the user.
    pub build_args: Vec<(String, String)>,
    /// The stage's ENV, as `K=V` strings in the image config.
    pub env: Vec<String>,
    pub escape: char,
    /// Whether this stage set CMD (an ENTRYPOINT then keeps it; else it resets the
    /// base image's CMD, as Docker does).
    pub cmd_set: bool,
}

impl Scope {
    /// A variable's value: ENV first, then a declared ARG, then a proxy build arg.
    pub fn get(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        if let Some(v) = self.env.iter().rev().find_map(|e| e.strip_prefix(&prefix)) {
            return Some(v.to_string());
        }
        if let Some((_, v)) = self.args.iter().rev().find(|(k, _)| k == name) {
            return v.clone();
        }
        if PROXY_ARGS.contains(&name) {
            return self.build_arg(name);
        }
        None
    }

    fn build_arg(&self, name: &str) -> Option<String> {
        self.build_args
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// `word` expanded in this scope.
    pub fn expand(&self, word: &str) -> Result<String, String> {
        expand(word, self.escape, &|n| self.get(n)).map_err(|e| e.to_string())
    }

    /// `ARG name[=default]`: the value is the build arg if given, else the default
    /// (expanded), else `inherited` (a meta arg's value for an ARG without default).
    pub fn declare(&mut self, decl: &KeyValue, inherited: Option<String>) -> Result<(), String> {
        let value = match (self.build_arg(&decl.key), &decl.value) {
            (Some(v), _) => Some(v),
            (None, Some(d)) => Some(self.expand(d)?),
            (None, None) => inherited,
        };
        self.args.push((decl.key.clone(), value));
        Ok(())
    }

    /// The ARGs with values that a RUN sees as environment variables (`K=V`), in the
    /// order declared, the ones ENV sets left out.
    pub fn run_args(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (k, v) in &self.args {
            let Some(v) = v else { continue };
            let shadowed = self.env.iter().any(|e| e.starts_with(&format!("{k}=")));
            if !shadowed {
                out.retain(|e| !e.starts_with(&format!("{k}=")));
                out.push(format!("{k}={v}"));
            }
        }
        out
    }
}

/// Applies a config instruction to `config` in `scope`. Returns false for instructions
/// that are not config changes (FROM, RUN, COPY, ADD, ARG, MAINTAINER): the builder runs
/// those itself.
pub fn apply(
    config: &mut Map<String, Value>,
    instruction: &Instruction,
    scope: &mut Scope,
    original: &str,
) -> Result<bool, String> {
    match instruction {
        Instruction::Env(pairs) => {
            // Every pair is expanded with the values from before the line, as Docker
            // does: `ENV abc=bye def=$abc` sets def to the old abc.
            let mut expanded = Vec::new();
            for kv in pairs {
                let key = scope.expand(&kv.key)?;
                let value = scope.expand(kv.value.as_deref().unwrap_or(""))?;
                expanded.push((key, value));
            }
            for (key, value) in expanded {
                set_env(config, &key, &value);
                scope.env.retain(|e| !e.starts_with(&format!("{key}=")));
                scope.env.push(format!("{key}={value}"));
            }
        }
        Instruction::Label(pairs) => {
            for kv in pairs {
                let key = scope.expand(&kv.key)?;
                let value = scope.expand(kv.value.as_deref().unwrap_or(""))?;
                object(config, "Labels").insert(key, Value::String(value));
            }
        }
        Instruction::Expose(ports) => {
            for p in ports {
                for key in port_keys(&scope.expand(p)?)? {
                    object(config, "ExposedPorts").insert(key, json!({}));
                }
            }
        }
        Instruction::Workdir(dir) => {
            let dir = scope.expand(dir)?;
            let base = config
                .get("WorkingDir")
                .and_then(Value::as_str)
                .unwrap_or("/")
                .to_string();
            config.insert("WorkingDir".into(), Value::String(join_dir(&base, &dir)));
        }
        Instruction::User(user) => {
            config.insert("User".into(), Value::String(scope.expand(user)?));
        }
        Instruction::Volume(paths) => {
            for p in paths {
                let p = scope.expand(p)?;
                if p.trim().is_empty() {
                    return Err("VOLUME specified can not be an empty string".into());
                }
                object(config, "Volumes").insert(p, json!({}));
            }
        }
        Instruction::Stopsignal(sig) => {
            let sig = scope.expand(sig)?;
            if !valid_signal(&sig) {
                return Err(format!("STOPSIGNAL {sig}: not a signal name or number"));
            }
            config.insert("StopSignal".into(), Value::String(sig));
        }
        Instruction::Cmd(c) => {
            let argv = command_argv(config, c);
            config.insert("Cmd".into(), json!(argv));
            scope.cmd_set = true;
        }
        Instruction::Entrypoint(c) => {
            let argv = command_argv(config, c);
            config.insert("Entrypoint".into(), json!(argv));
            // As Docker: an ENTRYPOINT resets a CMD inherited from the base image.
            if !scope.cmd_set {
                config.insert("Cmd".into(), Value::Null);
            }
        }
        Instruction::Shell(argv) => {
            config.insert("Shell".into(), json!(argv));
        }
        Instruction::Healthcheck(h) => {
            config.insert("Healthcheck".into(), healthcheck(h));
        }
        Instruction::Onbuild(_) => {
            let trigger = original
                .trim_start()
                .get("ONBUILD".len()..)
                .unwrap_or("")
                .trim()
                .to_string();
            let slot = config.entry("OnBuild").or_insert_with(|| json!([]));
            if !slot.is_array() {
                *slot = json!([]);
            }
            if let Some(list) = slot.as_array_mut() {
                list.push(Value::String(trigger));
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The argv of a command: the exec form as is, the shell form through the stage's SHELL
/// (`/bin/sh -c` by default).
pub fn command_argv(config: &Map<String, Value>, c: &Command) -> Vec<String> {
    match c {
        Command::Exec(v) => v.clone(),
        Command::Shell(s) => {
            let mut argv = shell(config);
            argv.push(s.clone());
            argv
        }
    }
}

/// The stage's SHELL, `["/bin/sh", "-c"]` unless set.
pub fn shell(config: &Map<String, Value>) -> Vec<String> {
    config
        .get("Shell")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect::<Vec<_>>()
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
}

fn healthcheck(h: &Healthcheck) -> Value {
    let Healthcheck::Check {
        command,
        interval,
        timeout,
        start_period,
        start_interval,
        retries,
    } = h
    else {
        return json!({ "Test": ["NONE"] });
    };
    let test: Vec<String> = match command {
        Command::Exec(v) => std::iter::once("CMD".to_string())
            .chain(v.clone())
            .collect(),
        Command::Shell(s) => vec!["CMD-SHELL".into(), s.clone()],
    };
    let mut m = Map::new();
    m.insert("Test".into(), json!(test));
    let nanos = |d: &Option<String>| {
        d.as_deref()
            .and_then(super::dockerfile::go_duration_nanos)
            .map(|n| json!(n as u64))
    };
    for (key, d) in [
        ("Interval", interval),
        ("Timeout", timeout),
        ("StartPeriod", start_period),
        ("StartInterval", start_interval),
    ] {
        if let Some(v) = nanos(d) {
            m.insert(key.into(), v);
        }
    }
    if let Some(r) = retries {
        m.insert("Retries".into(), json!(r));
    }
    Value::Object(m)
}

/// `object[key]`, made an object if it is missing or something else.
fn object<'m>(config: &'m mut Map<String, Value>, key: &str) -> &'m mut Map<String, Value> {
    let slot = config.entry(key.to_string()).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    match slot {
        Value::Object(m) => m,
        // Made an object just above.
        _ => unreachable!("an object"),
    }
}

/// Sets `key=value` in the config's `Env`, replacing an earlier value of `key`.
pub fn set_env(config: &mut Map<String, Value>, key: &str, value: &str) {
    let slot = config.entry("Env".to_string()).or_insert_with(|| json!([]));
    if !slot.is_array() {
        *slot = json!([]);
    }
    if let Value::Array(env) = slot {
        let prefix = format!("{key}=");
        env.retain(|e| !e.as_str().is_some_and(|s| s.starts_with(&prefix)));
        env.push(Value::String(format!("{key}={value}")));
    }
}

/// `dir` made absolute against `base` and cleaned (`..` never above `/`).
pub fn join_dir(base: &str, dir: &str) -> String {
    let full = if dir.starts_with('/') {
        dir.to_string()
    } else {
        format!("{base}/{dir}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in full.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// `80`, `80/tcp`, `53/udp`, `8000-8002/tcp` → Docker's `port/proto` keys, one per port.
pub fn port_keys(p: &str) -> Result<Vec<String>, String> {
    let (num, proto) = match p.split_once('/') {
        Some((n, pr)) => (n, pr.to_ascii_lowercase()),
        None => (p, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!(
            "invalid protocol {proto:?} in port {p:?}: use tcp, udp or sctp"
        ));
    }
    let parse = |s: &str| s.parse::<u16>().ok().filter(|n| *n > 0);
    let bad = || format!("invalid port {p:?}: a port is 1 to 65535");
    let (first, last) = match num.split_once('-') {
        Some((a, b)) => (parse(a).ok_or_else(bad)?, parse(b).ok_or_else(bad)?),
        None => {
            let n = parse(num).ok_or_else(bad)?;
            (n, n)
        }
    };
    if last < first {
        return Err(format!(
            "invalid port range {p:?}: the end is before the start"
        ));
    }
    Ok((first..=last).map(|n| format!("{n}/{proto}")).collect())
}

/// A signal as Docker takes it: `SIGTERM`, `TERM`, `15`, `SIGRTMIN+3`.
fn valid_signal(s: &str) -> bool {
    if let Ok(n) = s.parse::<u32>() {
        return (1..=64).contains(&n);
    }
    let name = s.strip_prefix("SIG").unwrap_or(s).to_ascii_uppercase();
    if let Some(rt) = name
        .strip_prefix("RTMIN")
        .or_else(|| name.strip_prefix("RTMAX"))
    {
        return rt.is_empty()
            || rt
                .strip_prefix(['+', '-'])
                .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n <= 30));
    }
    const NAMES: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV",
        "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
        "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR",
    ];
    NAMES.contains(&name.as_str()) || name == "SYS" || name == "POLL"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::dockerfile::parse;

    /// The config after the steps of the Dockerfile's last stage, from an empty one, with
    /// `build_args`.
    fn build_config(src: &str, build_args: &[(&str, &str)]) -> Result<Value, String> {
        let df = parse(src, "Dockerfile").map_err(|e| e.to_string())?;
        let mut config = Map::new();
        let mut scope = Scope {
            escape: df.directives.escape,
            build_args: build_args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Scope::default()
        };
        for step in &df.stages.last().expect("a stage").steps {
            match &step.instruction {
                Instruction::Arg(decls) => {
                    for d in decls {
                        scope.declare(d, None)?;
                    }
                }
                i => {
                    apply(&mut config, i, &mut scope, &step.original)?;
                }
            }
        }
        Ok(Value::Object(config))
    }

    #[test]
    fn config_instructions_write_dockers_fields() {
        let c = build_config(
            "FROM a\nARG V=1\nARG NAME\nENV APP=/srv/app PATH=/bin V_SEEN=$V\n\
             ENV OLD some words\nLABEL version=\"$V\" who='$NAME' a\\ b=c\n\
             WORKDIR $APP\nWORKDIR sub/../data\nUSER ${NAME:-nobody}:1000\n\
             EXPOSE 80 53/udp 8000-8002/TCP\nVOLUME [\"/data\", \"$APP/cache\"]\n\
             STOPSIGNAL SIGRTMIN+3\nSHELL [\"/bin/bash\", \"-c\"]\n\
             HEALTHCHECK --interval=30s --retries=2 CMD curl -f localhost\n\
             ONBUILD RUN echo child\nCMD echo $APP\nENTRYPOINT [\"/init\"]\n",
            &[("NAME", "app"), ("UNUSED", "x")],
        )
        .unwrap();
        insta::assert_json_snapshot!(c);
    }

    #[test]
    fn one_env_line_sees_the_values_from_before_it() {
        let c = build_config(
            "FROM a\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n",
            &[],
        )
        .unwrap();
        assert_eq!(c["Env"], json!(["abc=bye", "def=hello", "ghi=bye"]));
    }

    #[test]
    fn entrypoint_resets_an_inherited_cmd_only() {
        let c = build_config("FROM a\nENTRYPOINT [\"e\"]\n", &[]).unwrap();
        assert_eq!(c["Cmd"], Value::Null);
        let c = build_config("FROM a\nCMD [\"c\"]\nENTRYPOINT [\"e\"]\n", &[]).unwrap();
        assert_eq!(c["Cmd"], json!(["c"]));
    }

    #[test]
    fn env_wins_over_arg_and_args_reach_run() {
        let df = parse("FROM a\nARG X=arg\nARG Y=y\nENV X=env\n", "D").unwrap();
        let mut scope = Scope {
            escape: '\\',
            build_args: vec![
                ("Y".into(), "given".into()),
                ("HTTP_PROXY".into(), "p".into()),
            ],
            ..Scope::default()
        };
        let mut config = Map::new();
        for step in &df.stages[0].steps {
            match &step.instruction {
                Instruction::Arg(d) => scope.declare(&d[0], None).unwrap(),
                i => {
                    apply(&mut config, i, &mut scope, &step.original).unwrap();
                }
            }
        }
        assert_eq!(
            scope.expand("$X $Y $HTTP_PROXY $Z").unwrap(),
            "env given p "
        );
        assert_eq!(scope.run_args(), ["Y=given"]);
    }

    #[test]
    fn bad_values_are_refused() {
        for (src, want) in [
            ("FROM a\nEXPOSE 0\n", "invalid port"),
            ("FROM a\nEXPOSE 80/icmp\n", "invalid protocol"),
            ("FROM a\nEXPOSE 90-80\n", "the end is before the start"),
            ("FROM a\nSTOPSIGNAL SIGNOPE\n", "not a signal"),
            ("FROM a\nENV A=\"${B:?must be set}\"\n", "B: must be set"),
            ("FROM a\nVOLUME $EMPTY\n", "can not be an empty string"),
        ] {
            let e = build_config(src, &[]).unwrap_err();
            assert!(e.contains(want), "{src:?}: {e}");
        }
        assert!(valid_signal("9") && valid_signal("TERM") && valid_signal("SIGRTMAX-2"));
        assert!(!valid_signal("SIGRTMIN+99") && !valid_signal("0") && !valid_signal("RTMIN\u{e9}"));
    }
}
