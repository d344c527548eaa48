//! The seeds' tutorial flow, end to end on real namespaces and overlayfs: run a web
//! server detached, change its files with exec, commit with author and message, run
//! the new image; plus logs, stop, kill, wait, diff and export.

mod harness;

use harness::images::busybox_rootfs;
use harness::TestRoot;
use std::time::{Duration, Instant};

fn with_busybox() -> TestRoot {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", "-c", "CMD [\"sh\"]", tar.to_str().unwrap(), "busybox:seed"]);
    t
}

/// Polls `f` until it returns Some (bounded; the bound is generous, never a timing check).
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn run_exec_commit_and_run_the_committed_image() {
    let t = with_busybox();
    let data = t.path("volume");
    std::fs::create_dir(&data).unwrap();
    let vol = format!("{}:/data", data.display());
    let id = t.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-v",
        &vol,
        "busybox:seed",
        "httpd",
        "-f",
        "-p",
        "8080",
        "-h",
        "/var/www",
    ]);
    assert_eq!(id.trim().len(), 64, "{id}");
    let ps = t.ok(&["ps", "--format", "{{.Names}} {{.State}}"]);
    assert_eq!(ps.trim(), "web running");

    // Change the site, delete a file, write to the volume.
    t.ok(&[
        "exec",
        "web",
        "sh",
        "-c",
        "echo '<h1>changed</h1>' > /var/www/index.html; rm /etc/group; echo vol > /data/v",
    ]);
    let page = eventually("the web server", || {
        let out = t.run(&["exec", "web", "wget", "-qO-", "http://127.0.0.1:8080/"]);
        out.status.success().then(|| String::from_utf8(out.stdout).unwrap())
    });
    assert_eq!(page, "<h1>changed</h1>\n");
    let diff = t.ok(&["diff", "web"]);
    assert!(
        diff.contains("C /var/www/index.html") && diff.contains("D /etc/group"),
        "{diff}"
    );
    assert!(
        !diff.contains("/data/v"),
        "volume contents are not container changes: {diff}"
    );

    let new_id = t.ok(&[
        "commit",
        "-a",
        "Seed Author <seed@example.com>",
        "-m",
        "changed the page",
        "web",
        "seed/web:v2",
    ]);
    let history = t.ok(&["history", "seed/web:v2"]);
    assert!(
        history.lines().nth(1).unwrap().contains("changed the page"),
        "{history}"
    );
    assert_eq!(
        t.ok(&["inspect", "-f", "{{.Author}}", "seed/web:v2"]).trim(),
        "Seed Author <seed@example.com>"
    );
    assert_eq!(t.ok(&["inspect", "-f", "{{.Id}}", "seed/web:v2"]).trim(), new_id.trim());
    assert_eq!(
        t.ok(&["inspect", "-f", "{{len .RootFS.Layers}}", "seed/web:v2"]).trim(),
        "2"
    );

    // The new image has the change and the deletion; the volume's data is not in it.
    let out = t.ok(&[
        "run",
        "--rm",
        "seed/web:v2",
        "sh",
        "-c",
        "cat /var/www/index.html; ls /etc/group 2>&1; test -e /data/v && echo leaked || echo clean",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "<h1>changed</h1>");
    assert!(lines[1].contains("No such file"), "{out}");
    assert_eq!(lines[2], "clean", "volume data must not be committed: {out}");
    // The committed image's command is the container's.
    assert_eq!(
        t.ok(&["inspect", "-f", "{{json .Config.Cmd}}", "seed/web:v2"]).trim(),
        r#"["httpd","-f","-p","8080","-h","/var/www"]"#
    );
    // The original image is unchanged.
    assert_eq!(
        t.ok(&["run", "--rm", "busybox:seed", "cat", "/var/www/index.html"]),
        "<h1>hello</h1>\n"
    );
    assert_eq!(std::fs::read_to_string(data.join("v")).unwrap(), "vol\n");

    t.ok(&["stop", "-t", "1", "web"]);
    assert!(
        t.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
            .contains("web Exited (137)"),
        "httpd as PID 1 ignores SIGTERM: killed"
    );
    t.ok(&["rm", "web"]);
    t.ok(&["rmi", "seed/web:v2"]);
}

