//! `--log-driver json-file|none` and `--log-opt max-size/max-file` (issue 18): the log
//! rotates as Docker's json-file does, `logs` (and `logs -f`) reads across the rotated
//! files, `none` keeps nothing, and any other driver or option is refused by name.

mod harness;

use harness::service::{clients, with_busybox, Service};
use harness::TestRoot;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_secs(90);

fn log_path(t: &TestRoot, name: &str) -> String {
    t.ok(&["inspect", "-f", "{{.LogPath}}", name]).trim().to_string()
}

/// The numbers of `line-N` lines, in order.
fn numbers(text: &str) -> Vec<u32> {
    text.lines()
        .filter_map(|l| l.strip_prefix("line-")?.trim().parse().ok())
        .collect()
}

fn wait_for_log(t: &TestRoot, name: &str, wanted: &str) {
    let start = Instant::now();
    while !t.ok(&["logs", name]).contains(wanted) {
        assert!(start.elapsed() < BOUND, "{name}'s log never showed {wanted:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn max_size_rotates_into_max_file_files_and_logs_reads_across_them() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "chatty",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=3",
        "busybox:test",
        "sh",
        "-c",
        "i=1; while [ $i -le 200 ]; do echo line-$i; i=$((i+1)); done; echo done; sleep 600",
    ]);
    wait_for_log(&t, "chatty", "done");
    let log = log_path(&t, "chatty");
    for kept in [log.clone(), format!("{log}.1"), format!("{log}.2")] {
        let size = std::fs::metadata(&kept).unwrap_or_else(|e| panic!("{kept}: {e}")).len();
        assert!(size <= 1024 + 200, "{kept} is {size} bytes: rotated at 1k");
    }
    assert!(
        !std::path::Path::new(&format!("{log}.3")).exists(),
        "three files kept, not four"
    );
    let all = t.ok(&["logs", "chatty"]);
    let seen = numbers(&all);
    assert_eq!(seen.last(), Some(&200));
    assert!(seen[0] > 1, "the oldest lines went with the oldest file");
    assert!(
        seen.windows(2).all(|w| w[1] == w[0] + 1),
        "no line lost or repeated across the files"
    );
    let tail = t.ok(&["logs", "--tail", "3", "chatty"]);
    assert_eq!(tail, "line-199\nline-200\ndone\n");
    let inspected = t.ok(&["inspect", "-f", "{{json .HostConfig.LogConfig}}", "chatty"]);
    assert_eq!(
        inspected.trim(),
        r#"{"Config":{"max-file":"3","max-size":"1024"},"Type":"json-file"}"#
    );
    t.ok(&["rm", "-f", "chatty"]);
}

#[test]
fn logs_follow_goes_on_across_a_rotation() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "steady",
        "--log-opt",
        "max-size=2k",
        "--log-opt",
        "max-file=5",
        "busybox:test",
        "sh",
        "-c",
        "i=1; while [ $i -le 400 ]; do echo line-$i; i=$((i+1)); sleep 0.01; done; sleep 600",
    ]);
    let mut follow = t
        .cmd()
        .args(["logs", "-f", "steady"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = BufReader::new(follow.stdout.take().unwrap());
    let start = Instant::now();
    let mut seen = Vec::new();
    for line in out.lines() {
        seen.extend(numbers(&line.unwrap()));
        if seen.last() == Some(&400) {
            break;
        }
        assert!(
            start.elapsed() < BOUND,
            "logs -f stopped following at {:?}",
            seen.last()
        );
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert_eq!(
        seen.last(),
        Some(&400),
        "the follow reached the end through the rotations"
    );
    assert!(
        seen.windows(2).all(|w| w[1] == w[0] + 1),
        "no line lost or repeated: {seen:?}"
    );
    t.ok(&["rm", "-f", "steady"]);
}

#[test]
fn the_none_driver_keeps_nothing_and_other_drivers_are_refused_by_name() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        "busybox:test",
        "echo",
        "unseen",
    ]);
    let e = t.fails(&["logs", "quiet"]);
    assert!(e.contains("configured logging driver does not support reading"), "{e}");
    assert!(!std::path::Path::new(&log_path(&t, "quiet")).exists(), "no log file");
    for (flags, words) in [
        (&["--log-driver", "syslog"][..], "\"syslog\" is not supported"),
        (&["--log-opt", "compress=true"][..], "--log-opt compress=true"),
        (&["--log-opt", "max-file=3"][..], "max-file needs max-size"),
        (
            &["--log-driver", "none", "--log-opt", "max-size=1m"][..],
            "the none driver takes no options",
        ),
    ] {
        let mut args = vec!["create"];
        args.extend_from_slice(flags);
        args.extend(["busybox:test", "true"]);
        let e = t.fails(&args);
        assert!(e.contains(words), "{flags:?}: {e}");
    }
}

#[test]
fn docker_log_options_work_over_the_engine_api() {
    let t = with_busybox();
    let mut service = Service::start(&t);
    for client in clients() {
        service.client = client;
        service.docker_ok(&[
            "run",
            "-d",
            "--name",
            "api-log",
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "max-file=2",
            "busybox:test",
            "sh",
            "-c",
            "i=1; while [ $i -le 100 ]; do echo line-$i; i=$((i+1)); done; sleep 600",
        ]);
        wait_for_log(&t, "api-log", "line-100");
        let seen = numbers(&service.docker_ok(&["logs", "api-log"]));
        assert_eq!(seen.last(), Some(&100), "{client}");
        assert!(seen.windows(2).all(|w| w[1] == w[0] + 1), "{client}: {seen:?}");
        let refused = service.docker(&["run", "--rm", "--log-driver", "syslog", "busybox:test", "true"]);
        assert!(!refused.status.success(), "{client}");
        assert!(String::from_utf8_lossy(&refused.stderr).contains("syslog"), "{client}");
        service.docker_ok(&["rm", "-f", "api-log"]);
    }
}

#[test]
fn logs_details_prefixes_each_line_with_its_attributes_and_a_space() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "--name",
        "told",
        "busybox:test",
        "sh",
        "-c",
        "echo one; echo two >&2",
    ]);
    // No attributes recorded: Docker's json-file then writes the space alone.
    let out = t.run(&["logs", "--details", "told"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), " one\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), " two\n");
    let stamped = t.ok(&["logs", "--details", "-t", "told"]);
    let (time, rest) = stamped.split_once(' ').unwrap();
    assert!(time.ends_with('Z'), "{stamped:?}");
    assert_eq!(rest, " one\n", "the details come after the time");
    assert_eq!(t.ok(&["logs", "told"]), "one\n", "without --details, the lines alone");
    // The options that would record attributes are refused by name, with the reason.
    for option in ["labels=a", "labels-regex=a", "env=A", "env-regex=^A", "tag={{.Name}}"] {
        let e = t.fails(&["create", "--log-opt", option, "busybox:test", "true"]);
        assert!(e.contains(&format!("--log-opt {option}")), "{e}");
        assert!(e.contains("records no log attributes"), "{e}");
    }
    let service = Service::start(&t);
    for client in clients() {
        let out = service
            .client_cmd(client, &["logs", "--details", "told"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{client}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), " one\n", "{client}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), " two\n", "{client}");
    }
}
