//! `strata image explore` (issue 21, first slice): the analysis of a real built image as
//! JSON and text, the CI gate with dive's rules and a `.dive-ci` file, and hostile
//! layers (whiteouts of nothing, whiteouts under symlinks, hard links to later entries,
//! names that are not text, a thousand layers, a decompression bomb).

mod harness;

use harness::images::{docker_archive, layer, E};
use harness::service::with_busybox;
use harness::TestRoot;
use serde_json::Value;

fn explore_json(t: &TestRoot, image: &str) -> Value {
    serde_json::from_str(&t.ok(&["image", "explore", "--format", "json", image])).unwrap()
}

fn paths(layer: &Value, list: &str) -> Vec<String> {
    layer[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap().to_string())
        .collect()
}

fn load(t: &TestRoot, layers: &[Vec<u8>], tag: &str) {
    let archive = t.path(&format!("{}.tar", tag.replace(':', "-")));
    std::fs::write(&archive, docker_archive(layers, tag, "2024-01-01T00:00:00Z")).unwrap();
    t.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
}

#[test]
fn a_built_image_shows_what_each_layer_adds_changes_removes_and_wastes() {
    let t = with_busybox();
    let dir = t.path("ctx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox:test\n\
         RUN head -c 100000 /dev/zero > /big && echo v1 > /conf\n\
         RUN rm /big && echo v2-longer > /conf\n\
         RUN echo v2-longer > /conf && mkdir /data && head -c 5000 /dev/zero > /data/a && cp /data/a /data/b\n",
    )
    .unwrap();
    t.ok(&["build", "-q", "-t", "waste:1", dir.to_str().unwrap()]);
    let a = explore_json(&t, "waste:1");
    let layers = a["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 4, "busybox's layer and three RUN layers");
    assert_eq!(
        a["totals"]["base_layers"], 1,
        "busybox:test is the base: another local image"
    );
    assert_eq!(layers[0]["base"], true);
    assert!(layers[1]["created_by"].as_str().unwrap().contains("head -c 100000"));
    assert!(paths(&layers[1], "added").contains(&"big".to_string()));
    assert_eq!(paths(&layers[2], "removed"), ["big"]);
    assert_eq!(paths(&layers[2], "modified"), ["conf"]);
    assert_eq!(paths(&layers[3], "unchanged"), ["conf"]);
    // Wasted: the 100000-byte file, conf's first two copies (3 + 10 bytes).
    assert_eq!(a["totals"]["wasted_bytes"], 100_013);
    assert_eq!(a["totals"]["user_wasted_bytes"], 100_013);
    let stored = a["totals"]["stored_bytes"].as_u64().unwrap();
    let visible = a["totals"]["visible_bytes"].as_u64().unwrap();
    assert_eq!(stored - visible, 100_013);
    let efficiency = a["totals"]["efficiency"].as_f64().unwrap();
    assert!((efficiency - visible as f64 / stored as f64).abs() < 1e-9);
    assert_eq!(a["wasted"][0]["path"], "big");
    let dup = &a["duplicates"][0];
    assert_eq!(
        (dup["size"].as_u64(), dup["paths"].as_array().unwrap().len()),
        (Some(5000), 2)
    );
    // The text view names the same figures.
    let text = t.ok(&["explore", "waste:1"]);
    assert!(
        text.contains("LAYER") && text.contains("(base)") && text.contains("Wasted space:"),
        "{text}"
    );
    assert!(text.contains("big"), "{text}");
}

#[test]
fn the_ci_gate_uses_dives_rules_and_its_dive_ci_file() {
    let t = TestRoot::new();
    // 40 bytes stored twice: efficiency 0.5, 40 bytes wasted, all above the base.
    load(
        &t,
        &[
            layer(&[E::File("base", b"")]),
            layer(&[E::File("f", &[1; 40])]),
            layer(&[E::File("f", &[2; 40])]),
        ],
        "ci:1",
    );
    let out = t.run(&["image", "explore", "--ci", "ci:1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL: lowestEfficiency: image efficiency is too low (0.5000 < 0.9000)"),
        "{text}"
    );
    assert!(text.contains("FAIL: highestUserWastedPercent"), "{text}");
    assert!(text.contains("SKIP: highestWastedBytes: rule disabled"), "{text}");
    assert!(
        text.contains("Result:FAIL [Total:3] [Passed:0] [Failed:2] [Warn:0] [Skipped:1]"),
        "{text}"
    );

    let relaxed = [
        "image",
        "explore",
        "--ci",
        "--lowest-efficiency",
        "0.5",
        "--highest-user-wasted-percent",
        "0.5",
        "--highest-wasted-bytes",
        "40B",
        "ci:1",
    ];
    let out = t.ok(&relaxed);
    assert!(out.contains("Result:PASS [Total:3] [Passed:3]"), "{out}");

    // A .dive-ci in the working directory, as dive reads it.
    let work = t.path("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(
        work.join(".dive-ci"),
        "rules:\n  lowestEfficiency: 0.4\n  highestUserWastedPercent: disabled\n  highestWastedBytes: 39\n",
    )
    .unwrap();
    let out = t
        .cmd()
        .args(["explore", "--ci", "ci:1"])
        .current_dir(&work)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("PASS: lowestEfficiency"), "{text}");
    assert!(
        text.contains("FAIL: highestWastedBytes: too many bytes wasted (40 > 39)"),
        "{text}"
    );
    assert!(text.contains("SKIP: highestUserWastedPercent"), "{text}");
    let e = t.fails(&["explore", "--ci", "--lowest-efficiency", "2", "ci:1"]);
    assert!(e.contains("not between 0 and 1"), "{e}");
}

