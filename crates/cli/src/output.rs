//! Docker's ways of printing: human sizes and durations, aligned tables, Go templates.

use chrono::Utc;
use std::collections::HashMap;
use std::fmt::Write as _;

/// The error and its causes, as `what: why: why`.
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        // thiserror's `transparent`/`{source}` messages repeat their cause: skip echoes.
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// Docker's `units.HumanSizeWithPrecision(size, 3)`: decimal units, 3 significant digits.
pub fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit < UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    format!("{}{}", format_g(size, 3), UNITS[unit])
}

/// Docker's `units.BytesSize`: binary units, 4 significant digits (`stats`' memory).
pub fn bytes_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    format!("{}{}", format_g(size, 4), UNITS[unit])
}

/// Go's `%.Ng` for the range human sizes use (0 ≤ v < 1024).
fn format_g(v: f64, precision: i32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let digits_before = (v.abs().log10().floor() as i32 + 1).max(1);
    let decimals = (precision - digits_before).max(0) as usize;
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    // Rounding may carry into one digit more (999.5 → "1000" at 3): Go prints 1e+03.
    if s.len() > precision as usize
        && !s.contains('.')
        && s.starts_with(&format!("1{}", "0".repeat(precision as usize)))
    {
        return format!("1e+0{precision}");
    }
    s
}

/// "2 hours ago", or "N/A" when the time is unknown.
pub fn since(created: Option<&str>) -> String {
    match created.and_then(|c| strata_images::age::human_age(c, Utc::now())) {
        Some(age) => format!("{age} ago"),
        None => "N/A".into(),
    }
}

