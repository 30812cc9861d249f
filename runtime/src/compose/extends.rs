//! `extends`: a service defined on top of another one, of the same files
//! (`extends: base` or `{service: base}`) or of another file (`{file: common.yml,
//! service: base}`), merged by the same rules as `-f` files.

use std::collections::BTreeSet;
use std::path::Path;

use yaml_serde::{Mapping, Value};

use super::Error;
use super::locate::Seg;
use super::merge::merge;
use super::node::{Node, Source};

/// What resolving needs: the project dir (for `file:`), a loader of another compose
/// file's value (parsed and interpolated), and the files for errors' lines.
pub struct Extends<'a> {
    pub dir: &'a Path,
    pub load: &'a dyn Fn(&Path) -> Result<Value, Error>,
    pub src: &'a Source<'a>,
}

impl Extends<'_> {
    fn err(&self, service: &str, message: String) -> Error {
        let path = vec![
            Seg::Key("services".into()),
            Seg::Key(service.into()),
            Seg::Key("extends".into()),
        ];
        Node {
            v: &Value::Null,
            path,
            src: self.src,
        }
        .err(message)
    }

    /// Replaces every service of `root` that has `extends` by its base with it merged
    /// over.
    pub fn resolve(&self, root: &mut Value) -> Result<(), Error> {
        let Some(services) = root.get("services").and_then(Value::as_mapping).cloned() else {
            return Ok(());
        };
        let mut out = services.clone();
        for (k, v) in &services {
            if v.get("extends").is_some() {
                let name = k.as_str().unwrap_or_default().to_string();
                let resolved = self.service(&services, &name, &mut BTreeSet::new())?;
                out.insert(k.clone(), resolved);
            }
        }
        if let Some(m) = root.as_mapping_mut() {
            m.insert(Value::String("services".into()), Value::Mapping(out));
        }
        Ok(())
    }

    /// Service `name` of `services` with its `extends` resolved (`seen`: the chain so far,
    /// to refuse cycles).
    fn service(
        &self,
        services: &Mapping,
        name: &str,
        seen: &mut BTreeSet<String>,
    ) -> Result<Value, Error> {
        let Some(mut svc) = services.get(name).cloned() else {
            return Err(Error::Invalid {
                file: String::new(),
                line: None,
                path: String::new(),
                message: format!("no service {name:?} to extend"),
            });
        };
        let Some(ext) = svc.as_mapping_mut().and_then(|m| m.remove("extends")) else {
            return Ok(svc);
        };
        if !seen.insert(name.to_string()) {
            return Err(self.err(name, format!("extends cycle through {name:?}")));
        }
        let (base_name, file) = match &ext {
            Value::String(s) => (s.clone(), None),
            Value::Mapping(m) => {
                for k in m.keys() {
                    if !matches!(k.as_str(), Some("service" | "file")) {
                        return Err(self.err(name, format!("unknown key {k:?} in extends")));
                    }
                }
                let service = m.get("service").and_then(Value::as_str);
                let Some(service) = service else {
                    return Err(self.err(name, "extends needs a service".into()));
                };
                let file = m.get("file").and_then(Value::as_str).map(String::from);
                (service.to_string(), file)
            }
            _ => return Err(self.err(name, "extends must be a name or a mapping".into())),
        };
        let mut base = match file {
            None if !services.contains_key(base_name.as_str()) => {
                return Err(self.err(name, format!("extends undefined service {base_name:?}")));
            }
            None => self.service(services, &base_name, seen)?,
            Some(f) => {
                let other = (self.load)(&self.dir.join(&f))?;
                let theirs = other
                    .get("services")
                    .and_then(Value::as_mapping)
                    .cloned()
                    .unwrap_or_default();
                if !theirs.contains_key(base_name.as_str()) {
                    return Err(self.err(name, format!("{f} has no service {base_name:?}")));
                }
                // The other file's own `extends` resolve among its services.
                let mut inner = BTreeSet::new();
                self.service(&theirs, &base_name, &mut inner)?
            }
        };
        seen.remove(name);
        merge_service(&mut base, svc);
        Ok(base)
    }
}

/// Merges service `over` into service `base` by the rules of merging files.
fn merge_service(base: &mut Value, over: Value) {
    let wrap = |v: Value| {
        let mut s = Mapping::new();
        s.insert(Value::String("x".into()), v);
        let mut top = Mapping::new();
        top.insert(Value::String("services".into()), Value::Mapping(s));
        Value::Mapping(top)
    };
    let mut b = wrap(std::mem::take(base));
    merge(&mut b, wrap(over));
    *base = b["services"]["x"].clone();
}
