//! The history browser's pages: plain HTML forms and links, no JavaScript.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use super::api::{self, DiffParams, PhraseParams};
use super::filter::{self, FilterParams};
use super::html::{diff_views, esc, page, qv, safe_href, time};
use super::{blocking, svg, Shared, WebError};
use crate::store::ChangeRecord;

type PageResult = std::result::Result<Html<String>, WebError>;

fn select(name: &str, label: &str, current: Option<&str>, choices: &[String]) -> String {
    let mut s = format!("<label>{label}<select name=\"{name}\"><option value=\"\">any</option>");
    for c in choices {
        let sel = if current == Some(c.as_str()) {
            " selected"
        } else {
            ""
        };
        s.push_str(&format!("<option{sel}>{}</option>", esc(c)));
    }
    s.push_str("</select></label>");
    s
}

fn input(name: &str, label: &str, kind: &str, value: Option<&str>) -> String {
    format!(
        "<label>{label}<input type=\"{kind}\" name=\"{name}\" value=\"{}\" maxlength=\"200\"></label>",
        esc(value.unwrap_or(""))
    )
}

/// The rows of a list of changes.
fn change_rows(records: &[ChangeRecord]) -> String {
    let mut s = String::from(
        "<table class=\"changes\"><thead><tr><th>#</th><th>Detected</th><th>Watchlist</th>\
         <th>Watch</th><th>Event</th><th>What changed</th></tr></thead><tbody>",
    );
    for r in records {
        let a = &r.alert;
        let severity = format!("{:?}", a.severity).to_lowercase();
        s.push_str(&format!(
            "<tr class=\"change {severity}\"><td><a href=\"/changes/{id}\">{id}</a></td><td>{}</td>\
             <td>{}</td><td><a href=\"/watches/{}\">{}</a></td><td class=\"event\">{}</td>\
             <td><a class=\"title\" href=\"/changes/{id}\">{}</a><br><span class=\"summary\">{}</span></td></tr>",
            time(a.detected_at),
            esc(&a.watchlist),
            qv(&a.watch),
            esc(&a.watch),
            esc(&a.event.to_string()),
            esc(&a.title),
            esc(&a.summary),
            id = a.id,
        ));
    }
    s.push_str("</tbody></table>");
    if records.is_empty() {
        s.push_str("<p class=\"empty\">No changes match.</p>");
    }
    s
}

pub async fn timeline(State(st): State<Shared>, Query(params): Query<FilterParams>) -> PageResult {
    blocking(&st, move |st| {
        let (f, page_) = api::changes_page(st, &params, filter::PAGE)?;
        let index = st.index.lock().unwrap_or_else(|e| e.into_inner());
        let names = |set: &std::collections::BTreeSet<std::sync::Arc<str>>| -> Vec<String> {
            set.iter().map(|s| s.to_string()).collect()
        };
        let chart = svg::weekly_chart(&index.rows, |r| f.charts(r), st.live.engine().clock.now());
        let mut body = String::new();
        // Quiet records (versions stored without an alert) only when asked, as `history --all`.
        let quiet_box = format!(
            "<label><input type=\"checkbox\" name=\"all\" value=\"1\"{}> Quiet records too \
             (versions stored without an alert)</label>",
            if f.all { " checked" } else { "" }
        );
        body.push_str(&format!(
            "<form class=\"filters\" method=\"get\" action=\"/\">{}{}{}{}{}{}{}{}{}\
             <button type=\"submit\">Filter</button> <a href=\"/\">Clear</a></form>",
            select(
                "watchlist",
                "Watchlist",
                f.watchlist.as_deref(),
                &names(&index.watchlists)
            ),
            select("watch", "Watch", f.watch.as_deref(), &names(&index.watches)),
            select("event", "Event", f.event.as_deref(), &names(&index.events)),
            select(
                "severity",
                "Severity at least",
                params.severity.as_deref(),
                &["info".into(), "notice".into(), "major".into()]
            ),
            input("keyword", "Keyword", "text", params.keyword.as_deref()),
            input("since", "From", "date", params.since.as_deref()),
            input("until", "To", "date", params.until.as_deref()),
            input("q", "Text", "search", params.q.as_deref()),
            quiet_box,
        ));
        drop(index);
        body.push_str(&format!(
            "<figure class=\"chart\">{chart}<figcaption>{}</figcaption></figure>",
            esc(&f.chart_caption())
        ));
        let mut download = params.clone();
        download.before = None;
        download.limit = Some(filter::MAX_LIMIT.to_string());
        let dq = api::filter_query(&download);
        body.push_str(&format!(
            "<p class=\"downloads\">Download this view: <a href=\"/changes.csv?{q}\">CSV</a> · \
             <a href=\"/api/v1/changes?{q}\">JSON</a>{feed}</p>",
            q = esc(&dq),
            feed = f
                .watchlist
                .as_deref()
                .map(|w| format!(" · <a href=\"/feeds/{}.atom\">Atom feed</a>", qv(w)))
                .unwrap_or_default()
        ));
        body.push_str(&change_rows(&page_.records));
        if let Some(b) = page_.next_before {
            let mut next = params.clone();
            next.before = Some(b.to_string());
            body.push_str(&format!(
                "<nav class=\"pager\"><a rel=\"next\" href=\"/?{}\">Older changes →</a></nav>",
                esc(&api::filter_query(&next))
            ));
        }
        Ok(page("Timeline", "timeline", &body))
    })
    .await
}