#[test]
fn logs_stop_kill_wait_and_rm_of_detached_containers() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "talker",
        "busybox:seed",
        "sh",
        "-c",
        "echo out; echo err >&2; trap 'echo bye; exit 3' TERM; while true; do sleep 0.1; done",
    ]);
    let logs = eventually("both log lines", || {
        let out = t.run(&["logs", "talker"]);
        let (o, e) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        (o.contains("out") && e.contains("err")).then_some((o, e))
    });
    assert_eq!(logs.0, "out\n");
    assert_eq!(logs.1, "err\n");
    let log_file = t
        .root()
        .join("containers")
        .join(t.ok(&["ps", "-q", "--no-trunc"]).trim());
    let json = std::fs::read_dir(&log_file)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with("-json.log"))
        .unwrap();
    let first: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(json.path()).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(first["stream"], "stdout");
    assert!(first["time"].as_str().unwrap().ends_with('Z'));

    let err = t.fails(&["rm", "talker"]);
    assert!(err.contains("cannot remove a running container"), "{err}");
    // The trap answers SIGTERM: stop ends it with its own status, not 137.
    t.ok(&["stop", "talker"]);
    assert_eq!(t.ok(&["wait", "talker"]).trim(), "3");
    assert!(t.ok(&["logs", "--tail", "1", "talker"]).contains("bye"));
    assert!(
        t.run(&["exec", "talker", "true"]).status.code() == Some(1),
        "exec into a stopped container is an error"
    );

    t.ok(&["run", "-d", "--name", "sleeper", "busybox:seed", "sleep", "1000"]);
    t.ok(&["kill", "-s", "KILL", "sleeper"]);
    assert_eq!(t.ok(&["wait", "sleeper"]).trim(), "137");
    t.ok(&["rm", "talker", "sleeper"]);

    // logs -f follows until the container ends, missing nothing.
    t.ok(&[
        "run",
        "-d",
        "--name",
        "counter",
        "busybox:seed",
        "sh",
        "-c",
        "for i in 1 2 3; do echo $i; sleep 0.2; done",
    ]);
    assert_eq!(t.ok(&["logs", "-f", "counter"]), "1\n2\n3\n");
    assert!(t
        .ok(&["logs", "-t", "counter"])
        .lines()
        .all(|l| l.contains('T') && l.contains("Z ")));
    t.ok(&["rm", "counter"]);

    // --rm with -d: the monitor removes the container when it ends.
    t.ok(&["run", "-d", "--rm", "--name", "brief", "busybox:seed", "true"]);
    eventually("the --rm container to go", || {
        t.ok(&["ps", "-aq"]).trim().is_empty().then_some(())
    });
    // rm -f kills a running container.
    t.ok(&["run", "-d", "--name", "forced", "busybox:seed", "sleep", "1000"]);
    t.ok(&["rm", "-f", "forced"]);
    assert!(t.ok(&["ps", "-aq"]).is_empty());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(t.root().to_str().unwrap()),
        "no mount left under the store"
    );
}

#[test]
fn export_writes_the_flattened_filesystem() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "--name",
        "ex",
        "busybox:seed",
        "sh",
        "-c",
        "echo new > /added; rm /etc/group",
    ]);
    let out = t.path("ex.tar");
    t.ok(&["export", "-o", out.to_str().unwrap(), "ex"]);
    let mut names = Vec::new();
    let mut a = tar::Archive::new(std::fs::File::open(&out).unwrap());
    for e in a.entries().unwrap() {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    assert!(names.contains(&"added".to_string()), "the container's file is exported");
    assert!(
        names.contains(&"bin/busybox".to_string()),
        "the image's files are exported"
    );
    assert!(
        !names.iter().any(|n| n == "etc/group" || n.contains(".wh.")),
        "deleted files and whiteouts are not"
    );
    // Re-importing the export gives a runnable image with the same content.
    t.ok(&["import", out.to_str().unwrap(), "exported:1"]);
    assert_eq!(t.ok(&["run", "--rm", "exported:1", "cat", "/added"]), "new\n");
}

#[test]
fn restart_policies_restart_until_told_to_stop() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "busybox:seed",
        "sh",
        "-c",
        "echo run; exit 3",
    ]);
    eventually("three runs of the failing container", || {
        let logs = t.ok(&["logs", "flaky"]);
        let status = t.ok(&["ps", "-a", "--format", "{{.Status}}", "--filter", "name=flaky"]);
        (logs.lines().count() == 3 && status.starts_with("Exited (3)")).then_some(())
    });
    assert_eq!(t.ok(&["inspect", "-f", "{{.RestartCount}}", "flaky"]).trim(), "2");
    t.ok(&[
        "run",
        "-d",
        "--name",
        "steady",
        "--restart",
        "always",
        "busybox:seed",
        "sh",
        "-c",
        "echo up; sleep 0.2",
    ]);
    eventually("a restart", || {
        (t.ok(&["logs", "steady"]).lines().count() >= 2).then_some(())
    });
    t.ok(&["stop", "-t", "1", "steady"]);
    let after_stop = t.ok(&["logs", "steady"]).lines().count();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        t.ok(&["logs", "steady"]).lines().count(),
        after_stop,
        "a stopped container is not restarted"
    );
    assert!(!t.ok(&["ps", "--format", "{{.Names}}"]).contains("steady"));
    let err = t.fails(&["run", "--rm", "--restart", "always", "busybox:seed", "true"]);
    assert!(err.contains("cannot specify both --restart and --rm"), "{err}");
    t.ok(&["rm", "-f", "flaky", "steady"]);
}

