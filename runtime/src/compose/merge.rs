//! Merging compose files (`-f base.yml -f override.yml`) by the compose spec's rules:
//! mappings merge key by key; `command`, `entrypoint` and `healthcheck.test` are
//! replaced; `environment`, `labels`, `build.args`, `extra_hosts` merge by key whatever
//! form each file uses; `volumes` merge by target and `ports` append without
//! duplicates; other lists append without duplicates; scalars are replaced.

use yaml_serde::{Mapping, Value};

/// Merges `over` into `base`, at the top of a compose file.
pub fn merge(base: &mut Value, over: Value) {
    merge_at(base, over, &[])
}

fn key_str(k: &Value) -> String {
    k.as_str().map(String::from).unwrap_or_default()
}

/// A `KEY=VALUE` list (or a mapping) as a mapping.
fn as_dict(v: Value) -> Value {
    match v {
        Value::Sequence(items) => {
            let mut m = Mapping::new();
            for i in items {
                let s = match &i {
                    Value::String(s) => s.clone(),
                    other => yaml_serde::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                };
                let (k, v) = match s.split_once('=') {
                    Some((k, v)) => (k.to_string(), Value::String(v.to_string())),
                    None => (s, Value::Null),
                };
                m.insert(Value::String(k), v);
            }
            Value::Mapping(m)
        }
        other => other,
    }
}

/// A list of names (`networks`, `depends_on` short forms) as a mapping of nulls.
fn as_names(v: Value) -> Value {
    match v {
        Value::Sequence(items) => {
            Value::Mapping(items.into_iter().map(|i| (i, Value::Null)).collect())
        }
        other => other,
    }
}

/// A mount's target, from either syntax.
fn mount_target(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            match parts.len() {
                1 => Some(parts[0].into()),
                _ if parts[0].starts_with('/') && !parts[1].starts_with('/') => {
                    Some(parts[0].into())
                }
                _ => Some(parts[1].into()),
            }
        }
        Value::Mapping(m) => m.get("target").and_then(|t| t.as_str()).map(String::from),
        _ => None,
    }
}

fn merge_at(base: &mut Value, over: Value, path: &[String]) {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    // The service-level key, when `path` is services.<name>.<key>.
    let svc_key = match p.as_slice() {
        ["services", _, k] => Some(*k),
        ["services", _, "build", "args"] => Some("args"),
        ["services", _, "healthcheck", "test"] => Some("command"),
        _ => None,
    };
    match svc_key {
        Some("command" | "entrypoint") => {
            *base = over;
            return;
        }
        Some("environment" | "labels" | "args" | "extra_hosts" | "sysctls") => {
            let b = as_dict(std::mem::take(base));
            *base = b;
            merge_maps(base, as_dict(over), path);
            return;
        }
        Some("networks" | "depends_on") => {
            let b = as_names(std::mem::take(base));
            *base = b;
            merge_maps(base, as_names(over), path);
            return;
        }
        Some("volumes") => {
            if let (Value::Sequence(b), Value::Sequence(o)) = (&mut *base, &over) {
                for item in o {
                    let t = mount_target(item);
                    match b.iter_mut().find(|x| t.is_some() && mount_target(x) == t) {
                        Some(slot) => *slot = item.clone(),
                        None => b.push(item.clone()),
                    }
                }
                return;
            }
        }
        _ => {}
    }
    match (&mut *base, over) {
        (Value::Mapping(_), over @ Value::Mapping(_)) => merge_maps(base, over, path),
        (Value::Sequence(b), Value::Sequence(o)) => {
            for item in o {
                if !b.contains(&item) {
                    b.push(item);
                }
            }
        }
        (_, over) => *base = over,
    }
}

fn merge_maps(base: &mut Value, over: Value, path: &[String]) {
    let Value::Mapping(o) = over else {
        *base = over;
        return;
    };
    if !base.is_mapping() {
        *base = Value::Mapping(Mapping::new());
    }
    let Value::Mapping(b) = base else { return };
    for (k, v) in o {
        let mut sub = path.to_vec();
        sub.push(key_str(&k));
        match b.get_mut(&k) {
            Some(slot) if !slot.is_null() => merge_at(slot, v, &sub),
            _ => {
                b.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: &str) -> Value {
        yaml_serde::from_str(s).unwrap()
    }

    #[test]
    fn override_files_merge_by_the_specs_rules() {
        let mut base = y("
services:
  web:
    image: a
    command: [sh, -c, x]
    environment: [A=1, B=2]
    ports: ['80:80']
    volumes: ['data:/data', './x:/x']
    networks: [front]
");
        let over = y("
services:
  web:
    image: b
    command: echo
    environment: {B: 3, C: 4}
    ports: ['80:80', '81:81']
    volumes: ['other:/data']
    networks: {back: {aliases: [w]}}
  db:
    image: d
");
        merge(&mut base, over);
        insta::assert_snapshot!(yaml_serde::to_string(&base).unwrap(), @r"
        services:
          web:
            image: b
            command: echo
            environment:
              A: '1'
              B: 3
              C: 4
            ports:
            - 80:80
            - 81:81
            volumes:
            - other:/data
            - ./x:/x
            networks:
              front: null
              back:
                aliases:
                - w
          db:
            image: d
        ");
    }
}
