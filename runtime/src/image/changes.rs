//! `--change` instructions of `tug import` (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER,
//! VOLUME, WORKDIR), applied to the `config` object of an image config, whose field
//! names are Docker's (`Cmd`, `Env`, `ExposedPorts`...).

use serde_json::{Map, Value, json};

use super::Error;

/// Applies one Dockerfile instruction to `config`. The error names the change.
pub fn apply(config: &mut Map<String, Value>, change: &str) -> Result<(), Error> {
    let bad = |why: String| Error::Change(change.to_string(), why);
    let trimmed = change.trim();
    let (word, rest) = match trimmed.split_once(char::is_whitespace) {
        Some((w, r)) => (w, r.trim()),
        None => (trimmed, ""),
    };
    let instr = word.to_ascii_uppercase();
    if rest.is_empty() {
        return Err(bad(format!("{instr} needs an argument")));
    }
    match instr.as_str() {
        "CMD" => {
            config.insert("Cmd".into(), json!(command(rest).map_err(bad)?));
        }
        "ENTRYPOINT" => {
            config.insert("Entrypoint".into(), json!(command(rest).map_err(bad)?));
        }
        "ENV" => {
            for (k, v) in pairs(rest, true).map_err(bad)? {
                set_env(config, &k, &v);
            }
        }
        "LABEL" => {
            let labels = object(config, "Labels");
            for (k, v) in pairs(rest, false).map_err(bad)? {
                labels.insert(k, Value::String(v));
            }
        }
        "WORKDIR" => {
            let dir = words(rest).map_err(bad)?.join(" ");
            let dir = if dir.starts_with('/') {
                dir
            } else {
                let base = config
                    .get("WorkingDir")
                    .and_then(Value::as_str)
                    .unwrap_or("/");
                format!("{}/{dir}", base.trim_end_matches('/'))
            };
            config.insert("WorkingDir".into(), Value::String(dir));
        }
        "USER" => {
            config.insert("User".into(), Value::String(rest.to_string()));
        }
        "EXPOSE" => {
            let mut ports = Vec::new();
            for p in words(rest).map_err(bad)? {
                ports.push(port(&p).map_err(|e| bad(e.message))?);
            }
            let exposed = object(config, "ExposedPorts");
            for p in ports {
                exposed.insert(p, json!({}));
            }
        }
        "VOLUME" => {
            let list = if rest.starts_with('[') {
                json_array(rest).map_err(bad)?
            } else {
                words(rest).map_err(bad)?
            };
            let volumes = object(config, "Volumes");
            for v in list {
                if v.is_empty() {
                    return Err(bad("VOLUME needs a non-empty path".into()));
                }
                volumes.insert(v, json!({}));
            }
        }
        other => {
            return Err(bad(format!(
                "{other} is not an instruction import can apply: use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME or WORKDIR"
            )));
        }
    }
    Ok(())
}

/// The exec form (a JSON array of strings) or the shell form (`/bin/sh -c "..."`).
fn command(rest: &str) -> Result<Vec<String>, String> {
    if rest.starts_with('[') {
        json_array(rest)
    } else {
        Ok(vec!["/bin/sh".into(), "-c".into(), rest.to_string()])
    }
}

fn json_array(text: &str) -> Result<Vec<String>, String> {
    serde_json::from_str::<Vec<String>>(text)
        .map_err(|e| format!("not a JSON array of strings ({e}): {text}"))
}

fn object<'m>(config: &'m mut Map<String, Value>, key: &str) -> &'m mut Map<String, Value> {
    let slot = config.entry(key.to_string()).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    // Made an object just above.
    slot.as_object_mut().expect("an object")
}

fn set_env(config: &mut Map<String, Value>, key: &str, value: &str) {
    let slot = config.entry("Env".to_string()).or_insert_with(|| json!([]));
    if !slot.is_array() {
        *slot = json!([]);
    }
    // Made an array just above.
    let env = slot.as_array_mut().expect("an array");
    let prefix = format!("{key}=");
    env.retain(|e| !e.as_str().is_some_and(|s| s.starts_with(&prefix)));
    env.push(Value::String(format!("{key}={value}")));
}

