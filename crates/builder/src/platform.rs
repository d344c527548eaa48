//! Build platforms: `build --platform`, the Engine API's `platform`, `FROM --platform`.
//! strata builds for the machine it runs on (no emulation), so a platform is accepted
//! when it normalises, as containerd's parser does, to this machine's; and BuildKit's
//! automatic platform ARGs (`TARGETPLATFORM`, `BUILDARCH`, …) are this machine's.

/// `os/arch[/variant]`, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: String,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

/// An architecture (and variant) as containerd normalises them.
fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    match (arch, variant) {
        ("x86_64" | "x86-64" | "amd64", "" | "v1") => ("amd64".into(), String::new()),
        ("aarch64" | "arm64", "" | "v8" | "8") => ("arm64".into(), String::new()),
        ("armhf", "") => ("arm".into(), "v7".into()),
        ("armel", "") => ("arm".into(), "v6".into()),
        ("arm", "") => ("arm".into(), "v7".into()),
        ("arm", v) => (
            "arm".into(),
            if v.starts_with('v') { v.into() } else { format!("v{v}") },
        ),
        ("i386" | "i686" | "386", v) => ("386".into(), v.into()),
        (a, v) => (a.into(), v.into()),
    }
}

impl Platform {
    /// The machine strata runs on.
    pub fn host() -> Self {
        let (arch, variant) = normalize_arch(strata_archive::image_archive::host_architecture(), "");
        Platform {
            os: "linux".into(),
            arch,
            variant,
        }
    }

    /// Parses a platform as containerd does: `linux`, `amd64`, `linux/x86_64`,
    /// `linux/arm/v7`; case does not matter.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let lower = spec.trim().to_ascii_lowercase();
        let parts: Vec<&str> = lower.split('/').collect();
        let host = Platform::host();
        let invalid = || format!("--platform {spec:?}: not a platform (os/arch[/variant], such as {host})");
        if parts.iter().any(|p| p.is_empty()) {
            return Err(invalid());
        }
        let (os, arch, variant) = match parts.as_slice() {
            // One word is an OS when it names one, else an architecture on Linux.
            [one] if matches!(*one, "linux" | "windows" | "darwin" | "freebsd") => {
                (one.to_string(), host.arch.clone(), host.variant.clone())
            }
            [arch] => ("linux".to_string(), arch.to_string(), String::new()),
            [os, arch] => (os.to_string(), arch.to_string(), String::new()),
            [os, arch, variant] => (os.to_string(), arch.to_string(), variant.to_string()),
            _ => return Err(invalid()),
        };
        let (arch, variant) = normalize_arch(&arch, &variant);
        Ok(Platform { os, arch, variant })
    }
}

/// The platform a build is for: None or empty means this machine's; another one, or
/// several (`linux/amd64,linux/arm64`), is refused by name.
pub fn check(spec: Option<&str>) -> Result<Platform, String> {
    let host = Platform::host();
    let Some(spec) = spec.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(host);
    };
    if spec.contains(',') {
        return Err(format!(
            "--platform {spec}: multi-platform builds are not supported by strata: it builds one image, \
             for this machine's platform ({host}); build with --platform {host} or leave the flag out"
        ));
    }
    let wanted = Platform::parse(spec)?;
    if wanted != host {
        return Err(format!(
            "--platform {spec}: strata builds for this machine's platform ({host}) only: it has no \
             emulation to run another platform's RUN steps; build on a {wanted} machine or leave the \
             flag out"
        ));
    }
    Ok(wanted)
}

/// BuildKit's automatic platform ARGs, for a build on `build` for `target`.
pub fn automatic_args(target: &Platform, build: &Platform) -> Vec<(String, String)> {
    let mut args = Vec::new();
    for (prefix, p) in [("TARGET", target), ("BUILD", build)] {
        args.push((format!("{prefix}PLATFORM"), p.to_string()));
        args.push((format!("{prefix}OS"), p.os.clone()));
        args.push((format!("{prefix}ARCH"), p.arch.clone()));
        args.push((format!("{prefix}VARIANT"), p.variant.clone()));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machines_platform_is_accepted_in_every_spelling_containerd_takes() {
        let host = Platform::host();
        let here = host.to_string();
        let mut spellings = vec![here.clone(), here.to_uppercase(), "linux".into(), host.arch.clone()];
        if host.arch == "amd64" {
            spellings.extend(["linux/x86_64", "linux/x86-64", "x86_64", "linux/amd64/v1"].map(String::from));
        }
        if host.arch == "arm64" {
            spellings.extend(["linux/aarch64", "linux/arm64/v8"].map(String::from));
        }
        for spec in spellings {
            assert_eq!(check(Some(&spec)), Ok(host.clone()), "{spec}");
        }
        assert_eq!(check(None), Ok(host.clone()));
        assert_eq!(check(Some("")), Ok(host));
    }

    #[test]
    fn other_platforms_and_lists_are_refused_by_name() {
        let other = if Platform::host().arch == "amd64" {
            "linux/arm64"
        } else {
            "linux/amd64"
        };
        let e = check(Some(other)).unwrap_err();
        assert!(e.contains("no emulation") && e.contains(other), "{e}");
        let e = check(Some("windows/amd64")).unwrap_err();
        assert!(e.contains("no emulation"), "{e}");
        let e = check(Some(&format!("{},{other}", Platform::host()))).unwrap_err();
        assert!(e.contains("multi-platform builds are not supported"), "{e}");
        assert!(check(Some("linux//x")).unwrap_err().contains("not a platform"));
    }

    #[test]
    fn automatic_args_describe_the_platform() {
        let p = Platform::parse("linux/arm/v7").unwrap();
        let args = automatic_args(&p, &Platform::parse("linux/amd64").unwrap());
        let get = |k: &str| args.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("TARGETPLATFORM"), Some("linux/arm/v7"));
        assert_eq!(get("TARGETOS"), Some("linux"));
        assert_eq!(get("TARGETARCH"), Some("arm"));
        assert_eq!(get("TARGETVARIANT"), Some("v7"));
        assert_eq!(get("BUILDPLATFORM"), Some("linux/amd64"));
        assert_eq!(get("BUILDVARIANT"), Some(""));
    }
}