#[test]
fn hostile_layers_are_analyzed_without_following_or_crashing() {
    let t = TestRoot::new();
    // Names that are not text, and one with a newline.
    let mut odd = tar::Builder::new(Vec::new());
    for name in [&b"bad\xffname"[..], b"new\nline"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(3);
        h.as_mut_bytes()[..name.len()].copy_from_slice(name);
        h.set_cksum();
        odd.append(&h, &b"abc"[..]).unwrap();
    }
    let odd = odd.into_inner().unwrap();
    load(
        &t,
        &[
            layer(&[
                E::Dir("real/"),
                E::File("real/f", b"data"),
                E::Symlink("link", "real"),
                // (A hard link to a later entry is refused by the store's applier: the
                // analysis's own test covers it.)
                E::File("later", b"12345"),
                E::HardLink("alias", "later"),
            ]),
            layer(&[
                E::File(".wh.nothing-here", b""),
                E::Dir("link/"),
                E::File("link/.wh.f", b""),
                E::File("link/.wh..wh..opq", b""),
            ]),
            odd,
        ],
        "hostile:1",
    );
    let a = explore_json(&t, "hostile:1");
    let layers = a["layers"].as_array().unwrap();
    assert!(layers[1]["orphan_whiteouts"].as_u64().unwrap() >= 1, "{}", layers[1]);
    let added = paths(&layers[2], "added");
    assert!(added.contains(&"bad\\xffname".to_string()), "{added:?}");
    assert!(added.contains(&"new\nline".to_string()), "{added:?}");
    // The layer is reassembled from its tar-split: a name that is not UTF-8 was read
    // back lossily (and not found) before, which broke `save` too.
    let saved = t.path("hostile-saved.tar");
    t.ok(&["save", "-o", saved.to_str().unwrap(), "hostile:1"]);
    let text = t.ok(&["explore", "--top", "50", "hostile:1"]);
    assert!(
        !text.contains("new\nline"),
        "a newline in a name is escaped for the terminal"
    );
}

#[test]
fn a_thousand_layer_image_and_a_bomb_within_the_stores_limit() {
    let t = TestRoot::new();
    let layers: Vec<Vec<u8>> = (0..1000)
        .map(|i| {
            let name = format!("f{i}");
            layer(&[E::File("counter", format!("{i}").as_bytes()), E::File(&name, b"x")])
        })
        .collect();
    load(&t, &layers, "deep:1");
    let a = explore_json(&t, "deep:1");
    assert_eq!(a["layers"].as_array().unwrap().len(), 1000);
    assert_eq!(a["wasted"][0]["path"], "counter");
    assert_eq!(a["wasted"][0]["copies"], 1000);

    // A layer of 2 MB of zeros (a few KB compressed) read with a 1 MB limit.
    load(&t, &[layer(&[E::File("zeros", &vec![0; 2 << 20])])], "bomb:1");
    let e = t.fails(&["--max-layer-size", "1MB", "image", "explore", "bomb:1"]);
    assert!(e.contains("expands past the store's limit"), "{e}");
}

