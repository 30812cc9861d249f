//! `tug version`, `tug info`, `tug system df`, and `tug image prune`.

use std::collections::BTreeMap;
use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::format::{format_rows, human_size, render, table};
use super::{CliError, CliResult};
use tug::Engine;

#[derive(Subcommand, Debug)]
pub enum SystemCommand {
    /// Show tug disk usage
    Df(DfArgs),
    /// Get real time events from the server
    Events(super::events::EventsArgs),
    /// Display system-wide information
    Info(FormatArgs),
    /// Remove unused data
    Prune(SystemPruneArgs),
    /// Serve the Docker Engine API on a unix socket (root-equivalent: guard it)
    Service(ServiceArgs),
}

#[derive(Args, Debug)]
pub struct ServiceArgs {
    /// Where to listen: unix:///path/to/socket, or tcp://HOST:PORT (unencrypted: only
    /// when you must)
    #[arg(short = 'H', long = "host", visible_alias = "socket", value_name = "URI",
          default_value = crate::api::DEFAULT_SOCKET)]
    pub host: String,
}

#[derive(Args, Debug)]
pub struct SystemPruneArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Prune anonymous volumes
    #[arg(long)]
    pub volumes: bool,
    /// Provide filter values (e.g. "until=<timestamp>", "label=<key>=<value>")
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Args, Debug)]
pub struct FormatArgs {
    /// Format output using a Go template, or "json"
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    pub verbose: bool,
    /// Format output using a Go template, or "json"
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Provide filter values (e.g. "until=<timestamp>", "label=<key>=<value>")
    #[arg(long)]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

pub fn dispatch(engine: &Engine, c: SystemCommand) -> CliResult {
    match c {
        SystemCommand::Df(a) => df(engine, a),
        SystemCommand::Info(a) => info(engine, a),
        SystemCommand::Prune(a) => system_prune(engine, a),
        SystemCommand::Events(a) => super::events::events(engine, a),
        SystemCommand::Service(a) => service(engine, a),
    }
}

/// `tug system service`: serves the Docker Engine API until killed.
fn service(engine: &Engine, a: ServiceArgs) -> CliResult {
    let listen = crate::api::Listen::parse(&a.host).map_err(CliError::usage)?;
    crate::api::serve(engine.clone(), listen).map_err(CliError::other)?;
    Ok(0)
}

fn out_err(e: std::io::Error) -> CliError {
    CliError::output(e)
}

/// Prints `value` through `--format` (`json` for the JSON itself), or returns false when
/// no format was given.
fn print_formatted(format: Option<&str>, value: &Value) -> Result<bool, CliError> {
    let Some(f) = format else { return Ok(false) };
    let text = if f == "json" {
        value.to_string()
    } else {
        render(f, value)?
    };
    println!("{text}");
    Ok(true)
}

/// The facts of this build, for `version` and `info`.
fn version_value(engine: &Engine) -> Value {
    let h = engine.host_info();
    let client = json!({
        "Platform": {"Name": "tug"},
        "Version": h.version,
        "ApiVersion": h.api_version,
        "Os": h.os_type,
        "Arch": h.go_arch,
        "Context": "default",
    });
    json!({
        "Client": client,
        "Server": {
            "Platform": {"Name": "tug (daemonless)"},
            "Version": h.version,
            "Os": h.os_type,
            "Arch": h.go_arch,
            "KernelVersion": h.kernel_version,
            "Root": h.root,
        },
    })
}

/// `tug version`.
pub fn version(engine: &Engine, a: FormatArgs) -> CliResult {
    let v = version_value(engine);
    if print_formatted(a.format.as_deref(), &v)? {
        return Ok(0);
    }
    let c = &v["Client"];
    let s = &v["Server"];
    let text = format!(
        "Client: tug\n Version:           {}\n API version:       {}\n OS/Arch:           {}/{}\n Context:           default\n\n\
         Server: tug (daemonless: every command works on the state root directly)\n Version:           {}\n Kernel Version:    {}\n Root Dir:          {}\n",
        c["Version"].as_str().unwrap_or(""),
        c["ApiVersion"].as_str().unwrap_or(""),
        c["Os"].as_str().unwrap_or(""),
        c["Arch"].as_str().unwrap_or(""),
        s["Version"].as_str().unwrap_or(""),
        s["KernelVersion"].as_str().unwrap_or(""),
        s["Root"].as_str().unwrap_or(""),
    );
    print!("{text}");
    Ok(0)
}

/// `tug info`: Docker's field names, so `--format '{{.Containers}}'` works.
pub fn info(engine: &Engine, a: FormatArgs) -> CliResult {
    let info = engine.info()?;
    let h = &info.host;
    let v = info.docker_json();
    if print_formatted(a.format.as_deref(), &v)? {
        return Ok(0);
    }
    let mut out = std::io::stdout().lock();
    let text = format!(
        "Client: tug\n Version:    {ver}\n Context:    default\n\n\
         Server:\n Containers: {c}\n  Running: {r}\n  Paused: {p}\n  Stopped: {s}\n Images: {i}\n Server Version: {ver}\n \
         Storage Driver: {drv}\n Cgroup Driver: cgroupfs\n Cgroup Version: {cg}\n Kernel Version: {k}\n Operating System: {os}\n \
         OSType: {ost}\n Architecture: {arch}\n CPUs: {ncpu}\n Total Memory: {mem}\n Name: {name}\n Docker Root Dir: {root}\n",
        ver = h.version,
        c = v["Containers"],
        r = v["ContainersRunning"],
        p = v["ContainersPaused"],
        s = v["ContainersStopped"],
        i = v["Images"],
        drv = h.storage_driver,
        cg = v["CgroupVersion"].as_str().unwrap_or(""),
        k = v["KernelVersion"].as_str().unwrap_or(""),
        os = v["OperatingSystem"].as_str().unwrap_or(""),
        ost = v["OSType"].as_str().unwrap_or(""),
        arch = v["Architecture"].as_str().unwrap_or(""),
        ncpu = v["NCPU"],
        mem = super::stats::bytes_size(v["MemTotal"].as_u64().unwrap_or(0)),
        name = v["Name"].as_str().unwrap_or(""),
        root = v["DockerRootDir"].as_str().unwrap_or(""),
    );
    out.write_all(text.as_bytes()).map_err(out_err)?;
    Ok(0)
}

/// `tug system df`: the disk used by images and containers, as Docker's table.
pub fn df(engine: &Engine, a: DfArgs) -> CliResult {
    let usage = engine.disk_usage()?;
    let (images, containers, volumes) = (&usage.images, &usage.containers, &usage.volumes);
    // Docker's sums: the images' size is their layers' (each once); what removing the
    // unused ones gives back is that less the unique size of the images in use.
    let images_total = usage.layers_size;
    let images_active = images.iter().filter(|(_, n)| *n > 0).count();
    let in_use: u64 = images
        .iter()
        .zip(&usage.shared_sizes)
        .filter(|((_, n), _)| *n > 0)
        .map(|((i, _), shared)| i.size.saturating_sub(*shared))
        .sum();
    let images_reclaimable = images_total.saturating_sub(in_use);
    let containers_total: u64 = containers.iter().map(|(_, s)| s).sum();
    let containers_active = containers.iter().filter(|(c, _)| c.state.running).count();
    let containers_reclaimable: u64 = containers
        .iter()
        .filter(|(c, _)| !c.state.running)
        .map(|(_, s)| s)
        .sum();
    let (mut volumes_total, mut volumes_active, mut volumes_reclaimable) = (0, 0, 0);
    for (_, size, links) in volumes {
        volumes_total += size;
        if *links > 0 {
            volumes_active += 1;
        } else {
            volumes_reclaimable += size;
        }
    }
    // The share in percent, left out when there is nothing (Docker's `0B`). The
    // summary's sizes have four digits (go-units' HumanSize), as `images` has three.
    let part = |part: u64, total: u64| match (part * 100).checked_div(total) {
        Some(pct) => format!("{} ({pct}%)", size4(part)),
        None => size4(part),
    };
    let (cache_count, cache_bytes) = engine.build_cache_usage()?;
    let mut out = std::io::stdout().lock();
    if a.verbose && a.format.is_none() {
        return df_verbose(&mut out, &usage, cache_bytes);
    }
    let rows = vec![
        json!({"Type": "Images", "TotalCount": images.len(), "Active": images_active,
               "Size": size4(images_total),
               "Reclaimable": part(images_reclaimable, images_total)}),
        json!({"Type": "Containers", "TotalCount": containers.len(), "Active": containers_active,
               "Size": size4(containers_total),
               "Reclaimable": part(containers_reclaimable, containers_total)}),
        json!({"Type": "Local Volumes", "TotalCount": volumes.len(), "Active": volumes_active,
               "Size": size4(volumes_total),
               "Reclaimable": part(volumes_reclaimable, volumes_total)}),
        json!({"Type": "Build Cache", "TotalCount": cache_count, "Active": 0,
               "Size": size4(cache_bytes), "Reclaimable": size4(cache_bytes)}),
    ];
    if let Some(f) = a.format.as_deref() {
        if f == "json" {
            for r in &rows {
                writeln!(out, "{r}").map_err(out_err)?;
            }
            return Ok(0);
        }
        let headers = BTreeMap::from([
            ("Type", "TYPE"),
            ("TotalCount", "TOTAL"),
            ("Active", "ACTIVE"),
            ("Size", "SIZE"),
            ("Reclaimable", "RECLAIMABLE"),
        ]);
        format_rows(&mut out, f, &headers, &rows)?;
        return Ok(0);
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            ["Type", "TotalCount", "Active", "Size", "Reclaimable"]
                .iter()
                .map(|k| match &r[*k] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    table(
        &mut out,
        &["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
        &cells,
    )
    .map_err(out_err)
    .map(|_| 0)
}

/// `system df -v`: Docker's four sections (images, containers, volumes, build cache),
/// without the summary.
fn df_verbose(out: &mut dyn Write, usage: &tug::DiskUsage, cache_bytes: u64) -> CliResult {
    let created = |t: &str| {
        humantime::parse_rfc3339_weak(t)
            .map(super::format::time_ago)
            .unwrap_or_default()
    };
    writeln!(out, "Images space usage:\n").map_err(out_err)?;
    let cells: Vec<Vec<String>> = usage
        .images
        .iter()
        .zip(&usage.shared_sizes)
        .map(|((summary, n), shared)| {
            let i = &summary.image;
            let (repo, tag) = match i.names.first() {
                Some(r) => (
                    r.familiar_name(),
                    r.tag.clone().unwrap_or_else(|| "<none>".into()),
                ),
                None => ("<none>".into(), "<none>".into()),
            };
            vec![
                repo,
                tag,
                i.id.short().to_string(),
                created(i.config.created().as_deref().unwrap_or_default()),
                human_size(summary.size),
                size4(*shared),
                size4(summary.size.saturating_sub(*shared)),
                n.to_string(),
            ]
        })
        .collect();
    table(
        out,
        &[
            "REPOSITORY",
            "TAG",
            "IMAGE ID",
            "CREATED",
            "SIZE",
            "SHARED SIZE",
            "UNIQUE SIZE",
            "CONTAINERS",
        ],
        &cells,
    )
    .map_err(out_err)?;
    writeln!(out, "\nContainers space usage:\n").map_err(out_err)?;
    let cells: Vec<Vec<String>> = usage
        .containers
        .iter()
        .map(|(c, s)| {
            let local = c.mounts.iter().filter(|m| m["Driver"] == "local").count();
            vec![
                c.id.short().to_string(),
                c.config.image.clone(),
                super::ps::command(c, false),
                local.to_string(),
                human_size(*s),
                created(&c.created),
                super::ps::status(c),
                c.short_name().to_string(),
            ]
        })
        .collect();
    table(
        out,
        &[
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "LOCAL VOLUMES",
            "SIZE",
            "CREATED",
            "STATUS",
            "NAMES",
        ],
        &cells,
    )
    .map_err(out_err)?;
    writeln!(out, "\nLocal Volumes space usage:\n").map_err(out_err)?;
    let cells: Vec<Vec<String>> = usage
        .volumes
        .iter()
        .map(|(v, size, links)| vec![v.name.clone(), links.to_string(), size4(*size)])
        .collect();
    table(out, &["VOLUME NAME", "LINKS", "SIZE"], &cells).map_err(out_err)?;
    writeln!(out, "\nBuild cache usage: {}\n", size4(cache_bytes)).map_err(out_err)?;
    table(
        out,
        &[
            "CACHE ID",
            "CACHE TYPE",
            "SIZE",
            "CREATED",
            "LAST USED",
            "USAGE",
            "SHARED",
        ],
        &[],
    )
    .map_err(out_err)?;
    Ok(0)
}

/// A size with four significant digits (`114.4MB`), as go-units' `HumanSize` writes the
/// sizes of `system df` but an image's or a container's own (three: `114MB`).
fn size4(bytes: u64) -> String {
    super::format::human_size_precision(bytes, 4)
}

/// `tug image prune`: Docker's "Deleted Images:" list and the space reclaimed.
pub fn image_prune(engine: &Engine, a: ImagePruneArgs) -> CliResult {
    let filters = super::filters::PruneFilters::from_args(&a.filter, &[], true)?;
    if !a.force {
        confirm(if a.all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        })?;
    }
    let report = engine
        .prune_images(a.all, |img| filters.allows_image(img))
        .map_err(tug::Error::from)?;
    let mut out = std::io::stdout().lock();
    deleted_images(&mut out, &report.events)?;
    writeln!(
        out,
        "Total reclaimed space: {}",
        human_size(report.reclaimed)
    )
    .map_err(out_err)?;
    Ok(0)
}

/// Asks "Are you sure you want to continue? [y/N]" on the terminal, as Docker's prune
/// commands do without `-f`; no answer (no terminal) is a no.
pub fn confirm(warning: &str) -> Result<(), CliError> {
    eprint!("{warning}\nAre you sure you want to continue? [y/N] ");
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(CliError {
            code: 1,
            message: "not confirmed (use -f to skip the question)".into(),
        })
    }
}

/// `tug system prune`: stopped containers, unused networks, then unused images (dangling, or all with
/// `-a`), and with `--volumes` unused anonymous volumes, in Docker's words.
pub fn system_prune(engine: &Engine, a: SystemPruneArgs) -> CliResult {
    let filters = super::filters::PruneFilters::from_args(&a.filter, &[], true)?;
    // Docker's volume prune takes no `until`: with one, volumes are kept.
    let volume_filters = super::filters::PruneFilters::from_args(
        &a.filter
            .iter()
            .filter(|f| !f.starts_with("until="))
            .cloned()
            .collect::<Vec<_>>(),
        &[],
        false,
    )?;
    let has_until = a.filter.iter().any(|f| f.starts_with("until="));
    if !a.force {
        let mut what = String::from(
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n",
        );
        if a.volumes {
            what.push_str("  - all anonymous volumes not used by at least one container\n");
        }
        what.push_str(if a.all {
            "  - all images without at least one container associated to them\n"
        } else {
            "  - all dangling images\n"
        });
        what.push_str("  - unused build cache");
        confirm(&what)?;
    }
    let mut out = std::io::stdout().lock();
    let (containers, mut reclaimed) = engine.prune_containers(|c| {
        filters.allows(Some(&c.created), |k| {
            c.config.labels.get(k).map(String::as_str)
        })
    })?;
    if !containers.is_empty() {
        writeln!(out, "Deleted Containers:").map_err(out_err)?;
        for id in &containers {
            writeln!(out, "{id}").map_err(out_err)?;
        }
        writeln!(out).map_err(out_err)?;
    }
    let networks = engine.prune_networks(|n| {
        filters.allows(Some(&n.created), |k| n.labels.get(k).map(String::as_str))
    })?;
    if !networks.is_empty() {
        writeln!(out, "Deleted Networks:").map_err(out_err)?;
        for n in &networks {
            writeln!(out, "{n}").map_err(out_err)?;
        }
        writeln!(out).map_err(out_err)?;
    }
    if a.volumes && !has_until {
        let removed = engine.prune_volumes(false, |v| {
            volume_filters.allows(Some(&v.created_at), |k| {
                v.labels.as_ref()?.get(k).map(String::as_str)
            })
        })?;
        if !removed.is_empty() {
            writeln!(out, "Deleted Volumes:").map_err(out_err)?;
            for (name, size) in &removed {
                writeln!(out, "{name}").map_err(out_err)?;
                reclaimed += size;
            }
            writeln!(out).map_err(out_err)?;
        }
    }
    let report = engine
        .prune_images(a.all, |img| filters.allows_image(img))
        .map_err(tug::Error::from)?;
    deleted_images(&mut out, &report.events)?;
    reclaimed += report.reclaimed;
    // The build cache goes too, as with Docker's `system prune`; not with a filter: its
    // entries keep no creation time or labels to filter by.
    let (_, cache_bytes) = engine.build_cache_usage()?;
    let cache = if a.filter.is_empty() {
        engine.prune_build_cache()?
    } else {
        Default::default()
    };
    if !cache.images.is_empty() {
        writeln!(out, "Deleted build cache objects:").map_err(out_err)?;
        for id in &cache.images {
            writeln!(out, "{id}").map_err(out_err)?;
        }
        writeln!(out).map_err(out_err)?;
        reclaimed += cache_bytes;
    }
    writeln!(out, "Total reclaimed space: {}", human_size(reclaimed)).map_err(out_err)?;
    Ok(0)
}

/// The `Deleted Images:` section of `image prune` and `system prune`, as Docker prints
/// it (nothing when nothing went).
fn deleted_images(
    out: &mut impl Write,
    events: &[tug::image::RemoveEvent],
) -> Result<(), CliError> {
    if events.is_empty() {
        return Ok(());
    }
    writeln!(out, "Deleted Images:").map_err(out_err)?;
    for e in events {
        match e {
            tug::image::RemoveEvent::Untagged(r) => writeln!(out, "untagged: {r}"),
            tug::image::RemoveEvent::Deleted(d) => writeln!(out, "deleted: {d}"),
        }
        .map_err(out_err)?;
    }
    writeln!(out).map_err(out_err)
}