/// Seed 003: `cat ubuntu-14.04.tar.gz | docker import - ubuntu:14.04` with an OS
/// template, whose `./dev` holds device nodes and a FIFO. They are accepted, kept in the
/// layer (save reproduces the imported digest), never made on the host, and containers
/// get the runtime's /dev.
#[test]
fn seed_003_imports_an_os_template_with_device_nodes_from_stdin() {
    let t = TestRoot::new();
    let plain = t.path("busybox.tar");
    busybox_rootfs(&plain);
    // The template: the rootfs under "./", plus /dev as OpenVZ and debootstrap make it.
    let mut template = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    let mut source = tar::Archive::new(std::fs::File::open(&plain).unwrap());
    for entry in source.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut header = entry.header().clone();
        let path = format!("./{}", entry.path().unwrap().display());
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        template.append_data(&mut header, path, &data[..]).unwrap();
    }
    let node = |path: &str, kind: tar::EntryType, major: u32, minor: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(0o660);
        h.set_size(0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        h.set_path(path).unwrap();
        h.set_cksum();
        h
    };
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(0);
    template.append_data(&mut dir, "./dev/", &[][..]).unwrap();
    for (path, kind, major, minor) in [
        ("./dev/null", tar::EntryType::Char, 1, 3),
        ("./dev/console", tar::EntryType::Char, 5, 1),
        ("./dev/sda", tar::EntryType::Block, 8, 0),
        ("./dev/mem", tar::EntryType::Char, 1, 1),
        ("./dev/initctl", tar::EntryType::Fifo, 0, 0),
    ] {
        template.append(&node(path, kind, major, minor), &[][..]).unwrap();
    }
    let gz = template.into_inner().unwrap().finish().unwrap();

    let out = t.run_with_input(&["import", "-", "ubuntu:14.04"], &gz);
    assert!(
        out.status.success(),
        "import of a template with /dev nodes: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Never made on the host: no device node in the store but overlay whiteouts (0/0).
    let nodes = device_nodes(&t.root());
    assert!(
        nodes.is_empty(),
        "device nodes of the template were made on the host: {nodes:?}"
    );

    // Containers get the runtime's /dev, not the template's.
    let listing = t.ok(&[
        "run",
        "--rm",
        "ubuntu:14.04",
        "sh",
        "-c",
        "ls /dev; echo ok > /dev/null && echo wrote",
    ]);
    assert!(listing.contains("wrote"), "{listing}");
    assert!(!listing.lines().any(|l| l == "sda" || l == "mem"), "{listing}");

    // save reproduces the imported layer: same DiffID, device entries inside.
    let diff_ids = t.ok(&["inspect", "-f", "{{json .RootFS.Layers}}", "ubuntu:14.04"]);
    let diff_id: Vec<String> = serde_json::from_str(diff_ids.trim()).unwrap();
    let saved = t.path("saved.tar");
    t.ok(&["save", "-o", saved.to_str().unwrap(), "ubuntu:14.04"]);
    let mut archive = tar::Archive::new(std::fs::File::open(&saved).unwrap());
    let mut found = None;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        if harness::images::sha256(&data) == diff_id[0] {
            found = Some(data);
        }
    }
    let layer = found.expect("the saved archive holds a layer with the imported DiffID");
    let mut kinds = Vec::new();
    for entry in tar::Archive::new(&layer[..]).entries().unwrap() {
        let entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        if path.contains("dev/") {
            kinds.push((
                path,
                entry.header().entry_type(),
                entry.header().device_major().ok().flatten(),
            ));
        }
    }
    assert!(
        kinds.contains(&("dev/sda".to_string(), tar::EntryType::Block, Some(8))),
        "{kinds:?}"
    );
    assert!(
        kinds
            .iter()
            .any(|(p, k, _)| p == "dev/initctl" && *k == tar::EntryType::Fifo),
        "{kinds:?}"
    );
    t.ok(&["system", "check"]);
}

/// Character and block devices under `dir` other than overlay whiteouts (0/0).
fn device_nodes(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let kind = meta.file_type();
        if kind.is_dir() {
            found.extend(device_nodes(&path));
        } else if (kind.is_char_device() || kind.is_block_device()) && meta.rdev() != 0 {
            found.push(path);
        }
    }
    found
}
