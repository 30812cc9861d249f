//! 05-ports: the page answers on the host's port 48080.

use crate::{Ctx, Failure};
use std::time::Duration;

const PORT: u16 = 48080;

pub fn grade(ctx: &Ctx<'_>) -> Result<(), Failure> {
    ctx.must_run("site", "container site to be running")?;
    ctx.pass("container site is running");
    if ctx.host_port("site", "80/tcp") != Some(PORT) {
        let ports = ctx.tug_ok(&["port", "site"]).unwrap_or_default();
        return Err(Failure::new(
            format!("the container's port 80 published on the host's port {PORT}"),
            if ports.trim().is_empty() {
                "nothing of site is published (`tug port site` lists nothing)".to_string()
            } else {
                format!("`tug port site` says:\n{}", super::shown(&ports))
            },
        ));
    }
    let page = ctx.http_get(PORT, "/", Some("site"), Duration::from_secs(3))?;
    if page.status != 200 || page.body_text().trim() != "hello through a port" {
        return Err(Failure::new(
            "GET / to answer 200 with \"hello through a port\"",
            format!("it answered {} with {:.200}", page.status, page.body_text()),
        ));
    }
    ctx.pass(format!(
        "GET http://127.0.0.1:{PORT}/ answers with the page"
    ));
    Ok(())
}
