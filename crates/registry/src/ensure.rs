//! Pull-if-missing for `run`, `create` and the builder's base images: Docker's `--pull
//! always|missing|never` policy.

use crate::client::Client;
use crate::error::{RegistryError, Result};
use crate::manifest::Platform;
use crate::pull::Pulled;
use crate::report::{pull_reported, PullNotice, PullProgress};
use crate::settings::RegistrySettings;
use strata_images::{ImageError, ImageRef, ImageStore};

/// When an image is pulled before it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    /// Every time, to get the registry's newest.
    Always,
    /// Only when it is not stored (Docker's default).
    #[default]
    Missing,
    /// Never: a missing image is an error later, where it is used.
    Never,
}

impl std::str::FromStr for PullPolicy {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "always" => Ok(PullPolicy::Always),
            "missing" => Ok(PullPolicy::Missing),
            "never" => Ok(PullPolicy::Never),
            other => Err(RegistryError::InvalidPullPolicy {
                given: other.to_string(),
            }),
        }
    }
}

impl PullPolicy {
    /// Whether the policy pulls an image that is (or is not) stored.
    pub fn pulls(self, stored: bool) -> bool {
        match self {
            PullPolicy::Always => true,
            PullPolicy::Missing => !stored,
            PullPolicy::Never => false,
        }
    }
}

fn is_stored(store: &ImageStore, name: &str) -> Result<bool> {
    match store.resolve(name) {
        Ok(_) => Ok(true),
        Err(ImageError::NotFound { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Pulls `name` for the host's platform when `policy` says so; returns what was pulled,
/// or `None` when nothing was.
pub fn ensure_image(
    store: &ImageStore,
    name: &str,
    policy: PullPolicy,
    settings: &RegistrySettings,
    sink: &dyn PullProgress,
) -> Result<Option<Pulled>> {
    let stored = is_stored(store, name)?;
    if !policy.pulls(stored) {
        return Ok(None);
    }
    let reference = ImageRef::parse(name).map_err(ImageError::from)?;
    if !stored {
        sink.notice(PullNotice::NotFoundLocally { reference: &reference });
    }
    let client = Client::connect(reference.domain(), &settings.client_options())?;
    pull_reported(store, &client, &reference, &Platform::host(), sink).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_by_docker_name() {
        assert_eq!("always".parse::<PullPolicy>().unwrap(), PullPolicy::Always);
        assert_eq!("missing".parse::<PullPolicy>().unwrap(), PullPolicy::Missing);
        assert_eq!("never".parse::<PullPolicy>().unwrap(), PullPolicy::Never);
        let e = "sometimes".parse::<PullPolicy>().unwrap_err().to_string();
        assert!(
            e.contains("\"sometimes\"") && e.contains("\"always\", \"missing\" or \"never\""),
            "{e}"
        );
    }

    #[test]
    fn policies_decide_by_presence() {
        assert!(PullPolicy::Always.pulls(true) && PullPolicy::Always.pulls(false));
        assert!(PullPolicy::Missing.pulls(false) && !PullPolicy::Missing.pulls(true));
        assert!(!PullPolicy::Never.pulls(false) && !PullPolicy::Never.pulls(true));
    }

    #[test]
    fn stored_images_are_not_pulled_under_missing() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        let settings = RegistrySettings::new(dir.path());
        let sink = crate::report::SilentPull;
        // Never: no registry is contacted even for a missing image.
        assert!(
            ensure_image(&store, "nowhere.invalid/x:1", PullPolicy::Never, &settings, &sink)
                .unwrap()
                .is_none()
        );
    }
}
