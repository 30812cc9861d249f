//! `--change` instructions of `tug import` and `tug commit` (CMD, ENTRYPOINT, ENV, EXPOSE,
//! HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR: Docker's commit set),
//! applied to the `config` object of an image config (Docker's field names: `Cmd`, `Env`,
//! `ExposedPorts`...). They are parsed by the Dockerfile parser and applied by the
//! builder's config step, so a change means what the same line means in a Dockerfile.

use serde_json::{Map, Value};

use super::Error;
use crate::build::config::{self, Scope};
use crate::build::dockerfile::{self, Instruction};

/// Applies one Dockerfile instruction to `config`, with the variables of the config's
/// `Env` substituted as Docker does. The error names the change.
pub fn apply(config: &mut Map<String, Value>, change: &str) -> Result<(), Error> {
    let bad = |why: String| Error::Change(change.to_string(), why);
    let keyword = change
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    if change.trim().len() == keyword.len() {
        return Err(bad(format!("{keyword} needs an argument")));
    }
    let step = dockerfile::parse_instruction(change).map_err(|e| bad(e.message))?;
    let allowed = matches!(
        step.instruction,
        Instruction::Cmd(_)
            | Instruction::Entrypoint(_)
            | Instruction::Env(_)
            | Instruction::Expose(_)
            | Instruction::Healthcheck(_)
            | Instruction::Label(_)
            | Instruction::Onbuild(_)
            | Instruction::Stopsignal(_)
            | Instruction::User(_)
            | Instruction::Volume(_)
            | Instruction::Workdir(_)
    );
    if !allowed {
        return Err(bad(format!(
            "{keyword} is not a valid change command: use CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME or WORKDIR"
        )));
    }
    let env = config
        .get("Env")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    // A change is applied on its own: an ENTRYPOINT keeps the image's CMD.
    let mut scope = Scope {
        env,
        escape: '\\',
        cmd_set: true,
        ..Scope::default()
    };
    config::apply(config, &step.instruction, &mut scope, &step.original).map_err(bad)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(changes: &[&str]) -> String {
        let mut c = Map::new();
        for ch in changes {
            if let Err(e) = apply(&mut c, ch) {
                return format!("error: {e}");
            }
        }
        serde_json::to_string(&c).unwrap()
    }

    #[test]
    fn changes_apply_like_docker() {
        let cases: Vec<Vec<&str>> = vec![
            vec![r#"CMD ["sh"]"#],
            vec!["CMD echo hi there"],
            vec![
                r#"ENTRYPOINT ["/bin/app", "-v"]"#,
                "cmd run x",
                "ENV HOME=/root",
                "WORKDIR $HOME/app",
            ],
            vec!["CMD --x"],
            vec!["ENV A=1 B=\"two words\" C=it\\'s", "ENV A 3 4"],
            vec!["WORKDIR /srv", "WORKDIR app"],
            vec!["USER 1000:1000"],
            vec!["EXPOSE 80 53/udp 8000-8002/tcp"],
            vec!["LABEL a=b \"c d\"=e"],
            vec![r#"VOLUME ["/data", "/logs"]"#, "VOLUME /x /y"],
            vec![
                "HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost",
                "ONBUILD RUN make",
            ],
            vec!["HEALTHCHECK NONE"],
            vec!["RUN echo"],
            vec!["CMD"],
            vec!["CMD [\"sh\""],
            vec!["EXPOSE 70000"],
            vec!["EXPOSE 80/icmp"],
            vec!["ENV =x"],
            vec!["LABEL a=\"b"],
        ];
        let text: Vec<String> = cases
            .iter()
            .map(|c| format!("{c:?}\n  => {}", run(c)))
            .collect();
        insta::assert_snapshot!(text.join("\n"));
    }

    proptest::proptest! {
        #[test]
        fn any_change_applies_or_fails_without_panic(
            word in "(CMD|ENTRYPOINT|ENV|LABEL|WORKDIR|USER|EXPOSE|VOLUME|cmd|RUN)",
            rest in "\\PC{0,40}",
        ) {
            let mut c = Map::new();
            let _ = apply(&mut c, &format!("{word} {rest}"));
        }

        #[test]
        fn times_parse_without_panic(s in "\\PC{0,40}") {
            let _ = super::super::view::parse_time(&s);
        }
    }
}
