//! Manifests as fetched from a registry: classified by media type, checked against
//! ambiguity (CVE-2021-41190) and schema 1, and a platform chosen from an index.

use crate::error::{RegistryError, Result};
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use serde_json::Value;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const SCHEMA1: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];
const IMAGE_CONFIGS: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// A fetched manifest document.
pub enum Document {
    Index(Box<ImageIndex>),
    Image(Box<ImageManifest>),
}

/// Classifies a manifest by its `mediaType` and the answer's Content-Type, refusing
/// documents that could be read two ways.
pub fn classify(bytes: &[u8], content_type: Option<&str>, what: &str) -> Result<(Document, String)> {
    let bad = |reason: String| RegistryError::invalid(what, reason);
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    if doc.get("schemaVersion").and_then(Value::as_u64) == Some(1) {
        return Err(bad(
            "this is a Docker schema 1 manifest, which strata does not support (deprecated since 2017); push the image again with a current client"
                .into(),
        ));
    }
    if doc.get("manifests").is_some() && doc.get("layers").is_some() {
        return Err(bad(
            "the manifest has both \"manifests\" and \"layers\", so it could be read as an index or as an image (CVE-2021-41190); refused".into(),
        ));
    }
    let declared = doc.get("mediaType").and_then(Value::as_str);
    let header = content_type
        .map(|c| c.split(';').next().unwrap_or(c).trim())
        .filter(|c| is_manifest_type(c));
    if let (Some(d), Some(h)) = (declared, header) {
        if d != h {
            return Err(bad(format!(
                "the registry sent it as {h} but the document says it is {d}; refused as ambiguous"
            )));
        }
    }
    let media_type = declared.or(header).map(str::to_string).unwrap_or_else(|| {
        // OCI allows omitting mediaType: the shape decides.
        if doc.get("manifests").is_some() {
            OCI_INDEX
        } else {
            OCI_MANIFEST
        }
        .to_string()
    });
    let parsed = match media_type.as_str() {
        OCI_INDEX | DOCKER_LIST => {
            Document::Index(Box::new(
            serde_json::from_value(doc).map_err(|e| bad(format!("not a valid image index: {e}")))?,
        ))
        }
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let manifest: ImageManifest =
                serde_json::from_value(doc).map_err(|e| bad(format!("not a valid image manifest: {e}")))?;
            let config_type = manifest.config().media_type().to_string();
            if !IMAGE_CONFIGS.contains(&config_type.as_str()) {
                return Err(bad(format!(
                    "its config has media type {config_type:?}: this artifact is not a container image"
                )));
            }
            Document::Image(Box::new(manifest))
        }
        t if SCHEMA1.contains(&t) => {
            return Err(bad(
                "this is a Docker schema 1 manifest, which strata does not support; push the image again with a current client".into(),
            ))
        }
        other => return Err(bad(format!("unsupported manifest media type {other:?}"))),
    };
    Ok((parsed, media_type))
}

fn is_manifest_type(t: &str) -> bool {
    [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].contains(&t) || SCHEMA1.contains(&t)
}

/// A platform as `--platform` writes it: `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// This machine's platform, in Go's architecture names.
    pub fn host() -> Self {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        let parts: Vec<&str> = text.split('/').collect();
        match parts.as_slice() {
            [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: parts.get(2).map(|v| v.to_string()),
            }),
            _ => Err(RegistryError::invalid(
                format!("platform {text:?}"),
                "expected os/arch[/variant], e.g. linux/amd64",
            )),
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The index entry for `platform` (any variant when none is asked for).
pub fn select<'a>(index: &'a ImageIndex, platform: &Platform) -> Option<&'a Descriptor> {
    index.manifests().iter().find(|d| {
        let Some(p) = d.platform() else { return false };
        p.os().to_string() == platform.os
            && p.architecture().to_string() == platform.architecture
            && platform
                .variant
                .as_ref()
                .is_none_or(|v| p.variant().as_deref() == Some(v.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2}"#;

    fn manifest(extra: &str) -> String {
        format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{CONFIG},"layers":[]{extra}}}"#)
    }

    #[test]
    fn manifest_with_layers_and_manifests_is_refused() {
        let doc = manifest(r#","manifests":[]"#);
        let err = classify(doc.as_bytes(), Some(OCI_MANIFEST), "m")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("CVE-2021-41190"), "{err}");
    }

    #[test]
    fn content_type_that_disagrees_with_media_type_is_refused() {
        let doc = manifest("");
        let err = classify(doc.as_bytes(), Some(OCI_INDEX), "m")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("ambiguous"), "{err}");
        assert!(classify(doc.as_bytes(), Some("application/json"), "m").is_ok());
    }

    #[test]
    fn schema1_and_unknown_types_are_refused_by_name() {
        let s1 = r#"{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}"#;
        let err = classify(s1.as_bytes(), None, "m").err().unwrap().to_string();
        assert!(err.contains("schema 1"), "{err}");
        let odd = r#"{"schemaVersion":2,"mediaType":"application/x-odd"}"#;
        let err = classify(odd.as_bytes(), None, "m").err().unwrap().to_string();
        assert!(err.contains("application/x-odd"), "{err}");
    }

    #[test]
    fn artifact_that_is_not_an_image_is_refused() {
        let doc = manifest("").replace(
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.cncf.helm.config.v1+json",
        );
        let err = classify(doc.as_bytes(), None, "m").err().unwrap().to_string();
        assert!(err.contains("not a container image"), "{err}");
    }

    #[test]
    fn platform_parsing_and_selection() {
        assert_eq!(
            Platform::parse("linux/arm64/v8").unwrap().variant.as_deref(),
            Some("v8")
        );
        assert!(Platform::parse("linux").is_err());
        let index: ImageIndex = serde_json::from_str(&format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[
            {{"mediaType":"{OCI_MANIFEST}","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":1,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}},
            {{"mediaType":"{OCI_MANIFEST}","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":1,"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#
        ))
        .unwrap();
        let amd = select(&index, &Platform::parse("linux/amd64").unwrap()).unwrap();
        assert!(amd.digest().to_string().contains("2222"));
        assert!(select(&index, &Platform::parse("linux/arm64").unwrap()).is_some());
        assert!(select(&index, &Platform::parse("linux/s390x").unwrap()).is_none());
    }
}
