//! Each exercise's checks, by name. To add one: a file `<name_with_underscores>.rs` with
//! `pub fn grade(ctx: &Ctx) -> Result<(), Failure>`, one `mod` line and one table line.

use crate::{Ctx, Failure};

/// An exercise's checks.
pub type GradeFn = fn(&Ctx<'_>) -> Result<(), Failure>;

#[path = "01_run.rs"]
mod ex01_run;
#[path = "02_detached.rs"]
mod ex02_detached;
#[path = "03_inspect.rs"]
mod ex03_inspect;
#[path = "04_commit.rs"]
mod ex04_commit;
#[path = "05_ports.rs"]
mod ex05_ports;
#[path = "06_echo.rs"]
mod ex06_echo;
#[path = "07_networks.rs"]
mod ex07_networks;
#[path = "08_volumes.rs"]
mod ex08_volumes;
#[path = "09_dockerfile.rs"]
mod ex09_dockerfile;
#[path = "09_multistage.rs"]
mod ex09_multistage;
#[path = "10_limits.rs"]
mod ex10_limits;
#[path = "11_registry.rs"]
mod ex11_registry;
#[path = "12_testing.rs"]
mod ex12_testing;
#[path = "13_under_the_hood.rs"]
mod ex13_under_the_hood;
#[path = "14_compose.rs"]
mod ex14_compose;

/// Exercise name → its checks (one line per exercise).
const GRADERS: &[(&str, GradeFn)] = &[
    ("01-run", ex01_run::grade),
    ("02-detached", ex02_detached::grade),
    ("03-inspect", ex03_inspect::grade),
    ("04-commit", ex04_commit::grade),
    ("05-ports", ex05_ports::grade),
    ("06-echo", ex06_echo::grade),
    ("07-networks", ex07_networks::grade),
    ("08-volumes", ex08_volumes::grade),
    ("09-dockerfile", ex09_dockerfile::grade),
    ("09-multistage", ex09_multistage::grade),
    ("10-limits", ex10_limits::grade),
    ("11-registry", ex11_registry::grade),
    ("12-testing", ex12_testing::grade),
    ("13-under-the-hood", ex13_under_the_hood::grade),
    ("14-compose", ex14_compose::grade),
];

/// Exercise name → what runs before the answer (one line per exercise that has one): a
/// container the task is about, a registry, variables for commands.sh.
const SETUPS: &[(&str, GradeFn)] = &[
    ("11-registry", ex11_registry::setup),
    ("12-testing", ex12_testing::setup),
    ("13-under-the-hood", ex13_under_the_hood::setup),
    // (one line per exercise)
];

/// What runs before the answer to exercise `name`, if anything.
pub fn setup(name: &str) -> Option<GradeFn> {
    SETUPS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// The checks of exercise `name`.
pub fn grader(name: &str) -> Option<GradeFn> {
    GRADERS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// Runs `image` as a container named `server` with its port 80 published on a free host
/// port of 127.0.0.1; that port (shared by the Dockerfile exercises).
fn serve(ctx: &Ctx<'_>, image: &str) -> Result<u16, Failure> {
    ctx.tug_ok(&[
        "run",
        "-d",
        "--name",
        "server",
        "-p",
        "127.0.0.1::80",
        image,
    ])?;
    match ctx.host_port("server", "80/tcp") {
        Some(port) => Ok(port),
        None => {
            // A server that exits at once (a CMD that does not stay in the foreground)
            // has given its port back already: that is the learner's to mend.
            ctx.must_run("server", "the server to keep running")?;
            Err(Failure::setup(
                "a host port for the server's port 80",
                "`tug port` gave none",
            ))
        }
    }
}

/// Output shown in a failure: indented, at most 10 lines, "(nothing)" when empty.
fn shown(text: &str) -> String {
    let s = crate::ctx::last_lines(text, 10);
    if s.is_empty() {
        "    (nothing)".into()
    } else {
        s
    }
}
