//! 03-inspect: answer.txt holds clock's State.StartedAt, compared with the engine's record.

use crate::{Ctx, Failure};

pub fn grade(ctx: &Ctx<'_>) -> Result<(), Failure> {
    let clock = ctx.container("clock")?;
    ctx.pass("a container named clock exists");
    let answer = ctx.work_file("answer.txt")?;
    let truth = &clock.state.started_at;
    if answer.trim() != truth {
        return Err(Failure::new(
            "answer.txt to hold the moment clock started, as its record has it",
            format!("it holds {:?}", answer.trim()),
        ));
    }
    ctx.pass(format!("answer.txt says {truth}, as the record does"));
    Ok(())
}
