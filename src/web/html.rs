//! HTML building blocks: escaping (every scraped string goes through [`esc`]), the page
//! layout, the stylesheet, and diffs drawn side by side and inline.

use axum::http::header;
use axum::response::{Html, IntoResponse};
use chrono::{DateTime, Utc};

/// Escapes text for an element body or a quoted attribute.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Bidi overrides could make scraped text read differently from what it is.
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A link target for scraped URLs: only http(s), else nothing.
pub fn safe_href(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| esc(u.as_str()))
}

/// Percent-encodes a query value.
pub fn qv(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `a=1&b=2` from the pairs whose value is set.
pub fn query_string(pairs: &[(&str, Option<String>)]) -> String {
    pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", qv(v))))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn time(t: DateTime<Utc>) -> String {
    format!(
        "<time datetime=\"{}\">{}</time>",
        t.to_rfc3339(),
        t.format("%Y-%m-%d %H:%M UTC")
    )
}

/// The page around `body`; `nav` marks the current section.
pub fn page(title: &str, nav: &str, body: &str) -> Html<String> {
    let link = |href: &str, name: &str, key: &str| {
        let current = if key == nav {
            " aria-current=\"page\""
        } else {
            ""
        };
        format!("<a href=\"{href}\"{current}>{name}</a>")
    };
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · policywatch</title><link rel=\"stylesheet\" href=\"/style.css\"></head>\
         <body><header><nav><strong>policywatch</strong> {} {} {} {} {}</nav></header>\
         <main><h1>{}</h1>{body}</main></body></html>\n",
        esc(title),
        link("/", "Timeline", "timeline"),
        link("/watches", "Watches", "watches"),
        link("/phrase", "Phrase history", "phrase"),
        link("/status", "Status", "status"),
        link("/outbox", "Outbox", "outbox"),
        esc(title),
    ))
}

const STYLE: &str = r#"
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{background:#1d3557;color:#fff;padding:.6em 1em}
header a{color:#fff;margin-left:1em}header a[aria-current]{text-decoration:underline 3px}
main{padding:1em;max-width:90em}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid #ddd;vertical-align:top}
tr.major td:first-child{border-left:4px solid #c0392b}tr.notice td:first-child{border-left:4px solid #2e86de}tr.info td:first-child{border-left:4px solid #999}
form.filters{display:flex;flex-wrap:wrap;gap:.5em;align-items:end;margin-bottom:1em}
form.filters label{display:flex;flex-direction:column;font-size:.85em}
.error{color:#a00;font-weight:bold}.muted{color:#666}
.diff{font:13px/1.35 ui-monospace,monospace;white-space:pre-wrap;word-break:break-word}
table.side td{width:50%;padding:0 .4em;border:0}
.del{background:#fde2e2}.ins{background:#dcfce7}.hunk{color:#6b21a8;background:#f3e8ff}
ul.notes li{margin:.2em 0}.kw{background:#fff3bf;padding:0 .3em;border-radius:3px;margin-right:.3em}
svg{max-width:100%;height:auto}svg.weekly{width:640px}svg.stage-track{width:1000px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dd{margin:0}
nav.pager{margin:1em 0}.problems{border:2px solid #a00;padding:.5em 1em;background:#fff5f5}
"#;

pub async fn stylesheet() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

/// One row of a side-by-side diff.
enum Side {
    Hunk(String),
    Pair(Option<String>, Option<String>),
    Same(String),
}

/// A unified diff drawn side by side (removed left, added right, paired in order) and
/// inline, both escaped.
pub fn diff_views(unified: &str) -> (String, String) {
    let mut rows = Vec::new();
    let (mut dels, mut ins): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let flush = |rows: &mut Vec<Side>, dels: &mut Vec<String>, ins: &mut Vec<String>| {
        let n = dels.len().max(ins.len());
        let mut d = dels.drain(..);
        let mut i = ins.drain(..);
        for _ in 0..n {
            rows.push(Side::Pair(d.next(), i.next()));
        }
    };
    let mut inline = String::from("<div class=\"diff inline\">");
    for line in unified.lines() {
        let (class, rest) = if line.starts_with("@@") {
            ("hunk", line)
        } else if let Some(r) = line.strip_prefix('-') {
            ("del", r)
        } else if let Some(r) = line.strip_prefix('+') {
            ("ins", r)
        } else {
            ("", line.strip_prefix(' ').unwrap_or(line))
        };
        let shown = if class == "hunk" {
            line.to_string()
        } else {
            format!(
                "{}{}",
                match class {
                    "del" => "−",
                    "ins" => "+",
                    _ => " ",
                },
                rest
            )
        };
        inline.push_str(&format!("<div class=\"{class}\">{}</div>", esc(&shown)));
        match class {
            "del" => dels.push(rest.to_string()),
            "ins" => ins.push(rest.to_string()),
            other => {
                flush(&mut rows, &mut dels, &mut ins);
                rows.push(if other == "hunk" {
                    Side::Hunk(rest.to_string())
                } else {
                    Side::Same(rest.to_string())
                });
            }
        }
    }
    flush(&mut rows, &mut dels, &mut ins);
    inline.push_str("</div>");

    let mut side = String::from(
        "<table class=\"diff side\"><thead><tr><th>Before</th><th>After</th></tr></thead><tbody>",
    );
    for row in rows {
        match row {
            Side::Hunk(h) => side.push_str(&format!(
                "<tr><td class=\"hunk\" colspan=\"2\">{}</td></tr>",
                esc(&h)
            )),
            Side::Same(s) => {
                let s = esc(&s);
                side.push_str(&format!("<tr><td>{s}</td><td>{s}</td></tr>"));
            }
            Side::Pair(d, i) => {
                let cell = |v: Option<String>, class: &str| match v {
                    Some(v) => format!("<td class=\"{class}\">{}</td>", esc(&v)),
                    None => "<td></td>".to_string(),
                };
                side.push_str(&format!("<tr>{}{}</tr>", cell(d, "del"), cell(i, "ins")));
            }
        }
    }
    side.push_str("</tbody></table>");
    (side, inline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scraped_text_cannot_become_markup() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(safe_href("javascript:alert(1)"), None);
        assert!(safe_href("https://www.gov.uk/a?b=1&c=2")
            .unwrap()
            .contains("&amp;"));
    }

    #[test]
    fn side_by_side_pairs_removed_and_added_lines() {
        let (side, inline) = diff_views("@@ -1,2 +1,2 @@\n same\n-old <b>\n+new\n");
        assert!(side.contains("<td class=\"del\">old &lt;b&gt;</td><td class=\"ins\">new</td>"));
        assert!(inline.contains("<div class=\"ins\">+new</div>"));
    }
}
