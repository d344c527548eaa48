//! `RUN --mount` beyond the context (issue 20): cache mounts kept in the store (listed by
//! `system df`, cleared by `builder prune`), secrets that never reach the store, a real
//! ssh agent, binds from another stage and writable binds whose writes are thrown away,
//! `RUN --security=insecure` behind `--allow`.

mod harness;

use harness::service::with_busybox;
use harness::TestRoot;
use std::path::{Path, PathBuf};

fn context(t: &TestRoot, name: &str, dockerfile: &str) -> PathBuf {
    let dir = t.path(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.join("src/a.txt"), "a\n").unwrap();
    dir
}

fn build(t: &TestRoot, tag: &str, dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["build", "-q", "-t", tag];
    args.extend_from_slice(extra);
    args.push(dir.to_str().unwrap());
    t.ok(&args)
}

fn look(t: &TestRoot, image: &str, cmd: &str) -> String {
    t.ok(&["run", "--rm", image, "sh", "-c", cmd])
}

/// Every regular file under `dir`, links not followed.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    // A `run --rm` may still be removing its container's files: what vanishes is skipped.
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if meta.is_dir() {
            files_under(&entry.path(), out);
        } else if meta.is_file() {
            out.push(entry.path());
        }
    }
}

#[test]
fn cache_mounts_outlive_builds_until_builder_prune_and_stay_out_of_images() {
    let t = with_busybox();
    let dir = context(
        &t,
        "cache",
        "FROM busybox:test\n\
         RUN --mount=type=cache,target=/var/cache/app,id=app,uid=65534,gid=65534,mode=0750 \
             sh -c 'stat -c \"%u:%g %a\" /var/cache/app > /owner; cat /var/cache/app/runs > /before 2>/dev/null; \
             echo run >> /var/cache/app/runs'\n\
         RUN --mount=type=cache,target=/elsewhere,id=app,sharing=locked cat /elsewhere/runs > /seen-by-id\n",
    );
    build(&t, "cache:1", &dir, &[]);
    assert_eq!(
        look(&t, "cache:1", "cat /owner"),
        "65534:65534 750\n",
        "uid, gid, mode of a new cache"
    );
    assert_eq!(look(&t, "cache:1", "cat /before"), "", "the first build finds it empty");
    assert_eq!(
        look(&t, "cache:1", "cat /seen-by-id"),
        "run\n",
        "one cache per id, at any target"
    );
    assert_eq!(
        look(
            &t,
            "cache:1",
            "ls -A /var/cache/app /elsewhere | grep -v : | grep -c . || true"
        )
        .trim(),
        "0",
        "nothing of the cache is in the image"
    );
    build(&t, "cache:2", &dir, &["--no-cache"]);
    assert_eq!(
        look(&t, "cache:2", "cat /before"),
        "run\n",
        "the second build finds the first's files"
    );

    let df = t.ok(&["system", "df"]);
    let row = df
        .lines()
        .find(|l| l.starts_with("Build Cache"))
        .unwrap_or_else(|| panic!("{df}"));
    assert_eq!(row.split_whitespace().nth(2), Some("1"), "one cache mount: {df}");
    let verbose = t.ok(&["system", "df", "-v"]);
    let key = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b"app"))
    };
    let line = verbose
        .lines()
        .find(|l| l.starts_with(&key[..12]))
        .unwrap_or_else(|| panic!("{verbose}"));
    assert!(line.contains("exec.cachemount"), "{line}");
    assert_eq!(
        line.split_whitespace().rev().nth(1),
        Some("4"),
        "four steps used it: {line}"
    );

    {
        // The same record through the Engine API, as the docker CLI shows it.
        let service = harness::service::Service::start(&t);
        let rows = service.docker_ok(&["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]);
        assert!(rows.lines().any(|l| l == "Build Cache 1"), "{rows}");
        let verbose = service.docker_ok(&["system", "df", "-v"]);
        assert!(
            verbose.contains(&key[..12]) && verbose.contains("exec.cachemount"),
            "{verbose}"
        );
    }
    let pruned = t.ok(&["builder", "prune", "-f"]);
    assert!(pruned.contains("Total reclaimed space"), "{pruned}");
    assert!(!t.ok(&["system", "df", "-v"]).contains("exec.cachemount"));
    build(&t, "cache:3", &dir, &["--no-cache"]);
    assert_eq!(look(&t, "cache:3", "cat /before"), "", "pruned: empty again");
    let pruned = t.ok(&["system", "prune", "-a", "-f"]);
    assert!(
        pruned.contains(&format!("Deleted build cache objects:\n{key}")),
        "{pruned}"
    );
    let df = t.ok(&["system", "df"]);
    assert!(
        df.lines()
            .any(|l| l.split_whitespace().take(3).eq(["Build", "Cache", "0"])),
        "{df}"
    );
}

#[test]
fn a_cache_mount_cannot_escape_its_directory() {
    let t = with_busybox();
    let victim = t.path("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("keep"), "host file\n").unwrap();
    // A hostile step leaves links to the host's paths in its cache; the id looks like a
    // path; `from`'s source climbs.
    let dir = context(
        &t,
        "escape",
        &format!(
            "FROM busybox:test AS seed\n\
             RUN mkdir /seed && echo seeded > /seed/f\n\
             FROM busybox:test\n\
             RUN --mount=type=cache,target=/c,id=../../../../victim \
                 sh -c 'ln -s {victim} /c/host; ln -s / /c/root; ls /c/host/ > /listing 2>&1 || true'\n\
             RUN --mount=type=cache,target=/s,id=seeded,from=seed,source=../../../../seed cat /s/f > /seed-read\n",
            victim = victim.display()
        ),
    );
    build(&t, "escape:1", &dir, &[]);
    let listing = look(&t, "escape:1", "cat /listing");
    assert!(
        !listing.contains("keep"),
        "the link is the container's, not the host's: {listing}"
    );
    assert_eq!(
        look(&t, "escape:1", "cat /seed-read"),
        "seeded\n",
        "from's source resolves inside the stage"
    );
    let victims: Vec<_> = std::fs::read_dir(&victim)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(victims, ["keep"], "the id is never a path");
    let caches = std::fs::read_dir(t.root().join("build-cache")).unwrap().count();
    assert_eq!(caches, 2, "both caches live in the store's build-cache");
    t.ok(&["system", "df", "-v"]);
    t.ok(&["builder", "prune", "-f"]);
    assert_eq!(
        std::fs::read_to_string(victim.join("keep")).unwrap(),
        "host file\n",
        "prune removed the links, not what they name"
    );
    assert_eq!(std::fs::read_dir(t.root().join("build-cache")).unwrap().count(), 0);
}

#[test]
fn a_private_cache_in_use_gives_the_step_an_empty_one() {
    let t = with_busybox();
    let dir = context(
        &t,
        "private",
        "FROM busybox:test\nRUN --mount=type=cache,target=/c,id=p,sharing=private sh -c 'ls /c > /seen; touch /c/mark'\n",
    );
    build(&t, "private:1", &dir, &[]);
    assert_eq!(look(&t, "private:1", "cat /seen"), "");
    // Another step holding the cache: the lock a step takes, held by this test.
    let home = std::fs::read_dir(t.root().join("build-cache"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let lock = std::fs::File::open(home.join("lock")).unwrap();
    lock.lock().unwrap();
    build(&t, "private:2", &dir, &["--no-cache"]);
    assert_eq!(look(&t, "private:2", "cat /seen"), "", "busy: a fresh, empty cache");
    drop(lock);
    build(&t, "private:3", &dir, &["--no-cache"]);
    assert_eq!(look(&t, "private:3", "cat /seen"), "mark\n", "free again: the kept one");
}

#[test]
fn a_secret_never_reaches_the_store() {
    let t = with_busybox();
    let secret = format!("s3cr3t-{:016x}", rand_u64());
    let file = t.path("token.txt");
    std::fs::write(&file, &secret).unwrap();
    let dir = context(
        &t,
        "secret",
        "# syntax=docker/dockerfile:1\n\
         FROM busybox:test\n\
         RUN --mount=type=secret,id=token sh -c 'stat -c \"%a %u\" /run/secrets/token > /mode; \
             sha256sum < /run/secrets/token > /hash'\n\
         RUN --mount=type=secret,id=env-token,target=/root/token,mode=0444,uid=65534 \
             sh -c 'stat -c \"%a %u\" /root/token > /mode2; sha256sum < /root/token > /hash2'\n\
         RUN --mount=type=secret,id=absent sh -c 'test ! -s /run/secrets/absent && echo absent > /absent'\n",
    );
    let out = t
        .cmd()
        .args(["build", "-t", "secret:1", "--secret"])
        .arg(format!("id=token,src={}", file.display()))
        .args(["--secret", "id=env-token,env=STRATA_TEST_TOKEN"])
        .arg(&dir)
        .env("STRATA_TEST_TOKEN", &secret)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = {
        use sha2::Digest;
        format!("{}  -\n", hex::encode(sha2::Sha256::digest(secret.as_bytes())))
    };
    assert_eq!(
        look(&t, "secret:1", "cat /hash"),
        expected,
        "the step read the file's secret"
    );
    assert_eq!(
        look(&t, "secret:1", "cat /hash2"),
        expected,
        "the step read the variable's secret"
    );
    assert_eq!(look(&t, "secret:1", "cat /mode"), "400 0\n");
    assert_eq!(look(&t, "secret:1", "cat /mode2"), "444 65534\n");
    assert_eq!(
        look(&t, "secret:1", "cat /absent"),
        "absent\n",
        "a secret not given is not there"
    );
    assert_eq!(
        look(&t, "secret:1", "test ! -s /run/secrets/token && echo none"),
        "none\n",
        "at most an empty mount point stays"
    );
    let mut files = Vec::new();
    files_under(&t.root(), &mut files);
    assert!(files.len() > 10, "the store has files: {}", files.len());
    for path in files {
        // A `run --rm` above may still be removing its container's files.
        let Ok(bytes) = std::fs::read(&path) else { continue };
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the secret is in {}",
            path.display()
        );
    }
    for args in [
        &["history", "--no-trunc", "secret:1"][..],
        &["image", "inspect", "secret:1"][..],
    ] {
        assert!(!t.ok(args).contains(&secret), "{args:?}");
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(t.root().to_str().unwrap()),
        "the secrets' tmpfs is gone: {mounts}"
    );
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox:test\nRUN --mount=type=secret,id=token,required true\n",
    )
    .unwrap();
    let e = t.fails(&["build", "-t", "secret:3", dir.to_str().unwrap()]);
    assert!(e.contains("secret token is required but was not given"), "{e}");
}

#[test]
fn build_secret_flags_are_checked_at_the_edge() {
    let t = with_busybox();
    let dir = context(&t, "flags", "FROM busybox:test\n");
    for (flag, words) in [
        ("id=x,src=/nonexistent/file", "--secret id=x: reading /nonexistent/file"),
        (
            "id=x,env=STRATA_TEST_UNSET_VARIABLE",
            "STRATA_TEST_UNSET_VARIABLE is not set",
        ),
        ("id=x,colour=red", "unknown field \"colour=red\""),
        ("type=vault,id=x,src=/etc/hostname", "type=vault is not a secret type"),
    ] {
        let e = t.fails(&["build", "--secret", flag, dir.to_str().unwrap()]);
        assert!(e.contains(words), "{flag}: {e}");
    }
    let e = t.fails(&["build", "--ssh", "default=/etc/hostname", dir.to_str().unwrap()]);
    assert!(e.contains("not an agent socket"), "{e}");
    let e = t.fails(&["build", "--allow", "device", dir.to_str().unwrap()]);
    assert!(e.contains("\"device\" is not an entitlement strata knows"), "{e}");
}

/// A static client of the ssh agent protocol: asks for the identities, prints how many.
const AGENT_CLIENT: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
int main(void) {
    const char *path = getenv("SSH_AUTH_SOCK");
    if (!path) { puts("no SSH_AUTH_SOCK"); return 1; }
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("connect"); return 1; }
    unsigned char req[5] = { 0, 0, 0, 1, 11 };
    if (write(fd, req, 5) != 5) return 1;
    unsigned char reply[9];
    if (read(fd, reply, 9) != 9 || reply[4] != 12) { puts("bad reply"); return 1; }
    printf("%s %u\n", path, (reply[5] << 24) | (reply[6] << 16) | (reply[7] << 8) | reply[8]);
    return 0;
}
"#;

#[test]
fn an_ssh_mount_reaches_the_real_agent() {
    let t = with_busybox();
    let dir = context(
        &t,
        "ssh",
        "FROM busybox:test\nCOPY agent-list /agent-list\n\
         RUN --mount=type=ssh /agent-list > /identities\n\
         RUN --mount=type=ssh,id=other,target=/agent.sock /agent-list > /other\n",
    );
    std::fs::write(t.path("agent.c"), AGENT_CLIENT).unwrap();
    harness::host(
        "gcc",
        &[
            "-static",
            "-O",
            "-o",
            dir.join("agent-list").to_str().unwrap(),
            t.path("agent.c").to_str().unwrap(),
        ],
    );
    let socket = t.path("agent.sock");
    let mut agent = std::process::Command::new("ssh-agent")
        .args(["-D", "-a"])
        .arg(&socket)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("ssh-agent (openssh-client; scripts/test.sh installs it)");
    for _ in 0..200 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let key = t.path("id_ed25519");
    harness::host(
        "ssh-keygen",
        &["-q", "-t", "ed25519", "-N", "", "-f", key.to_str().unwrap()],
    );
    let added = std::process::Command::new("ssh-add")
        .arg(&key)
        .env("SSH_AUTH_SOCK", &socket)
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    let out = t
        .cmd()
        .args(["build", "-q", "-t", "ssh:1", "--ssh", "default"])
        .arg("--ssh")
        .arg(format!("other={}", socket.display()))
        .arg(&dir)
        .env("SSH_AUTH_SOCK", &socket)
        .output()
        .unwrap();
    let _ = agent.kill();
    let _ = agent.wait();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(look(&t, "ssh:1", "cat /identities"), "/run/buildkit/ssh_agent.0 1\n");
    assert_eq!(look(&t, "ssh:1", "cat /other"), "/agent.sock 1\n");
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox:test\nRUN --mount=type=ssh,required=true true\n",
    )
    .unwrap();
    let e = t.fails(&["build", dir.to_str().unwrap()]);
    assert!(e.contains("ssh agent default is required but was not given"), "{e}");
}

