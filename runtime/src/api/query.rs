//! The query string of a request, and Docker's `filters` parameter.

use std::collections::{BTreeMap, HashMap};

/// The decoded parameters of a query string (the last value of a repeated key wins in
/// [`Query::get`]; [`Query::all`] has every one).
#[derive(Debug, Default)]
pub struct Query(HashMap<String, String>, Vec<(String, String)>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        let mut map = HashMap::new();
        let mut pairs = Vec::new();
        for pair in q.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            map.insert(decode(k), decode(v));
            pairs.push((decode(k), decode(v)));
        }
        Query(map, pairs)
    }

    /// Every value of a repeated key (`t=a&t=b`), in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.1
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// A boolean as Docker reads one: `1`, `true`, `True` are true; absent is `default`.
    pub fn flag(&self, key: &str, default: bool) -> bool {
        match self.get(key) {
            None => default,
            Some(v) => !matches!(v, "" | "0" | "false" | "False" | "FALSE"),
        }
    }

    /// The name that `repo` and `tag` give (a commit's, an import's): `repo:tag`, or
    /// `repo` alone (which may carry its tag); none without a repo, and a tag without one
    /// is a bad request.
    pub fn repo_tag(&self) -> Result<Option<tug::image::Reference>, super::error::ApiError> {
        let name = match (self.get("repo").filter(|r| !r.is_empty()), self.get("tag")) {
            (None, Some(t)) if !t.is_empty() => {
                return Err(super::error::ApiError::bad_request(
                    "a tag (tag) needs a repository (repo)",
                ));
            }
            (None, _) => return Ok(None),
            (Some(r), Some(t)) if !t.is_empty() => format!("{r}:{t}"),
            (Some(r), _) => r.to_string(),
        };
        Ok(Some(tug::image::Reference::parse(&name)?))
    }

    /// The `filters` as `--filter KEY=VALUE` arguments, for the CLI's list filters.
    pub fn filter_args(&self) -> Result<Vec<String>, super::error::ApiError> {
        let filters = self
            .filters()
            .map_err(super::error::ApiError::bad_request)?;
        Ok(filters
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| format!("{k}={v}")))
            .collect())
    }

    /// The `filters` of a prune endpoint (see [`crate::cli::filters::PruneFilters`]);
    /// `own` are the keys the endpoint reads itself.
    pub fn prune_filters(
        &self,
        own: &[&str],
        with_until: bool,
    ) -> Result<crate::cli::filters::PruneFilters, super::error::ApiError> {
        let filters = self
            .filters()
            .map_err(super::error::ApiError::bad_request)?;
        let pairs = filters
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.as_str(), v.as_str())));
        crate::cli::filters::PruneFilters::parse(pairs, own, with_until)
            .map_err(super::error::ApiError::bad_request)
    }

    /// Docker's `filters`: `{"label":["a=b"]}` or the older `{"label":{"a=b":true}}`.
    pub fn filters(&self) -> Result<BTreeMap<String, Vec<String>>, String> {
        let Some(text) = self.get("filters").filter(|t| !t.is_empty()) else {
            return Ok(BTreeMap::new());
        };
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("invalid filters {text:?}: {e}"))?;
        let obj = v
            .as_object()
            .ok_or_else(|| format!("invalid filters {text:?}: not an object"))?;
        let mut out = BTreeMap::new();
        for (key, values) in obj {
            let list: Vec<String> = match values {
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect(),
                serde_json::Value::Object(m) => m
                    .iter()
                    .filter(|(_, on)| on.as_bool().unwrap_or(false))
                    .map(|(k, _)| k.clone())
                    .collect(),
                _ => return Err(format!("invalid filters {text:?}: bad value for {key}")),
            };
            out.insert(key.clone(), list);
        }
        Ok(out)
    }
}

/// Percent-decoding (and `+` as a space), bytes that do not decode kept as they are.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_reads_filters() {
        let q = Query::parse(Some(
            "all=1&filters=%7B%22label%22%3A%7B%22a%3Db%22%3Atrue%7D%7D&name=x+y",
        ));
        assert!(q.flag("all", false));
        assert_eq!(q.get("name"), Some("x y"));
        assert_eq!(q.filters().unwrap()["label"], vec!["a=b".to_string()]);
        let q = Query::parse(Some("filters={\"name\":[\"web\"]}&bad=%zz&end=%4"));
        assert_eq!(q.filters().unwrap()["name"], vec!["web".to_string()]);
        assert_eq!(q.get("bad"), Some("%zz"));
        assert_eq!(q.get("end"), Some("%4"));
        let q = Query::parse(Some("t=a&t=b%3A1&q=1"));
        assert_eq!(q.all("t"), ["a", "b:1"]);
        assert_eq!(q.get("t"), Some("b:1"));
    }
}
