//! `--log-driver` and `--log-opt`: where a container's output goes. strata has Docker's
//! `json-file` (the default; `max-size` and `max-file` rotate it) and `none`; any other
//! driver or option is refused by name.

use crate::error::{ContainerError, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogConfig {
    /// `json-file` (also when empty) or `none`.
    #[serde(default)]
    pub driver: String,
    /// `max-size`: bytes at which the log is rotated.
    #[serde(default)]
    pub max_size: Option<u64>,
    /// `max-file`: how many files (the current one included) are kept; 1 by default.
    #[serde(default)]
    pub max_file: Option<u32>,
}

pub const JSON_FILE: &str = "json-file";
pub const NONE: &str = "none";

impl LogConfig {
    /// `--log-driver` and the `--log-opt KEY=VALUE`s.
    pub fn parse(driver: Option<&str>, opts: &[(String, String)]) -> Result<LogConfig> {
        let driver = match driver.filter(|d| !d.is_empty()) {
            None | Some(JSON_FILE) => JSON_FILE,
            Some(NONE) => NONE,
            Some(other) => {
                return Err(ContainerError::Invalid(format!(
                    "logging driver {other:?} is not supported by strata: it has json-file (the default) and none"
                )))
            }
        };
        let mut config = LogConfig {
            driver: driver.to_string(),
            ..Default::default()
        };
        for (key, value) in opts {
            let refused = |why: &str| ContainerError::Invalid(format!("--log-opt {key}={value}: {why}"));
            match (driver, key.as_str()) {
                (NONE, _) => return Err(refused("the none driver takes no options")),
                (_, "max-size") => {
                    let bytes = parse_size(value).map_err(|e| refused(&e.to_string()))?;
                    config.max_size = Some(bytes as u64);
                }
                (_, "max-file") => {
                    let n: u32 = value
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| refused("a number of files, 1 or more"))?;
                    config.max_file = Some(n);
                }
                (_, "labels" | "labels-regex" | "env" | "env-regex" | "tag") => {
                    return Err(refused(
                        "strata's json-file driver records no log attributes (what `logs --details` shows): leave this option out",
                    ))
                }
                _ => {
                    return Err(refused(
                        "not an option strata's json-file driver has (it has max-size and max-file)",
                    ))
                }
            }
        }
        if config.max_file.is_some_and(|n| n > 1) && config.max_size.is_none() {
            return Err(ContainerError::Invalid("--log-opt max-file needs max-size".into()));
        }
        Ok(config)
    }

    pub fn keeps_logs(&self) -> bool {
        self.driver != NONE
    }

    /// The driver's name as Docker shows it.
    pub fn driver_name(&self) -> &str {
        if self.driver.is_empty() {
            JSON_FILE
        } else {
            &self.driver
        }
    }

    pub fn files(&self) -> u32 {
        self.max_file.unwrap_or(1)
    }
}

/// Docker's sizes: a number with an optional b, k, m or g suffix (binary units).
pub fn parse_size(text: &str) -> Result<i64> {
    let invalid = |why: &str| ContainerError::Invalid(format!("invalid size {text:?}: {why}"));
    let lower = text.trim().to_ascii_lowercase();
    let (num, unit) = match lower.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => lower.split_at(i),
        None => (lower.as_str(), ""),
    };
    let scale: i64 = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return Err(invalid("use a number with b, k, m or g")),
    };
    let n: f64 = num.parse().map_err(|_| invalid("use a number with b, k, m or g"))?;
    if n <= 0.0 {
        return Err(invalid("it must be positive"));
    }
    Ok((n * scale as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn json_file_rotates_by_size_and_other_drivers_are_refused() {
        let c = LogConfig::parse(Some("json-file"), &opts(&[("max-size", "1k"), ("max-file", "3")])).unwrap();
        assert_eq!((c.max_size, c.files()), (Some(1024), 3));
        assert!(!LogConfig::parse(Some("none"), &[]).unwrap().keeps_logs());
        let e = LogConfig::parse(Some("syslog"), &[]).unwrap_err().to_string();
        assert!(e.contains("\"syslog\" is not supported"), "{e}");
        assert!(LogConfig::parse(None, &opts(&[("compress", "true")])).is_err());
        assert!(LogConfig::parse(None, &opts(&[("max-file", "2")])).is_err());
        assert!(LogConfig::parse(Some("none"), &opts(&[("max-size", "1m")])).is_err());
    }
}
