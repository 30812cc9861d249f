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
}
