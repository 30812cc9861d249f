//! 01-run: a given line came out of the commands, and no container is left.

use crate::{Ctx, Failure};

const LINE: &str = "Hello from a container";

pub fn grade(ctx: &Ctx<'_>) -> Result<(), Failure> {
    ctx.expect_output_line(LINE, "the line")?;
    ctx.pass(format!("{LINE:?} came out"));
    let left = ctx.containers();
    if !left.is_empty() {
        return Err(Failure::new(
            "no container left once the commands have run",
            ctx.describe_containers(),
        ));
    }
    ctx.pass("no container is left");
    Ok(())
}
