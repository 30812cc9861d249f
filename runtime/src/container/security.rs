//! What `--privileged`, `--cap-add`, `--cap-drop` and `--security-opt` ask for, checked
//! and turned into the spec's capability sets and seccomp profile with Docker's rules
//! (moby's `oci/caps` and `daemon/seccomp`): nothing more is granted than Docker grants.

use std::str::FromStr;

use oci_spec::runtime::{Capability as OciCap, LinuxSeccomp};

use super::Error;
use crate::sandbox::caps;
use crate::sandbox::seccomp::{Profile, Target, default_profile};

/// The seccomp profile asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum SeccompChoice {
    /// tug's default (Docker's default profile).
    Default,
    /// `seccomp=unconfined` (and `--privileged`): no filter.
    Unconfined,
    /// `seccomp=<file>`: the file's profile.
    Profile(Profile),
}

/// `--security-opt` values, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityOptions {
    pub no_new_privileges: bool,
    pub seccomp: SeccompChoice,
    /// `systempaths=unconfined`: no masked or read-only /proc paths.
    pub unconfined_paths: bool,
    /// Options accepted and not enforced on this host (`apparmor=...`, `label=...`).
    pub not_enforced: Vec<String>,
}

/// A `--security-opt` value's key and value (`key=value`, or Docker's older `key:value`).
fn key_value(o: &str) -> Option<(&str, &str)> {
    o.split_once('=').or_else(|| o.split_once(':'))
}

/// Whether the `--security-opt` values `opts` (as the record keeps them) unconfine the
/// system paths (`systempaths=unconfined`), without reading anything they name.
pub(crate) fn paths_unconfined(opts: &[String]) -> bool {
    opts.iter()
        .any(|o| key_value(o) == Some(("systempaths", "unconfined")))
}

impl SecurityOptions {
    /// Parses the `--security-opt` values (`key=value`, or Docker's older `key:value`);
    /// a profile file is read here, so that a bad one fails the create.
    pub fn parse(opts: &[String]) -> Result<SecurityOptions, Error> {
        let mut s = SecurityOptions {
            no_new_privileges: false,
            seccomp: SeccompChoice::Default,
            unconfined_paths: false,
            not_enforced: Vec::new(),
        };
        for o in opts {
            let bad = |why: &str| Error::Invalid(format!("invalid --security-opt {o:?}: {why}"));
            if o == "no-new-privileges" {
                s.no_new_privileges = true;
                continue;
            }
            let (k, v) = key_value(o).ok_or_else(|| bad("use KEY=VALUE"))?;
            match k {
                "no-new-privileges" => {
                    s.no_new_privileges = v
                        .parse()
                        .map_err(|_| bad("no-new-privileges takes true or false"))?
                }
                "seccomp" if v == "unconfined" => s.seccomp = SeccompChoice::Unconfined,
                "seccomp" if v == "builtin" => s.seccomp = SeccompChoice::Default,
                "seccomp" => {
                    let text = std::fs::read_to_string(v)
                        .map_err(|e| bad(&format!("reading the seccomp profile: {e}")))?;
                    let p = Profile::from_json(v, &text).map_err(|e| bad(&crate::report(&e)))?;
                    s.seccomp = SeccompChoice::Profile(p);
                }
                "systempaths" if v == "unconfined" => s.unconfined_paths = true,
                "systempaths" => return Err(bad("systempaths takes only unconfined")),
                "apparmor" | "label" => s.not_enforced.push(o.clone()),
                _ => return Err(bad("unknown option")),
            }
        }
        Ok(s)
    }

    /// What `tug create` warns of: the options this host does not enforce.
    pub fn warnings(&self) -> Vec<String> {
        self.not_enforced
            .iter()
            .map(|o| {
                format!("--security-opt {o} is accepted but not enforced: tug has no AppArmor or SELinux support")
            })
            .collect()
    }

    /// The spec's `linux.seccomp` for a container with bounding set `bounding`; `None`
    /// for unconfined (and for `--privileged`).
    pub fn seccomp(
        &self,
        privileged: bool,
        bounding: &[OciCap],
    ) -> Result<Option<LinuxSeccomp>, Error> {
        let profile = match (&self.seccomp, privileged) {
            (SeccompChoice::Unconfined, _) | (SeccompChoice::Default, true) => return Ok(None),
            (SeccompChoice::Default, false) => default_profile(),
            (SeccompChoice::Profile(p), _) => p.clone(),
        };
        let caps: Vec<String> = bounding.iter().map(|c| format!("CAP_{c}")).collect();
        let target = Target {
            arch: Target::native_arch(),
            caps: &caps,
            kernel: Target::running_kernel(),
        };
        profile
            .resolve(&target)
            .map(Some)
            .map_err(|e| Error::Invalid(crate::report(&e)))
    }
}

/// A capability name as Docker takes it (`NET_ADMIN`, `cap_net_admin`, `CAP_NET_ADMIN`),
/// normalised to `CAP_NET_ADMIN`; `ALL` stays `ALL`.
fn normalise(flag: &str, name: &str) -> Result<String, Error> {
    let up = name.trim().to_ascii_uppercase();
    if up == "ALL" {
        return Ok(up);
    }
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    match ::caps::Capability::from_str(&full) {
        Ok(_) => Ok(full),
        Err(_) => Err(Error::Invalid(format!(
            "invalid {flag}: unknown capability: {name:?}"
        ))),
    }
}

