//! Registry documents: manifests, indexes and image configs from arbitrary bytes are
//! classified or refused, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

const TYPES: [Option<&str>; 4] = [
    None,
    Some("application/vnd.oci.image.manifest.v1+json"),
    Some("application/vnd.oci.image.index.v1+json"),
    Some("application/vnd.docker.distribution.manifest.v2+json"),
];

fuzz_target!(|data: &[u8]| {
    let content_type = TYPES[data.first().map_or(0, |b| *b as usize % TYPES.len())];
    let _ = strata_registry::manifest::classify(data, content_type, "fuzz");
    let _ = strata_images::config::parse(data, "fuzz", "config");
});
