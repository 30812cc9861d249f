//! 08-volumes: no container left, volume `notes` exists, and a new container reads the
//! note from it.

use crate::{Ctx, Failure};

pub fn grade(ctx: &Ctx<'_>) -> Result<(), Failure> {
    if !ctx.containers().is_empty() {
        return Err(Failure::new("no container left", ctx.describe_containers()));
    }
    ctx.pass("no container is left");
    if ctx.engine().volume("notes").is_err() {
        let vols = ctx.tug_ok(&["volume", "ls", "-q"])?;
        return Err(Failure::new(
            "a volume named notes",
            if vols.trim().is_empty() {
                format!("there is no volume{}", ctx.commands_said())
            } else {
                format!(
                    "the volumes are: {}",
                    vols.split_whitespace().collect::<Vec<_>>().join(", ")
                )
            },
        ));
    }
    ctx.pass("the volume notes exists");
    ctx.expect_tug_says(
        &[
            "run",
            "--rm",
            "-v",
            "notes:/data",
            "busybox",
            "cat",
            "/data/note.txt",
        ],
        "written before rm",
        "/data/note.txt in the volume notes to say \"written before rm\"",
    )?;
    ctx.pass("the note outlived its container");
    Ok(())
}
