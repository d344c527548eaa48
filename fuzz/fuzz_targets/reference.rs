//! Image references: parsing never panics, and what parses prints back to the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use strata_images::ImageRef;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(r) = ImageRef::parse(text) {
        let again = ImageRef::parse(&r.to_string()).expect("a printed reference parses");
        assert_eq!(again, r);
        let _ = ImageRef::parse(&r.familiar());
    }
    let _ = ImageRef::parse_untagged(text);
});
