//! Process resource limits (`--ulimit name=soft[:hard]`, Docker's `HostConfig.Ulimits`):
//! parsed once, kept on the record, and handed to the sandbox as the runtime spec's
//! `process.rlimits`, which the container's init sets before it becomes the user's process.

use oci_spec::runtime::{PosixRlimit, PosixRlimitBuilder, PosixRlimitType};
use serde::{Deserialize, Serialize};

use super::Error;

/// One limit: the soft and hard values of a resource (`nofile`, `nproc`...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// Docker's names of the limits and the kernel's resources.
const NAMES: [(&str, PosixRlimitType); 16] = [
    ("core", PosixRlimitType::RlimitCore),
    ("cpu", PosixRlimitType::RlimitCpu),
    ("data", PosixRlimitType::RlimitData),
    ("fsize", PosixRlimitType::RlimitFsize),
    ("locks", PosixRlimitType::RlimitLocks),
    ("memlock", PosixRlimitType::RlimitMemlock),
    ("msgqueue", PosixRlimitType::RlimitMsgqueue),
    ("nice", PosixRlimitType::RlimitNice),
    ("nofile", PosixRlimitType::RlimitNofile),
    ("nproc", PosixRlimitType::RlimitNproc),
    ("rss", PosixRlimitType::RlimitRss),
    ("rtprio", PosixRlimitType::RlimitRtprio),
    ("rttime", PosixRlimitType::RlimitRttime),
    ("sigpending", PosixRlimitType::RlimitSigpending),
    ("stack", PosixRlimitType::RlimitStack),
    ("as", PosixRlimitType::RlimitAs),
];

impl Ulimit {
    /// A limit, checked: a known name, values of -1 (unlimited) or more, soft ≤ hard.
    pub fn new(name: &str, soft: i64, hard: i64) -> Result<Ulimit, Error> {
        let u = Ulimit {
            name: name.to_string(),
            soft,
            hard,
        };
        u.rlimit()?;
        Ok(u)
    }

    /// `name=soft[:hard]`, as `--ulimit` takes it (the hard limit is the soft one when not
    /// given).
    pub fn parse(s: &str) -> Result<Ulimit, Error> {
        let bad = |why: &str| Error::Invalid(format!("invalid ulimit {s:?}: {why}"));
        let (name, values) = s
            .split_once('=')
            .ok_or_else(|| bad("use name=soft[:hard]"))?;
        let (soft, hard) = values.split_once(':').unwrap_or((values, values));
        let num = |v: &str| {
            v.parse::<i64>()
                .map_err(|_| bad("the limits must be numbers"))
        };
        Ulimit::new(name, num(soft)?, num(hard)?)
    }

    /// The runtime spec's limit.
    pub fn rlimit(&self) -> Result<PosixRlimit, Error> {
        let bad = |why: String| Error::Invalid(format!("invalid ulimit {}: {why}", self.name));
        let typ = NAMES
            .iter()
            .find(|(n, _)| *n == self.name)
            .map(|(_, t)| *t)
            .ok_or_else(|| bad("no such limit".into()))?;
        // -1 is unlimited (RLIM_INFINITY, all ones).
        let value = |v: i64| match v {
            -1 => Ok(u64::MAX),
            v if v >= 0 => Ok(v as u64),
            v => Err(bad(format!("{v} is not a limit"))),
        };
        let (soft, hard) = (value(self.soft)?, value(self.hard)?);
        if soft > hard {
            return Err(bad(format!(
                "the soft limit {} is above the hard limit {}",
                self.soft, self.hard
            )));
        }
        PosixRlimitBuilder::default()
            .typ(typ)
            .soft(soft)
            .hard(hard)
            .build()
            .map_err(|e| bad(e.to_string()))
    }
}

/// Docker's limits: those its daemon under systemd hands every container (`nofile`
/// 1024:524288, `nproc` and `core` unlimited), each capped at the caller's hard limit
/// (raising one needs CAP_SYS_RESOURCE), then the user's `--ulimit`s over them. So a
/// container never inherits the soft limits of the shell that ran tug.
pub fn with_docker_defaults(user: &[Ulimit]) -> Vec<Ulimit> {
    use nix::sys::resource::{Resource, getrlimit};
    let defaults = [
        ("nofile", Resource::RLIMIT_NOFILE, 1024, 524_288),
        ("nproc", Resource::RLIMIT_NPROC, -1, -1),
        ("core", Resource::RLIMIT_CORE, -1, -1),
    ];
    let mut out: Vec<Ulimit> = Vec::new();
    for (name, resource, soft, hard) in defaults {
        if user.iter().any(|u| u.name == name) {
            continue;
        }
        // The caller's hard limit, as -1 when unlimited.
        let cap = match getrlimit(resource) {
            Ok((_, h)) if h == libc::RLIM_INFINITY => -1,
            Ok((_, h)) => h.min(i64::MAX as u64) as i64,
            Err(_) => continue,
        };
        let capped = |v: i64| match (v, cap) {
            (_, -1) => v,
            (-1, c) => c,
            (v, c) => v.min(c),
        };
        out.push(Ulimit {
            name: name.to_string(),
            soft: capped(soft),
            hard: capped(hard),
        });
    }
    out.extend(user.iter().cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulimits_parse_in_dockers_form() {
        let u = Ulimit::parse("nofile=1024:2048").unwrap();
        assert_eq!((u.name.as_str(), u.soft, u.hard), ("nofile", 1024, 2048));
        let r = u.rlimit().unwrap();
        assert_eq!(
            (r.typ(), r.soft(), r.hard()),
            (PosixRlimitType::RlimitNofile, 1024, 2048)
        );
        assert_eq!(Ulimit::parse("nproc=64").unwrap().hard, 64);
        assert_eq!(
            Ulimit::parse("core=-1").unwrap().rlimit().unwrap().hard(),
            u64::MAX
        );
        for bad in ["nofile", "bogus=1", "nofile=2:1", "nofile=x", "nofile=-2"] {
            assert!(Ulimit::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn docker_defaults_stay_under_the_callers_hard_limits_and_yield_to_the_users() {
        use nix::sys::resource::{Resource, getrlimit};
        let all = with_docker_defaults(&[Ulimit::parse("core=0").unwrap()]);
        let names: Vec<&str> = all.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["nofile", "nproc", "core"]);
        assert_eq!(all[2].hard, 0, "the user's core limit, not the default");
        let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        let nofile = &all[0];
        assert_eq!(nofile.soft as u64, 1024.min(hard));
        assert_eq!(nofile.hard as u64, 524_288.min(hard));
        for u in &all {
            u.rlimit().unwrap();
        }
    }
}
