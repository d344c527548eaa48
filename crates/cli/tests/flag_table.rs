//! The README's table of docker 20.10's flags (issue 18) against `strata CMD --help` and
//! docker 20.10's own `--help` (Debian's docker.io client, which the test command
//! installs): every docker flag has a row, every row a flag of strata's, and every flag
//! of strata's a row, so that the table and the commands cannot drift apart.

mod harness;

use std::collections::BTreeSet;
use std::process::Command;

/// Debian's docker 20.10 client.
const DOCKER_20_10: &str = "/usr/bin/docker";

/// The commands the table covers, with the flags of `run`'s table `create` lacks.
const COMMANDS: [&str; 7] = ["run", "create", "exec", "build", "logs", "cp", "ps"];
const RUN_ONLY: [&str; 3] = ["--detach", "--detach-keys", "--sig-proxy"];

/// A status that marks a row as strata's own (not one of docker 20.10's flags).
const STRATA_ONLY: &str = "strata only";

/// The long flags a `--help` text lists, one per option line; `--help` itself left out
/// (docker lists it for `run` only, where `-h` is `--hostname`).
fn flags_in_help(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = match line.strip_prefix('-') {
                // `-a, --attach`: the long name after the short one.
                Some(rest) if !rest.starts_with('-') => line.split_once(", ")?.1,
                Some(_) => line,
                None => return None,
            };
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            (name.starts_with("--") && name != "--help").then_some(name)
        })
        .collect()
}

fn help(program: &str, args: &[&str]) -> String {
    // The docker client hides the flags a reachable daemon does not support
    // (`build --squash` without experimental features), and shows them all when none
    // answers: pointed at no daemon, its flag set is the client's, whatever runs here.
    let out = Command::new(program)
        .args(args)
        .env("DOCKER_HOST", "unix:///nonexistent/strata-flag-table.sock")
        .output()
        .unwrap_or_else(|e| panic!("{program} {args:?}: {e} (scripts/test.sh installs docker.io)"));
    assert!(out.status.success(), "{program} {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn strata_flags(command: &str) -> BTreeSet<String> {
    let strata = env!("CARGO_BIN_EXE_strata");
    let global = flags_in_help(&help(strata, &["--help"]));
    let own = flags_in_help(&help(strata, &[command, "--help"]));
    own.difference(&global).cloned().collect()
}

/// The rows of the README's table for `command`: (flag, status).
fn table(readme: &str, command: &str) -> Vec<(String, String)> {
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Docker's flags"))
        .expect("the README has a \"Docker's flags\" section");
    let heading = format!("### `{}`", if command == "create" { "run" } else { command });
    let part = section
        .split("\n### ")
        .map(|p| format!("### {p}"))
        .find(|p| p.lines().next().is_some_and(|l| l.starts_with(&heading)))
        .unwrap_or_else(|| panic!("no {heading} table in the README"));
    part.lines()
        .filter(|l| l.starts_with("| `--"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            let flag = cells[0].split('`').nth(1).unwrap().to_string();
            (flag, cells.get(1).copied().unwrap_or_default().to_string())
        })
        .filter(|(flag, _)| command != "create" || !RUN_ONLY.contains(&flag.as_str()))
        .collect()
}

#[test]
fn the_readmes_flag_table_matches_strata_and_docker_20_10() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    for command in COMMANDS {
        let rows = table(&readme, command);
        assert!(
            rows.iter().all(|(_, status)| !status.is_empty()),
            "{command}: a row without a status"
        );
        let listed: BTreeSet<String> = rows.iter().map(|(f, _)| f.clone()).collect();
        assert_eq!(listed.len(), rows.len(), "{command}: a flag listed twice");
        let dockers: BTreeSet<String> = rows
            .iter()
            .filter(|(_, status)| !status.starts_with(STRATA_ONLY))
            .map(|(f, _)| f.clone())
            .collect();
        let docker = flags_in_help(&help(DOCKER_20_10, &[command, "--help"]));
        assert_eq!(
            dockers, docker,
            "{command}: the table's docker flags (left) and docker 20.10's (right)"
        );
        assert_eq!(
            listed,
            strata_flags(command),
            "{command}: the table (left) and `strata {command} --help` (right)"
        );
    }
}
