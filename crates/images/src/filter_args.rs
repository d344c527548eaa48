//! Docker's list filters (`--filter key=value`, the API's `filters` JSON): a bag of
//! key/value pairs each listing command checks against the keys it knows. Values of
//! one key are alternatives, except labels, which must all match (Docker's rules).

/// A filter that cannot be applied, named with the fix.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("bad format of filter (expected name=value): {0:?}")]
    Format(String),
    #[error("invalid filter '{key}': {listing} filters are {supported}")]
    UnknownKey {
        key: String,
        listing: &'static str,
        supported: String,
    },
    #[error("invalid filter: the filters parameter is not Docker's JSON ({0})")]
    Json(String),
    #[error("invalid filter '{key}={value}': {reason}")]
    Value { key: String, value: String, reason: String },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterArgs {
    /// In the order given.
    pairs: Vec<(String, String)>,
}

impl FilterArgs {
    /// `key=value` specs, as the CLI's `--filter` flags give them.
    pub fn parse(specs: &[String]) -> Result<Self, FilterError> {
        let mut args = FilterArgs::default();
        for spec in specs {
            let (key, value) = spec.split_once('=').ok_or_else(|| FilterError::Format(spec.clone()))?;
            args.add(key, value);
        }
        Ok(args)
    }

    /// The Engine API's `filters` parameter: `{"key":{"value":true}}`, or the older
    /// `{"key":["value"]}` that moby still reads. Empty text is no filter.
    pub fn from_json(text: &str) -> Result<Self, FilterError> {
        let mut args = FilterArgs::default();
        if text.trim().is_empty() {
            return Ok(args);
        }
        let bad = |reason: &str| FilterError::Json(reason.to_string());
        let parsed: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
        let object = parsed.as_object().ok_or_else(|| bad("not an object"))?;
        for (key, values) in object {
            match values {
                serde_json::Value::Object(set) => {
                    // A value mapped to false is not asked for (moby's `map[string]bool`).
                    set.iter()
                        .filter(|(_, on)| on.as_bool() != Some(false))
                        .for_each(|(v, _)| args.add(key, v));
                }
                serde_json::Value::Array(list) => {
                    for v in list {
                        args.add(key, v.as_str().ok_or_else(|| bad("a value is not a string"))?);
                    }
                }
                _ => return Err(bad("a key's values are neither an object nor a list")),
            }
        }
        Ok(args)
    }

    pub fn add(&mut self, key: &str, value: &str) {
        self.pairs.push((key.to_string(), value.to_string()));
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Every `key=value` term, in the order given (for filters parsed from terms, as
    /// the events filter is).
    pub fn terms(&self) -> Vec<String> {
        self.pairs.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// The values given for `key`.
    pub fn values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The last value given for `key` (for keys that take one: before, since).
    pub fn last<'a>(&'a self, key: &'a str) -> Option<&'a str> {
        self.values(key).last()
    }

    /// Refuses a key the listing (`images`, `containers`) does not know.
    pub fn check_keys(&self, listing: &'static str, known: &[&str]) -> Result<(), FilterError> {
        match self.pairs.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some((key, _)) => Err(FilterError::UnknownKey {
                key: key.clone(),
                listing,
                supported: supported_list(known),
            }),
        }
    }

    /// The values of `key`, removed from the bag: for a key one caller reads itself
    /// before the rest goes to checks that do not know it (an image prune's `dangling`).
    pub fn take(&mut self, key: &str) -> Vec<String> {
        let (taken, kept) = std::mem::take(&mut self.pairs).into_iter().partition(|(k, _)| k == key);
        self.pairs = kept;
        taken.into_iter().map(|(_, v): (String, String)| v).collect()
    }

    /// The `label` filters as (key, value) wants: `label=KEY` or `label=KEY=VALUE`.
    pub fn labels(&self) -> Vec<LabelFilter> {
        self.values("label").map(LabelFilter::parse).collect()
    }

    /// A true/false filter value (`dangling=true`, `dangling=1`).
    pub fn boolean(&self, key: &str) -> Result<Option<bool>, FilterError> {
        self.last(key)
            .map(|value| match value {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(FilterError::Value {
                    key: key.to_string(),
                    value: value.to_string(),
                    reason: "use true or false".into(),
                }),
            })
            .transpose()
    }
}

/// "a, b and c".
fn supported_list(keys: &[&str]) -> String {
    match keys {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// One `label=` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelFilter {
    pub key: String,
    /// `None`: the label only has to be present.
    pub value: Option<String>,
}

impl LabelFilter {
    pub fn parse(spec: &str) -> Self {
        match spec.split_once('=') {
            Some((k, v)) => LabelFilter {
                key: k.to_string(),
                value: Some(v.to_string()),
            },
            None => LabelFilter {
                key: spec.to_string(),
                value: None,
            },
        }
    }

    /// Whether labels looked up through `get` satisfy this filter.
    pub fn matches<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        match (get(&self.key), &self.value) {
            (None, _) => false,
            (Some(have), Some(want)) => have == want,
            (Some(_), None) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(specs: &[&str]) -> FilterArgs {
        FilterArgs::parse(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn specs_split_at_the_first_equals() {
        let a = args(&["label=team=web", "name=db", "name=web"]);
        assert_eq!(a.values("name").collect::<Vec<_>>(), ["db", "web"]);
        assert_eq!(a.labels(), [LabelFilter::parse("team=web")]);
        assert!(FilterArgs::parse(&["nonsense".into()])
            .unwrap_err()
            .to_string()
            .contains("expected name=value"));
    }

    #[test]
    fn unknown_keys_are_refused_with_the_known_ones() {
        let e = args(&["color=red"])
            .check_keys("images", &["dangling", "label"])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid filter 'color': images filters are dangling and label"
        );
    }

    #[test]
    fn labels_match_by_presence_or_value() {
        let get = |k: &str| (k == "team").then_some("web");
        assert!(LabelFilter::parse("team").matches(get));
        assert!(LabelFilter::parse("team=web").matches(get));
        assert!(!LabelFilter::parse("team=db").matches(get));
        assert!(!LabelFilter::parse("tier").matches(get));
    }

    #[test]
    fn api_json_reads_both_of_dockers_forms() {
        let map = FilterArgs::from_json(r#"{"dangling":{"true":true},"label":{"a=b":true,"c":false}}"#).unwrap();
        assert_eq!(map.values("dangling").collect::<Vec<_>>(), ["true"]);
        assert_eq!(map.labels(), [LabelFilter::parse("a=b")]);
        let list = FilterArgs::from_json(r#"{"name":["web","db"]}"#).unwrap();
        assert_eq!(list.values("name").collect::<Vec<_>>(), ["web", "db"]);
        assert!(FilterArgs::from_json("").unwrap().is_empty());
        for bad in ["[1]", "{\"a\":1}", "{\"a\":[1]}", "not json"] {
            assert!(matches!(FilterArgs::from_json(bad), Err(FilterError::Json(_))), "{bad}");
        }
    }

    #[test]
    fn take_removes_one_key() {
        let mut a = args(&["dangling=false", "until=1h", "dangling=true"]);
        assert_eq!(a.take("dangling"), ["false", "true"]);
        assert_eq!(a, args(&["until=1h"]));
    }

    #[test]
    fn booleans_take_docker_spellings() {
        assert_eq!(args(&["dangling=1"]).boolean("dangling").unwrap(), Some(true));
        assert_eq!(args(&[]).boolean("dangling").unwrap(), None);
        assert!(args(&["dangling=maybe"]).boolean("dangling").is_err());
    }
}
