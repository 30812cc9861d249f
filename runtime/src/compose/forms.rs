//! The short and long syntaxes of a service's values: commands (a string split as a
//! shell would, or a list), `ports` and `volumes`.

use std::path::Path;

use super::Error;
use super::model::*;
use super::node::Node;
use super::parse::Context;

/// A command: a list as it is, a string split as a shell would (no expansion).
pub(super) fn command(v: &Node) -> Result<Option<Vec<String>>, Error> {
    if v.is_null() {
        return Ok(None);
    }
    if v.is_seq() {
        return v.list().map(Some);
    }
    let s = v.str()?;
    split_shell(&s)
        .map(Some)
        .ok_or_else(|| v.err(format!("unbalanced quotes in {s:?}")))
}

/// Splits `s` into words as `sh` would, with quotes and backslashes, without expansion.
pub fn split_shell(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        x => cur.push(x),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            x @ ('"' | '\\' | '$' | '`') => cur.push(x),
                            x => {
                                cur.push('\\');
                                cur.push(x);
                            }
                        },
                        x => cur.push(x),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next()?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

fn port_num(v: &Node, s: &str) -> Result<u16, Error> {
    s.parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| v.err(format!("invalid port {s:?}")))
}

fn range(v: &Node, s: &str) -> Result<(u16, u16), Error> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (port_num(v, a)?, port_num(v, b)?);
            if b < a {
                return Err(v.err(format!("invalid port range {s:?}")));
            }
            Ok((a, b))
        }
        None => {
            let p = port_num(v, s)?;
            Ok((p, p))
        }
    }
}

/// One `ports` entry: the short syntax `[ip:][published[-end]:]target[-end][/proto]` (a
/// range gives one port per container port) or the long syntax.
pub(super) fn port(v: &Node) -> Result<Vec<Port>, Error> {
    if v.is_map() {
        let mut p = Port {
            protocol: "tcp".into(),
            mode: "ingress".into(),
            ..Default::default()
        };
        let mut target = None;
        for (k, n) in v.fields(&[
            "target",
            "published",
            "host_ip",
            "protocol",
            "mode",
            "name",
            "app_protocol",
        ])? {
            match k.as_str() {
                "target" => target = Some(port_num(&n, &n.str()?)?),
                "published" => {
                    let s = n.str()?;
                    range(&n, &s)?;
                    p.published = Some(s);
                }
                "host_ip" => p.host_ip = n.opt_str()?,
                "protocol" => p.protocol = n.str()?,
                "mode" => p.mode = n.str()?,
                _ => {}
            }
        }
        p.target = target.ok_or_else(|| v.err("target is required"))?;
        return Ok(vec![p]);
    }
    let s = v.str()?;
    let (spec, proto) = match s.rsplit_once('/') {
        Some((a, p)) if matches!(p, "tcp" | "udp" | "sctp") => (a, p),
        Some(_) => return Err(v.err(format!("invalid protocol in {s:?}"))),
        None => (s.as_str(), "tcp"),
    };
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let (target, published, ip) = match parts.as_slice() {
        [t] => (*t, None, None),
        [t, p] => (*t, Some(*p), None),
        [t, p, ip] => (*t, Some(*p).filter(|p| !p.is_empty()), Some(*ip)),
        _ => return Err(v.err(format!("invalid port {s:?}"))),
    };
    let (t0, t1) = range(v, target)?;
    let pub_range = published.map(|p| range(v, p)).transpose()?;
    let ip = ip.map(|i| i.trim_matches(|c| c == '[' || c == ']').to_string());
    let mut out = Vec::new();
    for (i, t) in (t0..=t1).enumerate() {
        let published = match pub_range {
            None => None,
            Some((a, b)) if t0 == t1 => Some(if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }),
            Some((a, b)) if b - a == t1 - t0 => Some((a + i as u16).to_string()),
            Some(_) => return Err(v.err(format!("port ranges of {s:?} differ in length"))),
        };
        out.push(Port {
            target: t,
            published,
            host_ip: ip.clone(),
            protocol: proto.into(),
            mode: "ingress".into(),
        });
    }
    // compose-go orders a range's ports by their text (`10/tcp` before `9/tcp`).
    out.sort_by_key(|p| p.target.to_string());
    Ok(out)
}

