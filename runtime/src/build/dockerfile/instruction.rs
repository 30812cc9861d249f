//! The second pass: one logical line becomes one typed [`Instruction`], with Docker's
//! argument rules and error texts (BuildKit's `instructions` package is the reference).

use super::lines::Logical;
use super::words::{Form, extract_flags, maybe_json, parse_words};
use super::{Command, Copy, Error, Healthcheck, Heredoc, Instruction, KeyValue, Run, Step};

/// Parses one logical line.
pub fn parse(l: &Logical, esc: char) -> Result<Step, Error> {
    let instruction =
        parse_text(&l.text, &l.heredocs, esc, false).map_err(|m| Error::at(l.pos, &l.text, m))?;
    Ok(Step {
        pos: l.pos,
        end_line: l.end_line,
        original: l.text.trim().to_string(),
        instruction,
    })
}

fn parse_text(
    text: &str,
    heredocs: &[Heredoc],
    esc: char,
    in_onbuild: bool,
) -> Result<Instruction, String> {
    let text = text.trim();
    let (keyword, rest) = match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim_start()),
        None => (text, ""),
    };
    let kw = keyword.to_ascii_uppercase();
    let (raw_flags, args) = extract_flags(rest);
    let mut flags = Flags::new(raw_flags);
    let heredocs = heredocs.to_vec();
    let instruction = match kw.as_str() {
        "FROM" => from(&mut flags, args)?,
        "RUN" => run(&mut flags, args, heredocs)?,
        "CMD" => Instruction::Cmd(command(args)?),
        "ENTRYPOINT" => Instruction::Entrypoint(command(args)?),
        "SHELL" => match maybe_json(args)? {
            Form::Json(v) if v.is_empty() => {
                return Err("SHELL requires at least one argument".into());
            }
            Form::Json(v) => Instruction::Shell(v),
            Form::Text(_) => return Err("SHELL requires the arguments to be in JSON form".into()),
        },
        "ENV" => Instruction::Env(name_values(args, "ENV", esc)?),
        "LABEL" => Instruction::Label(name_values(args, "LABEL", esc)?),
        "ARG" => arg(args, esc)?,
        "EXPOSE" => {
            let ports: Vec<String> = args.split_whitespace().map(String::from).collect();
            if ports.is_empty() {
                return Err("EXPOSE requires at least one argument".into());
            }
            Instruction::Expose(ports)
        }
        "WORKDIR" => Instruction::Workdir(one(args, "WORKDIR")?),
        "USER" => Instruction::User(one(args, "USER")?),
        "STOPSIGNAL" => Instruction::Stopsignal(one(args, "STOPSIGNAL")?),
        "MAINTAINER" => Instruction::Maintainer(one(args, "MAINTAINER")?),
        "VOLUME" => {
            let paths = list(args)?;
            if paths.is_empty() {
                return Err("VOLUME requires at least one argument".into());
            }
            if paths.iter().any(|p| p.trim().is_empty()) {
                return Err("VOLUME specified can not be an empty string".into());
            }
            Instruction::Volume(paths)
        }
        "COPY" => Instruction::Copy(copy(&mut flags, args, heredocs, "COPY")?),
        "ADD" => Instruction::Add(copy(&mut flags, args, heredocs, "ADD")?),
        "HEALTHCHECK" => healthcheck(&mut flags, args)?,
        "ONBUILD" => {
            if in_onbuild {
                return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into());
            }
            let inner_kw = rest
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            match inner_kw.as_str() {
                "" => return Err("ONBUILD requires at least one argument".into()),
                "ONBUILD" => {
                    return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into());
                }
                "FROM" | "MAINTAINER" => {
                    return Err(format!("{inner_kw} isn't allowed as an ONBUILD trigger"));
                }
                _ => {}
            }
            return Ok(Instruction::Onbuild(Box::new(parse_text(
                rest, &heredocs, esc, true,
            )?)));
        }
        _ => return Err(format!("unknown instruction: {keyword}")),
    };
    flags.finish()?;
    Ok(instruction)
}

/// `FROM [--platform=P] image [AS name]`.
fn from(flags: &mut Flags, args: &str) -> Result<Instruction, String> {
    let platform = flags.string("platform")?;
    let words: Vec<&str> = args.split_whitespace().collect();
    let name = match words.as_slice() {
        [_] => None,
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let lower = name.to_ascii_lowercase();
            let mut chars = lower.chars();
            let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars.all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !valid {
                return Err(format!(
                    "invalid name for build stage: {name:?}, name can't start with a number or contain symbols"
                ));
            }
            Some(lower)
        }
        _ => return Err("FROM requires either one or three arguments".into()),
    };
    Ok(Instruction::From {
        base: words[0].to_string(),
        name,
        platform,
    })
}

