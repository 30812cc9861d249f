//! 13-under-the-hood: the host PID of `box` and its memory limit, found from the host.
//! The setup starts `box` with a limit that changes at every grading.

use crate::{Ctx, Failure};

/// Starts `box` with a memory limit of 24 to 87 MiB, chosen anew each time.
pub fn setup(ctx: &Ctx<'_>) -> Result<(), Failure> {
    let mib = 24
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() % 64);
    ctx.tug_ok(&[
        "run",
        "-d",
        "--name",
        "box",
        "--memory",
        &format!("{mib}m"),
        "busybox",
        "sleep",
        "3600",
    ])
    .map_err(|f| Failure::setup("to start box", f.got))?;
    Ok(())
}

pub fn grade(ctx: &Ctx<'_>) -> Result<(), Failure> {
    let b = ctx.must_run("box", "container box to be running")?;
    let answer = ctx.work_file("answer.txt")?;
    let mut lines = answer.lines().map(str::trim);
    let pid = lines.next().unwrap_or("");
    if pid != b.state.pid.to_string() {
        return Err(Failure::new(
            "answer.txt's first line to be the host's PID of box's main process",
            format!("it is {pid:?}"),
        ));
    }
    ctx.pass("the first line is box's PID on the host");
    let limit = lines.next().unwrap_or("");
    let truth = serde_json::to_value(&b)
        .ok()
        .and_then(|v| v["HostConfig"]["Memory"].as_i64());
    let truth = truth.ok_or_else(|| Failure::setup("box's memory limit", "its record has none"))?;
    if limit != truth.to_string() {
        return Err(Failure::new(
            "answer.txt's second line to be box's memory limit in bytes",
            format!("it is {limit:?}"),
        ));
    }
    ctx.pass(format!(
        "the second line is its memory limit, {truth} bytes"
    ));
    Ok(())
}
