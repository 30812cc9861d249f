//! `tug images`: the table, `-q`, `--digests`, `--no-trunc`, `--format`, `--filter`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Value, json};

use super::super::format::{format_rows, human_size, table, time_ago};
use super::super::{CliError, CliResult};
use super::{ImagesArgs, err, out_err};
use tug::Engine;
use tug::image::{Image, Reference, parse_time};

/// One line of the listing: an image under one of its names (or `<none>`).
struct Row {
    /// The image's size uncompressed.
    size: u64,
    repository: String,
    tag: String,
    image: Image,
    created: Option<SystemTime>,
    created_text: String,
    /// The DIGEST column: the repo digest of the name, `<none>` for an untagged image.
    digest: String,
}

/// What `--filter` and the REPOSITORY argument keep (shared with the API's image list).
#[derive(Default)]
pub(crate) struct Filters {
    references: Vec<String>,
    dangling: Option<bool>,
    repository: Option<(Reference, bool)>,
    /// `label=KEY` or `label=KEY=VALUE`.
    labels: Vec<(String, Option<String>)>,
    /// `before=IMAGE` and `since=IMAGE`: created before or after that image.
    before: Option<String>,
    since: Option<String>,
    /// `until=TIME`: created at or before it.
    until: Option<SystemTime>,
    /// The creation times of `before`'s and `since`'s images ([`Filters::resolve`]).
    before_time: Option<SystemTime>,
    since_time: Option<SystemTime>,
}

impl Filters {
    /// Reads `--filter KEY=VALUE` values and the REPOSITORY[:TAG] argument.
    pub(crate) fn parse(specs: &[String], repository: Option<&str>) -> Result<Filters, CliError> {
        let mut f = Filters::default();
        for spec in specs {
            let (k, v) = crate::cli::filters::pair(spec)?;
            match k {
                "reference" => f.references.push(v.to_string()),
                "label" => f.labels.push(crate::cli::filters::label(v)),
                "before" => f.before = Some(v.to_string()),
                "since" => f.since = Some(v.to_string()),
                "until" => {
                    f.until = Some(
                        tug::container::parse_log_time(v, SystemTime::now()).map_err(|e| {
                            CliError::usage(format!("invalid filter 'until={v}': {e}"))
                        })?,
                    )
                }
                "dangling" => f.dangling = Some(crate::cli::filters::boolean(k, v)?),
                _ => {
                    return Err(CliError::usage(format!(
                        "invalid filter '{k}': images supports reference, dangling, label, before, since and until"
                    )));
                }
            }
        }
        if let Some(repo) = repository {
            // REPOSITORY[:TAG]: a tag only when given.
            let has_tag = repo
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains(':'));
            f.repository = Some((Reference::parse(repo).map_err(err)?, has_tag));
        }
        Ok(f)
    }

    /// Looks up the creation times of the images `before` and `since` name.
    pub(crate) fn resolve(&mut self, engine: &Engine) -> tug::Result<()> {
        let created_of = |name: &Option<String>| -> tug::Result<Option<SystemTime>> {
            let Some(name) = name else { return Ok(None) };
            Ok(created(&engine.image(name)?))
        };
        self.before_time = created_of(&self.before)?;
        self.since_time = created_of(&self.since)?;
        Ok(())
    }

    /// Whether the image passes the label and time filters (after [`Filters::resolve`]).
    pub(crate) fn keep_image(&self, image: &Image) -> bool {
        let labels = image.labels();
        let created = created(image);
        crate::cli::filters::labels_match(&self.labels, |k| labels.get(k).map(String::as_str))
            && self
                .before_time
                .is_none_or(|b| created.is_some_and(|c| c < b))
            && self
                .since_time
                .is_none_or(|s| created.is_some_and(|c| c > s))
            && self.until.is_none_or(|u| created.is_some_and(|c| c <= u))
    }

    /// Whether one of the image's names (`None`: it has none) passes the reference,
    /// dangling and repository filters.
    pub(crate) fn keep(&self, name: Option<&Reference>) -> bool {
        if let Some(d) = self.dangling
            && d != name.is_none()
        {
            return false;
        }
        if let Some((r, has_tag)) = &self.repository {
            let Some(n) = name else { return false };
            if n.full_name() != r.full_name() || (*has_tag && n.tag != r.tag) {
                return false;
            }
        }
        if !self.references.is_empty() {
            let Some(n) = name else { return false };
            let familiar = n.familiar_name();
            let with_tag = n.to_string();
            if !self
                .references
                .iter()
                .any(|p| glob_match(p, &familiar) || glob_match(p, &with_tag))
            {
                return false;
            }
        }
        true
    }
}