/// `80`, `80/tcp`, `53/udp`, `8000-8002/tcp` → Docker's `port/proto` keys.
fn port(p: &str) -> Result<String, crate::InvalidValue> {
    let (num, proto) = match p.split_once('/') {
        Some((n, pr)) => (n, pr.to_ascii_lowercase()),
        None => (p, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(crate::InvalidValue::new(
            p,
            format!("invalid protocol {proto:?} in port {p:?}: use tcp, udp or sctp"),
        ));
    }
    let valid = |s: &str| s.parse::<u16>().is_ok_and(|n| n > 0);
    let ok = match num.split_once('-') {
        Some((a, b)) => valid(a) && valid(b),
        None => valid(num),
    };
    if !ok {
        return Err(crate::InvalidValue::new(
            p,
            format!("invalid port {p:?}: a port is 1 to 65535"),
        ));
    }
    Ok(format!("{num}/{proto}"))
}

/// `K=V K2="v 2"` pairs; with `legacy`, also the old `ENV K some value` form.
fn pairs(rest: &str, legacy: bool) -> Result<Vec<(String, String)>, String> {
    let w = words(rest)?;
    if legacy && !w[0].contains('=') {
        let (k, v) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        return Ok(vec![(k.to_string(), v.trim().to_string())]);
    }
    w.into_iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("{p:?} is not KEY=VALUE")),
        })
        .collect()
}

/// Splits on blanks, with shell-like quotes (`"..."` with backslash escapes, `'...'`)
/// and backslash escapes.
fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next().unwrap_or('\\'));
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unterminated ' quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => cur.push(chars.next().unwrap_or('\\')),
                        Some(c) => cur.push(c),
                        None => return Err("unterminated \" quote".into()),
                    }
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    if out.is_empty() {
        return Err("missing argument".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(changes: &[&str]) -> String {
        let mut c = Map::new();
        for ch in changes {
            if let Err(e) = apply(&mut c, ch) {
                return format!("error: {e}");
            }
        }
        serde_json::to_string(&c).unwrap()
    }

    #[test]
    fn changes_apply_like_docker() {
        let cases: Vec<Vec<&str>> = vec![
            vec![r#"CMD ["sh"]"#],
            vec!["CMD echo hi there"],
            vec![r#"ENTRYPOINT ["/bin/app", "-v"]"#, "cmd --x"],
            vec!["ENV A=1 B=\"two words\" C=it\\'s", "ENV A 3 4"],
            vec!["WORKDIR /srv", "WORKDIR app"],
            vec!["USER 1000:1000"],
            vec!["EXPOSE 80 53/udp 8000-8002/tcp"],
            vec!["LABEL a=b \"c d\"=e"],
            vec![r#"VOLUME ["/data", "/logs"]"#, "VOLUME /x /y"],
            vec!["RUN echo"],
            vec!["CMD"],
            vec!["CMD [\"sh\""],
            vec!["EXPOSE 70000"],
            vec!["EXPOSE 80/icmp"],
            vec!["ENV =x"],
            vec!["LABEL a=\"b"],
        ];
        let text: Vec<String> = cases
            .iter()
            .map(|c| format!("{c:?}\n  => {}", run(c)))
            .collect();
        insta::assert_snapshot!(text.join("\n"));
    }

    proptest::proptest! {
        #[test]
        fn any_change_applies_or_fails_without_panic(
            word in "(CMD|ENTRYPOINT|ENV|LABEL|WORKDIR|USER|EXPOSE|VOLUME|cmd|RUN)",
            rest in "\\PC{0,40}",
        ) {
            let mut c = Map::new();
            let _ = apply(&mut c, &format!("{word} {rest}"));
        }

        #[test]
        fn times_parse_without_panic(s in "\\PC{0,40}") {
            let _ = super::super::view::parse_time(&s);
        }
    }
}
