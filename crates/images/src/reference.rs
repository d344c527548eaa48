//! Image references with Docker's normalization: `busybox` means
//! `docker.io/library/busybox:latest`, `user/repo` means `docker.io/user/repo:latest`,
//! `host:port/repo:tag` keeps its registry, `name@sha256:…` pins a digest.

use std::fmt;

pub const DEFAULT_DOMAIN: &str = "docker.io";
const OFFICIAL_PREFIX: &str = "library/";
pub const DEFAULT_TAG: &str = "latest";
const MAX_NAME_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference format: {input:?}: {reason}")]
    Invalid { input: String, reason: String },
    #[error("invalid reference format: repository name ({input:?}) must be lowercase")]
    Uppercase { input: String },
}

/// A parsed, normalized image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

fn invalid(input: &str, reason: impl Into<String>) -> ReferenceError {
    ReferenceError::Invalid {
        input: input.to_string(),
        reason: reason.into(),
    }
}

impl ImageRef {
    /// Parses a reference as Docker does, adding `docker.io`, `library/` and (when neither
    /// tag nor digest is given) the `latest` tag.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let mut r = Self::parse_untagged(input)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        Ok(r)
    }

    /// Parses without adding a default tag (for `images REPO`, which matches all tags).
    pub fn parse_untagged(input: &str) -> Result<Self, ReferenceError> {
        if input.is_empty() {
            return Err(invalid(input, "the reference is empty"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((name, d)) => (name, Some(parse_digest(input, d)?)),
            None => (input, None),
        };
        // A tag follows the last ':' after the last '/' (a ':' before it is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            validate_tag(input, tag)?;
        }
        let (domain, path) = split_domain(name);
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase {
                input: input.to_string(),
            });
        }
        validate_domain(input, &domain)?;
        validate_path(input, &path)?;
        if domain.len() + 1 + path.len() > MAX_NAME_LEN {
            return Err(invalid(input, "the repository name is longer than 255 characters"));
        }
        Ok(ImageRef {
            domain,
            path,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }
    pub fn path(&self) -> &str {
        &self.path
    }
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// `docker.io/library/busybox`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository as Docker prints it: `busybox`, `user/repo`, `localhost:5000/x`.
    pub fn familiar_repository(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            self.path
                .strip_prefix(OFFICIAL_PREFIX)
                .unwrap_or(&self.path)
                .to_string()
        } else {
            self.repository()
        }
    }

    /// The same repository with another tag.
    pub fn with_tag(&self, tag: &str) -> ImageRef {
        ImageRef {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// `busybox:latest` as Docker prints it.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_repository();
        if let Some(t) = &self.tag {
            s = format!("{s}:{t}");
        }
        if let Some(d) = &self.digest {
            s = format!("{s}@{d}");
        }
        s
    }
}

impl fmt::Display for ImageRef {
    /// The fully qualified form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Docker's rule: the first component is a registry if it has a `.` or `:` or is
/// `localhost`; otherwise the name is on Docker Hub.
fn split_domain(name: &str) -> (String, String) {
    match name.split_once('/') {
        Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            let domain = if first == "index.docker.io" {
                DEFAULT_DOMAIN
            } else {
                first
            };
            let path = if domain == DEFAULT_DOMAIN && !rest.contains('/') {
                format!("{OFFICIAL_PREFIX}{rest}")
            } else {
                rest.to_string()
            };
            (domain.to_string(), path)
        }
        Some(_) => (DEFAULT_DOMAIN.to_string(), name.to_string()),
        None => (DEFAULT_DOMAIN.to_string(), format!("{OFFICIAL_PREFIX}{name}")),
    }
}

fn validate_tag(input: &str, tag: &str) -> Result<(), ReferenceError> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            input,
            format!("tag {tag:?} must be 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'"),
        ))
    }
}

fn validate_domain(input: &str, domain: &str) -> Result<(), ReferenceError> {
    let (host, port) = match domain.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || domain.starts_with('[') => (h, Some(p)),
        _ => (domain, None),
    };
    if let Some(port) = port {
        if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid(input, format!("registry port {port:?} is not a number")));
        }
    }
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    let ipv6 = host.starts_with('[') && host.ends_with(']');
    if host_ok || ipv6 {
        Ok(())
    } else {
        Err(invalid(
            input,
            format!("registry host {host:?} is not a valid host name"),
        ))
    }
}

/// Path components: lowercase alphanumerics separated by `.`, `_`, `__` or runs of `-`.
fn validate_path(input: &str, path: &str) -> Result<(), ReferenceError> {
    for component in path.split('/') {
        let bytes = component.as_bytes();
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let mut ok = !bytes.is_empty() && alnum(bytes[0]) && alnum(bytes[bytes.len() - 1]);
        let mut i = 0;
        while ok && i < bytes.len() {
            if alnum(bytes[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && !alnum(bytes[i]) {
                i += 1;
            }
            let sep = &component[start..i];
            ok = sep == "." || sep == "_" || sep == "__" || sep.chars().all(|c| c == '-');
        }
        if !ok {
            return Err(invalid(
                input,
                format!("repository component {component:?} must be lowercase letters and digits separated by '.', '_', '__' or '-'"),
            ));
        }
    }
    Ok(())
}

fn parse_digest(input: &str, digest: &str) -> Result<String, ReferenceError> {
    strata_content::parse_digest(digest)
        .map(|d| d.to_string())
        .map_err(|e| invalid(input, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_table() {
        let cases = [
            ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
            ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
            ("user/repo", "docker.io/user/repo:latest", "user/repo:latest"),
            (
                "docker.io/busybox",
                "docker.io/library/busybox:latest",
                "busybox:latest",
            ),
            (
                "index.docker.io/library/busybox:x",
                "docker.io/library/busybox:x",
                "busybox:x",
            ),
            ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
            (
                "127.0.0.1:5000/a/b:v1",
                "127.0.0.1:5000/a/b:v1",
                "127.0.0.1:5000/a/b:v1",
            ),
            (
                "quay.io/org/img:tag-1.0_x",
                "quay.io/org/img:tag-1.0_x",
                "quay.io/org/img:tag-1.0_x",
            ),
            (
                "my-app__x.y",
                "docker.io/library/my-app__x.y:latest",
                "my-app__x.y:latest",
            ),
        ];
        for (input, full, familiar) in cases {
            let r = ImageRef::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), full, "{input}");
            assert_eq!(r.familiar(), familiar, "{input}");
        }
    }

    #[test]
    fn digest_references_have_no_default_tag() {
        let d = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4";
        let r = ImageRef::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@{d}"));
    }

    #[test]
    fn invalid_references_are_refused_with_a_reason() {
        let cases = [
            ("", "empty"),
            ("Busybox", "lowercase"),
            ("busybox:", "tag"),
            ("busybox:-bad", "tag"),
            ("a//b", "component"),
            ("-a", "component"),
            ("a/b-", "component"),
            ("host:port/x", "port"),
            ("busybox@sha256:zz", "invalid digest"),
            ("busybox@md5:5d41402abc4b2a76b9719d911017c592", "unsupported"),
        ];
        for (input, reason) in cases {
            let err = ImageRef::parse(input).expect_err(input).to_string();
            assert!(err.contains(reason), "{input:?}: {err}");
            assert!(err.contains("invalid reference format"), "{input:?}: {err}");
        }
        let long = format!("a/{}", "b".repeat(260));
        assert!(ImageRef::parse(&long).is_err());
    }

    #[test]
    fn untagged_parse_keeps_tag_empty() {
        assert_eq!(ImageRef::parse_untagged("busybox").unwrap().tag(), None);
    }
}