/// `RUN [--mount=...] [--network=...] [--security=...] command`.
fn run(flags: &mut Flags, args: &str, heredocs: Vec<Heredoc>) -> Result<Instruction, String> {
    let mounts = flags
        .list("mount")?
        .iter()
        .map(|m| mount(m))
        .collect::<Result<Vec<_>, _>>()?;
    let network = flags.string("network")?;
    if let Some(n) = &network
        && !matches!(n.as_str(), "default" | "none" | "host")
    {
        return Err(format!(
            "--network={n}: unsupported network mode, use default, none or host"
        ));
    }
    let security = flags.string("security")?;
    if let Some(s) = &security
        && !matches!(s.as_str(), "insecure" | "sandbox")
    {
        return Err(format!("--security={s}: use insecure or sandbox"));
    }
    let command = command(args)?;
    let empty = match &command {
        Command::Exec(v) => v.is_empty(),
        Command::Shell(s) => s.is_empty(),
    };
    if empty {
        return Err("RUN requires at least one argument".into());
    }
    Ok(Instruction::Run(Run {
        command,
        mounts,
        network,
        security,
        heredocs,
    }))
}

/// One `--mount` value: `type=cache,target=/root/.cache,sharing=locked` as key=value
/// pairs (a bare key such as `readonly` is `key=true`); the type is checked here, the
/// rest by the builder.
fn mount(spec: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (k, v) = field.split_once('=').unwrap_or((field, "true"));
        pairs.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    if let Some((_, t)) = pairs.iter().find(|(k, _)| k == "type")
        && !matches!(t.as_str(), "bind" | "cache" | "tmpfs" | "secret" | "ssh")
    {
        return Err(format!(
            "--mount={spec}: unknown mount type {t:?} (bind, cache, tmpfs, secret or ssh)"
        ));
    }
    Ok(pairs)
}

/// The exec form (a JSON array of strings) or the shell form.
fn command(args: &str) -> Result<Command, String> {
    Ok(match maybe_json(args)? {
        Form::Json(v) => Command::Exec(v),
        Form::Text(s) => Command::Shell(s),
    })
}

/// A JSON array, or white-space separated words (COPY, ADD, VOLUME).
fn list(args: &str) -> Result<Vec<String>, String> {
    Ok(match maybe_json(args)? {
        Form::Json(v) => v,
        Form::Text(s) => s.split_whitespace().map(String::from).collect(),
    })
}

/// The rest of the line as one argument (WORKDIR, USER, ...): white space inside it is
/// kept, as Docker does, so a trailing `# remark` is part of it.
fn one(args: &str, kw: &str) -> Result<String, String> {
    let a = args.trim();
    if a.is_empty() {
        return Err(format!("{kw} requires exactly one argument"));
    }
    Ok(a.to_string())
}

/// ENV and LABEL: `key=value ...`, or the old `key value` form.
fn name_values(args: &str, kw: &str, esc: char) -> Result<Vec<KeyValue>, String> {
    let words = parse_words(args, esc);
    let Some(first) = words.first() else {
        return Err(format!("{kw} requires at least one argument"));
    };
    if !first.contains('=') {
        let mut parts = args.trim().splitn(2, char::is_whitespace);
        let key = parts.next().unwrap_or_default();
        let value = parts.next().map(str::trim_start).unwrap_or_default();
        if value.is_empty() {
            return Err(format!("{kw} must have two arguments"));
        }
        return Ok(vec![KeyValue {
            key: key.to_string(),
            value: Some(value.to_string()),
        }]);
    }
    words
        .iter()
        .map(|w| {
            let Some((k, v)) = w.split_once('=') else {
                return Err(format!(
                    "Syntax error - can't find = in {w:?}. Must be of the form: name=value"
                ));
            };
            if k.is_empty() {
                return Err(format!("{kw} names can not be blank"));
            }
            Ok(KeyValue {
                key: k.to_string(),
                value: Some(v.to_string()),
            })
        })
        .collect()
}

/// `ARG name[=default] ...`.
fn arg(args: &str, esc: char) -> Result<Instruction, String> {
    let words = parse_words(args, esc);
    if words.is_empty() {
        return Err("ARG requires at least one argument".into());
    }
    let decls = words
        .into_iter()
        .map(|w| {
            let (key, value) = match w.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (w, None),
            };
            if key.is_empty() {
                return Err("ARG names can not be blank".to_string());
            }
            Ok(KeyValue { key, value })
        })
        .collect::<Result<_, String>>()?;
    Ok(Instruction::Arg(decls))
}

/// COPY and ADD with their flags.
fn copy(flags: &mut Flags, args: &str, heredocs: Vec<Heredoc>, kw: &str) -> Result<Copy, String> {
    let mut c = Copy {
        chown: flags.string("chown")?,
        chmod: flags.string("chmod")?,
        link: flags.bool("link")?,
        exclude: flags.list("exclude")?,
        heredocs,
        ..Copy::default()
    };
    if kw == "COPY" {
        c.from = flags.string("from")?;
        c.parents = flags.bool("parents")?;
    } else {
        c.checksum = flags.string("checksum")?;
        c.keep_git_dir = flags.bool("keep-git-dir")?;
        c.unpack = flags.optional_bool("unpack")?;
    }
    if let Some(mode) = &c.chmod
        && (mode.is_empty() || u32::from_str_radix(mode, 8).is_err())
        && !mode.contains(['+', '=', ','])
    {
        return Err(format!(
            "--chmod={mode}: not an octal mode or a symbolic one"
        ));
    }
    let mut words = list(args)?;
    if words.len() < 2 {
        return Err(format!(
            "{kw} requires at least two arguments, but only one was provided. Destination could not be determined"
        ));
    }
    c.dest = words.pop().unwrap_or_default();
    c.sources = words;
    Ok(c)
}

