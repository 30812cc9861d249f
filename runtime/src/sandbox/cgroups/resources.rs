//! A container's resource limits as Docker's flags give them (`--memory`, `--cpus`, ...):
//! parsed once into typed values, checked with Docker's rules, and recorded with Docker's
//! `HostConfig` names.

use serde::{Deserialize, Serialize};

use super::Error;
use crate::InvalidValue;

/// Docker's smallest memory limit and reservation (6 MiB).
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;
/// The CFS period `--cpus` uses, in microseconds.
pub const DEFAULT_CPU_PERIOD: i64 = 100_000;

/// The resource limits of a container; 0 (or `None`, or empty) means "not set", as in
/// Docker's `HostConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Resources {
    /// `--memory`: the hard limit, in bytes.
    pub memory: i64,
    /// `--memory-swap`: memory plus swap, in bytes; -1 for unlimited swap.
    pub memory_swap: i64,
    /// `--memory-reservation`: the soft limit, in bytes.
    pub memory_reservation: i64,
    /// `--cpus`, in billionths of a CPU.
    pub nano_cpus: i64,
    /// `--cpu-shares`: the relative weight (v1 shares; converted to a v2 weight).
    pub cpu_shares: i64,
    /// `--cpu-quota`, in microseconds per period.
    pub cpu_quota: i64,
    /// `--cpu-period`, in microseconds.
    pub cpu_period: i64,
    /// `--cpuset-cpus`: a CPU list such as `0-2,4`.
    pub cpuset_cpus: String,
    /// `--pids-limit`; `None` (Docker's null) when not set, -1 for unlimited.
    pub pids_limit: Option<i64>,
    /// `--oom-kill-disable` (cgroup v1 only, as Docker's).
    pub oom_kill_disable: Option<bool>,
    /// `--memory-swappiness` (0 to 100; cgroup v1 only).
    pub memory_swappiness: Option<i64>,
    /// `--blkio-weight` (10 to 1000; 0: not set), where the kernel's I/O scheduler has
    /// weights.
    pub blkio_weight: u16,
    /// `--cpuset-mems`: the memory nodes (`0-1`, `0,2`).
    pub cpuset_mems: String,
    /// `--device-read-bps`, `--device-write-bps`: bytes per second of a block device.
    #[serde(rename = "BlkioDeviceReadBps")]
    pub device_read_bps: Vec<ThrottleDevice>,
    #[serde(rename = "BlkioDeviceWriteBps")]
    pub device_write_bps: Vec<ThrottleDevice>,
    /// `--device-read-iops`, `--device-write-iops`: operations per second.
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub device_read_iops: Vec<ThrottleDevice>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub device_write_iops: Vec<ThrottleDevice>,
}

/// A block device's I/O limit (`/dev/sda:1mb`), as Docker's `ThrottleDevice`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ThrottleDevice {
    pub path: String,
    pub rate: u64,
}

impl ThrottleDevice {
    /// Parses `PATH:RATE`: a size (`1mb`) with `bytes`, else a plain number.
    pub fn parse(s: &str, bytes: bool) -> Result<ThrottleDevice, InvalidValue> {
        let bad = |why: &str| InvalidValue::new(s, format!("invalid value {s:?}: {why}"));
        let (path, rate) = s.rsplit_once(':').ok_or_else(|| bad("use PATH:RATE"))?;
        if !path.starts_with("/dev/") {
            return Err(bad(&format!("{path} is not a device path (/dev/...)")));
        }
        let rate = if bytes {
            parse_bytes(rate).map_err(|_| bad("the rate is not a size"))? as u64
        } else {
            rate.parse().map_err(|_| bad("the rate is not a number"))?
        };
        Ok(ThrottleDevice {
            path: path.into(),
            rate,
        })
    }

    /// The device's `major:minor` (it must be a block device).
    pub fn numbers(&self) -> Result<String, Error> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let m = std::fs::metadata(&self.path)
            .map_err(|e| Error::Invalid(format!("{}: {e}", self.path)))?;
        if !m.file_type().is_block_device() {
            return Err(Error::Invalid(format!(
                "{} is not a block device",
                self.path
            )));
        }
        let rdev = m.rdev();
        Ok(format!("{}:{}", libc::major(rdev), libc::minor(rdev)))
    }
}

