//! Pictures drawn on the server as inline SVG (no scripts, no external files): a bill's
//! journey through Parliament, and changes per week per watchlist.

use chrono::{DateTime, Datelike, Duration, Utc};
use serde_json::Value;

use super::filter::Row;
use super::html::esc;

const PALETTE: [&str; 8] = [
    "#1d3557", "#e76f51", "#2a9d8f", "#e9c46a", "#6d597a", "#457b9d", "#f4a261", "#8ab17d",
];

/// Stacked bars: changes per week (Monday to Sunday, UTC) for the last 12 weeks, a colour
/// per watchlist, with a legend. Only the rows `counted` lets through are counted.
pub fn weekly_chart(rows: &[Row], counted: impl Fn(&Row) -> bool, now: DateTime<Utc>) -> String {
    const WEEKS: i64 = 12;
    let today = now.date_naive();
    let this_monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let first = this_monday - Duration::weeks(WEEKS - 1);
    let mut lists: Vec<String> = Vec::new();
    let mut counts: Vec<Vec<usize>> = Vec::new(); // [list][week]
    for r in rows.iter().rev() {
        let day = r.at.date_naive();
        if day < first {
            break;
        }
        let week = ((day - first).num_days() / 7) as usize;
        if week >= WEEKS as usize || !counted(r) {
            continue;
        }
        let i = match lists.iter().position(|l| **l == *r.watchlist) {
            Some(i) => i,
            None => {
                lists.push(r.watchlist.to_string());
                counts.push(vec![0; WEEKS as usize]);
                lists.len() - 1
            }
        };
        counts[i][week] += 1;
    }
    let totals: Vec<usize> = (0..WEEKS as usize)
        .map(|w| counts.iter().map(|c| c[w]).sum())
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1);
    let (w, h, left, bottom, bar) = (640.0, 170.0, 30.0, 30.0, 40.0);
    let plot = h - bottom - 10.0;
    let mut s = format!(
        "<svg class=\"weekly\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {}\" role=\"img\" \
         aria-label=\"Changes per week by watchlist\"><line x1=\"{left}\" y1=\"{}\" x2=\"{w}\" y2=\"{}\" stroke=\"#999\"/>\
         <text x=\"2\" y=\"16\" font-size=\"11\">{max}</text>",
        h + 20.0 + 16.0 * lists.len() as f64,
        h - bottom,
        h - bottom
    );
    for week in 0..WEEKS as usize {
        let x = left + 5.0 + week as f64 * (bar + 9.0);
        let mut y = h - bottom;
        for (i, c) in counts.iter().enumerate() {
            if c[week] == 0 {
                continue;
            }
            let bh = plot * c[week] as f64 / max as f64;
            y -= bh;
            s.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar}\" height=\"{bh:.1}\" fill=\"{}\"><title>{}: {} in the week of {}</title></rect>",
                PALETTE[i % PALETTE.len()],
                esc(&lists[i]),
                c[week],
                first + Duration::weeks(week as i64)
            ));
        }
        if totals[week] > 0 {
            s.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
                x + bar / 2.0,
                y - 3.0,
                totals[week]
            ));
        }
        let monday = first + Duration::weeks(week as i64);
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            x + bar / 2.0,
            h - bottom + 14.0,
            monday.format("%d %b")
        ));
    }
    for (i, l) in lists.iter().enumerate() {
        let y = h + 8.0 + 16.0 * i as f64;
        s.push_str(&format!(
            "<rect x=\"{left}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>",
            PALETTE[i % PALETTE.len()],
            left + 18.0,
            y + 10.0,
            esc(l)
        ));
    }
    s.push_str("</svg>");
    s
}

/// The stages a bill goes through in each House, in order.
const STAGES: [&str; 5] = [
    "1st reading",
    "2nd reading",
    "Committee stage",
    "Report stage",
    "3rd reading",
];

