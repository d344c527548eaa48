//! Pause points for the race tests: a test stops a host-side operation between
//! resolving a path and using it, swaps the path, and lets it go on. Compiled only with
//! the `race-points` feature; a shipped build has an empty `pause`.

use std::path::Path;

/// With `race-points`: when `STRATA_RACE_POINT` names `point` and `STRATA_RACE_DIR` a
/// directory, announces the pause by creating `DIR/paused` (holding the path) and
/// waits until `DIR/resume` exists.
#[cfg(feature = "race-points")]
pub fn pause(point: &str, path: &Path) {
    let (Ok(wanted), Ok(dir)) = (std::env::var("STRATA_RACE_POINT"), std::env::var("STRATA_RACE_DIR")) else {
        return;
    };
    let dir = Path::new(&dir);
    if wanted != point || dir.join("paused").exists() {
        return;
    }
    let _ = std::fs::write(dir.join("paused"), path.as_os_str().as_encoded_bytes());
    while !dir.join("resume").exists() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[cfg(not(feature = "race-points"))]
#[inline(always)]
pub fn pause(_point: &str, _path: &Path) {}