#[test]
fn archives_compressed_or_not_and_oci_layouts_are_read_without_loading() {
    let t = TestRoot::new();
    let layers = [
        layer(&[E::File("a", &[1; 300])]),
        layer(&[E::File("a", &[2; 100]), E::File(".wh.gone", b"")]),
    ];
    let plain = t.path("plain.tar");
    std::fs::write(&plain, docker_archive(&layers, "arch:1", "2024-01-01T00:00:00Z")).unwrap();
    let gz = t.path("plain.tar.gz");
    harness::host(
        "sh",
        &["-c", &format!("gzip -c {} > {}", plain.display(), gz.display())],
    );
    // skopeo writes the same image as an OCI layout archive.
    let oci = t.path("oci.tar");
    harness::host(
        "skopeo",
        &[
            "copy",
            "-q",
            &format!("docker-archive:{}", plain.display()),
            &format!("oci-archive:{}:arch:1", oci.display()),
        ],
    );
    for archive in [&plain, &gz, &oci] {
        let out = t.ok(&["explore", "--format", "json", "--input", archive.to_str().unwrap()]);
        let a: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(a["layers"].as_array().unwrap().len(), 2, "{}", archive.display());
        assert_eq!(a["totals"]["wasted_bytes"], 300, "{}", archive.display());
        assert_eq!(a["layers"][1]["created_by"], "layer 1", "{}", archive.display());
        assert_eq!(a["layers"][1]["orphan_whiteouts"], 1);
    }
    assert!(t.ok(&["images", "-q"]).is_empty(), "nothing was loaded");
    let tmp = std::fs::read_dir(t.root().join("tmp")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(tmp, 0, "the decompressed copy is gone");
    // A layer whose bytes are not the ones its DiffID names is refused, not analyzed.
    let mut forged = std::fs::read(&plain).unwrap();
    let at = forged.windows(300).position(|w| w.iter().all(|b| *b == 1)).unwrap();
    forged[at + 10] = 9;
    let forged_path = t.path("forged.tar");
    std::fs::write(&forged_path, forged).unwrap();
    let e = t.fails(&["explore", "--input", forged_path.to_str().unwrap()]);
    assert!(e.contains("the archive is damaged or forged"), "{e}");
    let e = t.fails(&["explore", "--input", plain.to_str().unwrap(), "other:1"]);
    assert!(e.contains("holds no image named other:1"), "{e}");
    let e = t.fails(&[
        "explore",
        "--platform",
        "linux/arm64",
        "--input",
        plain.to_str().unwrap(),
    ]);
    assert!(e.contains("--platform linux/arm64 is not supported"), "{e}");
}

#[test]
fn a_container_shows_its_writable_layer_on_top() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "--name",
        "writer",
        "busybox:test",
        "sh",
        "-c",
        "head -c 777 /dev/zero > /new && rm /var/www/index.html",
    ]);
    let a = explore_json(&t, "writer");
    let layers = a["layers"].as_array().unwrap();
    let top = layers.last().unwrap();
    assert_eq!(top["digest"], "container");
    assert!(top["created_by"].as_str().unwrap().contains("writer"), "{top}");
    assert!(paths(top, "added").contains(&"new".to_string()), "{top}");
    assert_eq!(paths(top, "removed"), ["var/www/index.html"]);
    assert_eq!(layers.len(), 2, "busybox's layer and the container's");
    let e = t.fails(&["explore", "nothing-by-this-name"]);
    assert!(e.contains("No such image or container: nothing-by-this-name"), "{e}");
}

