//! `--html FILE`: the image drawn as the seeds draw it — layers stacked bottom-up from the
//! base to the container layer, each as tall as its bytes, labelled by the command that
//! made it, its wasted part shaded — in one self-contained page that fetches nothing
//! (its Content-Security-Policy forbids it). Clicking a layer shows its file tree, built
//! in the browser from data embedded gzip-compressed and decompressed on first use; a
//! directory's children are made when it is opened, so very large layers stay quick.
//! File names reach the page only as text (`textContent`), never as markup.

use crate::analysis::{Analysis, LayerReport};
use flate2::write::GzEncoder;
use std::io::{self, Write};

/// Tallest and shortest a layer is drawn, in pixels.
const TALLEST: f64 = 420.0;
const SHORTEST: f64 = 26.0;

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push_str(&c.escape_default().to_string()),
            c => out.push(c),
        }
    }
    out
}

/// Decimal sizes as Docker prints them.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        // Go's %.4g, as Docker's HumanSize: four significant digits.
        let digits = (v.log10().floor() as i32 + 1).clamp(1, 4);
        format!("{v:.*}", (4 - digits) as usize)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
            + UNITS[unit]
    }
}

/// The per-layer file lists the page's script reads: `[[path, mark, size], …]`.
fn embedded(analysis: &Analysis) -> io::Result<String> {
    let layers: Vec<serde_json::Value> = analysis
        .layers
        .iter()
        .map(|l| {
            let mut files = Vec::new();
            for (list, mark) in [
                (&l.added, "A"),
                (&l.modified, "M"),
                (&l.removed, "D"),
                (&l.unchanged, "U"),
            ] {
                files.extend(
                    list.iter()
                        .map(|c| serde_json::json!([analysis.paths.escaped(c.path), mark, c.size])),
                );
            }
            serde_json::json!({ "files": files })
        })
        .collect();
    let json = serde_json::to_vec(&serde_json::json!({ "layers": layers }))?;
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&json)?;
    use base64::Engine;
    Ok(base64::engine::general_purpose::STANDARD.encode(gz.finish()?))
}

fn layer_block(l: &LayerReport, biggest: u64) -> String {
    let height = SHORTEST + (TALLEST - SHORTEST) * (l.bytes as f64 / biggest.max(1) as f64);
    let wasted = if l.bytes == 0 {
        0.0
    } else {
        100.0 * l.wasted_bytes as f64 / l.bytes as f64
    };
    let kind = if l.digest == "container" {
        "layer container"
    } else if l.base {
        "layer base"
    } else {
        "layer"
    };
    let command = if l.created_by.is_empty() {
        "(no history)"
    } else {
        &l.created_by
    };
    format!(
        "<div class=\"{kind}\" data-index=\"{i}\" style=\"height:{height:.0}px\" title=\"{digest}\">\
         <div class=\"wasted\" style=\"height:{wasted:.1}%\"></div>\
         <span class=\"label\"><b>{i}</b> · {bytes} · {wasted_text} wasted · {command}</span></div>\n",
        i = l.index,
        digest = escape_html(&l.digest),
        bytes = size(l.bytes),
        wasted_text = size(l.wasted_bytes),
        command = escape_html(command),
    )
}

/// Writes the page for `analysis` of the image `title`.
pub fn write_html(analysis: &Analysis, title: &str, mut out: impl Write) -> io::Result<()> {
    let t = &analysis.totals;
    let biggest = analysis.layers.iter().map(|l| l.bytes).max().unwrap_or(0);
    // Bottom-up: the base at the bottom, the top layer (a container's) above the rest.
    let stack: String = analysis.layers.iter().rev().map(|l| layer_block(l, biggest)).collect();
    let title = escape_html(title);
    write!(
        out,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>strata explore: {title}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }}
