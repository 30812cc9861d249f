//! Docker's seccomp profile format (`--security-opt seccomp=profile.json`): parsed, then
//! resolved for one container (its architecture, capabilities and kernel) into the OCI
//! runtime spec's `linux.seccomp`, as Docker's daemon does before it hands the spec to
//! the runtime. Rules that include or exclude capabilities are decided here, on the
//! host, from the container's bounding set.

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder,
    LinuxSeccompOperator, LinuxSyscallBuilder,
};
use serde::Deserialize;

use crate::sandbox::StepError;

/// A seccomp profile in Docker's JSON format.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: LinuxSeccompAction,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    /// Docker's `architectures` and `archMap`: tug filters the native architecture only,
    /// so these are read and not used.
    #[serde(default)]
    pub architectures: Option<Vec<String>>,
    #[serde(default)]
    pub arch_map: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub syscalls: Option<Vec<Rule>>,
    /// Filter flags (`SECCOMP_FILTER_FLAG_LOG`, ...).
    #[serde(default)]
    pub flags: Option<Vec<String>>,
    #[serde(default)]
    pub listener_path: Option<String>,
}

/// One entry of `syscalls`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub names: Option<Vec<String>>,
    pub action: LinuxSeccompAction,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Option<Vec<Arg>>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub includes: Option<Filter>,
    #[serde(default)]
    pub excludes: Option<Filter>,
}

/// A condition on an argument: `args[index] OP value` (`MASKED_EQ`: `args[index] &
/// value == valueTwo`).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: usize,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: LinuxSeccompOperator,
}

/// When a rule applies (`includes`: all of these hold) or not (`excludes`: any holds).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default)]
    pub caps: Option<Vec<String>>,
    #[serde(default)]
    pub arches: Option<Vec<String>>,
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// What a profile is resolved for.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// Go's name of the architecture (`amd64`, `arm64`), as profiles name it.
    pub arch: &'a str,
    /// The container's bounding set, as `CAP_SYS_ADMIN` names.
    pub caps: &'a [String],
    /// The kernel's (major, minor).
    pub kernel: (u32, u32),
}

impl Target<'_> {
    /// The architecture tug runs on, in Go's words.
    pub fn native_arch() -> &'static str {
        match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            other => other,
        }
    }

    /// The running kernel's (major, minor).
    pub fn running_kernel() -> (u32, u32) {
        nix::sys::utsname::uname()
            .ok()
            .and_then(|u| parse_kernel(&u.release().to_string_lossy()))
            .unwrap_or((0, 0))
    }
}

/// `6.1.0-13-amd64` → (6, 1).
pub fn parse_kernel(s: &str) -> Option<(u32, u32)> {
    let mut it = s.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

impl Profile {
    /// Parses a profile; `origin` names the file in errors.
    pub fn from_json(origin: &str, text: &str) -> Result<Profile, StepError> {
        let p: Profile = serde_json::from_str(text)
            .map_err(|e| StepError::new(format!("seccomp profile {origin}"), e))?;
        if p.listener_path.as_deref().is_some_and(|l| !l.is_empty())
            || p.default_action == LinuxSeccompAction::ScmpActNotify
            || p.syscalls
                .iter()
                .flatten()
                .any(|r| r.action == LinuxSeccompAction::ScmpActNotify)
        {
            return Err(StepError::msg(format!(
                "seccomp profile {origin}: SCMP_ACT_NOTIFY and listenerPath are not supported"
            )));
        }
        for r in p.syscalls.iter().flatten() {
            if r.name.is_none() && r.names.as_deref().unwrap_or_default().is_empty() {
                return Err(StepError::msg(format!(
                    "seccomp profile {origin}: a syscalls entry has neither name nor names"
                )));
            }
            if let Some(a) = r.args.iter().flatten().find(|a| a.index > 5) {
                return Err(StepError::msg(format!(
                    "seccomp profile {origin}: argument index {} is out of range (0 to 5)",
                    a.index
                )));
            }
        }
        Ok(p)
    }

    /// The profile for one container, in the runtime spec's terms.
    pub fn resolve(&self, target: &Target) -> Result<LinuxSeccomp, StepError> {
        let err = |e: oci_spec::OciSpecError| StepError::new("seccomp", e);
        let mut syscalls = Vec::new();
        for r in self.syscalls.iter().flatten() {
            if !applies(r, target) {
                continue;
            }
            let names: Vec<String> = r
                .name
                .iter()
                .chain(r.names.iter().flatten())
                .cloned()
                .collect();
            let mut b = LinuxSyscallBuilder::default().names(names).action(r.action);
            if let Some(e) = r.errno_ret {
                b = b.errno_ret(e);
            }
            if let Some(args) = &r.args
                && !args.is_empty()
            {
                let args = args
                    .iter()
                    .map(|a| {
                        let mut ab = LinuxSeccompArgBuilder::default()
                            .index(a.index)
                            .value(a.value)
                            .op(a.op);
                        if a.value_two != 0 {
                            ab = ab.value_two(a.value_two);
                        }
                        ab.build()
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(err)?;
                b = b.args(args);
            }
            syscalls.push(b.build().map_err(err)?);
        }
        let mut b = LinuxSeccompBuilder::default()
            .default_action(self.default_action)
            .syscalls(syscalls);
        if let Some(e) = self.default_errno_ret {
            b = b.default_errno_ret(e);
        }
        b.build().map_err(err)
    }
}

/// Docker's rule selection: every included cap held, the arch listed, the kernel recent
/// enough; no excluded cap held and the arch not excluded.
fn applies(r: &Rule, t: &Target) -> bool {
    let has = |c: &String| t.caps.iter().any(|h| h.eq_ignore_ascii_case(c));
    if let Some(inc) = &r.includes {
        if let Some(a) = &inc.arches
            && !a.is_empty()
            && !a.iter().any(|x| x == t.arch)
        {
            return false;
        }
        if !inc.caps.iter().flatten().all(has) {
            return false;
        }
        if let Some(k) = inc.min_kernel.as_deref().and_then(parse_kernel)
            && t.kernel < k
        {
            return false;
        }
    }
    if let Some(exc) = &r.excludes {
        if exc.arches.iter().flatten().any(|x| x == t.arch) {
            return false;
        }
        if exc.caps.iter().flatten().any(has) {
            return false;
        }
    }
    true
}