#[test]
fn image_diff_shows_the_files_that_differ_and_the_layers_shared() {
    let t = TestRoot::new();
    let base = layer(&[E::Dir("etc/"), E::File("etc/os", b"base"), E::File("etc/gone", b"x")]);
    load(&t, std::slice::from_ref(&base), "base:1");
    load(&t, &[base.clone(), layer(&[E::File("app", &[1; 10])])], "app:1");
    load(
        &t,
        &[
            base,
            layer(&[
                E::File("app", &[2; 25]),
                E::File("etc/.wh.gone", b""),
                E::File("new", b"n"),
            ]),
        ],
        "app:2",
    );
    let c: Value = serde_json::from_str(&t.ok(&["image", "diff", "--format", "json", "app:1", "app:2"])).unwrap();
    assert_eq!(c["common_base"], 1);
    assert_eq!(c["shared_layers"].as_array().unwrap().len(), 1);
    let files: Vec<(String, String)> = c["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["change"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            ("C".into(), "app".into()),
            ("D".into(), "etc/gone".into()),
            ("A".into(), "new".into())
        ]
    );
    assert_eq!(c["files"][0]["size_before"], 10);
    assert_eq!(c["files"][0]["size_after"], 25);
    let text = t.ok(&["image", "diff", "app:1", "app:2"]);
    assert!(text.starts_with("Shared layers: 1 (1 at the bottom"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with('C') && l.ends_with("/app")),
        "{text}"
    );
    let same = t.ok(&["image", "diff", "--format", "json", "app:1", "app:1"]);
    assert_eq!(
        serde_json::from_str::<Value>(&same).unwrap()["files"],
        serde_json::json!([])
    );
}

/// Chromium, headless, as the machine's notes say to run it here: the page's DOM once its
/// script ran (`#layer=N` shows that layer's files, as a click on it does).
fn chromium_dom(page: &std::path::Path, hash: &str, profile: &std::path::Path) -> String {
    let out = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--virtual-time-budget=20000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}#{hash}", page.display()))
        .output()
        .expect("chromium (Debian's package; scripts/test.sh installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_html_page_draws_the_layers_and_shows_a_layers_files_in_chromium() {
    let t = TestRoot::new();
    load(
        &t,
        &[
            layer(&[
                E::Dir("etc/"),
                E::File("etc/os-release", b"base"),
                E::File("etc/old", &[1; 3000]),
            ]),
            layer(&[
                E::Dir("app/"),
                E::File("app/<img src=x onerror=alert(1)>", b"hostile name"),
                E::File("etc/.wh.old", b""),
            ]),
        ],
        "page:1",
    );
    let page = t.path("page.html");
    t.ok(&[
        "explore",
        "--format",
        "text",
        "--html",
        page.to_str().unwrap(),
        "page:1",
    ]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("Content-Security-Policy\" content=\"default-src 'none'"),
        "fetches nothing"
    );
    assert!(
        !html.contains("src=\"") && !html.contains("href="),
        "no external resource"
    );
    let dom = chromium_dom(&page, "layer=1&open", &t.path("chromium"));
    assert!(dom.contains("data-ready=\"true\""), "the script ran: {dom}");
    assert_eq!(dom.matches("class=\"layer").count(), 2, "{dom}");
    assert!(
        dom.contains("layer 1") && dom.contains("layer 0"),
        "labelled by history: {dom}"
    );
    // The stack is drawn top first: layer 1 above layer 0.
    assert!(dom.find("data-index=\"1\"") < dom.find("data-index=\"0\""), "{dom}");
    assert!(dom.contains("Layer 1: 3 changes"), "layer 1's tree: {dom}");
    assert!(
        dom.contains("<li class=\"m-D\">D old"),
        "the whiteout's path, marked: {dom}"
    );
    assert!(
        dom.contains("A &lt;img src=x onerror=alert(1)&gt;"),
        "the hostile name as text: {dom}"
    );
    assert!(!dom.contains("<img"), "a file name is never markup: {dom}");
    // Its wasted part is shaded: layer 0 wastes old's 3000 bytes of its 3004.
    assert!(dom.contains("height:99.9%"), "{dom}");
}

