//! Failure points for crash tests: with the `failpoints` feature (test builds only:
//! `cargo test --features strata/failpoints`, which scripts/test.sh passes) and
//! `STRATA_FAILPOINT=<name>` in the environment, the process aborts (as if killed) when
//! it reaches that point. Tests use them to prove that a crash at any step leaves the
//! store consistent. A shipped build has an empty `hit`: a long-lived service calling
//! the library must never abort because of its environment.

/// Aborts the process here if `STRATA_FAILPOINT` names this point.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    if std::env::var_os("STRATA_FAILPOINT").is_some_and(|v| v == name) {
        eprintln!("strata: failpoint {name}: aborting");
        std::process::abort();
    }
}

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}

/// Every failure point, for tests to iterate over.
pub const ALL: &[&str] = &[
    "import:unpacked",
    "import:layer-published",
    "import:config-stored",
    "load:unpacked",
    "load:layer-published",
    "load:before-record",
    "commit:unpacked",
    "commit:before-record",
    "remove:record-removed",
    "remove:files-half-deleted",
    "tag:before-record",
    "pull:layers-fetched",
    "pull:layers-published",
    "pull:before-record",
    "build:step-recorded",
    "build:step-cached",
];