pub async fn timeline_csv(
    State(st): State<Shared>,
    Query(params): Query<FilterParams>,
) -> std::result::Result<Response, WebError> {
    blocking(&st, move |st| {
        let (_, page_) = api::changes_page(st, &params, filter::MAX_LIMIT)?;
        let mut bytes = Vec::new();
        crate::store::history_csv::write(&mut bytes, &page_.records)?;
        Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"policywatch-changes.csv\"",
                ),
            ],
            bytes,
        )
            .into_response())
    })
    .await
}

pub async fn change(State(st): State<Shared>, Path(id): Path<String>) -> PageResult {
    blocking(&st, move |st| {
        let r = api::find_change(st, &id)?;
        let a = &r.alert;
        let mut body = String::new();
        let link = safe_href(&a.url)
            .map(|h| format!("<a class=\"source\" href=\"{h}\" rel=\"noreferrer noopener\">{}</a>", esc(&a.url)))
            .unwrap_or_else(|| esc(&a.url));
        body.push_str(&format!(
            "<p class=\"summary\"><strong>{}</strong></p><dl>\
             <dt>Event</dt><dd class=\"event\">{}</dd><dt>Severity</dt><dd>{:?}</dd>\
             <dt>Watch</dt><dd><a href=\"/watches/{}\">{}</a> in {}</dd>\
             <dt>Source</dt><dd>{link}</dd><dt>Detected</dt><dd>{}</dd><dt>Delivered</dt><dd>{}</dd></dl>",
            esc(&a.summary),
            esc(&a.event.to_string()),
            a.severity,
            qv(&a.watch),
            esc(&a.watch),
            esc(&a.watchlist),
            time(a.detected_at),
            r.delivered_at.map_or("not yet".to_string(), time),
        ));
        if !r.reviews.is_empty() {
            body.push_str("<h2>Triage</h2><ul class=\"reviews\">");
            for m in &r.reviews {
                body.push_str(&format!("<li>{}</li>", esc(&crate::store::review_line(m))));
            }
            body.push_str("</ul>");
        }
        if !a.annotations.is_empty() {
            body.push_str("<h2>Annotations</h2><ul class=\"notes\">");
            for n in &a.annotations {
                body.push_str(&format!("<li>{}</li>", esc(n)));
            }
            body.push_str("</ul>");
        }
        if !a.keywords.is_empty() {
            body.push_str("<h2>Keywords</h2><p class=\"keywords\">");
            for k in &a.keywords {
                body.push_str(&format!("<span class=\"kw\">{}</span>", esc(k)));
            }
            body.push_str("</p>");
        }
        if !r.full_diff.is_empty() {
            let (side, inline) = diff_views(&r.full_diff);
            let versions = match (a.from_version, a.to_version) {
                (Some(f), Some(t)) => format!(
                    " (<a href=\"/watches/{}?from={f}&amp;to={t}#diff\">versions {f} → {t}</a>)",
                    qv(&a.watch)
                ),
                _ => String::new(),
            };
            body.push_str(&format!(
                "<h2>Diff{versions}</h2><section id=\"side-by-side\"><h3>Side by side</h3>{side}</section>\
                 <section id=\"inline\"><h3>Inline</h3>{inline}</section>"
            ));
        }
        Ok(page(&format!("#{} {}", a.id, a.title), "timeline", &body))
    })
    .await
}

fn t(v: Option<chrono::DateTime<chrono::Utc>>) -> String {
    v.map_or("never".into(), time)
}

pub async fn watches(State(st): State<Shared>) -> PageResult {
    blocking(&st, |st| {
        let mut body = String::from(
            "<table class=\"watches\"><thead><tr><th>Watch</th><th>Kind</th><th>Watchlist</th>\
             <th>Follows</th><th>Versions</th><th>Last check</th><th>Health</th></tr></thead><tbody>",
        );
        for w in api::watch_infos(st)? {
            let s = &w.status;
            body.push_str(&format!(
                "<tr><td><a href=\"/watches/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                qv(&s.watch),
                esc(&s.watch),
                esc(&s.kind),
                esc(&s.watchlist),
                esc(&w.follows),
                s.versions,
                t(s.last_check),
                health(s),
            ));
        }
        body.push_str("</tbody></table>");
        Ok(page("Watches", "watches", &body))
    })
    .await
}

