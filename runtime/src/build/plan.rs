//! Which stages a build runs, in which order: the target (`--target`, else the last stage)
//! and the stages it needs through `FROM <stage>`, `COPY --from=<stage>` and
//! `RUN --mount=from=<stage>`; the others are never built, as with BuildKit.

use super::dockerfile::{Dockerfile, Instruction, Stage};

/// What a stage's base or a `--from` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An earlier stage, by index.
    Stage(usize),
    /// The empty image.
    Scratch,
    /// An image reference (not yet expanded).
    Image(String),
}

/// Resolves `name` (a stage name, a stage index, `scratch` or an image) as seen from stage
/// `at`: only earlier stages can be named.
pub fn source(df: &Dockerfile, at: usize, name: &str) -> Source {
    if name.eq_ignore_ascii_case("scratch") {
        return Source::Scratch;
    }
    let lower = name.to_ascii_lowercase();
    if let Some(i) = df.stages[..at]
        .iter()
        .position(|s| s.name.as_deref() == Some(lower.as_str()))
    {
        return Source::Stage(i);
    }
    if let Ok(i) = name.parse::<usize>()
        && i < at
    {
        return Source::Stage(i);
    }
    Source::Image(name.to_string())
}

/// The stages another stage reads from.
fn needs(df: &Dockerfile, at: usize) -> Vec<usize> {
    let stage: &Stage = &df.stages[at];
    let mut names = vec![stage.base.clone()];
    for step in &stage.steps {
        match &step.instruction {
            Instruction::Copy(c) => names.extend(c.from.clone()),
            Instruction::Run(r) => names.extend(
                r.mounts
                    .iter()
                    .flat_map(|m| m.iter())
                    .filter(|(k, _)| k == "from")
                    .map(|(_, v)| v.clone()),
            ),
            _ => {}
        }
    }
    names
        .iter()
        .filter_map(|n| match source(df, at, n) {
            Source::Stage(i) => Some(i),
            _ => None,
        })
        .collect()
}

/// The stages to build for `target` (a stage name or index; None: the last stage), each
/// after the stages it needs.
pub fn stages_for(df: &Dockerfile, target: Option<&str>) -> Result<Vec<usize>, String> {
    let last = df
        .stages
        .len()
        .checked_sub(1)
        .ok_or("the Dockerfile has no stage")?;
    let goal = match target {
        None => last,
        Some(t) => {
            let lower = t.to_ascii_lowercase();
            df.stages
                .iter()
                .position(|s| s.name.as_deref() == Some(lower.as_str()))
                .ok_or_else(|| format!("target stage {t:?} could not be found"))?
        }
    };
    let mut wanted = vec![false; df.stages.len()];
    let mut todo = vec![goal];
    while let Some(i) = todo.pop() {
        if !std::mem::replace(&mut wanted[i], true) {
            todo.extend(needs(df, i));
        }
    }
    // Stages only name earlier ones, so index order is a valid build order.
    Ok((0..df.stages.len()).filter(|i| wanted[*i]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::dockerfile::parse;

    const SRC: &str = "\
FROM alpine AS deps
RUN echo deps
FROM golang AS build
COPY --from=deps /x /x
FROM scratch AS unused
COPY --from=0 /y /y
FROM build AS test
RUN --mount=type=cache,target=/c,from=unused true
FROM debian
COPY --from=build /app /app
COPY --from=nginx:latest /etc/nginx /etc/nginx
";

    #[test]
    fn only_the_stages_the_target_needs_are_built() {
        let df = parse(SRC, "D").unwrap();
        assert_eq!(stages_for(&df, None).unwrap(), [0, 1, 4]);
        assert_eq!(stages_for(&df, Some("TEST")).unwrap(), [0, 1, 2, 3]);
        assert_eq!(stages_for(&df, Some("deps")).unwrap(), [0]);
        let e = stages_for(&df, Some("nope")).unwrap_err();
        assert_eq!(e, "target stage \"nope\" could not be found");
    }

    #[test]
    fn names_resolve_to_earlier_stages_scratch_or_images() {
        let df = parse(SRC, "D").unwrap();
        assert_eq!(source(&df, 3, "build"), Source::Stage(1));
        assert_eq!(source(&df, 3, "0"), Source::Stage(0));
        assert_eq!(source(&df, 1, "test"), Source::Image("test".into()));
        assert_eq!(source(&df, 1, "3"), Source::Image("3".into()));
        assert_eq!(source(&df, 2, "Scratch"), Source::Scratch);
    }
}
