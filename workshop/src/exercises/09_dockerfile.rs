//! 09-dockerfile: the image serves site/ over HTTP on port 80, including a file the
//! grader adds to site/ before the build (so the page comes from the context).

use crate::{Ctx, Failure};
use std::time::Duration;

pub fn grade(ctx: &Ctx<'_>) -> Result<(), Failure> {
    let token = format!("check-{}", std::process::id());
    let site = ctx.work.join("site");
    std::fs::create_dir_all(&site).map_err(|e| Failure::setup("a site/ folder", e.to_string()))?;
    std::fs::write(site.join(format!("{token}.txt")), format!("{token}\n"))
        .map_err(|e| Failure::setup("a file in site/", e.to_string()))?;
    let index = std::fs::read(site.join("index.html")).unwrap_or_default();

    let tag = ctx.build()?;
    let port = super::serve(ctx, &tag)?;
    let page = ctx.http_get(port, "/", Some("server"), Duration::from_secs(5))?;
    if page.body != index {
        return Err(Failure::new(
            "GET / to answer with site/index.html, byte for byte",
            format!("it answered ({}):\n{:.400}", page.status, page.body_text()),
        ));
    }
    ctx.pass("GET / answers with site/index.html");
    let extra = ctx.http_get(
        port,
        &format!("/{token}.txt"),
        Some("server"),
        Duration::from_secs(2),
    )?;
    if extra.status != 200 || extra.body_text().trim() != token {
        return Err(Failure::new(
            format!(
                "every file of site/ to be served (GET /{token}.txt, a file the grader added to site/)"
            ),
            format!(
                "it answered {} with {:.200}",
                extra.status,
                extra.body_text()
            ),
        ));
    }
    ctx.pass("a file added to site/ is served too");
    Ok(())
}
