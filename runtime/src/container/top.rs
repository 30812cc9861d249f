//! `top`: the processes of a running container, as Docker lists them: the host's `ps`
//! (with the user's options, `-ef` by default) filtered to the pids in the container's pid
//! namespace (its cgroup's when it shares one), host pids shown.

use std::collections::BTreeSet;

use super::Error;
use crate::container::Ctx;

/// The table `top` prints: `ps`'s column titles and the container's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopOutput {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

impl Ctx<'_> {
    /// The work of `Engine::top`.
    pub(crate) fn top(
        &self,
        name: &str,
        ps_args: &[String],
    ) -> crate::container::Result<TopOutput> {
        let c = self.running_container(name)?;
        // A container that shares a PID namespace (`--pid host`, `container:`) is told
        // apart by its cgroup, as runc's `ps` does.
        let pids = if c.host_config.pid_mode.is_empty() {
            pids_in_pid_namespace(c.state.pid)?
        } else {
            crate::sandbox::cgroups::open_for(
                &self.config().cgroup_root,
                self.root(),
                &c.id,
                &c.host_config.cgroup_parent,
            )?
            .pids()?
            .into_iter()
            .collect()
        };
        let args: Vec<String> = if ps_args.is_empty() {
            vec!["-ef".into()]
        } else {
            ps_args.to_vec()
        };
        let out = std::process::Command::new("ps")
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| Error::Sys("running ps".into(), e))?;
        if !out.status.success() {
            return Err(Error::Invalid(format!(
                "ps: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        parse_ps(&String::from_utf8_lossy(&out.stdout), &pids)
    }
}

/// The host pids of every process in the pid namespace of `init_pid`.
pub fn pids_in_pid_namespace(init_pid: i32) -> Result<BTreeSet<i32>, Error> {
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(wanted) = ns(&init_pid.to_string()) else {
        return Err(Error::Conflict(format!(
            "the container's init (pid {init_pid}) is gone"
        )));
    };
    let dir = std::fs::read_dir("/proc").map_err(|e| Error::Io("reading /proc".into(), e))?;
    let mut pids = BTreeSet::new();
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        // A process that exits while we look simply drops out.
        if ns(&pid.to_string()).as_ref() == Some(&wanted) {
            pids.insert(pid);
        }
    }
    Ok(pids)
}

/// Docker's reading of `ps` output: the titles from the header, the rows whose PID
/// column is in `pids`; the last column (the command) keeps its spaces.
pub fn parse_ps(output: &str, pids: &BTreeSet<i32>) -> Result<TopOutput, Error> {
    let mut lines = output.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(String::from)
        .collect();
    let Some(pid_col) = titles.iter().position(|t| t == "PID") else {
        return Err(Error::Invalid(
            "Couldn't find PID field in ps output".into(),
        ));
    };
    let mut processes = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let Some(pid_text) = fields.get(pid_col) else {
            continue;
        };
        let pid: i32 = pid_text
            .parse()
            .map_err(|e| Error::Invalid(format!("Unexpected pid '{pid_text}': {e}")))?;
        if !pids.contains(&pid) {
            continue;
        }
        let last = titles.len() - 1;
        let mut row: Vec<String> = fields.iter().take(last).map(|s| s.to_string()).collect();
        row.push(fields.get(last..).map(|f| f.join(" ")).unwrap_or_default());
        processes.push(row);
    }
    Ok(TopOutput { titles, processes })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PS_EF: &str = "\
UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 15:00 ?        00:00:01 /sbin/init
root         200     150  0 16:10 pts/0    00:00:00 sleep 60
1000         201     200  0 16:10 ?        00:00:00 sh -c echo a  b
";

    #[test]
    fn rows_are_filtered_by_pid_and_the_command_keeps_its_words() {
        let pids = BTreeSet::from([200, 201]);
        let top = parse_ps(PS_EF, &pids).unwrap();
        assert_eq!(
            top.titles,
            ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        );
        assert_eq!(top.processes.len(), 2);
        assert_eq!(top.processes[0][7], "sleep 60");
        assert_eq!(top.processes[1][0], "1000");
        assert_eq!(top.processes[1][7], "sh -c echo a b");
    }

    proptest::proptest! {
        /// Any `ps -ef`-like table: exactly the rows of the wanted pids come back, in
        /// order, with every column and the command's words intact.
        #[test]
        fn filtering_keeps_exactly_the_wanted_rows(
            rows in proptest::collection::vec(
                (1..100_000i32, proptest::bool::ANY, proptest::collection::vec("[a-z0-9/=-]{1,8}", 1..4)),
                0..20,
            )
        ) {
            let mut text = String::from("UID PID PPID CMD\n");
            let mut pids = BTreeSet::new();
            let mut want = Vec::new();
            for (pid, wanted, words) in &rows {
                text.push_str(&format!("root {pid} 1 {}\n", words.join("  ")));
                if *wanted {
                    pids.insert(*pid);
                }
            }
            for (pid, _, words) in &rows {
                if pids.contains(pid) {
                    want.push(vec!["root".to_string(), pid.to_string(), "1".into(), words.join(" ")]);
                }
            }
            let top = parse_ps(&text, &pids).unwrap();
            proptest::prop_assert_eq!(top.processes, want);
        }
    }

    #[test]
    fn output_without_a_pid_column_is_an_error() {
        let err = parse_ps("USER COMMAND\nroot x\n", &BTreeSet::new()).unwrap_err();
        assert_eq!(err.to_string(), "Couldn't find PID field in ps output");
        let err = parse_ps("PID CMD\nabc x\n", &BTreeSet::new()).unwrap_err();
        assert!(err.to_string().starts_with("Unexpected pid 'abc'"), "{err}");
    }
}
