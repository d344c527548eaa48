use super::*;
use std::io::Write;
use std::path::PathBuf;

/// Tars with any names, hostile ones included (`tar::Builder` refuses those).
struct RawTar(tar::Builder<Vec<u8>>);

impl RawTar {
    fn new() -> Self {
        RawTar(tar::Builder::new(Vec::new()))
    }

    fn entry(mut self, name: &str, kind: tar::EntryType, link: &str, data: &[u8]) -> Self {
        let mut h = tar::Header::new_ustar();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    fn file(self, name: &str, data: &str) -> Self {
        self.entry(name, tar::EntryType::Regular, "", data.as_bytes())
    }

    fn symlink(self, name: &str, target: &str) -> Self {
        self.entry(name, tar::EntryType::Symlink, target, b"")
    }

    fn bytes(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// A scratch directory with the context's unpack directory inside it, so anything that
/// escapes the context lands beside it, where the test looks.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    (dir, ctx)
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// Regression guard for `strata build - < ctx.tar`: the context is unpacked on the host,
// so a hostile entry must never write outside it.
#[test]
fn tar_entries_that_leave_the_context_are_refused_and_write_nothing() {
    for (what, tar) in [
        (
            "a .. entry",
            RawTar::new().file("Dockerfile", "FROM scratch\n").file("../evil", "x"),
        ),
        ("a nested .. entry", RawTar::new().file("a/../../evil", "x")),
        ("an absolute entry", RawTar::new().file("/evil", "x")),
        (
            "a write through a symlink",
            RawTar::new().symlink("up", "..").file("up/evil", "x"),
        ),
    ] {
        let (dir, ctx) = scratch();
        let err = in_tar(&tar.bytes()[..], &ctx, None).err().expect(what).to_string();
        assert!(err.contains("unpacking the context archive"), "{what}: {err}");
        assert_eq!(
            entries(dir.path()),
            Vec::<String>::new(),
            "{what}: the context is removed, nothing lands beside it"
        );
    }
}

#[test]
fn a_dockerfile_or_dockerignore_linking_out_of_the_context_is_read_inside_it() {
    let (dir, ctx) = scratch();
    let outside = dir.path().join("outside");
    std::fs::write(&outside, "FROM host-secret\n").unwrap();
    let tar = RawTar::new().symlink("Dockerfile", outside.to_str().unwrap());
    let err = in_tar(&tar.bytes()[..], &ctx, None).err().unwrap().to_string();
    assert!(err.contains("the context archive has no Dockerfile"), "{err}");

    // Read on the host, this file would exclude `kept`.
    let outside_ignore = dir.path().join("outside-ignore");
    std::fs::write(&outside_ignore, "kept\n").unwrap();
    let tar = RawTar::new()
        .file("Dockerfile", "FROM scratch\n")
        .symlink(".dockerignore", outside_ignore.to_str().unwrap())
        .file("kept", "k");
    let input = in_tar(&tar.bytes()[..], &ctx, None).unwrap();
    assert_eq!(input.context.resolve("kept").unwrap()[0].rel, "kept");

    let tar = RawTar::new().file("Dockerfile", "FROM scratch\n");
    let err = in_tar(&tar.bytes()[..], &dir.path().join("ctx2"), Some("../outside"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("forbidden path outside the build context"), "{err}");
}

#[test]
fn a_compressed_tar_names_its_dockerfile_and_that_dockerfiles_ignore_file() {
    let tar = RawTar::new()
        .file("sub/Dockerfile.dev", "FROM scratch\nCOPY . /\n")
        .file("sub/Dockerfile.dev.dockerignore", "secret\n")
        .file(".dockerignore", "keep\n")
        .file("keep", "k")
        .file("secret", "s")
        .bytes();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    bz.write_all(&tar).unwrap();
    let (_dir, ctx) = scratch();
    let input = in_tar(&bz.finish().unwrap()[..], &ctx, Some("sub/Dockerfile.dev")).unwrap();
    assert_eq!(input.dockerfile, "FROM scratch\nCOPY . /\n");
    assert_eq!(input.dockerfile_name, "sub/Dockerfile.dev");
    assert!(input.context.resolve("keep").is_ok());
    assert!(
        input.context.resolve("secret").is_err(),
        "the Dockerfile's own ignore file applies"
    );
    drop(input);
    assert!(!ctx.exists(), "the unpacked context goes with the input");
}

#[test]
fn directory_paths_are_taken_against_the_base_given() {
    let base = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(base.path().join("ctx")).unwrap();
    std::fs::create_dir_all(base.path().join("files")).unwrap();
    std::fs::write(base.path().join("ctx/Dockerfile"), "FROM default\n").unwrap();
    std::fs::write(base.path().join("files/Other"), "FROM other\n").unwrap();

    let input = BuildInput::from_dir(base.path(), Path::new("ctx"), DockerfileSource::Default).unwrap();
    assert_eq!(input.dockerfile, "FROM default\n");
    assert_eq!(
        input.context.root(),
        Some(base.path().join("ctx").canonicalize().unwrap().as_path())
    );

    // Docker's -f is the caller's path, not the context's.
    let other = Path::new("files/Other");
    let input = BuildInput::from_dir(base.path(), Path::new("ctx"), DockerfileSource::Path(other)).unwrap();
    assert_eq!(
        (input.dockerfile.as_str(), input.dockerfile_name.as_str()),
        ("FROM other\n", "files/Other")
    );

    let mut stdin = &b"FROM piped\n"[..];
    let input = BuildInput::from_dir(base.path(), Path::new("ctx"), DockerfileSource::Reader(&mut stdin)).unwrap();
    assert_eq!(
        (input.dockerfile.as_str(), input.dockerfile_name.as_str()),
        ("FROM piped\n", "-")
    );

    let err = Context::dir(Path::new("ctx"), None).err().unwrap().to_string();
    assert!(err.contains("not an absolute path"), "{err}");
    let err = BuildInput::from_dir(Path::new("."), Path::new("ctx"), DockerfileSource::Default)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not an absolute path"), "{err}");
}

#[test]
fn a_stream_is_a_tar_context_or_a_dockerfile_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let tar = RawTar::new()
        .file("Dockerfile", "FROM scratch\nCOPY a /\n")
        .file("a", "a")
        .bytes();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    bz.write_all(&tar).unwrap();
    for stream in [tar.clone(), bz.finish().unwrap()] {
        let input = BuildInput::from_stream(&store, &stream[..], None).unwrap();
        assert_eq!(input.dockerfile, "FROM scratch\nCOPY a /\n");
        assert!(input.context.resolve("a").is_ok());
    }

    let input = BuildInput::from_stream(&store, &b"FROM scratch\n"[..], None).unwrap();
    assert_eq!(
        (input.dockerfile.as_str(), input.dockerfile_name.as_str()),
        ("FROM scratch\n", "-")
    );
    assert!(input.context.root().is_none());
}