#[test]
fn a_remote_image_is_streamed_from_its_registry_and_never_stored() {
    use harness::registry::{Registry, Setup};
    let t = TestRoot::new();
    let reg = Registry::start(&t.path("registry"), Setup::Plain);
    load(
        &t,
        &[
            layer(&[E::File("f", &[1; 40])]),
            layer(&[E::File("f", &[2; 40]), E::File("g", b"g")]),
        ],
        "remote:1",
    );
    let local = explore_json(&t, "remote:1");
    let name = format!("{}/remote:1", reg.addr);
    t.ok(&["tag", "remote:1", &name]);
    t.ok(&["push", &name]);

    // Another store, empty: the analysis comes from the registry alone.
    let u = TestRoot::new();
    let out = u.ok(&["explore", "--remote", "--format", "json", &name]);
    let remote: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        remote["totals"], local["totals"],
        "the same analysis as the local image's"
    );
    assert_eq!(remote["layers"][1]["created_by"], "layer 1");
    assert_eq!(
        remote["layers"][1]["digest"], local["layers"][1]["digest"],
        "DiffIDs, not blob digests"
    );
    assert!(u.ok(&["images", "-q"]).is_empty(), "nothing was stored");
    let blobs = u.root().join("content/blobs/sha256");
    assert_eq!(
        std::fs::read_dir(&blobs).map(|d| d.count()).unwrap_or(0),
        0,
        "no blob was kept"
    );
    let out = u.ok(&[
        "explore",
        "--remote",
        "--platform",
        "linux/arm64",
        "--format",
        "json",
        &name,
    ]);
    assert!(
        out.contains("\"totals\""),
        "a single-platform image is read for any platform asked"
    );
    let e = u.fails(&[
        "explore",
        "--remote",
        "--format",
        "json",
        &format!("{}/missing:1", reg.addr),
    ]);
    assert!(e.contains("missing"), "{e}");
}

/// An OCI layout holding an index of an amd64 image, an arm64 image and an attestation
/// manifest (platform unknown/unknown), as BuildKit pushes them.
const MULTI_PLATFORM_LAYOUT: &str = r#"
import hashlib, io, json, os, sys, tarfile
out = sys.argv[1]
os.makedirs(out + "/blobs/sha256", exist_ok=True)
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{out}/blobs/sha256/{d}", "wb").write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
def layer(name, content):
    buf = io.BytesIO(); t = tarfile.open(fileobj=buf, mode="w")
    info = tarfile.TarInfo(name); info.size = len(content); t.addfile(info, io.BytesIO(content)); t.close()
    return buf.getvalue()
def image(arch, name, content):
    l = layer(name, content)
    config = json.dumps({"architecture": arch, "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(l).hexdigest()]},
        "history": [{"created_by": "made for " + arch}]}).encode()
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": dict(blob(config), mediaType="application/vnd.oci.image.config.v1+json"),
        "layers": [dict(blob(l), mediaType="application/vnd.oci.image.layer.v1.tar")]}).encode()
    return dict(blob(m), mediaType="application/vnd.oci.image.manifest.v1+json")
amd = dict(image("amd64", "amd", b"a" * 10), platform={"os": "linux", "architecture": "amd64"})
arm = dict(image("arm64", "arm", b"r" * 20), platform={"os": "linux", "architecture": "arm64"})
att = dict(image("unknown", "attestation.json", b"{}"), platform={"os": "unknown", "architecture": "unknown"},
    annotations={"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": amd["digest"]})
index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [att, amd, arm]}).encode()
top = dict(blob(index), mediaType="application/vnd.oci.image.index.v1+json",
    annotations={"org.opencontainers.image.ref.name": "1"})
open(out + "/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": [top]}))
open(out + "/oci-layout", "w").write(json.dumps({"imageLayoutVersion": "1.0.0"}))
"#;