/// Go's `path.Match`: `*` and `?` do not cross `/`; `[...]` classes with ranges and `^`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    fn class(p: &[char], c: char) -> Option<(bool, usize)> {
        // Returns (matched, length of the class in p).
        let mut i = 1;
        let negate = matches!(p.get(1), Some('^') | Some('!'));
        if negate {
            i += 1;
        }
        let mut matched = false;
        let start = i;
        while i < p.len() && (p[i] != ']' || i == start) {
            if p.get(i + 1) == Some(&'-') && i + 2 < p.len() && p[i + 2] != ']' {
                if p[i] <= c && c <= p[i + 2] {
                    matched = true;
                }
                i += 3;
            } else {
                if p[i] == c {
                    matched = true;
                }
                i += 1;
            }
        }
        if i >= p.len() {
            return None;
        }
        Some((matched != negate, i + 1))
    }
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len())
                .take_while(|&k| k == 0 || t[k - 1] != '/')
                .any(|k| go(&p[1..], &t[k..])),
            Some('?') => t.first().is_some_and(|&c| c != '/') && go(&p[1..], &t[1..]),
            Some('[') => match (t.first(), class(p, *t.first().unwrap_or(&'\0'))) {
                (Some(&c), Some((true, n))) if c != '/' => go(&p[n..], &t[1..]),
                _ => false,
            },
            Some('\\') if p.len() > 1 => t.first() == Some(&p[1]) && go(&p[2..], &t[1..]),
            Some(&c) => t.first() == Some(&c) && go(&p[1..], &t[1..]),
        }
    }
    go(&p, &t)
}

/// An image's creation time.
fn created(image: &Image) -> Option<SystemTime> {
    parse_time(image.config.created().as_deref().unwrap_or_default())
}

