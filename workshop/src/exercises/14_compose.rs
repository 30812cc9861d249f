//! 14-compose: both services run, db is healthy by its own healthcheck, and web, which
//! reads the database once as it starts, serves its notes: it waited for db's health.

use crate::{Ctx, Failure};
use std::time::Duration;

const PORT: u16 = 48084;
const NOTES: &str = "3 notes in the database";

pub fn grade(ctx: &Ctx<'_>) -> Result<(), Failure> {
    let db = ctx.must_run(
        "notes-db-1",
        "container notes-db-1 (service db) to be running",
    )?;
    ctx.must_run(
        "notes-web-1",
        "container notes-web-1 (service web) to be running",
    )?;
    ctx.pass("containers notes-db-1 and notes-web-1 are running");
    let Some(health) = db.state.health.as_ref() else {
        return Err(Failure::new(
            "db to have a healthcheck",
            "notes-db-1 has none (`tug inspect -f '{{.State.Health}}' notes-db-1` is empty)",
        ));
    };
    if health.status != tug::container::HealthStatus::Healthy {
        let last = health
            .log
            .last()
            .map(|r| {
                format!(
                    "; its last check exited {}: {}",
                    r.exit_code,
                    r.output.trim()
                )
            })
            .unwrap_or_default();
        return Err(Failure::new(
            "db to be healthy",
            format!("it is {:?}{last}", health.status),
        ));
    }
    ctx.pass("db has a healthcheck and is healthy");
    let page = ctx.http_get(PORT, "/", Some("notes-web-1"), Duration::from_secs(3))?;
    let body = page.body_text();
    if page.status != 200 || body.trim() != NOTES {
        return Err(Failure::new(
            format!("GET http://127.0.0.1:{PORT}/ to answer {NOTES:?} (what web read from db)"),
            format!(
                "it answered {} with {:?}: web read the database before db answered",
                page.status,
                body.trim()
            ),
        ));
    }
    ctx.pass(format!(
        "GET http://127.0.0.1:{PORT}/ answers with the notes from the database"
    ));
    Ok(())
}
