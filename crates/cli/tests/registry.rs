//! pull, push, login and search against the real registry (Debian's docker-registry on
//! 127.0.0.1), with skopeo and podman as the other clients.

mod harness;

use harness::images::busybox_rootfs;
use harness::registry::{Registry, Setup};
use harness::{host, podman, TestRoot};

/// busybox imported as `busybox:test`, and `app:1` committed on top of it (one more
/// layer). Returns their IDs.
fn two_images(t: &TestRoot) -> (String, String) {
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    let base = t
        .ok(&["import", "-c", "CMD [\"sh\"]", tar.to_str().unwrap(), "busybox:test"])
        .trim()
        .to_string();
    t.ok(&[
        "run",
        "--name",
        "writer",
        "busybox:test",
        "sh",
        "-c",
        "echo from-app > /app.txt",
    ]);
    let app = t.ok(&["commit", "writer", "app:1"]).trim().to_string();
    t.ok(&["rm", "writer"]);
    (base, app)
}

fn digest_line(push_output: &str) -> String {
    let line = push_output
        .lines()
        .find(|l| l.contains(": digest: "))
        .unwrap_or_else(|| panic!("no digest line in:\n{push_output}"));
    line.split_whitespace().nth(2).unwrap().to_string()
}

#[test]
fn push_and_pull_round_trip_skip_present_layers_and_run() {
    let t = TestRoot::new();
    let reg = Registry::start(&t.path("registry"), Setup::Plain);
    let a = &reg.addr;
    let (base, app) = two_images(&t);
    t.ok(&["tag", "busybox:test", &format!("{a}/bb:1")]);
    t.ok(&["tag", "app:1", &format!("{a}/app:1")]);

    let first = t.ok(&["push", &format!("{a}/bb:1")]);
    assert!(
        first.contains(&format!("The push refers to repository [{a}/bb]")),
        "{first}"
    );
    assert!(first.contains(": Pushed"), "{first}");
    let bb_digest = digest_line(&first);
    let again = t.ok(&["push", &format!("{a}/bb:1")]);
    assert!(
        again.contains("Layer already exists") && !again.contains(": Pushed"),
        "{again}"
    );
    assert_eq!(digest_line(&again), bb_digest, "a second push sends the same manifest");
    // The base layer is linked from the other repository, only the new one is sent.
    let blobs_before = reg.blob_count();
    let app_push = t.ok(&["push", &format!("{a}/app:1")]);
    assert_eq!(app_push.matches(": Pushed").count(), 1, "{app_push}");
    assert_eq!(app_push.matches(": Mounted from bb").count(), 1, "{app_push}");
    assert_eq!(
        reg.blob_count(),
        blobs_before + 3,
        "new layer, config and manifest only"
    );

    // A fresh store pulls app (2 layers), then bb needs no download at all.
    let u = TestRoot::new();
    let pulled = u.ok(&["pull", &format!("{a}/app:1")]);
    assert_eq!(pulled.matches("Pull complete").count(), 2, "{pulled}");
    assert!(
        pulled.contains(&format!("Status: Downloaded newer image for {a}/app:1")),
        "{pulled}"
    );
    let bb = u.ok(&["pull", &format!("{a}/bb:1")]);
    assert!(bb.contains("Already exists") && !bb.contains("Pull complete"), "{bb}");
    assert!(bb.contains(&format!("Digest: {bb_digest}")), "{bb}");
    let same = u.ok(&["pull", &format!("{a}/app:1")]);
    assert!(same.contains("Image is up to date"), "{same}");
    // Same image IDs as where they were built; the pulled image runs.
    assert_eq!(u.ok(&["inspect", "-f", "{{.Id}}", &format!("{a}/bb:1")]).trim(), base);
    assert_eq!(u.ok(&["inspect", "-f", "{{.Id}}", &format!("{a}/app:1")]).trim(), app);
    assert_eq!(
        u.ok(&["run", "--rm", &format!("{a}/app:1"), "cat", "/app.txt"]).trim(),
        "from-app"
    );
    // The pulled layers are kept compressed: pushing them again sends identical bytes.
    u.ok(&["tag", &format!("{a}/bb:1"), &format!("{a}/bb:copy")]);
    let repush = u.ok(&["push", &format!("{a}/bb:copy")]);
    assert_eq!(digest_line(&repush), bb_digest, "{repush}");
    // Pulled blobs are mounted from the repository they came from, not sent again.
    u.ok(&["tag", &format!("{a}/app:1"), &format!("{a}/app2:1")]);
    let blobs_before = reg.blob_count();
    let mounted = u.ok(&["push", &format!("{a}/app2:1")]);
    assert_eq!(mounted.matches(": Mounted from app").count(), 2, "{mounted}");
    assert_eq!(reg.blob_count(), blobs_before, "nothing new is stored");

    // By digest, all tags, and a tag that does not exist.
    let by_digest = format!("{a}/bb@{bb_digest}");
    assert!(u.ok(&["pull", &by_digest]).contains("Status:"));
    let all = u.ok(&["pull", "-a", &format!("{a}/bb")]);
    assert!(
        all.contains("1: Pulling from bb") && all.contains("copy: Pulling from bb"),
        "{all}"
    );
    let listing = u.store_listing();
    let err = u.fails(&["pull", &format!("{a}/bb:nope")]);
    assert!(err.contains("not found") && err.contains("manifest unknown"), "{err}");
    assert_eq!(u.store_listing(), listing, "a failed pull changes nothing");

    // run pulls a missing image; search lists the catalog.
    let v = TestRoot::new();
    let out = v
        .cmd()
        .args(["run", "--rm", &format!("{a}/app:1"), "cat", "/app.txt"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "from-app");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("Unable to find image '{a}/app:1' locally")));
    assert_eq!(
        v.run(&["run", "--pull", "never", "--rm", &format!("{a}/bb:1"), "true"])
            .status
            .code(),
        Some(125)
    );
    let search = v.ok(&["search", &format!("{a}/b")]);
    assert!(
        search.starts_with("NAME") && search.contains(&format!("{a}/bb")),
        "{search}"
    );
    assert!(!search.contains("/app"), "{search}");
    let json = v.ok(&["search", "--format", "{{.Name}}", &format!("{a}/app")]);
    assert_eq!(
        json.lines().collect::<Vec<_>>(),
        [format!("{a}/app"), format!("{a}/app2")]
    );

    // The compression level is honoured (and a form made at another level is not reused).
    t.ok(&["tag", "app:1", &format!("{a}/fast:1")]);
    t.ok(&["push", "--compression-level", "1", &format!("{a}/fast:1")]);
    let sizes = |name: &str| -> Vec<u64> {
        let raw = host(
            "skopeo",
            &[
                "inspect",
                "--raw",
                "--tls-verify=false",
                &format!("docker://{a}/{name}"),
            ],
        );
        let doc: serde_json::Value = serde_json::from_str(&raw).unwrap();
        doc["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["size"].as_u64().unwrap())
            .collect()
    };
    assert!(
        sizes("fast:1")[0] > sizes("app:1")[0],
        "level 1 gives a bigger busybox layer than level 6"
    );

    // zstd on request; the registry keeps the media type and strata pulls it back.
    t.ok(&["tag", "app:1", &format!("{a}/zst:1")]);
    t.ok(&["push", "--compression-format", "zstd", &format!("{a}/zst:1")]);
    let raw = host(
        "skopeo",
        &["inspect", "--raw", "--tls-verify=false", &format!("docker://{a}/zst:1")],
    );
    assert_eq!(raw.matches("tar+zstd").count(), 2, "{raw}");
    v.ok(&["pull", &format!("{a}/zst:1")]);
    assert_eq!(
        v.ok(&["run", "--rm", &format!("{a}/zst:1"), "cat", "/app.txt"]).trim(),
        "from-app"
    );
}

