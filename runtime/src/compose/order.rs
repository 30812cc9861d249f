//! The order of services: dependencies (`depends_on`, `links`, `service:` modes) before
//! their dependents,
//! and the cycles that make an order impossible.

use std::collections::{BTreeMap, BTreeSet};

use super::model::Project;

/// The services each service waits for (its `depends_on`, `links` and `service:<name>`
/// modes that exist).
fn edges(p: &Project) -> BTreeMap<&str, Vec<&str>> {
    p.services
        .iter()
        .map(|(name, s)| {
            let mut deps: Vec<&str> = s.depends_on.keys().map(String::as_str).collect();
            for l in &s.links {
                let target = l.split(':').next().unwrap_or(l);
                if !deps.contains(&target) {
                    deps.push(target);
                }
            }
            // `network_mode`, `pid` and `ipc` of `service:<name>` join that service's
            // namespaces: it must run first.
            for mode in [&s.network_mode, &s.pid, &s.ipc].into_iter().flatten() {
                if let Some(target) = mode.strip_prefix("service:")
                    && !deps.contains(&target)
                {
                    deps.push(target);
                }
            }
            deps.retain(|d| p.services.contains_key(*d));
            (name.as_str(), deps)
        })
        .collect()
}

/// A dependency cycle (`a -> b -> a`), if the project has one.
pub fn find_cycle(p: &Project) -> Option<Vec<String>> {
    let e = edges(p);
    let mut done = BTreeSet::new();
    for start in e.keys() {
        let mut stack = Vec::new();
        if let Some(c) = visit(start, &e, &mut stack, &mut done) {
            return Some(c);
        }
    }
    None
}

fn visit<'a>(
    n: &'a str,
    e: &BTreeMap<&'a str, Vec<&'a str>>,
    stack: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
) -> Option<Vec<String>> {
    if let Some(i) = stack.iter().position(|x| *x == n) {
        let mut c: Vec<String> = stack[i..].iter().map(|s| s.to_string()).collect();
        c.push(n.to_string());
        return Some(c);
    }
    if done.contains(n) {
        return None;
    }
    stack.push(n);
    for d in e.get(n).into_iter().flatten() {
        if let Some(c) = visit(d, e, stack, done) {
            return Some(c);
        }
    }
    stack.pop();
    done.insert(n);
    None
}

/// `wanted` and (unless `no_deps`) what they depend on, dependencies first; ties in name
/// order. The project has no cycle (the loader refuses them).
pub fn start_order(p: &Project, wanted: &[String], no_deps: bool) -> Vec<String> {
    let e = edges(p);
    let mut out: Vec<String> = Vec::new();
    fn add(n: &str, e: &BTreeMap<&str, Vec<&str>>, deps: bool, out: &mut Vec<String>) {
        if out.iter().any(|x| x == n) {
            return;
        }
        if deps {
            for d in e.get(n).into_iter().flatten() {
                add(d, e, deps, out);
            }
        }
        out.push(n.to_string());
    }
    for w in wanted {
        add(w, &e, !no_deps, &mut out);
    }
    if no_deps {
        // Still in dependency order among themselves.
        let all = start_order(p, wanted, false);
        out.sort_by_key(|n| all.iter().position(|x| x == n));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::{Condition, Dependency, Service};

    fn project(deps: &[(&str, &[&str])]) -> Project {
        let mut p = Project::default();
        for (name, ds) in deps {
            let mut s = Service::default();
            for d in *ds {
                s.depends_on.insert(
                    d.to_string(),
                    Dependency {
                        condition: Condition::Started,
                        required: true,
                        restart: false,
                    },
                );
            }
            p.services.insert(name.to_string(), s);
        }
        p
    }

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dependencies_come_first() {
        let p = project(&[
            ("web", &["app"]),
            ("app", &["db", "cache"]),
            ("db", &[]),
            ("cache", &[]),
        ]);
        assert_eq!(
            start_order(&p, &v(&["web"]), false),
            v(&["cache", "db", "app", "web"])
        );
        assert_eq!(start_order(&p, &v(&["web", "db"]), true), v(&["db", "web"]));
        assert_eq!(find_cycle(&p), None);
    }

    #[test]
    fn cycles_are_found() {
        let p = project(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])]);
        assert_eq!(find_cycle(&p), Some(v(&["a", "b", "c", "a"])));
    }
}
