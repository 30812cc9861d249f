//! 04-commit: mine:1 exists, has one layer more than busybox, and holds the file.

use crate::{Ctx, Failure};

fn layers(ctx: &Ctx<'_>, image: &str) -> Option<usize> {
    let v = ctx.engine().inspect_image(image).ok()?;
    v["RootFS"]["Layers"].as_array().map(Vec::len)
}

pub fn grade(ctx: &Ctx<'_>) -> Result<(), Failure> {
    let Some(mine) = layers(ctx, "mine:1") else {
        let images = ctx.tug_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])?;
        let images: Vec<&str> = images.lines().collect();
        return Err(Failure::new(
            "an image mine:1",
            format!(
                "there is none; the images are: {}{}",
                images.join(", "),
                ctx.commands_said()
            ),
        ));
    };
    ctx.pass("the image mine:1 exists");
    let base = layers(ctx, "busybox").unwrap_or(0);
    if mine != base + 1 {
        return Err(Failure::new(
            format!(
                "mine:1 to have {} layers, busybox's {base} and one more",
                base + 1
            ),
            format!("it has {mine}"),
        ));
    }
    ctx.pass("it has one layer more than busybox");
    ctx.expect_tug_says(
        &["run", "--rm", "mine:1", "cat", "/greeting.txt"],
        "made by me",
        "/greeting.txt in mine:1 to say \"made by me\"",
    )?;
    ctx.pass("/greeting.txt in mine:1 says \"made by me\"");
    Ok(())
}