#[test]
fn skopeo_and_podman_pull_what_strata_pushes_and_strata_pulls_what_they_push() {
    let t = TestRoot::new();
    let reg = Registry::start(&t.path("registry"), Setup::Plain);
    let a = &reg.addr;
    let (base, app) = two_images(&t);
    t.ok(&["tag", "app:1", &format!("{a}/app:1")]);
    let pushed = digest_line(&t.ok(&["push", &format!("{a}/app:1")]));

    let inspect: serde_json::Value = serde_json::from_str(&host(
        "skopeo",
        &["inspect", "--tls-verify=false", &format!("docker://{a}/app:1")],
    ))
    .unwrap();
    assert_eq!(
        inspect["Digest"],
        pushed.as_str(),
        "skopeo sees the digest strata printed"
    );
    podman(&t, &["pull", "-q", "--tls-verify=false", &format!("{a}/app:1")]);
    let ran = podman(
        &t,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            // This VM lacks CAP_SYS_RESOURCE: podman's default rlimits exceed its limits.
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            &format!("{a}/app:1"),
            "cat",
            "/app.txt",
        ],
    );
    assert_eq!(ran.trim(), "from-app", "podman runs what strata pushed");

    // podman pushes (its own compression), strata pulls and runs it, digests equal.
    podman(&t, &["tag", &format!("{a}/app:1"), &format!("{a}/from-podman:1")]);
    let digest_file = t.path("podman.digest");
    podman(
        &t,
        &[
            "push",
            "-q",
            "--tls-verify=false",
            "--digestfile",
            digest_file.to_str().unwrap(),
            &format!("{a}/from-podman:1"),
        ],
    );
    let podman_digest = std::fs::read_to_string(&digest_file).unwrap();
    let u = TestRoot::new();
    let out = u.ok(&["pull", &format!("{a}/from-podman:1")]);
    assert!(out.contains(&format!("Digest: {}", podman_digest.trim())), "{out}");
    assert_eq!(
        u.ok(&["run", "--rm", &format!("{a}/from-podman:1"), "cat", "/app.txt"])
            .trim(),
        "from-app"
    );

    // skopeo copies a strata archive in (OCI, gzip) and a multi-platform index.
    let saved = t.path("bb.tar");
    t.ok(&["save", "-o", saved.to_str().unwrap(), "busybox:test"]);
    let archive = format!("docker-archive:{}", saved.display());
    host(
        "skopeo",
        &[
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--format",
            "oci",
            &archive,
            &format!("docker://{a}/oci:1"),
        ],
    );
    u.ok(&["pull", &format!("{a}/oci:1")]);
    assert_eq!(u.ok(&["inspect", "-f", "{{.Id}}", &format!("{a}/oci:1")]).trim(), base);

    podman(&t, &["manifest", "create", "multi-arch"]);
    for (arch, image) in [("arm64", "oci:1"), ("amd64", "app:1")] {
        podman(
            &t,
            &[
                "manifest",
                "add",
                "--tls-verify=false",
                "--arch",
                arch,
                "multi-arch",
                &format!("docker://{a}/{image}"),
            ],
        );
    }
    podman(
        &t,
        &[
            "manifest",
            "push",
            "--all",
            "--tls-verify=false",
            "multi-arch",
            &format!("docker://{a}/list:1"),
        ],
    );
    let v = TestRoot::new();
    v.ok(&["pull", &format!("{a}/list:1")]);
    assert_eq!(
        v.ok(&["inspect", "-f", "{{.Id}}", &format!("{a}/list:1")]).trim(),
        app,
        "this machine's platform"
    );
    v.ok(&["pull", "--platform", "linux/arm64", &format!("{a}/list:1")]);
    assert_eq!(v.ok(&["inspect", "-f", "{{.Id}}", &format!("{a}/list:1")]).trim(), base);
    let err = v.fails(&["pull", "--platform", "linux/s390x", &format!("{a}/list:1")]);
    assert!(
        err.contains("no matching manifest for linux/s390x") && err.contains("linux/arm64"),
        "{err}"
    );
}