header {{ padding: 12px 20px; background: #24323f; color: #fff; }}
header h1 {{ font-size: 18px; margin: 0 0 4px; }}
main {{ display: flex; gap: 20px; padding: 20px; align-items: flex-start; }}
#stack {{ flex: 0 0 46%; min-width: 0; display: flex; flex-direction: column; gap: 3px; }}
.layer {{ position: relative; background: #8fb8de; border: 1px solid #4a7aa8; border-radius: 3px; cursor: pointer; overflow: hidden; }}
.layer.base {{ background: #c7c7c7; border-color: #8a8a8a; }}
.layer.container {{ background: #f3d27a; border-color: #b8902a; border-style: dashed; }}
.layer.selected {{ outline: 3px solid #d9480f; }}
.layer .wasted {{ position: absolute; left: 0; right: 0; bottom: 0; background: repeating-linear-gradient(45deg, rgba(200,30,30,.55) 0 6px, rgba(200,30,30,.15) 6px 12px); }}
.layer .label {{ position: relative; display: block; padding: 3px 8px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
#tree {{ flex: 1; min-width: 0; overflow-x: auto; background: #fff; border: 1px solid #ddd; border-radius: 3px; padding: 10px 14px; min-height: 200px; }}
#tree h2 {{ font-size: 15px; margin: 0 0 8px; }}
#files ul {{ list-style: none; margin: 0; padding-left: 16px; }}
#files > ul {{ padding-left: 0; }}
#files li {{ font-family: ui-monospace, monospace; white-space: pre; }}
.m-A {{ color: #2b8a3e; }} .m-M {{ color: #b7791f; }} .m-D {{ color: #c92a2a; text-decoration: line-through; }} .m-U {{ color: #1c5fa8; }}
.legend span {{ margin-right: 12px; }}
</style></head>
<body data-ready="false">
<header><h1>{title}</h1>
<p id="totals">{layers} layers · {visible} visible of {stored} stored · efficiency {efficiency:.2} % · wasted {wasted} · above the {base} base layer(s): {user_wasted} wasted of {user}</p></header>
<main>
<section id="stack" aria-label="layers, the top one first">
{stack}</section>
<section id="tree"><h2 id="tree-title">Click a layer to see its files</h2>
<p class="legend"><span class="m-A">A added</span><span class="m-M">M modified</span><span class="m-D">D removed</span><span class="m-U">U the same file again</span></p>
<div id="files"></div></section>
</main>
<script id="data" type="application/octet-stream">{data}</script>
<script>
"use strict";
(() => {{
  let data = null;
  async function load() {{
    if (data) return data;
    const raw = Uint8Array.from(atob(document.getElementById("data").textContent.trim()), c => c.charCodeAt(0));
    const text = await new Response(new Blob([raw]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
    return (data = JSON.parse(text));
  }}
  function size(n) {{
    const units = ["B", "kB", "MB", "GB", "TB"]; let u = 0;
    while (n >= 1000 && u < units.length - 1) {{ n /= 1000; u++; }}
    return (u ? n.toPrecision(4).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "") : String(n)) + units[u];
  }}
  function label(node) {{
    return (node.mark || " ") + " " + node.name + (node.children.size ? "/" : "  " + size(node.size));
  }}
  function render(node) {{
    const ul = document.createElement("ul");
    const kids = [...node.children.values()].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    for (const child of kids) {{
      const li = document.createElement("li");
      li.className = "m-" + (child.mark || "none");
      if (child.children.size) {{
        const details = document.createElement("details");
        const summary = document.createElement("summary");
        summary.textContent = label(child);
        details.append(summary);
        details.addEventListener("toggle", () => {{
          if (details.open && details.children.length === 1) details.append(render(child));
        }});
        if (openAll) details.open = true;
        li.append(details);
      }} else {{
        li.textContent = label(child);
      }}
      ul.append(li);
    }}
    return ul;
  }}
  async function show(index) {{
    const layer = (await load()).layers[index];
    if (!layer) return;
    document.querySelectorAll(".layer").forEach(e => e.classList.toggle("selected", Number(e.dataset.index) === index));
    const root = {{ children: new Map() }};
    for (const [path, mark, bytes] of layer.files) {{
      let node = root;
      for (const part of path.split("/")) {{
        if (!node.children.has(part)) node.children.set(part, {{ name: part, children: new Map(), mark: null, size: 0 }});
        node = node.children.get(part);
      }}
      node.mark = mark; node.size = bytes;
    }}
    document.getElementById("tree-title").textContent = "Layer " + index + ": " + layer.files.length + " changes";
    document.getElementById("files").replaceChildren(render(root));
  }}
  document.querySelectorAll(".layer").forEach(e => e.addEventListener("click", () => show(Number(e.dataset.index))));
  // `#layer=N` shows a layer's files as a click does; `&open` opens every directory.
  const openAll = /[#&]open\b/.test(location.hash);
  const wanted = location.hash.match(/layer=(\d+)/);
  (wanted ? show(Number(wanted[1])) : Promise.resolve()).then(() => {{ document.body.dataset.ready = "true"; }});
}})();
</script>
</body></html>
"#,
        layers = analysis.layers.len(),
        visible = size(t.visible_bytes),
        stored = size(t.stored_bytes),
        efficiency = t.efficiency * 100.0,
        wasted = size(t.wasted_bytes),
        base = t.base_layers,
        user_wasted = size(t.user_wasted_bytes),
        user = size(t.user_bytes),
        data = embedded(analysis)?,
    )
}

/// Writes the page to `path` atomically: a temporary file beside it, renamed into place.
pub fn write_html_file(analysis: &Analysis, title: &str, path: &std::path::Path) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    {
        let mut out = io::BufWriter::new(tmp.as_file_mut());
        write_html(analysis, title, &mut out)?;
        out.flush()?;
    }
    // A page to share, not a secret: readable as any file the user makes.
    tmp.as_file()
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