/// `tug images`.
pub fn images(engine: &Engine, a: ImagesArgs) -> CliResult {
    let mut filters = Filters::parse(&a.filter, a.repository.as_deref())?;
    filters.resolve(engine)?;
    let mut rows = Vec::new();
    // A build's intermediate images are shown with `-a` only.
    let intermediate = if a.all {
        Vec::new()
    } else {
        engine.intermediate_images()?
    };
    for summary in engine.images()? {
        let image = summary.image;
        if image.names.is_empty() && intermediate.contains(&image.id) {
            continue;
        }
        let created_text = image.config.created().clone().unwrap_or_default();
        let created = parse_time(&created_text);
        if !filters.keep_image(&image) {
            continue;
        }
        let names: Vec<Option<Reference>> = if image.names.is_empty() {
            vec![None]
        } else {
            image.names.iter().cloned().map(Some).collect()
        };
        for n in names {
            if !filters.keep(n.as_ref()) {
                continue;
            }
            let digest = n
                .as_ref()
                .map_or_else(|| "<none>".into(), |r| image.repo_digest(r).to_string());
            let (repository, tag) = match &n {
                Some(r) => (
                    r.familiar_name(),
                    r.tag.clone().unwrap_or_else(|| "<none>".into()),
                ),
                None => ("<none>".into(), "<none>".into()),
            };
            rows.push(Row {
                size: summary.size,
                repository,
                tag,
                image: image.clone(),
                created,
                created_text: created_text.clone(),
                digest,
            });
        }
    }
    rows.sort_by(|x, y| {
        y.created
            .cmp(&x.created)
            .then_with(|| x.repository.cmp(&y.repository))
            .then_with(|| x.tag.cmp(&y.tag))
    });
    let id_of = |r: &Row| {
        if a.no_trunc {
            r.image.id.to_string()
        } else {
            r.image.id.short().to_string()
        }
    };
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for r in &rows {
            writeln!(out, "{}", id_of(r)).map_err(out_err)?;
        }
        return Ok(0);
    }
    let values: Vec<Value> = rows.iter().map(|r| row_json(r, &id_of(r))).collect();
    match a.format.as_deref() {
        Some("json") => {
            for v in &values {
                writeln!(out, "{v}").map_err(out_err)?;
            }
        }
        Some(f) if !f.is_empty() && f != "table" => {
            let headers = BTreeMap::from([
                ("ID", "IMAGE ID"),
                ("Repository", "REPOSITORY"),
                ("Tag", "TAG"),
                ("Digest", "DIGEST"),
                ("CreatedSince", "CREATED"),
                ("CreatedAt", "CREATED AT"),
                ("Size", "SIZE"),
                ("VirtualSize", "SIZE"),
                ("Containers", "CONTAINERS"),
            ]);
            format_rows(&mut out, f, &headers, &values)?;
        }
        _ => {
            let mut header = vec!["REPOSITORY", "TAG"];
            if a.digests {
                header.push("DIGEST");
            }
            header.extend(["IMAGE ID", "CREATED", "SIZE"]);
            let lines: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    let mut l = vec![r.repository.clone(), r.tag.clone()];
                    if a.digests {
                        l.push(digest_of(r));
                    }
                    l.extend([
                        id_of(r),
                        r.created.map(time_ago).unwrap_or_else(|| "N/A".into()),
                        human_size(r.size),
                    ]);
                    l
                })
                .collect();
            table(&mut out, &header, &lines).map_err(out_err)?;
        }
    }
    Ok(0)
}

use std::io::Write;

/// The DIGEST column: the repo digest of a named image (the index it was pulled
/// through, else its manifest's), `<none>` for an untagged one.
fn digest_of(r: &Row) -> String {
    r.digest.clone()
}

/// A row as `--format` sees it: Docker's field names, all strings.
fn row_json(r: &Row, id: &str) -> Value {
    json!({
        "Containers": "N/A",
        "CreatedAt": created_at(&r.created_text),
        "CreatedSince": r.created.map(time_ago).unwrap_or_else(|| "N/A".into()),
        "Digest": digest_of(r),
        "ID": id,
        "Repository": r.repository,
        "SharedSize": "N/A",
        "Size": human_size(r.size),
        "Tag": r.tag,
        "UniqueSize": "N/A",
        "VirtualSize": human_size(r.size),
    })
}

/// Go's `time.Time.String()` for a UTC time: `2024-01-02 03:04:05 +0000 UTC`.
pub fn created_at(rfc3339: &str) -> String {
    match parse_time(rfc3339) {
        Some(t) => {
            let s = humantime::format_rfc3339_seconds(t).to_string();
            format!("{} +0000 UTC", s.trim_end_matches('Z').replace('T', " "))
        }
        None => rfc3339.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_match_like_go_path_match() {
        assert!(glob_match("busy*", "busybox"));
        assert!(glob_match("busybox:*", "busybox:latest"));
        assert!(!glob_match("*", "user/app"));
        assert!(glob_match("*/*", "user/app"));
        assert!(glob_match("b?sybox", "busybox"));
        assert!(glob_match("[a-c]usybox", "busybox"));
        assert!(!glob_match("[^a-c]usybox", "busybox"));
        assert!(!glob_match("busy", "busybox"));
    }
}