impl Resources {
    /// Whether any limit is set.
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }

    /// The CFS (quota, period) in microseconds that `--cpus` or `--cpu-quota`/`--cpu-period`
    /// ask for; `None` when neither is set.
    pub fn cfs_quota_period(&self) -> Option<(i64, i64)> {
        if self.nano_cpus > 0 {
            let quota = self.nano_cpus * DEFAULT_CPU_PERIOD / 1_000_000_000;
            return Some((quota, DEFAULT_CPU_PERIOD));
        }
        if self.cpu_quota != 0 || self.cpu_period != 0 {
            let period = if self.cpu_period > 0 {
                self.cpu_period
            } else {
                DEFAULT_CPU_PERIOD
            };
            let quota = if self.cpu_quota > 0 {
                self.cpu_quota
            } else {
                -1
            };
            return Some((quota, period));
        }
        None
    }

    /// The effective pids limit: `None` for unlimited.
    pub fn pids_max(&self) -> Option<i64> {
        self.pids_limit.filter(|l| *l > 0)
    }

    /// Checks Docker's rules (with its messages) and fills in its defaults: a memory
    /// limit without `--memory-swap` allows as much swap again (swap = 2 × memory).
    /// `ncpus` is the number of CPUs online.
    pub fn validate(mut self, ncpus: usize) -> Result<Resources, Error> {
        let bad = |m: &str| Err(Error::Invalid(m.to_string()));
        if self.memory < 0 || self.memory_reservation < 0 || self.memory_swap < -1 {
            return bad("memory limits cannot be negative");
        }
        if self.memory != 0 && self.memory < MIN_MEMORY {
            return bad("Minimum memory limit allowed is 6MB");
        }
        if self.memory == 0 && self.memory_swap > 0 {
            return bad(
                "You should always set the Memory limit when using Memoryswap limit, see usage",
            );
        }
        if self.memory > 0 && self.memory_swap > 0 && self.memory_swap < self.memory {
            return bad("Minimum memoryswap limit should be larger than memory limit, see usage");
        }
        if self.memory_reservation != 0 && self.memory_reservation < MIN_MEMORY {
            return bad("Minimum memory reservation allowed is 6MB");
        }
        if self.memory > 0 && self.memory_reservation > self.memory {
            return bad(
                "Minimum memory limit can not be less than memory reservation limit, see usage",
            );
        }
        if self.memory > 0 && self.memory_swap == 0 {
            self.memory_swap = 2 * self.memory;
        }
        if self.nano_cpus > 0 && self.cpu_period > 0 {
            return bad("Conflicting options: Nano CPUs and CPU Period cannot both be set");
        }
        if self.nano_cpus > 0 && self.cpu_quota > 0 {
            return bad("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
        }
        let max_nano = ncpus as i64 * 1_000_000_000;
        // Under 0.01 the CFS quota would be under the kernel's 1 ms minimum.
        if self.nano_cpus < 0
            || (1..10_000_000).contains(&self.nano_cpus)
            || self.nano_cpus > max_nano
        {
            return Err(Error::Invalid(format!(
                "Range of CPUs is from 0.01 to {ncpus}.00, as there are only {ncpus} CPUs available"
            )));
        }
        if self.cpu_period != 0 && !(1000..=1_000_000).contains(&self.cpu_period) {
            return bad(
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1 second (i.e. 1000000)",
            );
        }
        if self.cpu_quota > 0 && self.cpu_quota < 1000 {
            return bad("CPU cfs quota can not be less than 1ms (i.e. 1000)");
        }
        if self.cpu_shares < 0 {
            return bad("--cpu-shares cannot be negative");
        }
        if let Some(s) = self.memory_swappiness
            && !(-1..=100).contains(&s)
        {
            return Err(Error::Invalid(format!(
                "Invalid value: {s}, valid memory swappiness range is 0-100"
            )));
        }
        if self.memory_swappiness == Some(-1) {
            self.memory_swappiness = None;
        }
        if self.blkio_weight != 0 && !(10..=1000).contains(&self.blkio_weight) {
            return bad("Range of blkio weight is from 10 to 1000");
        }
        for d in self
            .device_read_bps
            .iter()
            .chain(&self.device_write_bps)
            .chain(&self.device_read_iops)
            .chain(&self.device_write_iops)
        {
            d.numbers()?;
        }
        if !self.cpuset_mems.is_empty() {
            let wanted = parse_cpu_list(&self.cpuset_mems)
                .map_err(|e| Error::Invalid(format!("--cpuset-mems: {e}")))?;
            let online = std::fs::read_to_string("/sys/devices/system/node/online")
                .unwrap_or_else(|_| "0".into());
            let have = parse_cpu_list(online.trim()).unwrap_or_else(|_| vec![0]);
            if wanted.iter().any(|n| !have.contains(n)) {
                return Err(Error::Invalid(format!(
                    "Requested memory nodes are not available - requested {}, available: {}",
                    self.cpuset_mems,
                    online.trim()
                )));
            }
        }
        if !self.cpuset_cpus.is_empty() {
            let cpus = parse_cpu_list(&self.cpuset_cpus)
                .map_err(|e| Error::Invalid(format!("--cpuset-cpus: {e}")))?;
            if cpus.iter().any(|c| *c >= ncpus) {
                return Err(Error::Invalid(format!(
                    "Requested CPUs are not available - requested {}, available: 0-{}",
                    self.cpuset_cpus,
                    ncpus.saturating_sub(1)
                )));
            }
        }
        Ok(self)
    }

    /// The limits as the OCI runtime spec's `linux.resources`; `None` when none is set.
    pub fn to_oci(&self) -> Option<oci_spec::runtime::LinuxResources> {
        use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};
        if self.is_empty() {
            return None;
        }
        let mut r = LinuxResources::default();
        if self.memory != 0 || self.memory_swap != 0 || self.memory_reservation != 0 {
            let mut m = LinuxMemory::default();
            m.set_limit((self.memory > 0).then_some(self.memory));
            m.set_swap((self.memory_swap != 0).then_some(self.memory_swap));
            m.set_reservation((self.memory_reservation > 0).then_some(self.memory_reservation));
            r.set_memory(Some(m));
        }
        let cfs = self.cfs_quota_period();
        if cfs.is_some()
            || self.cpu_shares > 0
            || !self.cpuset_cpus.is_empty()
            || !self.cpuset_mems.is_empty()
        {
            let mut c = LinuxCpu::default();
            c.set_shares((self.cpu_shares > 0).then_some(self.cpu_shares as u64));
            c.set_quota(cfs.map(|(q, _)| q));
            c.set_period(cfs.map(|(_, p)| p as u64));
            c.set_cpus((!self.cpuset_cpus.is_empty()).then(|| self.cpuset_cpus.clone()));
            c.set_mems((!self.cpuset_mems.is_empty()).then(|| self.cpuset_mems.clone()));
            r.set_cpu(Some(c));
        }
        if let Some(l) = self.pids_limit {
            let mut p = LinuxPids::default();
            p.set_limit(if l > 0 { l } else { -1 });
            r.set_pids(Some(p));
        }
        Some(r)
    }
}