#[test]
fn bind_mounts_come_from_stages_and_rw_ones_throw_their_writes_away() {
    let t = with_busybox();
    let dir = context(
        &t,
        "binds",
        "FROM busybox:test AS build\n\
         RUN mkdir /out && echo built > /out/artifact\n\
         FROM busybox:test\n\
         RUN --mount=type=bind,from=build,source=/out,target=/m cat /m/artifact > /got\n\
         RUN --mount=type=bind,from=build,target=/whole cat /whole/out/artifact > /got-whole\n\
         RUN --mount=type=bind,from=busybox:test,source=/etc/passwd,target=/p head -1 /p > /passwd\n\
         RUN --mount=type=bind,target=/ctx,rw sh -c 'echo new > /ctx/src/new.txt; echo x >> /ctx/src/a.txt; \
             cat /ctx/src/new.txt /ctx/src/a.txt > /wrote'\n\
         RUN --mount=type=bind,source=src/a.txt,target=/a,rw sh -c 'echo y >> /a; cat /a > /wrote-file'\n\
         RUN --mount=type=bind,from=build,source=/out,target=/o,rw sh -c 'rm /o/artifact; ls /o > /after-rm'\n\
         RUN --mount=type=bind,from=build,source=/out,target=/o cat /o/artifact > /still\n",
    );
    build(&t, "binds:1", &dir, &[]);
    assert_eq!(look(&t, "binds:1", "cat /got /got-whole"), "built\nbuilt\n");
    assert_eq!(look(&t, "binds:1", "cat /passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    assert_eq!(look(&t, "binds:1", "cat /wrote"), "new\na\nx\n", "the step could write");
    assert_eq!(look(&t, "binds:1", "cat /wrote-file"), "a\ny\n");
    assert_eq!(look(&t, "binds:1", "cat /after-rm"), "");
    assert_eq!(look(&t, "binds:1", "cat /still"), "built\n", "the stage is untouched");
    assert!(
        !dir.join("src/new.txt").exists(),
        "the writes never reached the context"
    );
    assert_eq!(std::fs::read_to_string(dir.join("src/a.txt")).unwrap(), "a\n");
    let tmp: Vec<_> = std::fs::read_dir(t.root().join("tmp")).unwrap().flatten().collect();
    assert!(tmp.is_empty(), "the overlays are gone: {tmp:?}");
    // Binds from a stage are keyed by its image: the next build takes them from the cache.
    let again = t.ok(&["build", "-t", "binds:2", dir.to_str().unwrap()]);
    assert!(
        again.matches("Using cache").count() >= 4,
        "stage binds are cached: {again}"
    );
    for (mount, words) in [
        ("from=build,source=/nope,target=/m", "/nope not found there"),
        // Neither a stage nor a local image: pulled, as BuildKit does (a loopback port
        // nothing listens on, so the pull fails here).
        ("from=127.0.0.1:1/nosuch,target=/m", "pulling 127.0.0.1:1/nosuch"),
    ] {
        std::fs::write(
            dir.join("Dockerfile"),
            format!("FROM busybox:test AS build\nFROM busybox:test\nRUN --mount=type=bind,{mount} true\n"),
        )
        .unwrap();
        let e = t.fails(&["build", dir.to_str().unwrap()]);
        assert!(e.contains(words), "{mount}: {e}");
    }
}

#[test]
fn run_security_insecure_needs_allow_and_then_runs_privileged() {
    let t = with_busybox();
    let dir = context(
        &t,
        "insecure",
        "FROM busybox:test\n\
         RUN --security=insecure sh -c 'mkdir /m && mount -t tmpfs none /m && grep CapEff /proc/self/status > /caps'\n\
         RUN grep CapEff /proc/self/status > /caps-sandbox\n\
         RUN --network=none sh -c 'ls /sys/class/net > /nets'\n",
    );
    let e = t.fails(&["build", dir.to_str().unwrap()]);
    assert!(
        e.contains("RUN --security=insecure needs the build to allow it: build with --allow security.insecure"),
        "{e}"
    );
    build(&t, "insecure:1", &dir, &["--allow", "security.insecure"]);
    let host_caps = std::fs::read_to_string("/proc/self/status").unwrap();
    let host_caps = host_caps.lines().find(|l| l.starts_with("CapEff")).unwrap();
    assert_eq!(
        look(&t, "insecure:1", "cat /caps"),
        format!("{host_caps}\n"),
        "every capability"
    );
    assert_ne!(
        look(&t, "insecure:1", "cat /caps-sandbox"),
        look(&t, "insecure:1", "cat /caps"),
        "the other steps keep the default capabilities"
    );
    assert_eq!(look(&t, "insecure:1", "cat /nets"), "lo\n");
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    h.finish()
}

#[test]
fn bind_and_cache_mounts_take_named_contexts_from_build_context() {
    let t = with_busybox();
    let extra = t.path("extra");
    std::fs::create_dir_all(extra.join("seed")).unwrap();
    std::fs::write(extra.join("note.txt"), "from the named context\n").unwrap();
    std::fs::write(extra.join("seed/s"), "seed\n").unwrap();
    let dir = context(
        &t,
        "named",
        "FROM busybox:test\n\
         RUN --mount=type=bind,from=extra,source=note.txt,target=/n cat /n > /note\n\
         RUN --mount=type=bind,from=base,source=/etc/group,target=/g head -1 /g > /group\n\
         RUN --mount=type=cache,target=/c,id=named-seed,from=extra,source=seed cat /c/s > /seeded\n",
    );
    let ctx = format!("extra={}", extra.display());
    build(
        &t,
        "named:1",
        &dir,
        &[
            "--build-context",
            &ctx,
            "--build-context",
            "base=docker-image://busybox:test",
        ],
    );
    assert_eq!(look(&t, "named:1", "cat /note"), "from the named context\n");
    assert_eq!(look(&t, "named:1", "cat /group"), "root:x:0:\n");
    assert_eq!(look(&t, "named:1", "cat /seeded"), "seed\n");
}

#[test]
fn mounts_a_hostile_stage_or_spec_could_abuse_are_refused_and_leave_nothing() {
    let t = with_busybox();
    let dir = context(&t, "hostile", "FROM busybox:test\n");
    for (dockerfile, words) in [
        // A FIFO left by a stage: a writable bind copies files, and would wait forever.
        (
            "FROM busybox:test AS stage\nRUN mkfifo /fifo\nFROM busybox:test\n\
             RUN --mount=type=bind,from=stage,source=/fifo,target=/x,rw true\n",
            "is not a regular file or directory",
        ),
        // Options smuggled into a tmpfs target.
        (
            "FROM busybox:test\nRUN --mount=type=tmpfs,target=/x:exec true\n",
            "a comma or a colon",
        ),
        // One cache locked twice by the same step would wait for itself.
        (
            "FROM busybox:test\nRUN --mount=type=cache,id=c,target=/a,sharing=locked \
             --mount=type=cache,id=c,target=/b,sharing=locked true\n",
            "mounted twice in one step",
        ),
        (
            "FROM busybox:test\nRUN --mount=type=tmpfs,target=/t,size=99999999999g true\n",
            "too large",
        ),
    ] {
        std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
        let e = t.fails(&["build", dir.to_str().unwrap()]);
        assert!(e.contains(words), "{dockerfile}: {e}");
    }
    // A failed step whose container binds a cache goes (it is kept otherwise): started
    // again, it would use the cache without the step's lock.
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox:test\nRUN --mount=type=cache,target=/c sh -c 'touch /c/x; exit 3'\n",
    )
    .unwrap();
    let e = t.fails(&["build", dir.to_str().unwrap()]);
    assert!(e.contains("returned a non-zero code: 3"), "{e}");
    assert_eq!(t.ok(&["ps", "-aq"]), "", "the failed step's container was removed");
    std::fs::write(dir.join("Dockerfile"), "FROM busybox:test\nRUN exit 4\n").unwrap();
    t.fails(&["build", dir.to_str().unwrap()]);
    assert_ne!(
        t.ok(&["ps", "-aq"]),
        "",
        "a plain failed step's container stays, as Docker keeps it"
    );
}