/// One `volumes` entry: short `[source:]target[:mode]` or the long syntax.
pub(super) fn mount(v: &Node, cx: &Context) -> Result<Mount, Error> {
    let bind_source = |s: &str| {
        let p = if let Some(rest) = s.strip_prefix("~/") {
            Path::new(&(cx.lookup)("HOME").unwrap_or_default()).join(rest)
        } else {
            cx.working_dir.join(s)
        };
        super::load::clean(&p).display().to_string()
    };
    let is_path = |s: &str| s.starts_with('.') || s.starts_with('/') || s.starts_with('~');
    if v.is_map() {
        let mut m = Mount {
            kind: MountType::Volume,
            source: None,
            target: String::new(),
            read_only: false,
            create_host_path: false,
            options_block: false,
            tmpfs_size: None,
        };
        let fields = v.fields(&[
            "type",
            "source",
            "target",
            "read_only",
            "bind",
            "volume",
            "tmpfs",
            "consistency",
        ])?;
        for (k, n) in &fields {
            match k.as_str() {
                "type" => {
                    m.kind = match n.str()?.as_str() {
                        "bind" => MountType::Bind,
                        "volume" => MountType::Volume,
                        "tmpfs" => MountType::Tmpfs,
                        t => return Err(n.err(format!("unsupported mount type {t:?}"))),
                    }
                }
                "target" => m.target = n.str()?,
                "read_only" => m.read_only = n.bool()?,
                "bind" => {
                    // A `bind:` block creates a missing host path unless it says not to.
                    m.options_block = true;
                    m.create_host_path = true;
                    for (bk, bn) in n.fields(&["propagation", "create_host_path", "selinux"])? {
                        if bk == "create_host_path" {
                            m.create_host_path = bn.bool()?;
                        }
                    }
                }
                "volume" => {
                    m.options_block = true;
                    n.fields(&["nocopy", "subpath"])?;
                }
                "tmpfs" => {
                    for (tk, tn) in n.fields(&["size", "mode"])? {
                        if tk == "size" {
                            m.tmpfs_size = Some(tn.bytes()?);
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some((_, n)) = fields.iter().find(|(k, _)| k == "source") {
            let s = n.str()?;
            m.source = Some(if m.kind == MountType::Bind {
                bind_source(&s)
            } else {
                s
            });
        }
        if m.target.is_empty() {
            return Err(v.err("target is required"));
        }
        m.target = clean_target(&m.target);
        if m.kind == MountType::Bind && m.source.is_none() {
            return Err(v.err("a bind mount needs a source"));
        }
        return Ok(m);
    }
    let s = v.str()?;
    let parts: Vec<&str> = s.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => (None, *t, None),
        [a, b] if !b.starts_with('/') && a.starts_with('/') && parts.len() == 2 => {
            // `/target:ro`
            (None, *a, Some(*b))
        }
        [src, t] => (Some(*src), *t, None),
        [src, t, mode] => (Some(*src), *t, Some(*mode)),
        _ => return Err(v.err(format!("invalid volume {s:?}"))),
    };
    if !target.starts_with('/') {
        return Err(v.err(format!(
            "invalid volume {s:?}: the target must be an absolute path"
        )));
    }
    let read_only = mode.is_some_and(|m| m.split(',').any(|x| x == "ro"));
    let (kind, source, create) = match source {
        None => (MountType::Volume, None, false),
        Some(src) if is_path(src) => (MountType::Bind, Some(bind_source(src)), true),
        Some(src) => (MountType::Volume, Some(src.to_string()), false),
    };
    Ok(Mount {
        kind,
        source,
        target: clean_target(target),
        read_only,
        create_host_path: create,
        options_block: true,
        tmpfs_size: None,
    })
}

/// A mount's target without `.`, `..` and trailing `/` steps, as compose-go cleans it.
fn clean_target(t: &str) -> String {
    super::load::clean(Path::new(t)).display().to_string()
}