/// Parses a size as Docker's `RAMInBytes` does: a number with an optional binary unit
/// (`b`, `k`, `m`, `g`, `t`, `p`, optionally followed by `b` or `ib`): `32m`, `1.5g`,
/// `512`, `64MiB`.
pub fn parse_bytes(s: &str) -> Result<i64, InvalidValue> {
    let invalid = || InvalidValue::new(s, format!("invalid size: '{s}'"));
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return Err(invalid());
    }
    let value: f64 = num.parse().map_err(|_| invalid())?;
    let unit = unit.trim_start_matches(' ').to_ascii_lowercase();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(&unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024f64.powi(2),
        "g" => 1024f64.powi(3),
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(invalid()),
    };
    let bytes = value * mult;
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return Err(InvalidValue::new(s, format!("size too large: '{s}'")));
    }
    Ok(bytes as i64)
}

/// Parses `--memory-swap`: a size, or -1 for unlimited swap.
pub fn parse_swap(s: &str) -> Result<i64, InvalidValue> {
    if s.trim() == "-1" {
        return Ok(-1);
    }
    parse_bytes(s)
}

/// Parses `--cpus` (a decimal number of CPUs) into billionths of a CPU.
pub fn parse_cpus(s: &str) -> Result<i64, InvalidValue> {
    let not_rational = || InvalidValue::new(s, format!("failed to parse {s} as a rational number"));
    let v: f64 = s.trim().parse().map_err(|_| not_rational())?;
    if !v.is_finite() || v < 0.0 {
        return Err(not_rational());
    }
    let nano = (v * 1e9).round();
    if nano >= i64::MAX as f64 {
        return Err(InvalidValue::new(
            s,
            format!("value is too precise or too large: {s}"),
        ));
    }
    Ok(nano as i64)
}

/// Parses `--pids-limit`: an integer; 0 and -1 mean unlimited (stored as -1).
pub fn parse_pids_limit(s: &str) -> Result<i64, InvalidValue> {
    let v: i64 = s
        .trim()
        .parse()
        .map_err(|_| InvalidValue::new(s, format!("invalid pids limit: '{s}': not an integer")))?;
    Ok(if v <= 0 { -1 } else { v })
}

