//! `ps --size/-s` (issue 18): Docker's SIZE column, `12.3kB (virtual 1.5MB)`, the
//! writable layer's bytes and those with the image's, as the Engine API's `SizeRw` and
//! `SizeRootFs` (which the docker CLI renders the same way).

mod harness;

use harness::service::{clients, with_busybox, Service};

#[test]
fn ps_size_shows_the_writable_layer_and_the_virtual_size_as_docker() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "--name",
        "writer",
        "busybox:test",
        "dd",
        "if=/dev/zero",
        "of=/blob",
        "bs=1000",
        "count=50",
    ]);
    let table = t.ok(&["ps", "-a", "--size"]);
    let mut lines = table.lines();
    let head = lines.next().unwrap();
    assert!(head.trim_end().ends_with("SIZE"), "{table}");
    let column = head.find("SIZE").unwrap();
    let row = lines.next().unwrap();
    let shown = row[column..].trim().to_string();
    assert!(shown.contains(" (virtual "), "{table}");
    assert!(!t.ok(&["ps", "-a"]).contains("SIZE"), "no SIZE column without --size");
    // The same figures as the Engine API's, rendered as docker's CLI renders them.
    let service = Service::start(&t);
    let listing = service.http("GET", "/containers/json?all=1&size=1");
    let doc: serde_json::Value = serde_json::from_slice(&listing.body).unwrap();
    let (rw, root) = (
        doc[0]["SizeRw"].as_i64().unwrap(),
        doc[0]["SizeRootFs"].as_i64().unwrap(),
    );
    assert!(rw >= 50_000, "the 50kB written are in the writable layer: {doc}");
    let image: i64 = t
        .ok(&["image", "inspect", "-f", "{{.Size}}", "busybox:test"])
        .trim()
        .parse()
        .unwrap();
    assert_eq!(root, rw + image, "{doc}");
    for client in clients() {
        let out = service
            .client_cmd(client, &["ps", "-a", "-s", "--format", "{{.Size}}"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{client}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), shown, "{client}");
    }
    // A template showing .Size gets the sizes without -s (as docker's); JSON with -s.
    assert_eq!(t.ok(&["ps", "-a", "--format", "{{.Size}}"]).trim(), shown);
    let json: serde_json::Value = serde_json::from_str(&t.ok(&["ps", "-a", "-s", "--format", "json"])).unwrap();
    assert_eq!(json["Size"], shown.as_str());
    let json: serde_json::Value = serde_json::from_str(&t.ok(&["ps", "-a", "--format", "json"])).unwrap();
    assert_eq!(json["Size"], "0B", "not computed without -s");
}