/// A bill's journey from its stored snapshot (`Document.fields` of a `bill` watch): each
/// House's stages in order, the dates of those passed, the current one marked, Royal Assent
/// at the end. `None` when the fields are not a bill's.
pub fn stage_track(fields: &Value) -> Option<String> {
    let stages = fields.get("stages")?.as_array()?;
    let origin = fields
        .get("originating_house")
        .and_then(Value::as_str)
        .unwrap_or("Commons");
    let other = if origin == "Lords" {
        "Commons"
    } else {
        "Lords"
    };
    let is_act = fields
        .get("is_act")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut track: Vec<(String, &str)> = Vec::new(); // (stage, house)
    for house in [origin, other] {
        for s in STAGES {
            track.push((s.to_string(), house));
        }
    }
    track.push(("Royal Assent".to_string(), ""));

    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let position = |desc: &str, house: Option<&str>| {
        track
            .iter()
            .position(|(s, h)| same(s, desc) && (h.is_empty() || house.is_none_or(|x| same(x, h))))
    };
    // The latest sitting date of each stage reached.
    let mut dates: Vec<Option<String>> = vec![None; track.len()];
    for st in stages {
        let desc = st.get("description").and_then(Value::as_str).unwrap_or("");
        let house = st.get("house").and_then(Value::as_str);
        if let Some(i) = position(desc, house) {
            let last = st
                .get("sittings")
                .and_then(Value::as_array)
                .and_then(|s| s.iter().filter_map(|x| x.get("date")?.as_str()).max())
                .map(str::to_string);
            dates[i] = last.or(dates[i].take());
        }
    }
    let current = fields.get("current_stage").and_then(|c| {
        position(
            c.get("description")?.as_str()?,
            c.get("house").and_then(Value::as_str),
        )
    });
    let current = if is_act {
        Some(track.len() - 1)
    } else {
        current.or_else(|| dates.iter().rposition(Option::is_some))
    };

    let step = 86.0;
    let width = 20.0 + step * track.len() as f64;
    let mut s = format!(
        "<svg class=\"stage-track\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} 150\" role=\"img\" aria-label=\"The bill's stages\">"
    );
    for (label, x) in [(origin, 10.0), (other, 10.0 + step * 5.0)] {
        s.push_str(&format!(
            "<text x=\"{x}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">{}</text>",
            esc(label)
        ));
    }
    let y = 50.0;
    s.push_str(&format!(
        "<line x1=\"30\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#bbb\" stroke-width=\"4\"/>",
        width - 30.0
    ));
    for (i, (name, _)) in track.iter().enumerate() {
        let x = 30.0 + step * i as f64;
        let state = match current {
            Some(c) if i < c => "passed",
            Some(c) if i == c => "current",
            _ => "future",
        };
        let (fill, r) = match state {
            "passed" => ("#2a9d8f", 9.0),
            "current" => ("#e76f51", 13.0),
            _ => ("#ffffff", 9.0),
        };
        s.push_str(&format!(
            "<g class=\"stage {state}\"{}><circle cx=\"{x}\" cy=\"{y}\" r=\"{r}\" fill=\"{fill}\" stroke=\"#555\" stroke-width=\"2\"/>\
             <text x=\"{x}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            if state == "current" { " aria-current=\"step\"" } else { "" },
            y + 30.0,
            esc(name),
        ));
        if let Some(d) = &dates[i] {
            s.push_str(&format!(
                "<text class=\"date\" x=\"{x}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
                y + 44.0,
                esc(d)
            ));
        }
        if state == "current" {
            s.push_str(&format!(
                "<text class=\"marker\" x=\"{x}\" y=\"{}\" font-size=\"11\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"#e76f51\">now</text>",
                y - 18.0
            ));
        }
        s.push_str("</g>");
    }
    s.push_str("</svg>");
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_stage_is_marked_and_earlier_ones_passed() {
        let fields = serde_json::json!({
            "originating_house": "Commons",
            "current_stage": {"description": "Committee stage", "house": "Commons"},
            "stages": [{"description": "Committee stage", "house": "Commons", "sittings": [{"date": "2024-03-13"}]}],
            "is_act": false
        });
        let svg = stage_track(&fields).unwrap();
        assert_eq!(svg.matches("class=\"stage passed\"").count(), 2);
        assert!(svg.contains("aria-current=\"step\""));
        assert!(svg.contains("2024-03-13"));
        assert!(svg.contains("Royal Assent"));
    }
}
