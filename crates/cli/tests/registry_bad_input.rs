//! Registries that misbehave (tests/registry/misbehaving.py): each case ends in a clear
//! error or a recovered pull, and nothing half-pulled is ever listed as an image.

mod harness;

use harness::registry::Misbehaving;
use harness::TestRoot;
use std::process::Output;

fn pull(t: &TestRoot, server: &Misbehaving, env: &[(&str, &str)]) -> Output {
    let mut cmd = t.cmd();
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(["pull", &format!("{}/x:1", server.addr)]).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the pull failed, its error says `expected`, and the store holds no image.
fn refused(t: &TestRoot, out: &Output, expected: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    assert!(
        stderr(out).contains(expected),
        "expected {expected:?} in: {}",
        stderr(out)
    );
    assert!(t.ok(&["images", "-q"]).trim().is_empty());
}

#[test]
fn bad_manifests_are_refused_by_name_and_store_nothing() {
    let t = TestRoot::new();
    t.ok(&["images"]);
    let empty = t.store_listing();
    for (mode, expected) in [
        ("ambiguous", "CVE-2021-41190"),
        ("content-type", "ambiguous"),
        ("huge", "larger than 4194304 bytes"),
        (
            "unknown-media",
            "unsupported layer media type \"application/x-strata-unknown\"",
        ),
        ("schema1", "schema 1"),
    ] {
        let server = Misbehaving::start(&t.path("servers"), mode);
        refused(&t, &pull(&t, &server, &[]), expected);
        assert_eq!(t.store_listing(), empty, "{mode}: the store is unchanged");
    }
}

#[test]
fn redirect_to_another_host_does_not_carry_the_credentials() {
    let t = TestRoot::new();
    let server = Misbehaving::start(&t.path("server"), "redirect");
    let out = t
        .cmd()
        .args(["login", "-u", "bob", "-p", "secret", &server.addr])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = pull(&t, &server, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let requests = server.requests();
    let external: Vec<_> = requests.iter().filter(|r| r.contains(" /external/")).collect();
    assert!(!external.is_empty(), "{requests:?}");
    assert!(external.iter().all(|r| r.ends_with("auth=no")), "{requests:?}");
    assert!(
        requests
            .iter()
            .any(|r| r.contains("/manifests/") && r.ends_with("auth=yes")),
        "{requests:?}"
    );
}

#[test]
fn auth_that_never_succeeds_is_tried_once_more_then_refused() {
    let t = TestRoot::new();
    let server = Misbehaving::start(&t.path("server"), "authloop");
    refused(&t, &pull(&t, &server, &[]), "unauthorized");
    let requests = server.requests();
    let manifests = requests.iter().filter(|r| r.contains("/manifests/")).count();
    let tokens = requests.iter().filter(|r| r.contains("/token")).count();
    assert_eq!(
        (manifests, tokens),
        (2, 2),
        "one refreshed token, one retry, no loop: {requests:?}"
    );
}

#[test]
fn stalled_download_times_out_and_resumes_with_a_range_request() {
    let t = TestRoot::new();
    let server = Misbehaving::start(&t.path("server"), "stall-once");
    let out = pull(&t, &server, &[("STRATA_REGISTRY_TIMEOUT", "2")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.contains("/blobs/") && r.contains("range=bytes=") && !r.contains("range=bytes=0-")),
        "{requests:?}"
    );
    assert_eq!(t.ok(&["images", "-q"]).lines().count(), 1);
}

#[test]
fn stalled_manifest_fails_with_a_timeout() {
    let t = TestRoot::new();
    let server = Misbehaving::start(&t.path("server"), "stall-manifest");
    let out = pull(&t, &server, &[("STRATA_REGISTRY_TIMEOUT", "1")]);
    refused(&t, &out, "timeout");
}

#[test]
fn server_errors_are_retried() {
    let t = TestRoot::new();
    let server = Misbehaving::start(&t.path("server"), "flaky");
    let out = pull(&t, &server, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let blob_gets = server
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET") && r.contains("/blobs/"))
        .count();
    assert!(
        blob_gets >= 6,
        "two 503s per blob, then success: {:?}",
        server.requests()
    );
}

#[test]
fn registry_dying_mid_pull_leaves_a_partial_download_the_next_pull_resumes() {
    let t = TestRoot::new();
    let mut server = Misbehaving::start(&t.path("server"), "die");
    let out = pull(&t, &server, &[("STRATA_REGISTRY_TIMEOUT", "2")]);
    refused(&t, &out, "failed");
    let partials: Vec<_> = std::fs::read_dir(t.root().join("content/ingest"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("partial-"))
        .collect();
    assert_eq!(partials.len(), 1, "the bytes received are kept");
    let kept = partials[0].metadata().unwrap().len();
    assert!(kept > 0);

    server.restart("good");
    let out = pull(&t, &server, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let resumed = format!("range=bytes={kept}-");
    assert!(
        server.requests().iter().any(|r| r.contains(&resumed)),
        "the next pull asks for the rest only: {:?}",
        server.requests()
    );
    assert_eq!(t.ok(&["images", "-q"]).lines().count(), 1);
    assert_eq!(t.entries("content/ingest"), 0, "the partial became the blob");
    t.ok(&["system", "check"]);
}

#[test]
fn search_uses_the_hub_search_api_where_a_registry_offers_it() {
    let t = TestRoot::new();
    let server = Misbehaving::start(&t.path("server"), "hub-search");
    let term = format!("{}/busybox", server.addr);
    let table = t.ok(&["search", &term]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "DESCRIPTION", "STARS", "OFFICIAL", "AUTOMATED"]
    );
    assert!(lines[1].starts_with("library/busybox") && lines[1].contains("3000") && lines[1].contains("[OK]"));
    assert!(lines[2].contains("…"), "long descriptions are cut: {table}");
    let official = t.ok(&[
        "search",
        "--filter",
        "is-official=true",
        "--format",
        "{{.Name}} {{.StarCount}}",
        &term,
    ]);
    assert_eq!(official.trim(), "library/busybox 3000");
    let limited = t.ok(&["search", "--limit", "1", "--format", "{{.Name}}", &term]);
    assert_eq!(limited.lines().count(), 1);
    assert!(t
        .fails(&["search", "--filter", "color=red", &term])
        .contains("invalid filter"));
}