#[test]
fn tls_registry_is_trusted_through_its_ca_file_or_tls_verify_false() {
    let t = TestRoot::new();
    let reg = Registry::start(&t.path("registry"), Setup::Tls);
    let a = &reg.addr;
    two_images(&t);
    t.ok(&["tag", "busybox:test", &format!("{a}/bb:1")]);
    let err = t.fails(&["push", &format!("{a}/bb:1")]);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let certs = t.path(&format!("config/certs.d/{a}"));
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(reg.ca_cert.as_ref().unwrap(), certs.join("ca.crt")).unwrap();
    t.ok(&["push", &format!("{a}/bb:1")]);
    t.ok(&["rmi", &format!("{a}/bb:1")]);
    t.ok(&["pull", &format!("{a}/bb:1")]);
    std::fs::remove_dir_all(&certs).unwrap();
    assert!(t
        .fails(&["pull", &format!("{a}/bb:1")])
        .to_lowercase()
        .contains("certificate"));
    t.ok(&["pull", "--tls-verify=false", &format!("{a}/bb:1")]);
}

fn login(t: &TestRoot, addr: &str, user: &str, password: &str) -> std::process::Output {
    t.run_with_input(
        &["login", "-u", user, "--password-stdin", addr],
        format!("{password}\n").as_bytes(),
    )
}