/// Columns padded like Go's tabwriter with Docker's settings (min width, 3 spaces).
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}", width = widths[c] + 3);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Shortens `s` to `n` characters with Docker's ellipsis.
pub fn ellipsis(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// A `--format` value: `json`, a Go template, or `table …` (a template with a header).
pub enum Format {
    Json,
    Template { text: String, table: bool },
}

impl Format {
    pub fn parse(spec: &str) -> Format {
        match spec.trim() {
            "json" | "{{json .}}" => Format::Json,
            s => match s.strip_prefix("table") {
                Some(rest) => Format::Template {
                    text: rest.trim_start().to_string(),
                    table: true,
                },
                None => Format::Template {
                    text: s.to_string(),
                    table: false,
                },
            },
        }
    }
}

/// Renders a Go template against a JSON value, with Docker's extra functions.
pub fn render(template: &str, value: &serde_json::Value) -> anyhow::Result<String> {
    let text = template.replace("\\t", "\t").replace("\\n", "\n");
    let mut tmpl = gtmpl::Template::default();
    tmpl.add_funcs(&[
        ("json", json_func as gtmpl_value::Func),
        ("join", join_func as gtmpl_value::Func),
        ("upper", upper_func as gtmpl_value::Func),
        ("lower", lower_func as gtmpl_value::Func),
    ]);
    tmpl.parse(text.as_str())
        .map_err(|e| anyhow::anyhow!("template parsing error: {e}"))?;
    let ctx = gtmpl::Context::from(to_gtmpl(value));
    tmpl.render(&ctx).map_err(|e| anyhow::anyhow!("template: {e}"))
}

pub fn to_gtmpl(v: &serde_json::Value) -> gtmpl_value::Value {
    use gtmpl_value::Value as G;
    use serde_json::Value as J;
    match v {
        J::Null => G::Nil,
        J::Bool(b) => G::Bool(*b),
        J::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => G::from(i),
            (_, Some(u), _) => G::from(u),
            (_, _, Some(f)) => G::from(f),
            _ => G::Nil,
        },
        J::String(s) => G::String(s.clone()),
        J::Array(a) => G::Array(a.iter().map(to_gtmpl).collect()),
        J::Object(o) => G::Map(
            o.iter()
                .map(|(k, v)| (k.clone(), to_gtmpl(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

fn from_gtmpl(v: &gtmpl_value::Value) -> serde_json::Value {
    use gtmpl_value::Value as G;
    use serde_json::Value as J;
    match v {
        G::NoValue | G::Nil | G::Function(_) => J::Null,
        G::Bool(b) => J::Bool(*b),
        G::String(s) => J::String(s.clone()),
        G::Number(n) => n
            .as_i64()
            .map(J::from)
            .or_else(|| n.as_u64().map(J::from))
            .or_else(|| n.as_f64().map(J::from))
            .unwrap_or(J::Null),
        G::Array(a) => J::Array(a.iter().map(from_gtmpl).collect()),
        G::Object(o) | G::Map(o) => {
            let sorted: std::collections::BTreeMap<_, _> = o.iter().map(|(k, v)| (k.clone(), from_gtmpl(v))).collect();
            J::Object(sorted.into_iter().collect())
        }
    }
}

fn json_func(args: &[gtmpl_value::Value]) -> Result<gtmpl_value::Value, gtmpl_value::FuncError> {
    let v = args.first().map(from_gtmpl).unwrap_or(serde_json::Value::Null);
    Ok(gtmpl_value::Value::String(
        serde_json::to_string(&v).unwrap_or_default(),
    ))
}

fn join_func(args: &[gtmpl_value::Value]) -> Result<gtmpl_value::Value, gtmpl_value::FuncError> {
    let (Some(gtmpl_value::Value::Array(items)), Some(sep)) = (args.first(), args.get(1)) else {
        return Err(gtmpl_value::FuncError::ExactlyXArgs("join".into(), 2));
    };
    let parts: Vec<String> = items.iter().map(|i| i.to_string()).collect();
    Ok(gtmpl_value::Value::String(parts.join(&sep.to_string())))
}

fn upper_func(args: &[gtmpl_value::Value]) -> Result<gtmpl_value::Value, gtmpl_value::FuncError> {
    Ok(gtmpl_value::Value::String(
        args.first().map(|a| a.to_string().to_uppercase()).unwrap_or_default(),
    ))
}

fn lower_func(args: &[gtmpl_value::Value]) -> Result<gtmpl_value::Value, gtmpl_value::FuncError> {
    Ok(gtmpl_value::Value::String(
        args.first().map(|a| a.to_string().to_lowercase()).unwrap_or_default(),
    ))
}

/// Docker's memory sizes: a number with an optional b, k, m or g suffix (binary units).
pub fn parse_size(s: &str) -> anyhow::Result<i64> {
    let lower = s.trim().to_ascii_lowercase();
    let (num, unit) = match lower.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => lower.split_at(i),
        None => (lower.as_str(), ""),
    };
    let scale: i64 = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => anyhow::bail!("invalid size {s:?}: use a number with b, k, m or g"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid size {s:?}: use a number with b, k, m or g"))?;
    if n <= 0.0 {
        anyhow::bail!("invalid size {s:?}: it must be positive");
    }
    Ok((n * scale as f64) as i64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_sizes_parse_like_docker() {
        assert_eq!(super::parse_size("64m").unwrap(), 64 << 20);
        assert_eq!(super::parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(super::parse_size("512k").unwrap(), 512 << 10);
        assert_eq!(super::parse_size("1000").unwrap(), 1000);
        assert!(super::parse_size("lots").is_err());
    }

    use super::*;

    #[test]
    fn human_sizes_match_docker() {
        for (bytes, want) in [
            (0, "0B"),
            (999, "999B"),
            (1000, "1kB"),
            (4_261_000, "4.26MB"),
            (185_000_000, "185MB"),
            (1_234_567_890, "1.23GB"),
            (12_345, "12.3kB"),
        ] {
            assert_eq!(human_size(bytes), want, "{bytes}");
        }
    }

    #[test]
    fn binary_sizes_match_dockers_bytes_size() {
        for (bytes, want) in [
            (0, "0B"),
            (548 << 10, "548KiB"),
            (64 << 20, "64MiB"),
            (21_430_000, "20.44MiB"),
            (25_275_000_000, "23.54GiB"),
            (1023, "1023B"),
        ] {
            assert_eq!(bytes_size(bytes), want, "{bytes}");
        }
    }

    #[test]
    fn templates_render_fields_and_json() {
        let v = serde_json::json!({"Repository": "busybox", "Tag": "latest", "Layers": ["a", "b"]});
        assert_eq!(render("{{.Repository}}:{{.Tag}}", &v).unwrap(), "busybox:latest");
        assert_eq!(render("{{index .Layers 1}}", &v).unwrap(), "b");
        assert_eq!(render("{{json .Layers}}", &v).unwrap(), r#"["a","b"]"#);
        assert_eq!(render("{{join .Layers \",\"}}", &v).unwrap(), "a,b");
    }

    #[test]
    fn table_pads_columns_by_three_spaces() {
        let t = table(&[vec!["A".into(), "BB".into()], vec!["CCC".into(), "D".into()]]);
        assert_eq!(t, "A     BB\nCCC   D\n");
    }
}