fn health(s: &crate::status::WatchStatus) -> String {
    match (&s.last_error, s.consecutive_failures) {
        (Some(e), n) if n > 0 => format!(
            "<span class=\"error\">failing ({n} in a row): {}</span>",
            esc(e)
        ),
        _ if s.last_check.is_none() => "not checked yet".into(),
        _ => "ok".into(),
    }
}

pub async fn watch(
    State(st): State<Shared>,
    Path(id): Path<String>,
    Query(dp): Query<DiffParams>,
) -> PageResult {
    blocking(&st, move |st| {
        let info = api::watch_info(st, &id)?;
        let versions = api::versions_of(st, &id)?;
        let s = &info.status;
        let follows = match info.url.as_deref().and_then(safe_href) {
            Some(h) => format!("<a href=\"{h}\" rel=\"noreferrer noopener\">{}</a>", esc(&info.follows)),
            None => esc(&info.follows),
        };
        let mut body = format!(
            "<dl class=\"health\"><dt>Kind</dt><dd>{}</dd><dt>Watchlist</dt><dd>{}</dd>\
             <dt>Follows</dt><dd>{follows}</dd><dt>Last check</dt><dd>{}</dd><dt>Last change</dt><dd>{}</dd>\
             <dt>Health</dt><dd>{}</dd><dt>Last error</dt><dd>{}</dd><dt>Next run</dt><dd>{}</dd></dl>\
             <p><a href=\"/?watch={q}\">Changes of this watch</a> · <a href=\"/feeds/watch/{q}.atom\">Atom feed</a> · \
             <a href=\"/phrase?watch={q}\">Phrase history</a></p>",
            esc(&s.kind),
            esc(&s.watchlist),
            t(s.last_check),
            t(s.last_change),
            health(s),
            s.last_error.as_deref().map_or("none".into(), esc),
            t(s.next_run),
            q = qv(&s.watch),
        );
        if s.kind == "bill" {
            if let Some(last) = versions.last() {
                let v = st.live.engine().store.version(&s.watch, last.seq)?;
                if let Some(track) = v.and_then(|v| svg::stage_track(&v.document.fields)) {
                    body.push_str(&format!("<h2>The bill's journey</h2><figure class=\"stages\">{track}</figure>"));
                }
            }
        }
        body.push_str(&format!("<h2>Versions ({})</h2>", versions.len()));
        body.push_str("<table class=\"versions\"><thead><tr><th>Version</th><th>Fetched</th><th>Hash</th><th>Title</th><th>Text</th></tr></thead><tbody>");
        for v in versions.iter().rev() {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td><code title=\"{}\">{}</code></td><td>{}</td><td>{} bytes</td></tr>",
                v.seq,
                time(v.fetched_at),
                esc(&v.hash),
                esc(v.hash.get(..12).unwrap_or(&v.hash)),
                esc(&v.title),
                v.text_bytes
            ));
        }
        body.push_str("</tbody></table>");
        if versions.len() >= 2 {
            let d = api::version_diff(st, &id, &dp)?;
            let options = |chosen: u64| {
                versions
                    .iter()
                    .map(|v| {
                        let sel = if v.seq == chosen { " selected" } else { "" };
                        format!("<option value=\"{0}\"{sel}>v{0} ({1})</option>", v.seq, v.fetched_at.format("%Y-%m-%d %H:%M UTC"))
                    })
                    .collect::<String>()
            };
            body.push_str(&format!(
                "<h2 id=\"diff\">Compare versions</h2><form class=\"filters\" method=\"get\" action=\"/watches/{}#diff\">\
                 <label>From<select name=\"from\">{}</select></label><label>To<select name=\"to\">{}</select></label>\
                 <button type=\"submit\">Compare</button></form>",
                qv(&s.watch),
                options(d.from.seq),
                options(d.to.seq),
            ));
            body.push_str(&format!(
                "<p class=\"diff-summary\">v{} → v{}: {}</p>",
                d.from.seq,
                d.to.seq,
                if d.changes.is_empty() { "no text differences".to_string() } else { esc(&d.changes.summary()) }
            ));
            if !d.changes.is_empty() {
                let (side, inline) = diff_views(&d.changes.unified);
                body.push_str(&format!(
                    "<section id=\"side-by-side\"><h3>Side by side</h3>{side}</section>\
                     <section id=\"inline\"><h3>Inline</h3>{inline}</section>"
                ));
            }
        }
        Ok(page(&format!("Watch {}", s.watch), "watches", &body))
    })
    .await
}