#[test]
fn basic_auth_needs_login_and_credentials_are_kept_private() {
    let t = TestRoot::new();
    let reg = Registry::start(
        &t.path("registry"),
        Setup::Basic {
            user: "alice",
            password: "s3cret:pw",
        },
    );
    let a = &reg.addr;
    two_images(&t);
    t.ok(&["tag", "busybox:test", &format!("{a}/bb:1")]);
    let err = t.fails(&["push", &format!("{a}/bb:1")]);
    assert!(
        err.contains("unauthorized: authentication required") && err.contains("strata login"),
        "{err}"
    );

    let wrong = login(&t, a, "alice", "nope");
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("unauthorized"));
    assert!(!t.path("config/config.json").exists(), "a failed login stores nothing");
    let ok = login(&t, a, "alice", "s3cret:pw");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("Login Succeeded"));
    let file = t.path("config/config.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(
        !std::fs::read_to_string(&file).unwrap().contains("s3cret"),
        "stored encoded, as Docker does"
    );

    t.ok(&["push", &format!("{a}/bb:1")]);
    t.ok(&["rmi", &format!("{a}/bb:1")]);
    let traced = t.run(&["--log-level", "trace", "pull", &format!("{a}/bb:1")]);
    assert!(traced.status.success());
    let everything = format!(
        "{}{}",
        String::from_utf8_lossy(&traced.stdout),
        String::from_utf8_lossy(&traced.stderr)
    );
    assert!(
        everything.contains("TRACE") || everything.contains("DEBUG"),
        "tracing is on"
    );
    assert!(
        !everything.contains("s3cret") && !everything.contains("YWxpY2U6czNjcmV0OnB3"),
        "credentials never reach a log"
    );
    assert!(t
        .ok(&["logout", a])
        .contains(&format!("Removing login credentials for {a}")));
    t.ok(&["rmi", &format!("{a}/bb:1")]);
    assert!(t.fails(&["pull", &format!("{a}/bb:1")]).contains("unauthorized"));

    // Docker's own credentials file is read too.
    std::fs::create_dir_all(t.path("docker-config")).unwrap();
    let token = "YWxpY2U6czNjcmV0OnB3"; // base64("alice:s3cret:pw")
    std::fs::write(
        t.path("docker-config/config.json"),
        format!(r#"{{"auths": {{"{a}": {{"auth": "{token}"}}}}}}"#),
    )
    .unwrap();
    t.ok(&["pull", &format!("{a}/bb:1")]);
}

