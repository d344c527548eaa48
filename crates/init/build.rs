//! Compiles `src/init.c` into a static executable (it runs inside containers, whose
//! roots have no libc of the host's), embedded in strata by `src/lib.rs`. The C
//! compiler and static libc are the ones Rust links with.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("strata-init");
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let status = Command::new(&compiler)
        .args(["-static", "-Os", "-s", "-Wall", "-Werror", "-o"])
        .arg(&out)
        .arg("src/init.c")
        .status()
        .unwrap_or_else(|e| panic!("running the C compiler {compiler:?} for the container init: {e}"));
    assert!(
        status.success(),
        "compiling src/init.c (a static libc is needed: Debian's libc6-dev)"
    );
    println!("cargo:rerun-if-changed=src/init.c");
    println!("cargo:rerun-if-env-changed=CC");
}
