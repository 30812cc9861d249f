//! 12-testing: the learner's #[test] passes against greeter:1, fails against a greeter
//! that says goodbye (so it checks the answer), and leaves no container behind.

use crate::ctx::last_lines;
use crate::{Ctx, Failure};

/// Makes greeter:1, a busybox httpd on port 80 whose page is `word`.
fn greeter(ctx: &Ctx<'_>, word: &str) -> Result<(), Failure> {
    let dir = ctx.root.dir().join(format!("greeter-{word}"));
    let dockerfile = format!(
        "FROM busybox\nRUN mkdir -p /www && echo {word} > /www/index.html\nEXPOSE 80\n\
         CMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n"
    );
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join("Dockerfile"), dockerfile))
        .map_err(|e| Failure::setup("the greeter's Dockerfile", e.to_string()))?;
    let dir = dir.to_string_lossy().into_owned();
    ctx.tug_ok(&["build", "-q", "-t", "greeter:1", &dir])
        .map_err(|f| Failure::setup("to build greeter:1", f.got))?;
    Ok(())
}

pub fn setup(ctx: &Ctx<'_>) -> Result<(), Failure> {
    greeter(ctx, "hello")
}

pub fn grade(ctx: &Ctx<'_>) -> Result<(), Failure> {
    let run = ctx.cargo_test()?;
    match run.code {
        Some(0) => {}
        None => {
            return Err(Failure::new(
                format!("cargo test to finish within {} s", ctx.exercise.time_budget),
                "it was still running",
            ));
        }
        Some(code) => {
            return Err(Failure::new(
                "your test to pass against greeter:1 (which says hello)",
                format!(
                    "cargo test exited with {code}:\n{}",
                    why(&run.stdout, &run.stderr)
                ),
            ));
        }
    }
    ctx.pass("the test passes against greeter:1");
    no_container_left(ctx)?;

    greeter(ctx, "goodbye")?;
    let run = ctx.cargo_test()?;
    if run.code == Some(0) {
        return Err(Failure::new(
            "your test to fail against a greeter:1 that says goodbye",
            "it passed: does it compare the page with \"hello\"?",
        ));
    }
    ctx.pass("it fails against a greeter that says goodbye");
    no_container_left(ctx)?;
    ctx.pass("no container is left after the tests");
    Ok(())
}

/// What made cargo test fail: the compiler's first error, else the test's panic.
fn why(stdout: &str, stderr: &str) -> String {
    let from = |text: &str, start: usize, n: usize| {
        last_lines(
            &text[start..].lines().take(n).collect::<Vec<_>>().join("\n"),
            n,
        )
    };
    if let Some(i) = stderr
        .find("error[")
        .or_else(|| stderr.find("error: could not compile"))
    {
        return from(stderr, i, 14);
    }
    match stdout.find("panicked at") {
        // The panic's block: from its line to the blank line that ends it.
        Some(i) => {
            let start = stdout[..i].rfind('\n').map_or(0, |j| j + 1);
            let block: Vec<&str> = stdout[start..]
                .lines()
                .take_while(|l| !l.trim().is_empty() && !l.starts_with("note:"))
                .collect();
            last_lines(&block.join("\n"), 8)
        }
        None => last_lines(&format!("{stdout}{stderr}"), 14),
    }
}

fn no_container_left(ctx: &Ctx<'_>) -> Result<(), Failure> {
    if ctx.containers().is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        "no container left after the test (the handle removes it when dropped)",
        ctx.describe_containers(),
    ))
}