#[test]
fn corrupt_or_truncated_blobs_are_refused_and_nothing_is_listed() {
    let t = TestRoot::new();
    let reg = Registry::start(&t.path("registry"), Setup::Plain);
    let a = &reg.addr;
    two_images(&t);
    t.ok(&["tag", "app:1", &format!("{a}/app:1")]);
    t.ok(&["push", &format!("{a}/app:1")]);
    let manifest: serde_json::Value = serde_json::from_str(&host(
        "skopeo",
        &["inspect", "--raw", "--tls-verify=false", &format!("docker://{a}/app:1")],
    ))
    .unwrap();
    let top = manifest["layers"][1]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let data = t.path(&format!(
        "registry/data/docker/registry/v2/blobs/sha256/{}/{top}/data",
        &top[..2]
    ));
    let original = std::fs::read(&data).unwrap();

    let u = TestRoot::new();
    u.ok(&["images"]);
    let empty = u.store_listing();
    let mut flipped = original.clone();
    let last = flipped.len() - 1;
    flipped[last / 2] ^= 0xff;
    std::fs::write(&data, &flipped).unwrap();
    let err = u.fails(&["pull", &format!("{a}/app:1")]);
    assert!(err.contains(&top), "the error names the layer: {err}");
    // Nothing of the bad layer is kept; the good one waits, verified, for the next pull.
    let added: Vec<String> = u.store_listing().into_iter().filter(|p| !empty.contains(p)).collect();
    assert!(
        added.len() == 1 && added[0].starts_with("content/ingest/partial-") && !added[0].contains(&top),
        "{added:?}"
    );
    assert!(u.ok(&["images", "-q"]).trim().is_empty());
    u.ok(&["system", "prune", "-f"]);
    assert_eq!(u.store_listing(), empty, "system prune removes partial downloads");

    // A registry that ends the blob early: only the bytes received are kept, as a
    // partial download the next pull continues.
    std::fs::write(&data, &original[..original.len() / 2]).unwrap();
    let err = u.fails(&["pull", &format!("{a}/app:1")]);
    assert!(err.contains("ended the blob"), "{err}");
    let added: Vec<String> = u.store_listing().into_iter().filter(|p| !empty.contains(p)).collect();
    assert!(
        added.contains(&format!("content/ingest/partial-sha256-{top}")),
        "{added:?}"
    );
    assert!(
        added.iter().all(|p| p.starts_with("content/ingest/partial-")),
        "{added:?}"
    );
    assert!(u.ok(&["images", "-q"]).trim().is_empty());

    std::fs::write(&data, &original).unwrap();
    u.ok(&["pull", &format!("{a}/app:1")]);
    assert_eq!(u.ok(&["images", "-q"]).lines().count(), 1);
    assert_eq!(u.entries("content/ingest"), 0);
    u.ok(&["system", "check"]);
}

#[test]
fn bearer_tokens_allow_anonymous_pulls_and_pushes_after_login() {
    let t = TestRoot::new();
    let reg = Registry::start(
        &t.path("registry"),
        Setup::Bearer {
            user: "carol",
            password: "tok3n",
        },
    );
    let a = &reg.addr;
    two_images(&t);
    t.ok(&["tag", "app:1", &format!("{a}/app:1")]);
    let err = t.fails(&["push", &format!("{a}/app:1")]);
    assert!(err.contains("unauthorized"), "anonymous tokens only pull: {err}");
    let wrong = login(&t, a, "carol", "nope");
    assert!(!wrong.status.success(), "{}", String::from_utf8_lossy(&wrong.stdout));
    let ok = login(&t, a, "carol", "tok3n");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    t.ok(&["push", &format!("{a}/app:1")]);
    assert!(t.ok(&["search", &format!("{a}/ap")]).contains(&format!("{a}/app")));

    // Another machine without credentials pulls anonymously and runs the image.
    let u = TestRoot::new();
    u.ok(&["pull", &format!("{a}/app:1")]);
    assert_eq!(
        u.ok(&["run", "--rm", &format!("{a}/app:1"), "cat", "/app.txt"]).trim(),
        "from-app"
    );
}

#[test]
fn build_pulls_a_missing_base_image_and_pull_flag_refreshes_it() {
    let t = TestRoot::new();
    let reg = Registry::start(&t.path("registry"), Setup::Plain);
    let a = &reg.addr;
    two_images(&t);
    t.ok(&["tag", "busybox:test", &format!("{a}/base:1")]);
    t.ok(&["push", &format!("{a}/base:1")]);

    let u = TestRoot::new();
    let dir = u.path("ctx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM {a}/base:1\nRUN echo built > /out\n"),
    )
    .unwrap();
    let out = u.run(&["build", "-t", "child:1", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("Unable to find image '{a}/base:1' locally")));
    assert_eq!(u.ok(&["run", "--rm", "child:1", "cat", "/out"]), "built\n");
    let again = u.run(&["build", "--pull", "-t", "child:1", dir.to_str().unwrap()]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("Image is up to date"));
    assert!(String::from_utf8_lossy(&again.stdout).contains("Using cache"));
}
