//! The pieces every `--filter` of `ls`-style commands shares, with Docker's messages:
//! `KEY=VALUE` pairs, `label=KEY[=VALUE]` and boolean values such as `dangling=true`.

use super::CliError;

/// Splits one `--filter` value into its key and value.
pub(crate) fn pair(spec: &str) -> Result<(&str, &str), CliError> {
    spec.split_once('=').ok_or_else(|| {
        CliError::usage(format!(
            "bad format of filter (expected name=value): {spec:?}"
        ))
    })
}

/// A `label=` filter's value: a key, with the value it must have if given.
pub(crate) fn label(v: &str) -> (String, Option<String>) {
    match v.split_once('=') {
        Some((k, val)) => (k.to_string(), Some(val.to_string())),
        None => (v.to_string(), None),
    }
}

/// Whether labels (looked up by `get`) pass every label filter of `wanted`.
pub(crate) fn labels_match<'a>(
    wanted: &[(String, Option<String>)],
    get: impl Fn(&str) -> Option<&'a str>,
) -> bool {
    wanted.iter().all(|(k, want)| match (get(k), want) {
        (Some(_), None) => true,
        (Some(have), Some(w)) => have == w,
        (None, _) => false,
    })
}

/// A boolean filter value (`true`/`1`, `false`/`0`), for key `key`.
pub(crate) fn boolean(key: &str, v: &str) -> Result<bool, CliError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(CliError::usage(format!(
            "invalid filter '{key}={v}': use true or false"
        ))),
    }
}

/// The filters of Docker's prune commands and endpoints: `until` (created before a time:
/// RFC 3339, Unix seconds or a duration ago), `label` (`KEY` or `KEY=VALUE`: each one
/// must match) and `label!` (each one must not). Prune's own keys (`all`, `dangling`)
/// are the caller's; any other key is refused, so that a filter never goes unheeded and
/// prunes more than it says.
#[derive(Debug, Default)]
pub(crate) struct PruneFilters {
    until: Option<std::time::SystemTime>,
    labels: Vec<(String, Option<String>)>,
    not_labels: Vec<(String, Option<String>)>,
}

impl PruneFilters {
    /// Reads `(key, value)` pairs; `own` are the keys the caller reads itself, and
    /// `until` is taken only where `with_until` (Docker's volume prune has none).
    pub(crate) fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        own: &[&str],
        with_until: bool,
    ) -> Result<PruneFilters, String> {
        let mut f = PruneFilters::default();
        for (k, v) in pairs {
            match k {
                "until" if with_until => {
                    let t = tug::container::parse_log_time(v, std::time::SystemTime::now())
                        .map_err(|e| format!("invalid filter 'until={v}': {e}"))?;
                    f.until = Some(t);
                }
                "label" => f.labels.push(label(v)),
                "label!" => f.not_labels.push(label(v)),
                k if own.contains(&k) => {}
                k => return Err(format!("invalid filter '{k}'")),
            }
        }
        Ok(f)
    }

    /// As [`PruneFilters::parse`], from `--filter KEY=VALUE` arguments.
    pub(crate) fn from_args(
        specs: &[String],
        own: &[&str],
        with_until: bool,
    ) -> Result<PruneFilters, CliError> {
        let pairs = specs
            .iter()
            .map(|s| pair(s))
            .collect::<Result<Vec<_>, _>>()?;
        PruneFilters::parse(pairs, own, with_until).map_err(CliError::usage)
    }

    /// Whether a thing created at `created` (RFC 3339; none or unreadable: it passes
    /// `until` only when there is no `until`) with labels `get` may be pruned.
    pub(crate) fn allows<'a>(
        &self,
        created: Option<&str>,
        get: impl Fn(&str) -> Option<&'a str> + Copy,
    ) -> bool {
        let old_enough = self.until.is_none_or(|until| {
            created
                .and_then(|c| humantime::parse_rfc3339_weak(c).ok())
                .is_some_and(|c| c < until)
        });
        old_enough
            && labels_match(&self.labels, get)
            && self
                .not_labels
                .iter()
                .all(|l| !labels_match(std::slice::from_ref(l), get))
    }

    /// Whether an image may be pruned: its creation time and its config's labels.
    pub(crate) fn allows_image(&self, img: &tug::image::Image) -> bool {
        let labels = img.labels();
        self.allows(img.config.created().as_deref(), |k| {
            labels.get(k).map(String::as_str)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_split_and_match_like_docker() {
        assert_eq!(pair("name=web").unwrap(), ("name", "web"));
        assert!(pair("name").is_err());
        assert_eq!(label("a=b=c"), ("a".into(), Some("b=c".into())));
        assert_eq!(label("a"), ("a".into(), None));
        let have = |k: &str| (k == "a").then_some("1");
        assert!(labels_match(&[label("a")], have));
        assert!(labels_match(&[label("a=1")], have));
        assert!(!labels_match(&[label("a=2")], have));
        assert!(!labels_match(&[label("b")], have));
        assert!(boolean("dangling", "TRUE").unwrap());
        assert!(!boolean("dangling", "0").unwrap());
        assert!(boolean("dangling", "maybe").is_err());
    }

    #[test]
    fn prune_filters_take_until_and_labels_and_refuse_the_rest() {
        let f = PruneFilters::parse(
            [
                ("until", "2020-01-01T00:00:00Z"),
                ("label", "keep=no"),
                ("label!", "pinned"),
            ],
            &[],
            true,
        )
        .unwrap();
        let labels = |pinned: bool| {
            move |k: &str| match k {
                "keep" => Some("no"),
                "pinned" if pinned => Some("yes"),
                _ => None,
            }
        };
        assert!(f.allows(Some("2019-06-01T00:00:00Z"), labels(false)));
        assert!(!f.allows(Some("2019-06-01T00:00:00Z"), labels(true)));
        assert!(!f.allows(Some("2021-06-01T00:00:00Z"), labels(false)));
        assert!(!f.allows(None, labels(false)), "no time: not old enough");
        assert!(PruneFilters::parse([("until", "1h")], &[], false).is_err());
        assert!(PruneFilters::parse([("colour", "red")], &[], true).is_err());
        assert!(PruneFilters::parse([("until", "soon")], &[], true).is_err());
        assert!(PruneFilters::parse([("all", "true")], &["all"], false).is_ok());
        assert!(PruneFilters::default().allows(None, |_| None));
    }
}
