//! `strata events`: the journal one process writes as it changes the store, followed by
//! another, with Docker's flags, filters and shapes.

mod harness;

use harness::images::busybox_rootfs;
use harness::TestRoot;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn with_busybox() -> TestRoot {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", "-c", "CMD [\"sh\"]", tar.to_str().unwrap(), "busybox:test"]);
    t
}

/// `strata events ARGS` running in its own process; its lines arrive on a channel.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Follower {
    fn start(t: &TestRoot, args: &[&str]) -> Follower {
        let mut child = t
            .cmd()
            .arg("events")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Follower { child, lines }
    }

    /// Lines until one contains `wanted` (generously bounded: what is looked for is an
    /// event that never comes, not a slow one).
    fn until(&self, wanted: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(120)) {
                Ok(line) => {
                    let done = line.contains(wanted);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(_) => panic!("no event with {wanted:?} after {seen:#?}"),
            }
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `TYPE ACTION` pairs of JSON event lines.
fn actions(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!("{} {}", v["Type"].as_str().unwrap(), v["Action"].as_str().unwrap())
        })
        .collect()
}

fn position(all: &[String], wanted: &str) -> usize {
    all.iter()
        .position(|a| a == wanted)
        .unwrap_or_else(|| panic!("no {wanted:?} in {all:#?}"))
}

