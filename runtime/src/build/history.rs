//! The `created_by` text of each build step's history entry, as `docker history` shows a
//! BuildKit build's: `RUN /bin/sh -c apt-get update # buildkit`, `COPY . /app # buildkit`,
//! `ENV A=1`, `CMD ["python" "app.py"]`, `EXPOSE map[80/tcp:{}]`.

use serde_json::{Map, Value};

use super::dockerfile::Instruction;

/// Go's `%q` of a string, as BuildKit's texts print lists.
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// `["a" "b"]`: a list as Go prints a quoted string slice.
fn quoted_list(list: &[String]) -> String {
    let items: Vec<String> = list.iter().map(|s| quote(s)).collect();
    format!("[{}]", items.join(" "))
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The history text of a RUN: its argv, with the build args it sees (`|N K=V ...`) in
/// front as BuildKit writes them.
pub fn run(argv: &[String], args: &[String]) -> String {
    let mut s = String::from("RUN ");
    if !args.is_empty() {
        s.push_str(&format!("|{} {} ", args.len(), args.join(" ")));
    }
    s.push_str(&argv.join(" "));
    s.push_str(" # buildkit");
    s
}

/// The history text of COPY or ADD: the instruction as written.
pub fn copy(original: &str) -> String {
    format!("{} # buildkit", one_line(original))
}

/// The history text of a config instruction, from the config it left (`config`, the
/// image config's `config` object) and what it said.
pub fn config_step(
    instruction: &Instruction,
    original: &str,
    config: &Map<String, Value>,
) -> String {
    match instruction {
        Instruction::Cmd(_) => format!("CMD {}", quoted_list(&string_list(config.get("Cmd")))),
        Instruction::Entrypoint(_) => format!(
            "ENTRYPOINT {}",
            quoted_list(&string_list(config.get("Entrypoint")))
        ),
        Instruction::Expose(_) => {
            let ports: Vec<String> = config
                .get("ExposedPorts")
                .and_then(Value::as_object)
                .map(|m| m.keys().map(|k| format!("{k}:{{}}")).collect())
                .unwrap_or_default();
            format!("EXPOSE map[{}]", ports.join(" "))
        }
        Instruction::Volume(_) => {
            let vols: Vec<String> = config
                .get("Volumes")
                .and_then(Value::as_object)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            format!("VOLUME [{}]", vols.join(" "))
        }
        Instruction::Shell(argv) => format!("SHELL [{}]", argv.join(" ")),
        Instruction::Workdir(_) => format!(
            "WORKDIR {}",
            config
                .get("WorkingDir")
                .and_then(Value::as_str)
                .unwrap_or("/")
        ),
        _ => one_line(original),
    }
}

/// The instruction's text on one line (a continuation's line breaks are already gone;
/// heredoc bodies are not part of `original`).
fn one_line(original: &str) -> String {
    original.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts_read_like_docker_history() {
        let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            run(&v(&["/bin/sh", "-c", "apt-get update"]), &[]),
            "RUN /bin/sh -c apt-get update # buildkit"
        );
        assert_eq!(
            run(&v(&["/bin/sh", "-c", "make"]), &v(&["V=2"])),
            "RUN |1 V=2 /bin/sh -c make # buildkit"
        );
        assert_eq!(copy("COPY  . /app"), "COPY . /app # buildkit");
        let cfg = json!({
            "Cmd": ["python", "app.py"],
            "ExposedPorts": {"80/tcp": {}},
            "WorkingDir": "/app"
        });
        let cfg = cfg.as_object().unwrap();
        let cmd = Instruction::Cmd(crate::build::dockerfile::Command::Exec(vec![]));
        assert_eq!(config_step(&cmd, "", cfg), r#"CMD ["python" "app.py"]"#);
        let expose = Instruction::Expose(vec!["80".into()]);
        assert_eq!(config_step(&expose, "", cfg), "EXPOSE map[80/tcp:{}]");
        let wd = Instruction::Workdir("app".into());
        assert_eq!(config_step(&wd, "", cfg), "WORKDIR /app");
        let env = Instruction::Env(vec![]);
        assert_eq!(config_step(&env, "ENV  NAME World", cfg), "ENV NAME World");
    }
}
