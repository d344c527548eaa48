//! Image archives (docker-archive, OCI layout) from arbitrary bytes: indexing and reading
//! their manifests refuse or succeed, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("archive.tar");
    std::fs::write(&path, data).unwrap();
    if let Ok(index) = strata_archive::TarIndex::open(&path) {
        let _ = strata_archive::read_archive(&index);
    }
});