#[test]
fn events_show_what_another_process_does_to_containers_volumes_and_images() {
    let t = with_busybox();
    // Following first: only new events are shown (the import is not).
    let follow = Follower::start(&t, &["--format", "{{json .}}"]);
    // The follower reads the journal's end when it starts: wait until it has.
    std::thread::sleep(Duration::from_millis(300));
    t.ok(&["tag", "busybox:test", "busybox:other"]);
    let first = follow.until("\"tag\"");
    assert_eq!(actions(&first), ["image tag"], "{first:?}");

    let out = t.run(&[
        "run",
        "--name",
        "ev",
        "-v",
        "evdata:/data",
        "busybox:test",
        "sh",
        "-c",
        "exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7));
    t.ok(&["rename", "ev", "ev2"]);
    t.ok(&["run", "-d", "--name", "live", "busybox:test", "sleep", "600"]);
    t.ok(&["exec", "live", "true"]);
    t.ok(&["pause", "live"]);
    t.ok(&["unpause", "live"]);
    let host = t.path("host-file");
    std::fs::write(&host, "x").unwrap();
    t.ok(&["cp", host.to_str().unwrap(), "live:/tmp/"]);
    t.ok(&["cp", "live:/tmp/host-file", t.path("back").to_str().unwrap()]);
    t.ok(&["commit", "live", "committed:1"]);
    t.ok(&["export", "-o", t.path("live.tar").to_str().unwrap(), "live"]);
    t.ok(&["kill", "live"]);
    t.ok(&["rm", "-v", "ev2", "live"]);
    t.ok(&["volume", "rm", "evdata"]);
    t.ok(&["network", "create", "evnet"]);
    t.ok(&["network", "rm", "evnet"]);
    let archive = t.path("saved.tar");
    t.ok(&["save", "-o", archive.to_str().unwrap(), "busybox:other"]);
    t.ok(&["load", "-i", archive.to_str().unwrap()]);
    let context = t.path("context");
    std::fs::create_dir(&context).unwrap();
    std::fs::write(context.join("Dockerfile"), "FROM busybox:test\nLABEL built=yes\n").unwrap();
    t.ok(&["build", "-q", "-t", "built:1", context.to_str().unwrap()]);
    t.ok(&["rmi", "busybox:other"]);
    t.ok(&["rmi", "committed:1"]);
    let lines = follow.until("\"delete\"");
    let all = actions(&lines);
    let order = [
        "volume create",
        "container create",
        "volume mount",
        "container start",
        "container die",
        "volume unmount",
        "container rename",
    ];
    let at: Vec<usize> = order.iter().map(|w| position(&all, w)).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "out of order: {all:#?}");
    for wanted in [
        "container exec_create: true",
        "container exec_start: true",
        "container exec_die",
        "container pause",
        "container unpause",
        "container extract-to-dir",
        "container archive-path",
        "container commit",
        "container export",
        "container kill",
        "container destroy",
        "volume destroy",
        "network create",
        "network destroy",
        "image save",
        "image load",
        "image build",
        "image untag",
        "image delete",
    ] {
        position(&all, wanted);
    }
    // Docker's shape and attributes.
    let die: serde_json::Value = serde_json::from_str(&lines[position(&all, "container die")]).unwrap();
    assert_eq!(die["Actor"]["Attributes"]["exitCode"], "7");
    assert_eq!(die["Actor"]["Attributes"]["name"], "ev");
    assert_eq!(die["Actor"]["Attributes"]["image"], "busybox:test");
    assert_eq!(die["status"], "die");
    assert_eq!(die["from"], "busybox:test");
    assert_eq!(die["scope"], "local");
    assert!(die["timeNano"].as_i64().unwrap() / 1_000_000_000 == die["time"].as_i64().unwrap());
    let renamed: serde_json::Value = serde_json::from_str(&lines[position(&all, "container rename")]).unwrap();
    assert_eq!(renamed["Actor"]["Attributes"]["oldName"], "/ev");
    assert_eq!(renamed["Actor"]["Attributes"]["name"], "ev2");
}

#[test]
fn past_events_are_selected_by_time_and_filters() {
    let t = with_busybox();
    t.ok(&["run", "--rm", "--name", "one", "busybox:test", "true"]);
    t.ok(&[
        "run",
        "--rm",
        "--name",
        "two",
        "-l",
        "team=blue",
        "busybox:test",
        "true",
    ]);
    let past = |args: &[&str]| {
        let mut all = vec!["events", "--since", "10m", "--until", "0s"];
        all.extend_from_slice(args);
        t.ok(&all)
    };
    let everything = past(&[]);
    assert!(
        everything.lines().next().unwrap().contains(" image import "),
        "{everything}"
    );
    assert!(everything.contains(" container die "), "{everything}");
    // Docker's line: time, type, action, actor, attributes.
    let line = everything.lines().find(|l| l.contains("container create")).unwrap();
    let (time, rest) = line.split_once(' ').unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{line}");
    assert!(
        rest.starts_with("container create ") && rest.ends_with("(image=busybox:test, name=one)"),
        "{line}"
    );

    let two = past(&["--filter", "container=two", "--format", "{{.Action}}"]);
    assert_eq!(two.lines().collect::<Vec<_>>(), ["create", "start", "die", "destroy"]);
    let blue = past(&[
        "--filter",
        "label=team=blue",
        "--filter",
        "event=die",
        "--format",
        "{{.Actor.Attributes.name}}",
    ]);
    assert_eq!(blue.trim(), "two");
    // The same key ORs, different keys AND (`run` made the default network too).
    let either = past(&[
        "-f",
        "event=create",
        "-f",
        "event=destroy",
        "-f",
        "type=container",
        "--format",
        "{{.Action}}",
    ]);
    assert_eq!(
        either.lines().collect::<Vec<_>>(),
        ["create", "destroy", "create", "destroy"]
    );
    let network = past(&[
        "--filter",
        "type=network",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ]);
    assert!(network.starts_with("create bridge\nconnect bridge\n"), "{network}");
    let images = past(&[
        "--filter",
        "type=image",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ]);
    assert_eq!(images.trim(), "import busybox:test");
    // Nothing yet before the store existed.
    assert_eq!(t.ok(&["events", "--since", "1000000000", "--until", "1000000001"]), "");
}

#[test]
fn events_refuse_unknown_filters_and_times_by_name() {
    let t = TestRoot::new();
    let err = t.fails(&["events", "--filter", "colour=red", "--until", "0s"]);
    assert!(err.contains("colour") && err.contains("container, event"), "{err}");
    let err = t.fails(&["events", "--filter", "nonsense", "--until", "0s"]);
    assert!(err.contains("name=value"), "{err}");
    let err = t.fails(&["events", "--since", "yesterday-ish", "--until", "0s"]);
    assert!(err.contains("yesterday-ish") && err.contains("RFC 3339"), "{err}");
}
