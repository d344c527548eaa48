//! The CI gate: dive's three rules, under dive's names and defaults, judged on this
//! crate's definitions (see [`crate::analysis`]): `lowestEfficiency` (default 0.9),
//! `highestWastedBytes` (default disabled) and `highestUserWastedPercent` (default 0.1,
//! wasted bytes of the layers above the base ÷ their bytes). A `.dive-ci` file sets them
//! as dive reads it.

use crate::analysis::Analysis;
use crate::error::{ExploreError, Result};

/// One rule's threshold; `None` when disabled.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub lowest_efficiency: Option<f64>,
    pub highest_wasted_bytes: Option<u64>,
    pub highest_user_wasted_percent: Option<f64>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            lowest_efficiency: Some(0.9),
            highest_wasted_bytes: None,
            highest_user_wasted_percent: Some(0.1),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

#[derive(Debug, Clone)]
pub struct Verdict {
    pub rule: &'static str,
    pub outcome: Outcome,
    /// Why, in dive's words: the measured value against the threshold.
    pub detail: String,
}

impl Rules {
    /// Sets the rules a `.dive-ci` file names (`rules:` then `name: value`, a value
    /// being a number, a size such as `20MB`, or `disabled`); the others keep theirs.
    pub fn apply_dive_ci(&mut self, text: &str) -> Result<()> {
        let mut in_rules = false;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split(" #").next().unwrap_or("").trim_end();
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let indented = line.starts_with(' ') || line.starts_with('\t');
            let (key, value) = line
                .trim()
                .split_once(':')
                .ok_or_else(|| ExploreError::Config(format!(".dive-ci line {}: expected `name: value`", n + 1)))?;
            let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
            if !indented {
                in_rules = key == "rules";
                continue;
            }
            if in_rules {
                self.set(key.trim(), value)
                    .map_err(|e| ExploreError::Config(format!(".dive-ci line {}: {e}", n + 1)))?;
            }
        }
        Ok(())
    }

    /// Sets one rule by dive's name.
    pub fn set(&mut self, rule: &str, value: &str) -> std::result::Result<(), String> {
        let disabled = value.eq_ignore_ascii_case("disabled");
        let ratio = || -> std::result::Result<Option<f64>, String> {
            if disabled {
                return Ok(None);
            }
            let v: f64 = value
                .parse()
                .map_err(|_| format!("{rule}: {value:?} is not a number"))?;
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{rule}: {value} is not between 0 and 1"));
            }
            Ok(Some(v))
        };
        match rule {
            "lowestEfficiency" => self.lowest_efficiency = ratio()?,
            "highestUserWastedPercent" => self.highest_user_wasted_percent = ratio()?,
            "highestWastedBytes" => self.highest_wasted_bytes = if disabled { None } else { Some(parse_bytes(value)?) },
            other => {
                return Err(format!(
                    "unknown rule {other:?} (lowestEfficiency, highestWastedBytes, highestUserWastedPercent)"
                ))
            }
        }
        Ok(())
    }

    /// Each rule's verdict on `analysis`, in dive's order.
    pub fn evaluate(&self, analysis: &Analysis) -> Vec<Verdict> {
        let t = &analysis.totals;
        let judge = |rule, ok: Option<bool>, detail: String| Verdict {
            rule,
            outcome: match ok {
                None => Outcome::Skip,
                Some(true) => Outcome::Pass,
                Some(false) => Outcome::Fail,
            },
            detail: if ok.is_none() { "rule disabled".into() } else { detail },
        };
        vec![
            judge(
                "highestUserWastedPercent",
                self.highest_user_wasted_percent.map(|max| t.user_wasted_percent <= max),
                format!(
                    "too many bytes wasted, relative to the user bytes added ({:.4} > {:.4})",
                    t.user_wasted_percent,
                    self.highest_user_wasted_percent.unwrap_or(0.0)
                ),
            ),
            judge(
                "highestWastedBytes",
                self.highest_wasted_bytes.map(|max| t.wasted_bytes <= max),
                format!(
                    "too many bytes wasted ({} > {})",
                    t.wasted_bytes,
                    self.highest_wasted_bytes.unwrap_or(0)
                ),
            ),
            judge(
                "lowestEfficiency",
                self.lowest_efficiency.map(|min| t.efficiency >= min),
                format!(
                    "image efficiency is too low ({:.4} < {:.4})",
                    t.efficiency,
                    self.lowest_efficiency.unwrap_or(0.0)
                ),
            ),
        ]
    }
}

/// `1234`, `20MB`, `1.5 GiB`, `10kb` (dive's sizes: decimal units, binary with `i`).
pub fn parse_bytes(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (number, unit) = (t[..split].trim(), t[split..].trim().to_ascii_lowercase());
    let n: f64 = number.parse().map_err(|_| format!("{text:?} is not a size"))?;
    let scale: f64 = match unit.as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("{text:?} is not a size (B, kB, MB, GB, KiB, MiB, GiB)")),
    };
    if n < 0.0 {
        return Err(format!("{text:?} is negative"));
    }
    Ok((n * scale) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dive_ci_file_sets_the_rules_it_names() {
        let mut rules = Rules::default();
        rules
            .apply_dive_ci(
                "# dive's own example\nrules:\n  lowestEfficiency: 0.95\n  highestWastedBytes: 20MB # twenty\n  \
                 highestUserWastedPercent: disabled\n",
            )
            .unwrap();
        assert_eq!(
            rules,
            Rules {
                lowest_efficiency: Some(0.95),
                highest_wasted_bytes: Some(20_000_000),
                highest_user_wasted_percent: None,
            }
        );
        let e = Rules::default().apply_dive_ci("rules:\n  fastest: 1\n").unwrap_err();
        assert!(e.to_string().contains("unknown rule \"fastest\""), "{e}");
        let e = Rules::default()
            .apply_dive_ci("rules:\n  lowestEfficiency: 9\n")
            .unwrap_err();
        assert!(e.to_string().contains("not between 0 and 1"), "{e}");
        assert_eq!(parse_bytes("1.5 KiB").unwrap(), 1536);
    }
}