/// Every capability tug can give: those of its own bounding set (the kernel's, less any
/// the host withholds from tug itself), read on the host at create.
pub(crate) fn all_capabilities() -> Vec<OciCap> {
    let held = ::caps::read(None, ::caps::CapSet::Bounding).unwrap_or_else(|_| ::caps::all());
    let mut all: Vec<::caps::Capability> = held.into_iter().collect();
    all.sort_by_key(|c| c.index());
    all.iter().filter_map(|c| to_oci(&c.to_string())).collect()
}

fn to_oci(cap_name: &str) -> Option<OciCap> {
    OciCap::from_str(cap_name.strip_prefix("CAP_").unwrap_or(cap_name)).ok()
}

/// The container's capabilities (bounding = permitted = effective), as Docker's
/// `TweakCapabilities` computes them: `--privileged` gets all; `--cap-add ALL` all but
/// the dropped; `--cap-drop ALL` only the added; else the defaults less the dropped plus
/// the added.
pub fn capabilities(
    privileged: bool,
    add: &[String],
    drop: &[String],
) -> Result<Vec<OciCap>, Error> {
    let defaults: Vec<OciCap> = caps::DOCKER_DEFAULT.to_vec();
    if privileged {
        return Ok(all_capabilities());
    }
    if add.is_empty() && drop.is_empty() {
        return Ok(defaults);
    }
    let add: Vec<String> = add
        .iter()
        .map(|c| normalise("--cap-add", c))
        .collect::<Result<_, _>>()?;
    let drop: Vec<String> = drop
        .iter()
        .map(|c| normalise("--cap-drop", c))
        .collect::<Result<_, _>>()?;
    let named = |c: &OciCap| format!("CAP_{c}");
    let mut out: Vec<OciCap> = if add.iter().any(|c| c == "ALL") {
        all_capabilities()
            .into_iter()
            .filter(|c| !drop.contains(&named(c)))
            .collect()
    } else if drop.iter().any(|c| c == "ALL") {
        add.iter().filter_map(|c| to_oci(c)).collect()
    } else {
        let mut v: Vec<OciCap> = defaults
            .into_iter()
            .filter(|c| !drop.contains(&named(c)))
            .collect();
        v.extend(add.iter().filter_map(|c| to_oci(c)));
        v
    };
    let mut seen = Vec::new();
    out.retain(|c| {
        let n = named(c);
        let new = !seen.contains(&n);
        seen.push(n);
        new
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn names(caps: &[OciCap]) -> Vec<String> {
        let mut v: Vec<String> = caps.iter().map(|c| format!("CAP_{c}")).collect();
        v.sort();
        v
    }

    #[test]
    fn cap_add_and_drop_follow_dockers_rules() {
        let d = capabilities(false, &[], &[]).unwrap();
        assert_eq!(d.len(), 14);
        let c = capabilities(
            false,
            &s(&["net_admin", "CAP_SYS_PTRACE"]),
            &s(&["chown", "MKNOD"]),
        )
        .unwrap();
        let n = names(&c);
        assert!(n.contains(&"CAP_NET_ADMIN".into()) && n.contains(&"CAP_SYS_PTRACE".into()));
        assert!(!n.contains(&"CAP_CHOWN".into()) && !n.contains(&"CAP_MKNOD".into()));
        assert_eq!(n.len(), 14);
        assert_eq!(
            names(&capabilities(false, &s(&["KILL"]), &s(&["ALL"])).unwrap()),
            ["CAP_KILL"]
        );
        let all = capabilities(false, &s(&["all"]), &s(&["SYS_ADMIN"])).unwrap();
        assert!(!names(&all).contains(&"CAP_SYS_ADMIN".into()));
        assert!(names(&all).contains(&"CAP_SYS_MODULE".into()));
        let p = capabilities(true, &[], &s(&["ALL"])).unwrap();
        assert!(
            names(&p).contains(&"CAP_SYS_ADMIN".into()),
            "privileged ignores the drops"
        );
        assert_eq!(
            names(&capabilities(false, &s(&["KILL", "kill"]), &[]).unwrap()).len(),
            14
        );
        let e = capabilities(false, &s(&["NET_FOO"]), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--cap-add") && e.contains("NET_FOO"), "{e}");
    }

    #[test]
    fn security_opts_parse_in_both_spellings() {
        let o =
            SecurityOptions::parse(&s(&["no-new-privileges:true", "seccomp=unconfined"])).unwrap();
        assert!(o.no_new_privileges);
        assert_eq!(o.seccomp, SeccompChoice::Unconfined);
        let o = SecurityOptions::parse(&s(&[
            "apparmor=unconfined",
            "label:disable",
            "no-new-privileges",
        ]))
        .unwrap();
        assert_eq!(o.not_enforced.len(), 2);
        assert_eq!(o.warnings().len(), 2);
        assert!(o.no_new_privileges);
        for bad in [
            "foo",
            "foo=bar",
            "seccomp=/nonexistent.json",
            "no-new-privileges=maybe",
            "systempaths=x",
        ] {
            let e = SecurityOptions::parse(&s(&[bad])).unwrap_err().to_string();
            assert!(e.contains("--security-opt") && e.contains(bad), "{e}");
        }
        let o = SecurityOptions::parse(&[]).unwrap();
        assert!(o.seccomp(false, caps::DOCKER_DEFAULT).unwrap().is_some());
        assert!(o.seccomp(true, caps::DOCKER_DEFAULT).unwrap().is_none());
    }
}
