//! Docker's prune filters (`--filter until=TIME`, `label=KEY[=VALUE]`,
//! `label!=KEY[=VALUE]`): which unused objects a prune may take. An object passes when
//! it was created before `until`, carries every `label` asked for, and does not carry
//! all the `label!` ones (moby's `matchLabels`).

use crate::filter_args::{FilterArgs, FilterError, LabelFilter};

/// The filter keys prunes know.
pub const PRUNE_FILTERS: [&str; 3] = ["until", "label", "label!"];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneFilter {
    /// Nanoseconds since the epoch: only what was created before it goes.
    until: Option<i64>,
    labels: Vec<LabelFilter>,
    not_labels: Vec<LabelFilter>,
}

impl PruneFilter {
    /// The filter `args` ask for; `until` durations (`24h`) count back from `now_nano`.
    pub fn parse(args: &FilterArgs, now_nano: i64) -> Result<Self, FilterError> {
        args.check_keys("prune", &PRUNE_FILTERS)?;
        let untils: Vec<&str> = args.values("until").collect();
        let until = match untils[..] {
            [] => None,
            [one] => Some(
                strata_metadata::events::parse_time(one, now_nano).map_err(|reason| FilterError::Value {
                    key: "until".into(),
                    value: one.into(),
                    reason,
                })?,
            ),
            _ => {
                return Err(FilterError::Value {
                    key: "until".into(),
                    value: untils.join(", "),
                    reason: "more than one until filter specified".into(),
                })
            }
        };
        Ok(PruneFilter {
            until,
            labels: args.labels(),
            not_labels: args.values("label!").map(LabelFilter::parse).collect(),
        })
    }

    /// An image prune's filters (the Engine API's `POST /images/prune`): `dangling=false`
    /// asks for every unused image, not only the dangling ones (Docker's `prune -a`);
    /// the rest as for any prune. Returns (all, filter).
    pub fn parse_image_prune(args: &FilterArgs, now_nano: i64) -> Result<(bool, Self), FilterError> {
        let mut rest = args.clone();
        let dangling: Vec<String> = rest.take("dangling");
        let mut only_dangling = FilterArgs::default();
        dangling.iter().for_each(|v| only_dangling.add("dangling", v));
        let all = only_dangling.boolean("dangling")? == Some(false);
        Ok((all, Self::parse(&rest, now_nano)?))
    }

    /// Whether an `until` was given (volumes, which Docker keeps no usable creation
    /// time for, refuse it).
    pub fn has_until(&self) -> bool {
        self.until.is_some()
    }

    /// Whether the filter looks at labels (so a caller reads them only then).
    pub fn has_labels(&self) -> bool {
        !self.labels.is_empty() || !self.not_labels.is_empty()
    }

    /// Whether an object created at `created` (RFC 3339; an unreadable time counts as
    /// long ago) with labels looked up through `label` may be pruned.
    pub fn matches<'a>(&self, created: Option<&str>, label: impl Fn(&str) -> Option<&'a str> + Copy) -> bool {
        let old_enough = match (self.until, created.and_then(crate::age::parse_time)) {
            (Some(until), Some(t)) => t.timestamp_nanos_opt().is_some_and(|t| t < until),
            _ => true,
        };
        let excluded = !self.not_labels.is_empty() && self.not_labels.iter().all(|l| l.matches(label));
        old_enough && self.labels.iter().all(|l| l.matches(label)) && !excluded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000_000_000;

    fn filter(specs: &[&str]) -> Result<PruneFilter, FilterError> {
        let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
        PruneFilter::parse(&FilterArgs::parse(&specs).unwrap(), NOW)
    }

    fn team_web(key: &str) -> Option<&'static str> {
        (key == "team").then_some("web")
    }

    fn none(_: &str) -> Option<&'static str> {
        None
    }

    #[test]
    fn until_keeps_what_is_newer() {
        // NOW is 2023-11-14T22:13:20Z.
        let f = filter(&["until=1h"]).unwrap();
        assert!(f.matches(Some("2023-11-14T20:00:00Z"), none));
        assert!(!f.matches(Some("2023-11-14T22:00:00Z"), none));
        assert!(f.matches(None, none), "no creation time counts as long ago");
        assert!(filter(&["until=2023-11-14T22:00:00Z"])
            .unwrap()
            .matches(Some("2023-11-14T21:59:59Z"), none));
    }

    #[test]
    fn labels_must_all_match_and_label_not_excludes() {
        assert!(filter(&["label=team"]).unwrap().matches(None, team_web));
        assert!(!filter(&["label=team=db"]).unwrap().matches(None, team_web));
        assert!(!filter(&["label=team", "label=tier"]).unwrap().matches(None, team_web));
        assert!(!filter(&["label!=team"]).unwrap().matches(None, team_web));
        assert!(filter(&["label!=team=db"]).unwrap().matches(None, team_web));
        assert!(filter(&["label!=team"]).unwrap().matches(None, none));
        assert!(PruneFilter::default().matches(Some("2999-01-01T00:00:00Z"), team_web));
    }

    #[test]
    fn image_prunes_read_dangling_false_as_all() {
        let parse = |specs: &[&str]| {
            let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
            PruneFilter::parse_image_prune(&FilterArgs::parse(&specs).unwrap(), NOW)
        };
        assert!(parse(&["dangling=false", "until=1h"]).unwrap().0);
        assert!(!parse(&["dangling=true"]).unwrap().0);
        assert!(!parse(&[]).unwrap().0);
        assert!(parse(&["dangling=maybe"]).is_err());
        assert!(parse(&["color=red"]).is_err());
    }

    #[test]
    fn bad_filters_are_refused() {
        let e = filter(&["dangling=true"]).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid filter 'dangling': prune filters are until, label and label!"
        );
        assert!(filter(&["until=yesterday"]).is_err());
        assert!(filter(&["until=1h", "until=2h"])
            .unwrap_err()
            .to_string()
            .contains("more than one until"));
    }
}
