//! `tug update`: new resource limits and restart policy of one or more containers.

use clap::Args;

use super::{CliError, CliResult};
use tug::Engine;
use tug::container::{
    self, Resources, UpdateOptions, parse_bytes, parse_cpus, parse_cpuset, parse_pids_limit,
    parse_swap,
};

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long, value_name = "uint16")]
    pub blkio_weight: Option<u16>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long, value_name = "int")]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, value_name = "int", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long, value_name = "int")]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long, value_name = "decimal", value_parser = parse_cpus)]
    pub cpus: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "string", value_parser = parse_cpuset)]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "string", value_parser = parse_cpuset)]
    pub cpuset_mems: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long, value_name = "bytes", value_parser = parse_bytes)]
    pub memory: Option<i64>,
    /// Memory soft limit
    #[arg(long, value_name = "bytes", value_parser = parse_bytes)]
    pub memory_reservation: Option<i64>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long, value_name = "bytes", value_parser = parse_swap, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, value_name = "int", value_parser = parse_pids_limit, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn update(engine: &Engine, a: UpdateArgs) -> CliResult {
    let restart_policy = a
        .restart
        .as_deref()
        .map(container::RestartPolicy::parse)
        .transpose()
        .map_err(|e| CliError::usage(e.to_string()))?;
    let resources = Resources {
        memory: a.memory.unwrap_or(0),
        memory_swap: a.memory_swap.unwrap_or(0),
        memory_reservation: a.memory_reservation.unwrap_or(0),
        nano_cpus: a.cpus.unwrap_or(0),
        cpu_shares: a.cpu_shares.unwrap_or(0),
        cpu_quota: a.cpu_quota.unwrap_or(0),
        cpu_period: a.cpu_period.unwrap_or(0),
        cpuset_cpus: a.cpuset_cpus.unwrap_or_default(),
        cpuset_mems: a.cpuset_mems.unwrap_or_default(),
        pids_limit: a.pids_limit,
        blkio_weight: a.blkio_weight.unwrap_or(0),
        ..Default::default()
    };
    if resources.is_empty() && restart_policy.is_none() {
        return Err(CliError::usage(
            "you must provide one or more flags when using this command",
        ));
    }
    let opts = UpdateOptions {
        resources,
        restart_policy,
    };
    let mut code = 0;
    for name in &a.containers {
        match engine.update_container(name, &opts) {
            Ok(_) => println!("{name}"),
            Err(e) => {
                eprintln!("tug: {}", CliError::from(e).message);
                code = 1;
            }
        }
    }
    Ok(code)
}