pub async fn phrase(State(st): State<Shared>, Query(p): Query<PhraseParams>) -> PageResult {
    blocking(&st, move |st| {
        let watches: Vec<String> = st
            .live
            .engine()
            .all_watches()?
            .iter()
            .map(|w| w.id.clone())
            .collect();
        let mut body = format!(
            "<p>The versions in which a phrase first appeared, and those in which it disappeared \
             (case and line breaks ignored).</p><form class=\"filters\" method=\"get\" action=\"/phrase\">{}{}\
             <button type=\"submit\">Search</button></form>",
            input("q", "Phrase", "search", p.q.as_deref()),
            select("watch", "Watch", p.watch.as_deref(), &watches),
        );
        if p.q.as_deref().is_some_and(|q| !q.trim().is_empty()) {
            let changes = api::phrase_changes(st, &p)?;
            if changes.is_empty() {
                body.push_str("<p class=\"empty\">The phrase is in no stored version.</p>");
            } else {
                body.push_str("<table class=\"phrase\"><thead><tr><th>Watch</th><th>Version</th><th>Fetched</th><th></th><th>Context</th></tr></thead><tbody>");
                for c in &changes {
                    let diff = format!(
                        "/watches/{}?from={}&amp;to={}#diff",
                        qv(&c.watch),
                        c.seq.saturating_sub(1).max(1),
                        c.seq
                    );
                    body.push_str(&format!(
                        "<tr class=\"{kind}\"><td><a href=\"/watches/{}\">{}</a></td><td><a href=\"{diff}\">v{}</a></td><td>{}</td><td class=\"kind\">{kind}</td><td>{}</td></tr>",
                        qv(&c.watch),
                        esc(&c.watch),
                        c.seq,
                        time(c.fetched_at),
                        esc(&c.context),
                        kind = c.kind(),
                    ));
                }
                body.push_str("</tbody></table>");
            }
        }
        Ok(page("Phrase history", "phrase", &body))
    })
    .await
}

pub async fn status(State(st): State<Shared>) -> PageResult {
    blocking(&st, |st| {
        let report = st.live.status()?;
        let mut body = String::new();
        if !report.watchlist_problems.is_empty() {
            body.push_str("<section class=\"problems\"><h2>Watchlist edit not loaded</h2><p>The daemon keeps running the previous watchlists until these are fixed:</p><ul>");
            for p in &report.watchlist_problems {
                body.push_str(&format!("<li><code>{}</code></li>", esc(p)));
            }
            body.push_str("</ul></section>");
        }
        body.push_str(&format!(
            "<p>Report of {}. Outbox: <a href=\"/outbox\">{} queued, {} dead</a>.</p>",
            time(report.generated_at),
            report.queued,
            report.dead
        ));
        if let Some(h) = &report.delivery_halt {
            body.push_str(&format!(
                "<p class=\"error\">Delivery STOPPED since {}: {}</p>",
                time(h.since),
                esc(&h.reason)
            ));
        }
        body.push_str("<table class=\"status\"><thead><tr><th>Watch</th><th>Kind</th><th>Health</th><th>Last check</th><th>Last change</th><th>Next run</th><th>Versions</th></tr></thead><tbody>");
        for s in &report.watches {
            body.push_str(&format!(
                "<tr><td><a href=\"/watches/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                qv(&s.watch),
                esc(&s.watch),
                esc(&s.kind),
                health(s),
                t(s.last_check),
                t(s.last_change),
                t(s.next_run),
                s.versions
            ));
        }
        body.push_str("</tbody></table>");
        Ok(page("Status", "status", &body))
    })
    .await
}

pub async fn outbox(State(st): State<Shared>) -> PageResult {
    blocking(&st, |st| {
        let rows = api::outbox_rows(st)?;
        let mut body = String::new();
        if rows.is_empty() {
            body.push_str("<p class=\"empty\">The outbox is empty: every alert was delivered.</p>");
        } else {
            body.push_str("<table class=\"outbox\"><thead><tr><th>#</th><th>State</th><th>Attempts</th><th>Alert</th><th>Reason</th></tr></thead><tbody>");
            for r in &rows {
                body.push_str(&format!(
                    "<tr><td><a href=\"/changes/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{} {}: {}</td><td>{}</td></tr>",
                    r.state,
                    r.entry.attempts,
                    esc(r.watch.as_deref().unwrap_or("")),
                    esc(r.event.as_deref().unwrap_or("")),
                    esc(r.summary.as_deref().unwrap_or("")),
                    esc(r.entry.dead.as_deref().or(r.entry.last_error.as_deref()).unwrap_or("")),
                    id = r.entry.id,
                ));
            }
            body.push_str("</tbody></table><p class=\"muted\">Retry or drop with <code>policywatch outbox retry ID</code> / <code>outbox drop ID</code>.</p>");
        }
        Ok(page("Outbox", "outbox", &body))
    })
    .await
}

pub async fn not_found() -> WebError {
    WebError::not_found("There is no such page.")
}