#[test]
fn platform_picks_a_multi_platform_images_manifest_and_attestations_are_skipped() {
    use harness::registry::{Registry, Setup};
    let t = TestRoot::new();
    let reg = Registry::start(&t.path("registry"), Setup::Plain);
    let layout = t.path("layout");
    harness::host("python3", &["-c", MULTI_PLATFORM_LAYOUT, layout.to_str().unwrap()]);
    let name = format!("{}/multi:1", reg.addr);
    harness::host(
        "skopeo",
        &[
            "copy",
            "-q",
            "--all",
            "--dest-tls-verify=false",
            &format!("oci:{}:1", layout.display()),
            &format!("docker://{name}"),
        ],
    );
    let read = |platform: Option<&str>| -> Value {
        let mut args = vec!["explore", "--remote", "--format", "json"];
        if let Some(p) = platform {
            args.extend(["--platform", p]);
        }
        args.push(&name);
        serde_json::from_str(&t.ok(&args)).unwrap()
    };
    let host = read(None);
    assert_eq!(
        host["layers"][0]["created_by"], "made for amd64",
        "this machine's, not the attestation"
    );
    assert_eq!(paths(&host["layers"][0], "added"), ["amd"]);
    let arm = read(Some("linux/arm64"));
    assert_eq!(paths(&arm["layers"][0], "added"), ["arm"]);
    let e = t.fails(&["explore", "--remote", "--platform", "linux/s390x", &name]);
    assert!(e.contains("no matching manifest for linux/s390x"), "{e}");
    assert!(
        e.contains("linux/amd64") && e.contains("linux/arm64"),
        "the platforms it has: {e}"
    );
}

#[test]
fn the_engine_api_serves_the_same_analysis() {
    let t = TestRoot::new();
    load(
        &t,
        &[layer(&[E::File("f", &[1; 40])]), layer(&[E::File("f", &[2; 40])])],
        "api:1",
    );
    let cli = explore_json(&t, "api:1");
    let service = harness::service::Service::start(&t);
    let reply = service.http("GET", "/images/api:1/explore");
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let api: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(api, cli, "one library call behind both front ends");
    let missing = service.http("GET", "/images/nothing:1/explore");
    assert_eq!(missing.status, 404, "{}", String::from_utf8_lossy(&missing.body));
}

/// An OCI layout tar of two images: `base:1` (two layers) and `app:1` (three other
/// layers) whose manifest names base:1's as `org.opencontainers.image.base.digest`.
const ANNOTATED_LAYOUT: &str = r#"
import hashlib, io, json, sys, tarfile
blobs = {}
def blob(data):
    d = hashlib.sha256(data).hexdigest(); blobs[d] = data
    return {"digest": "sha256:" + d, "size": len(data)}
def layer(name):
    buf = io.BytesIO(); t = tarfile.open(fileobj=buf, mode="w")
    info = tarfile.TarInfo(name); info.size = len(name); t.addfile(info, io.BytesIO(name.encode())); t.close()
    return buf.getvalue()
def image(names, annotations=None):
    ls = [layer(n) for n in names]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(l).hexdigest() for l in ls]}}).encode()
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": dict(blob(config), mediaType="application/vnd.oci.image.config.v1+json"),
        "layers": [dict(blob(l), mediaType="application/vnd.oci.image.layer.v1.tar") for l in ls]}
    if annotations: m["annotations"] = annotations
    return dict(blob(json.dumps(m).encode()), mediaType="application/vnd.oci.image.manifest.v1+json")
base = image(["b1", "b2"])
app = image(["a1", "a2", "a3"], {"org.opencontainers.image.base.name": "docker.io/library/base:1",
    "org.opencontainers.image.base.digest": base["digest"]})
base["annotations"] = {"org.opencontainers.image.ref.name": "base:1", "io.containerd.image.name": "docker.io/library/base:1"}
app["annotations"] = {"org.opencontainers.image.ref.name": "app:1", "io.containerd.image.name": "docker.io/library/app:1"}
out = tarfile.open(sys.argv[1], "w")
def add(name, data):
    info = tarfile.TarInfo(name); info.size = len(data); out.addfile(info, io.BytesIO(data))
add("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
add("index.json", json.dumps({"schemaVersion": 2, "manifests": [base, app]}).encode())
for d, data in blobs.items(): add("blobs/sha256/" + d, data)
out.close()
"#;

#[test]
fn the_base_named_by_the_manifests_annotation_wins() {
    let t = TestRoot::new();
    let archive = t.path("annotated.tar");
    harness::host("python3", &["-c", ANNOTATED_LAYOUT, archive.to_str().unwrap()]);
    t.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
    let a = explore_json(&t, "app:1");
    assert_eq!(
        a["totals"]["base_layers"], 2,
        "base:1's two layers, by the annotation (the layers are not shared)"
    );
    assert_eq!(
        explore_json(&t, "base:1")["totals"]["base_layers"],
        1,
        "no annotation: layer 0"
    );
}