/// Parses a CPU list (`0-3,5`) into its CPU numbers.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, InvalidValue> {
    let invalid = || InvalidValue::new(s, format!("invalid value {s} for cpuset cpus"));
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        match part.split_once('-') {
            Some((a, b)) => {
                let a: usize = a.parse().map_err(|_| invalid())?;
                let b: usize = b.parse().map_err(|_| invalid())?;
                if a > b || b - a > 4096 {
                    return Err(invalid());
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| invalid())?),
        }
    }
    Ok(out)
}

/// Parses `--cpuset-cpus`, keeping the list as given once it reads as one.
pub fn parse_cpuset(s: &str) -> Result<String, InvalidValue> {
    parse_cpu_list(s)?;
    Ok(s.trim().to_string())
}

/// Converts v1 CPU shares (2..262144) to a v2 `cpu.weight` (1..10000) as runc does.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_dockers_units() {
        let cases: Vec<(&str, Result<i64, String>)> = [
            "512",
            "32m",
            "32M",
            "1.5g",
            "64MiB",
            "100mb",
            "10k",
            "1b",
            "2 g",
            "",
            "m",
            "12x",
            "-5m",
            "1.2.3m",
            "99999999999p",
        ]
        .into_iter()
        .map(|s| (s, parse_bytes(s).map_err(|e| e.message)))
        .collect();
        insta::assert_debug_snapshot!(cases);
    }

    #[test]
    fn cpus_swap_and_pids_parse() {
        assert_eq!(parse_cpus("0.5"), Ok(500_000_000));
        assert_eq!(parse_cpus("1.25"), Ok(1_250_000_000));
        assert_eq!(parse_cpus("2"), Ok(2_000_000_000));
        assert!(
            parse_cpus("half")
                .unwrap_err()
                .message
                .contains("rational number")
        );
        assert!(parse_cpus("-1").is_err());
        assert_eq!(parse_swap("-1"), Ok(-1));
        assert_eq!(parse_swap("64m"), Ok(64 << 20));
        assert_eq!(parse_pids_limit("20"), Ok(20));
        assert_eq!(parse_pids_limit("0"), Ok(-1));
        assert!(parse_pids_limit("lots").is_err());
        assert_eq!(parse_cpu_list("0-2,5"), Ok(vec![0, 1, 2, 5]));
        assert!(parse_cpu_list("2-1").is_err());
        assert!(parse_cpuset("a").is_err());
    }

    #[test]
    fn cpus_become_a_quota_over_a_100ms_period() {
        let r = Resources {
            nano_cpus: 500_000_000,
            ..Default::default()
        };
        assert_eq!(r.cfs_quota_period(), Some((50_000, 100_000)));
        let r = Resources {
            cpu_quota: 20_000,
            ..Default::default()
        };
        assert_eq!(r.cfs_quota_period(), Some((20_000, 100_000)));
        assert_eq!(Resources::default().cfs_quota_period(), None);
    }

    #[test]
    fn shares_convert_to_weights_as_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(512), 20);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }

    #[test]
    fn validation_follows_dockers_rules() {
        let mib = 1 << 20;
        let check = |r: Resources| r.validate(2).map_err(|e| e.to_string());
        // `--cpus 0.001`: refused at create, not by the kernel at start.
        let tiny = check(Resources {
            nano_cpus: 1_000_000,
            ..Default::default()
        });
        assert_eq!(
            tiny.unwrap_err(),
            "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"
        );
        let cases = vec![
            check(Resources {
                memory: 4 * mib,
                ..Default::default()
            }),
            check(Resources {
                memory_swap: 64 * mib,
                ..Default::default()
            }),
            check(Resources {
                memory: 64 * mib,
                memory_swap: 32 * mib,
                ..Default::default()
            }),
            check(Resources {
                memory: 32 * mib,
                memory_reservation: 64 * mib,
                ..Default::default()
            }),
            check(Resources {
                nano_cpus: 500_000_000,
                cpu_quota: 50_000,
                ..Default::default()
            }),
            check(Resources {
                nano_cpus: 3_000_000_000,
                ..Default::default()
            }),
            check(Resources {
                cpu_period: 10,
                ..Default::default()
            }),
            check(Resources {
                cpuset_cpus: "0-7".into(),
                ..Default::default()
            }),
            check(Resources {
                memory: 32 * mib,
                ..Default::default()
            }),
        ];
        insta::assert_debug_snapshot!(cases);
    }

    #[test]
    fn oci_resources_carry_the_limits() {
        let r = Resources {
            memory: 64 << 20,
            memory_swap: -1,
            nano_cpus: 500_000_000,
            cpu_shares: 512,
            pids_limit: Some(50),
            ..Default::default()
        };
        insta::assert_json_snapshot!(r.to_oci());
        assert_eq!(Resources::default().to_oci(), None);
    }
}
