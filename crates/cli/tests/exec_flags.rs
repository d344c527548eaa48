//! `exec`'s flags beside `-i -t -d -e -w -u` (issue 18): `--env-file`, `--detach-keys`,
//! and everything after the container is the command's.

mod harness;

use harness::service::with_busybox;

#[test]
fn exec_reads_env_files_and_leaves_the_commands_flags_alone() {
    let t = with_busybox();
    t.ok(&["run", "-d", "--name", "box", "busybox:test", "sleep", "600"]);
    let env = t.path("env");
    std::fs::write(&env, "A=1\n# a comment\n\nB=two\n").unwrap();
    let out = t.ok(&[
        "exec",
        "--env-file",
        env.to_str().unwrap(),
        "-e",
        "C=3",
        "box",
        "sh",
        "-c",
        "echo $A $B $C",
    ]);
    assert_eq!(out, "1 two 3\n");
    // `-t`, `-e`, `-w` after the container are the command's, not exec's.
    let listing = t.ok(&["exec", "box", "ls", "-t", "-d", "/tmp"]);
    assert_eq!(listing, "/tmp\n");
    let e = t.fails(&["exec", "--detach-keys", "ctrl-", "box", "true"]);
    assert!(e.contains("ctrl-"), "an unreadable key sequence is refused: {e}");
    t.ok(&["rm", "-f", "box"]);
}
