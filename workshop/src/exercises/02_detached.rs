//! 02-detached: a running container named `web` whose logs say a given line.

use crate::{Ctx, Failure};
use std::time::Duration;

const LINE: &str = "web is up";

pub fn grade(ctx: &Ctx<'_>) -> Result<(), Failure> {
    ctx.container("web")?;
    ctx.pass("a container named web exists");
    ctx.must_run("web", "container web to keep running")?;
    // Watched for a second: a container that ends meanwhile fails as soon as it does.
    let stopped = ctx.wait_for(Duration::from_secs(1), || {
        Ok(!ctx.container("web")?.state.running)
    })?;
    if stopped {
        ctx.must_run("web", "container web to be still running a second later")?;
    }
    ctx.pass("it keeps running");
    let logs = ctx.logs("web");
    if !logs.lines().any(|l| l.trim_end() == LINE) {
        return Err(Failure::new(
            format!("the line {LINE:?} in `tug logs web`"),
            format!("the logs are:\n{}", super::shown(&logs)),
        ));
    }
    ctx.pass(format!("its logs say {LINE:?}"));
    Ok(())
}