/// `HEALTHCHECK [flags] CMD command` or `HEALTHCHECK NONE`.
fn healthcheck(flags: &mut Flags, args: &str) -> Result<Instruction, String> {
    let args = args.trim();
    let (kind, rest) = match args.find(char::is_whitespace) {
        Some(i) => (&args[..i], args[i..].trim_start()),
        None => (args, ""),
    };
    match kind.to_ascii_uppercase().as_str() {
        "NONE" => {
            if !rest.is_empty() || !flags.is_empty() {
                return Err("HEALTHCHECK NONE takes no arguments".into());
            }
            Ok(Instruction::Healthcheck(Healthcheck::None))
        }
        "CMD" => {
            let mut durations = Vec::new();
            for name in ["interval", "timeout", "start-period", "start-interval"] {
                let d = flags.string(name)?;
                if let Some(v) = &d {
                    match go_duration_nanos(v) {
                        None => {
                            return Err(format!(
                                "--{name}={v}: not a duration (such as 30s or 1m30s)"
                            ));
                        }
                        Some(n) if n != 0 && n < 1_000_000 => {
                            return Err(format!("--{name}={v}: cannot be less than 1ms"));
                        }
                        _ => {}
                    }
                }
                durations.push(d);
            }
            let retries =
                match flags.string("retries")? {
                    None => None,
                    Some(r) => Some(r.parse::<u32>().map_err(|_| {
                        format!("--retries={r}: not a whole number of zero or more")
                    })?),
                };
            let command = command(rest)?;
            let empty = match &command {
                Command::Exec(v) => v.is_empty(),
                Command::Shell(s) => s.is_empty(),
            };
            if empty {
                return Err("Missing command after HEALTHCHECK CMD".into());
            }
            let [interval, timeout, start_period, start_interval] =
                <[Option<String>; 4]>::try_from(durations).unwrap_or_default();
            Ok(Instruction::Healthcheck(Healthcheck::Check {
                command,
                interval,
                timeout,
                start_period,
                start_interval,
                retries,
            }))
        }
        "" => Err("HEALTHCHECK requires CMD or NONE".into()),
        other => Err(format!("Unknown type {other:?} in HEALTHCHECK (try CMD)")),
    }
}

pub use crate::duration::go_duration_nanos;

/// The `--flags` of one instruction: each read once by name; what is left is unknown.
struct Flags {
    items: Vec<(String, Option<String>)>,
}

impl Flags {
    fn new(raw: Vec<String>) -> Flags {
        let items = raw
            .into_iter()
            .map(|w| {
                let w = w.trim_start_matches("--").to_string();
                match w.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (w, None),
                }
            })
            .collect();
        Flags { items }
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn take(&mut self, name: &str) -> Vec<Option<String>> {
        let mut out = Vec::new();
        self.items.retain(|(k, v)| {
            if k == name {
                out.push(v.clone());
                false
            } else {
                true
            }
        });
        out
    }

    /// A flag that takes a value, given at most once.
    fn string(&mut self, name: &str) -> Result<Option<String>, String> {
        let mut v = self.take(name);
        if v.len() > 1 {
            return Err(format!("Duplicate flag specified: --{name}"));
        }
        match v.pop() {
            None => Ok(None),
            Some(None) => Err(format!("Missing a value on flag: --{name}")),
            Some(Some(s)) => Ok(Some(s)),
        }
    }

    /// A flag that may be given many times, each with a value.
    fn list(&mut self, name: &str) -> Result<Vec<String>, String> {
        self.take(name)
            .into_iter()
            .map(|v| v.ok_or_else(|| format!("Missing a value on flag: --{name}")))
            .collect()
    }

    /// A boolean flag: `--link`, `--link=true`, `--link=false`.
    fn bool(&mut self, name: &str) -> Result<bool, String> {
        Ok(self.optional_bool(name)?.unwrap_or(false))
    }

    fn optional_bool(&mut self, name: &str) -> Result<Option<bool>, String> {
        let mut v = self.take(name);
        if v.len() > 1 {
            return Err(format!("Duplicate flag specified: --{name}"));
        }
        match v.pop() {
            None => Ok(None),
            Some(None) => Ok(Some(true)),
            Some(Some(s)) => match s.to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(format!(
                    "expecting boolean value for flag --{name}, not: {s}"
                )),
            },
        }
    }

    /// Fails on the first flag no one read.
    fn finish(self) -> Result<(), String> {
        match self.items.first() {
            Some((k, _)) => Err(format!("unknown flag: --{k}")),
            None => Ok(()),
        }
    }
}
