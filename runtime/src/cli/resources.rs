//! The resource flags of `run` and `create` (`--memory`, `--cpus`, `--pids-limit`, ...),
//! parsed by clap into typed values with the flag named in every error.

use clap::Args;

use tug::container::{Resources, ThrottleDevice};
use tug::container::{parse_bytes, parse_cpus, parse_cpuset, parse_pids_limit, parse_swap};

/// Docker's resource flags.
#[derive(Args, Debug, Clone, Default)]
pub struct ResourceFlags {
    /// Memory limit (units b, k, m, g)
    #[arg(short = 'm', long, value_name = "bytes", value_parser = parse_bytes)]
    pub memory: Option<i64>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long, value_name = "bytes", value_parser = parse_swap, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    /// Memory soft limit
    #[arg(long, value_name = "bytes", value_parser = parse_bytes)]
    pub memory_reservation: Option<i64>,
    /// Number of CPUs
    #[arg(long, value_name = "decimal", value_parser = parse_cpus)]
    pub cpus: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long, value_name = "int")]
    pub cpu_shares: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, value_name = "int", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long, value_name = "int")]
    pub cpu_period: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "string", value_parser = parse_cpuset)]
    pub cpuset_cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, value_name = "int", value_parser = parse_pids_limit, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Disable OOM Killer
    #[arg(long)]
    pub oom_kill_disable: bool,
    /// Tune container memory swappiness (0 to 100)
    #[arg(long, value_name = "int", allow_hyphen_values = true)]
    pub memory_swappiness: Option<i64>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long, value_name = "uint16")]
    pub blkio_weight: Option<u16>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "string", value_parser = parse_cpuset)]
    pub cpuset_mems: Option<String>,
    /// Limit read rate (bytes per second) from a device (PATH:RATE, e.g. /dev/sda:1mb)
    #[arg(long, value_name = "list", value_parser = |s: &str| ThrottleDevice::parse(s, true))]
    pub device_read_bps: Vec<ThrottleDevice>,
    /// Limit write rate (bytes per second) to a device
    #[arg(long, value_name = "list", value_parser = |s: &str| ThrottleDevice::parse(s, true))]
    pub device_write_bps: Vec<ThrottleDevice>,
    /// Limit read rate (IO per second) from a device
    #[arg(long, value_name = "list", value_parser = |s: &str| ThrottleDevice::parse(s, false))]
    pub device_read_iops: Vec<ThrottleDevice>,
    /// Limit write rate (IO per second) to a device
    #[arg(long, value_name = "list", value_parser = |s: &str| ThrottleDevice::parse(s, false))]
    pub device_write_iops: Vec<ThrottleDevice>,
}

impl ResourceFlags {
    /// The engine's [`Resources`] (Docker's rules are checked when the container is made).
    pub fn resources(&self) -> Resources {
        Resources {
            memory: self.memory.unwrap_or(0),
            memory_swap: self.memory_swap.unwrap_or(0),
            memory_reservation: self.memory_reservation.unwrap_or(0),
            nano_cpus: self.cpus.unwrap_or(0),
            cpu_shares: self.cpu_shares.unwrap_or(0),
            cpu_quota: self.cpu_quota.unwrap_or(0),
            cpu_period: self.cpu_period.unwrap_or(0),
            cpuset_cpus: self.cpuset_cpus.clone().unwrap_or_default(),
            pids_limit: self.pids_limit,
            oom_kill_disable: self.oom_kill_disable.then_some(true),
            memory_swappiness: self.memory_swappiness,
            blkio_weight: self.blkio_weight.unwrap_or(0),
            cpuset_mems: self.cpuset_mems.clone().unwrap_or_default(),
            device_read_bps: self.device_read_bps.clone(),
            device_write_bps: self.device_write_bps.clone(),
            device_read_iops: self.device_read_iops.clone(),
            device_write_iops: self.device_write_iops.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser, Debug)]
    struct Cmd {
        #[command(flatten)]
        r: ResourceFlags,
    }

    fn parse(args: &[&str]) -> Result<Resources, String> {
        let mut argv = vec!["run"];
        argv.extend_from_slice(args);
        Cmd::try_parse_from(argv)
            .map(|c| c.r.resources())
            .map_err(|e| e.to_string().lines().next().unwrap_or_default().to_string())
    }

    #[test]
    fn resource_flags_parse_like_dockers() {
        let cases: Vec<(String, Result<Resources, String>)> = [
            &["-m", "32m", "--memory-swap", "-1"][..],
            &["--memory", "1.5g", "--memory-reservation", "512m"],
            &["--cpus", "0.5", "--cpu-shares", "512", "--pids-limit", "20"],
            &[
                "--cpu-quota",
                "50000",
                "--cpu-period",
                "100000",
                "--cpuset-cpus",
                "0-1",
            ],
            &["--pids-limit", "-1"],
            &["-m", "32x"],
            &["--cpus", "half"],
            &["--cpuset-cpus", "1-0"],
            &["--pids-limit", "many"],
            &["--memory-swap", "lots"],
        ]
        .iter()
        .map(|a| (a.join(" "), parse(a)))
        .collect();
        insta::assert_debug_snapshot!(cases);
    }
}
