//! A layer tar from arbitrary bytes: apply must refuse or succeed, never panic, and never
//! write outside its root (the root's parent holds only the root afterwards).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let opts = strata_archive::ApplyOptions {
        max_bytes: 16 << 20,
        ..Default::default()
    };
    let _ = strata_archive::apply_layer(data, &root, &opts);
    let outside: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert_eq!(outside.len(), 1, "something was written beside the root");
});
