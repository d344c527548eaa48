//! import, images, inspect, history, tag, rmi, prune, system df/info: Docker's flags,
//! columns and exit codes, on a real store.

mod harness;

use harness::images::{busybox_rootfs, layer, sha256, E};
use harness::TestRoot;
use std::io::Write;

fn import_busybox(t: &TestRoot, name: &str) -> String {
    let tar = t.path("busybox.tar");
    if !tar.exists() {
        busybox_rootfs(&tar);
    }
    t.ok(&[
        "import",
        "-c",
        "CMD [\"sh\"]",
        "-m",
        "seed import",
        tar.to_str().unwrap(),
        name,
    ])
    .trim()
    .to_string()
}

#[test]
fn import_lists_and_inspects_like_docker() {
    let t = TestRoot::new();
    let id = import_busybox(&t, "busybox:local");
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");

    let images = t.ok(&["images"]);
    let mut lines = images.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("REPOSITORY   TAG     IMAGE ID       CREATED"),
        "{header}"
    );
    assert!(header.ends_with("SIZE"), "{header}");
    let row: Vec<&str> = lines
        .next()
        .unwrap()
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(row[0], "busybox");
    assert_eq!(row[1], "local");
    assert_eq!(row[2], &id[7..19]);
    assert!(row[3].ends_with("ago"), "{row:?}");

    let doc: serde_json::Value = serde_json::from_str(&t.ok(&["inspect", "busybox:local"])).unwrap();
    let img = &doc[0];
    assert_eq!(img["Id"], id);
    assert_eq!(img["RepoTags"], serde_json::json!(["busybox:local"]));
    assert_eq!(img["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(img["Comment"], "seed import");
    assert_eq!(img["Os"], "linux");
    let tar_bytes = std::fs::read(t.path("busybox.tar")).unwrap();
    assert_eq!(
        img["RootFS"]["Layers"],
        serde_json::json!([sha256(&tar_bytes)]),
        "the DiffID is the tar's digest"
    );
    let upper = img["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap();
    assert!(std::path::Path::new(upper).join("bin/busybox").is_file());

    assert_eq!(
        t.ok(&["inspect", "--format", "{{.Os}}/{{.Architecture}}", &id[7..19]])
            .trim(),
        "linux/amd64"
    );
    assert_eq!(
        t.ok(&[
            "image",
            "inspect",
            "-f",
            "{{index .RepoTags 0}}",
            "docker.io/library/busybox:local"
        ])
        .trim(),
        "busybox:local"
    );

    let history = t.ok(&["history", "busybox:local"]);
    assert!(history.starts_with("IMAGE          CREATED"), "{history}");
    assert!(
        history.contains("seed import") && history.contains(&id[7..19]),
        "{history}"
    );
    assert_eq!(t.ok(&["history", "-q", "--no-trunc", "busybox:local"]).trim(), id);
}

#[test]
fn import_reads_gzip_zstd_xz_and_stdin_to_the_same_layer() {
    let t = TestRoot::new();
    let plain = layer(&[E::Dir("etc/"), E::File("etc/hello", b"hello\n")]);
    let diff = sha256(&plain);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let inputs = [
        ("plain.tar", plain.clone()),
        ("x.tar.gz", gz.finish().unwrap()),
        ("x.tar.zst", zstd::encode_all(&plain[..], 3).unwrap()),
        ("x.tar.xz", {
            let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
            xz.write_all(&plain).unwrap();
            xz.finish().unwrap()
        }),
    ];
    for (name, bytes) in &inputs {
        std::fs::write(t.path(name), bytes).unwrap();
        let id = t.ok(&[
            "import",
            t.path(name).to_str().unwrap(),
            &format!("c:{}", name.replace('.', "-")),
        ]);
        let layers = t.ok(&["inspect", "-f", "{{index .RootFS.Layers 0}}", id.trim()]);
        assert_eq!(layers.trim(), diff, "{name}");
    }
    let mut child = t
        .cmd()
        .args(["import", "-", "c:stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&inputs[1].1).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    // Five names, one layer stored once.
    assert_eq!(t.entries("snapshots/committed/sha256"), 1);
}

#[test]
fn import_change_instructions_land_in_the_config() {
    let t = TestRoot::new();
    let tar = t.path("l.tar");
    std::fs::write(&tar, layer(&[E::File("f", b"x")])).unwrap();
    let changes = [
        "ENV A=1",
        "WORKDIR /srv",
        "EXPOSE 8080",
        "USER nobody",
        "LABEL k=v",
        "ENTRYPOINT [\"/bin/sh\"]",
        "VOLUME /data",
    ];
    let mut args = vec!["import"];
    for c in &changes {
        args.extend(["--change", c]);
    }
    args.extend([tar.to_str().unwrap(), "changed:1"]);
    t.ok(&args);
    let doc: serde_json::Value = serde_json::from_str(&t.ok(&["inspect", "changed:1"])).unwrap();
    let c = &doc[0]["Config"];
    assert_eq!(c["Env"], serde_json::json!(["A=1"]));
    assert_eq!(c["WorkingDir"], "/srv");
    assert_eq!(c["User"], "nobody");
    assert_eq!(c["Labels"]["k"], "v");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/sh"]));
    assert!(c["ExposedPorts"].get("8080/tcp").is_some(), "{c}");
    assert!(c["Volumes"].get("/data").is_some(), "{c}");
    let err = t.fails(&["import", "--change", "RUN rm -rf /", tar.to_str().unwrap()]);
    assert!(err.contains("RUN is not supported"), "{err}");
}

#[test]
fn tag_and_rmi_untag_before_deleting_and_keep_shared_layers() {
    let t = TestRoot::new();
    let id = import_busybox(&t, "busybox:local");
    t.ok(&["tag", "busybox:local", "127.0.0.1:5000/me/busybox:v1"]);
    t.ok(&["tag", &id[7..19], "other"]);
    let images = t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let mut names: Vec<&str> = images.lines().collect();
    names.sort();
    assert_eq!(names, ["127.0.0.1:5000/me/busybox:v1", "busybox:local", "other:latest"]);

    // By ID with several names: Docker's conflict, exit 1, nothing removed.
    let err = t.fails(&["rmi", &id[7..19]]);
    assert!(
        err.contains("conflict: unable to delete") && err.contains("must be forced"),
        "{err}"
    );
    // By name: only the name goes.
    assert_eq!(t.ok(&["rmi", "other"]).trim(), "Untagged: other:latest");
    assert_eq!(t.image_ids(), vec![id.clone()]);

    // A second image sharing the layer (same rootfs, other message) keeps it alive.
    let tar = t.path("busybox.tar");
    let second = t
        .ok(&["import", "-m", "second", tar.to_str().unwrap(), "second:1"])
        .trim()
        .to_string();
    assert_ne!(second, id);
    let out = t.ok(&["rmi", "-f", &id]);
    assert!(
        out.contains("Untagged: busybox:local") && out.contains(&format!("Deleted: {id}")),
        "{out}"
    );
    assert!(
        !out.contains("Deleted: sha256:") || out.matches("Deleted:").count() == 1,
        "shared layer must stay: {out}"
    );
    t.ok(&["inspect", "second:1"]);
    let out = t.ok(&["rmi", "second:1"]);
    assert!(out.matches("Deleted:").count() == 2, "image and its layer: {out}");
    assert!(t.image_ids().is_empty());
    assert_eq!(t.entries("snapshots/committed/sha256"), 0);
    assert_eq!(t.entries("content/blobs/sha256"), 0);
}

#[test]
fn images_filters_quiet_and_formats() {
    let t = TestRoot::new();
    let a = t.path("a.tar");
    std::fs::write(&a, layer(&[E::File("a", b"a")])).unwrap();
    let b = t.path("b.tar");
    std::fs::write(&b, layer(&[E::File("b", b"b")])).unwrap();
    let first = t.ok(&["import", a.to_str().unwrap(), "app:1"]).trim().to_string();
    let second = t.ok(&["import", b.to_str().unwrap(), "tools:1"]).trim().to_string();
    t.ok(&["tag", "tools:1", "app:2"]);
    // Importing over an existing tag leaves the old image dangling.
    let third = t
        .ok(&["import", "-m", "again", a.to_str().unwrap(), "app:1"])
        .trim()
        .to_string();

    let repo = t.ok(&["images", "app", "--format", "{{.Tag}}"]);
    let mut tags: Vec<&str> = repo.lines().collect();
    tags.sort();
    assert_eq!(tags, ["1", "2"]);
    assert_eq!(t.ok(&["images", "app:2", "-q"]).trim(), &second[7..19]);
    assert_eq!(
        t.ok(&["images", "-q", "--no-trunc", "--filter", "dangling=true"])
            .trim(),
        first
    );
    let refs = t.ok(&["images", "--filter", "reference=too*", "--format", "{{.Repository}}"]);
    assert_eq!(refs.trim(), "tools");
    let json_lines = t.ok(&["images", "--format", "json", "app:1"]);
    let row: serde_json::Value = serde_json::from_str(json_lines.lines().next().unwrap()).unwrap();
    assert_eq!(row["ID"], &third[7..19]);
    assert_eq!(row["Repository"], "app");
    let table = t.ok(&["images", "--format", "table {{.Repository}}\t{{.Tag}}", "tools"]);
    assert_eq!(table, "REPOSITORY   TAG\ntools        1\n");
    let err = t.fails(&["images", "--filter", "color=red"]);
    assert!(err.contains("invalid filter 'color'"), "{err}");
    let digests = t.ok(&["images", "--digests", "tools"]);
    let header: Vec<&str> = digests
        .lines()
        .next()
        .unwrap()
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        header,
        ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"],
        "{digests}"
    );

    let pruned = t.ok(&["image", "prune", "-f"]);
    assert!(pruned.contains(&format!("deleted: {first}")), "{pruned}");
    assert!(pruned.contains("Total reclaimed space:"), "{pruned}");
    assert!(!t.image_ids().contains(&first));
    assert_eq!(t.image_ids().len(), 2);
}

#[test]
fn errors_are_clear_and_exit_like_docker() {
    let t = TestRoot::new();
    let out = t.run(&["inspect", "nosuch:1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("No such image: nosuch:1"), "{err}");

    let err = t.fails(&["rmi", "Bad:Name"]);
    assert!(
        err.contains("invalid reference format") && err.contains("lowercase"),
        "{err}"
    );

    let out = t.run(&["images", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(125), "usage errors exit 125 like Docker's CLI");

    let err = t.fails(&["import", "/nonexistent/file.tar"]);
    assert!(err.contains("/nonexistent/file.tar"), "{err}");

    // A store from an older layout is refused, not misread.
    let old = TestRoot::new();
    std::fs::create_dir_all(old.root()).unwrap();
    std::fs::write(old.root().join("metadata.db"), b"").unwrap();
    let err = old.fails(&["images"]);
    assert!(err.contains("written by an older strata"), "{err}");

    let help = t.ok(&["help"]);
    assert!(help.contains("import") && help.contains("load") && help.contains("save"));
    assert!(t.ok(&["--version"]).starts_with("strata "));
}

#[test]
fn system_df_and_info_describe_the_store() {
    let t = TestRoot::new();
    import_busybox(&t, "busybox:local");
    let df = t.ok(&["system", "df"]);
    assert!(df.starts_with("TYPE"), "{df}");
    assert!(df.lines().any(|l| l.starts_with("Images") && l.contains(" 1 ")), "{df}");
    let info = t.ok(&["system", "info"]);
    assert!(
        info.contains("Storage Driver: overlay") && info.contains("Images: 1"),
        "{info}"
    );
    assert!(info.contains(&format!("Root Dir: {}", t.root().display())), "{info}");
    assert_eq!(t.ok(&["info"]), info, "docker info is docker system info");
}

/// Serves `body` with `status` to the requests that arrive (loopback only).
fn serve_once(status: &'static str, body: Vec<u8>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut conn, &mut buf);
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&body);
        }
    });
    format!("http://{addr}/rootfs.tar.gz")
}

#[test]
fn import_streams_from_a_url_and_names_it_in_the_comment() {
    let t = TestRoot::new();
    let plain = layer(&[E::File("from-url", b"yes")]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let url = serve_once("200 OK", gz.finish().unwrap());
    let id = t.ok(&["import", &url, "fromurl:1"]);
    assert_eq!(
        t.ok(&["inspect", "-f", "{{index .RootFS.Layers 0}}", id.trim()]).trim(),
        sha256(&plain)
    );
    assert_eq!(
        t.ok(&["inspect", "-f", "{{.Comment}}", "fromurl:1"]).trim(),
        format!("Imported from {url}")
    );

    let missing = serve_once("404 Not Found", b"no".to_vec());
    let err = t.fails(&["import", &missing]);
    assert!(err.contains(&missing) && err.contains("HTTP 404"), "{err}");
    let err = t.fails(&["import", "ftp://127.0.0.1/x.tar"]);
    assert!(err.contains("only http:// and https://"), "{err}");
    assert_eq!(t.image_ids().len(), 1);
}

// `system prune --filter`: Docker's prune filters pick which dangling images go.
#[test]
fn system_prune_filters_by_label_and_age() {
    let t = TestRoot::new();
    let import = |name: &str, change: &str| {
        let tar = t.path(name);
        std::fs::write(&tar, layer(&[E::File(name, name.as_bytes())])).unwrap();
        t.ok(&["import", "-c", change, tar.to_str().unwrap()])
            .trim()
            .to_string()
    };
    let kept = import("kept", "LABEL keep=yes");
    let gone = import("gone", "LABEL team=web");
    let out = t.ok(&["system", "prune", "-f", "--filter", "until=1h"]);
    assert!(!out.contains("deleted:"), "both images are newer than an hour: {out}");
    let out = t.ok(&["system", "prune", "-f", "--filter", "label!=keep"]);
    assert!(out.contains(&format!("deleted: {gone}")), "{out}");
    assert!(!out.contains(&kept), "{out}");
    assert_eq!(t.image_ids(), std::slice::from_ref(&kept));
    let err = t.fails(&["system", "prune", "-f", "--volumes", "--filter", "until=1h"]);
    assert!(err.contains("\"until\" filter is not supported with volumes"), "{err}");
    let err = t.fails(&["system", "prune", "-f", "--filter", "dangling=true"]);
    assert!(err.contains("prune filters are until, label and label!"), "{err}");
    assert_eq!(t.image_ids(), [kept]);
}

// `image`, `network` and `volume prune --filter`: the same filters as `system prune`.
#[test]
fn image_network_and_volume_prune_take_docker_prune_filters() {
    let t = TestRoot::new();
    let import = |name: &str, change: &str| {
        let tar = t.path(name);
        std::fs::write(&tar, layer(&[E::File(name, name.as_bytes())])).unwrap();
        t.ok(&["import", "-c", change, tar.to_str().unwrap()])
            .trim()
            .to_string()
    };
    let kept = import("kept", "LABEL keep=yes");
    let gone = import("gone", "LABEL team=web");
    let tagged = import("tagged", "LABEL team=web");
    t.ok(&["tag", &tagged, "tagged:1"]);
    let out = t.ok(&["image", "prune", "-f", "--filter", "label=team=web"]);
    assert!(out.contains(&format!("deleted: {gone}")), "{out}");
    assert!(!out.contains(&kept) && !out.contains(&tagged), "{out}");
    // dangling=false is -a: tagged images too.
    let out = t.ok(&[
        "image",
        "prune",
        "-f",
        "--filter",
        "dangling=false",
        "--filter",
        "label!=keep",
    ]);
    assert!(out.contains(&format!("deleted: {tagged}")), "{out}");
    assert_eq!(t.image_ids(), std::slice::from_ref(&kept));

    // Containers: by their labels, created (never started) ones included.
    t.ok(&["create", "--name", "web", "--label", "team=web", &kept, "true"]);
    t.ok(&["create", "--name", "db", "--label", "team=db", &kept, "true"]);
    let out = t.ok(&["container", "prune", "-f", "--filter", "label=team=web"]);
    assert!(out.contains("Deleted Containers:"), "{out}");
    assert_eq!(t.ok(&["ps", "-a", "--format", "{{.Names}}"]).trim(), "db");
    let out = t.ok(&["system", "prune", "-f", "--filter", "until=1h"]);
    assert!(!out.contains("Deleted Containers:"), "db is newer than an hour: {out}");
    t.ok(&["system", "prune", "-f"]);
    assert_eq!(t.ok(&["ps", "-aq"]), "");

    t.ok(&["network", "create", "young"]);
    let out = t.ok(&["network", "prune", "-f", "--filter", "until=1h"]);
    assert!(!out.contains("young"), "{out}");
    let out = t.ok(&["network", "prune", "-f"]);
    assert!(out.contains("young"), "{out}");

    t.ok(&["volume", "create", "data"]);
    let out = t.ok(&["volume", "prune", "-a", "-f", "--filter", "label=team"]);
    assert!(!out.contains("data"), "{out}");
    let out = t.ok(&["volume", "prune", "-a", "-f"]);
    assert!(out.contains("data"), "{out}");
    let err = t.fails(&["volume", "prune", "-f", "--filter", "until=1h"]);
    assert!(err.contains("\"until\" filter is not supported with volumes"), "{err}");
}

/// Labels are kept in the database for listings (schema 9); an image recorded before
/// has none there, and they are filled in from its config when a strata opens the root.
#[test]
fn images_label_filter_works_with_recorded_labels_and_for_images_recorded_before_them() {
    let t = TestRoot::new();
    let a = t.path("a.tar");
    std::fs::write(&a, layer(&[E::File("a", b"a")])).unwrap();
    let web = t
        .ok(&["import", "-c", "LABEL team=web", a.to_str().unwrap(), "web:1"])
        .trim()
        .to_string();
    t.ok(&["import", "-c", "LABEL team=db", a.to_str().unwrap(), "db:1"]);
    t.ok(&["import", a.to_str().unwrap(), "plain:1"]);
    let filtered = |t: &TestRoot| t.ok(&["images", "-q", "--no-trunc", "--filter", "label=team=web"]);
    assert_eq!(filtered(&t).trim(), web);
    let labels = |t: &TestRoot| -> Vec<Option<String>> {
        let db = rusqlite::Connection::open(t.root().join("metadata.db")).unwrap();
        let mut stmt = db.prepare("SELECT labels FROM images ORDER BY labels").unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    let recorded = labels(&t);
    let expected = ["null", r#"{"team":"db"}"#, r#"{"team":"web"}"#].map(|l| Some(l.to_string()));
    assert_eq!(recorded, expected);
    // As a root written before schema 9 has them.
    let db = rusqlite::Connection::open(t.root().join("metadata.db")).unwrap();
    db.execute("UPDATE images SET labels = NULL", []).unwrap();
    drop(db);
    assert_eq!(filtered(&t).trim(), web);
    assert_eq!(labels(&t), expected, "filled in from the configs");
    assert_eq!(t.ok(&["images", "-q", "--filter", "label=team"]).lines().count(), 2);
}
