//! `top`: the host's `ps` over a container's processes (its cgroup), as Docker does,
//! parsed into titles and rows (the shape of the Engine API's answer).

use crate::cgroups::Cgroup;
use crate::error::{Result, RuntimeError};
use crate::lifecycle;
use strata_containers::{ContainerRecord, ContainerState, Containers};

/// `ps`'s columns and one row per process; the last column (the command) keeps its
/// spaces.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TopOutput {
    #[serde(rename = "Titles")]
    pub titles: Vec<String>,
    #[serde(rename = "Processes")]
    pub processes: Vec<Vec<String>>,
}

/// Docker's default `ps` options.
const DEFAULT_PS_ARGS: [&str; 1] = ["-f"];

/// Runs `ps` with `ps_args` (default `-f`) over the container's processes.
pub fn top(containers: &Containers<'_>, record: &ContainerRecord, ps_args: &[String]) -> Result<TopOutput> {
    let fresh = lifecycle::reconcile(containers)?
        .into_iter()
        .find(|c| c.id == record.id);
    if fresh.is_none_or(|c| c.state != ContainerState::Running) {
        return Err(RuntimeError::Invalid(format!(
            "container {} is not running: start it first",
            record.name
        )));
    }
    let pids: Vec<String> = Cgroup::of(record).pids().iter().map(|p| p.to_string()).collect();
    let mut ps = std::process::Command::new(strata_host_programs::PS.find()?);
    match ps_args.is_empty() {
        true => ps.args(DEFAULT_PS_ARGS),
        false => ps.args(ps_args),
    };
    let out = ps
        .arg("-p")
        .arg(pids.join(","))
        .output()
        .map_err(|e| RuntimeError::io("running ps", e))?;
    if !out.status.success() {
        return Err(RuntimeError::Invalid(format!(
            "ps {}: {}; check the ps options",
            ps_args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(parse_ps(&String::from_utf8_lossy(&out.stdout)))
}

/// `ps` output: a header line, then rows whose extra fields belong to the last column.
pub fn parse_ps(text: &str) -> TopOutput {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let titles: Vec<String> = lines
        .next()
        .map(|h| h.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let processes = lines.map(|l| row(l, titles.len())).collect();
    TopOutput { titles, processes }
}

fn row(line: &str, columns: usize) -> Vec<String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if columns == 0 || fields.len() <= columns {
        return fields.into_iter().map(str::to_string).collect();
    }
    let mut out: Vec<String> = fields[..columns - 1].iter().map(|s| s.to_string()).collect();
    out.push(fields[columns - 1..].join(" "));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_keep_their_arguments_in_the_last_column() {
        let text = "UID   PID  PPID  C STIME TTY  TIME     CMD\n\
                    root  101  100   0 10:00 ?    00:00:00 sleep 1001\n\
                    root  102  100   0 10:00 ?    00:00:00 sh -c sleep 1001 & sleep 1002\n";
        let top = parse_ps(text);
        assert_eq!(top.titles.len(), 8);
        assert_eq!(top.processes[0][7], "sleep 1001");
        assert_eq!(top.processes[1][7], "sh -c sleep 1001 & sleep 1002");
        assert_eq!(top.processes[1][1], "102");
    }

    #[test]
    fn empty_output_has_no_rows() {
        assert_eq!(parse_ps(""), TopOutput::default());
    }
}
