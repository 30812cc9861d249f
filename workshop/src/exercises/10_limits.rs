//! 10-limits: container hog exited with 137 and OOMKilled.

use crate::{Ctx, Failure};
use std::time::Duration;

pub fn grade(ctx: &Ctx<'_>) -> Result<(), Failure> {
    let _ = ctx.container("hog")?;
    let ended = ctx.wait_for(Duration::from_secs(3), || {
        Ok(!ctx.container("hog")?.state.running)
    })?;
    if !ended {
        return Err(Failure::new(
            "the container hog to have ended",
            "it is still running",
        ));
    }
    let hog = ctx.container("hog")?;
    ctx.pass("the container hog has exited");
    if hog.state.exit_code != 137 {
        return Err(Failure::new(
            "hog to end with exit code 137 (killed by SIGKILL)",
            format!(
                "it ended with {}: it had all the memory it asked for",
                hog.state.exit_code
            ),
        ));
    }
    ctx.pass("with exit code 137");
    if !hog.state.oom_killed {
        return Err(Failure::new(
            "hog's State.OOMKilled to be true (killed by the kernel at its memory limit)",
            format!(
                "it is false: something else killed it{}",
                ctx.commands_said()
            ),
        ));
    }
    ctx.pass("and OOMKilled is true");
    Ok(())
}
