//! 09-multistage: an image of at most `max_image_bytes` that serves what render.pl makes
//! of content.txt (with a line the grader adds before the build).

use crate::{Ctx, Failure};
use std::process::Command;
use std::time::Duration;

pub fn grade(ctx: &Ctx<'_>) -> Result<(), Failure> {
    let limit = ctx.param_u64("max_image_bytes").unwrap_or(5_000_000);
    let content = ctx.work.join("content.txt");
    let mut text = std::fs::read_to_string(&content).unwrap_or_default();
    text.push_str(&format!("checked by the grader {}\n", std::process::id()));
    std::fs::write(&content, text)
        .map_err(|e| Failure::setup("to change content.txt", e.to_string()))?;
    let rendered = Command::new("perl")
        .arg(ctx.work.join("render.pl"))
        .arg(&content)
        .output()
        .map_err(|e| {
            Failure::setup(
                "perl on the host, to render the expected page",
                e.to_string(),
            )
        })?;
    if !rendered.status.success() {
        return Err(Failure::new(
            "render.pl to render content.txt",
            String::from_utf8_lossy(&rendered.stderr).into_owned(),
        ));
    }

    let tag = ctx.build()?;
    let size = ctx
        .engine()
        .inspect_image(&tag)
        .ok()
        .and_then(|v| v["Size"].as_u64())
        .ok_or_else(|| Failure::setup("the image's size", "inspect has none"))?;
    if size > limit {
        return Err(Failure::new(
            format!("an image of at most {} MB", limit / 1_000_000),
            format!(
                "it is {} MB ({size} bytes): what does the image that runs the server need besides the page and a web server?",
                size / 1_000_000
            ),
        ));
    }
    ctx.pass(format!("the image is {} kB", size / 1000));
    let port = super::serve(ctx, &tag)?;
    let page = ctx.http_get(port, "/", Some("server"), Duration::from_secs(5))?;
    if page.body != rendered.stdout {
        return Err(Failure::new(
            "GET / to answer with the page render.pl makes of content.txt",
            format!("it answered ({}):\n{:.400}", page.status, page.body_text()),
        ));
    }
    ctx.pass("GET / answers with the page rendered from content.txt");
    Ok(())
}
