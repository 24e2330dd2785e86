//! Atom feeds: `/feeds/{watchlist}.atom` and `/feeds/watch/{watch}.atom`, the latest 50
//! changes, newest first.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};

use super::api;
use super::filter::FilterParams;
use super::html::esc;
use super::{blocking, watch_id, Shared, WebError};

const ENTRIES: usize = 50;

fn name_of(file: &str) -> std::result::Result<&str, WebError> {
    file.strip_suffix(".atom")
        .ok_or_else(|| WebError::not_found("feeds end in .atom"))
}

pub async fn watchlist_feed(
    State(st): State<Shared>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> std::result::Result<Response, WebError> {
    let list = watch_id(name_of(&file)?)
        .map_err(|_| WebError::not_found("no such watchlist"))?
        .to_string();
    feed(
        st,
        headers,
        FilterParams {
            watchlist: Some(list),
            ..FilterParams::default()
        },
    )
    .await
}

pub async fn watch_feed(
    State(st): State<Shared>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> std::result::Result<Response, WebError> {
    let watch = watch_id(name_of(&file)?)?.to_string();
    feed(
        st,
        headers,
        FilterParams {
            watch: Some(watch),
            ..FilterParams::default()
        },
    )
    .await
}

async fn feed(
    st: Shared,
    headers: HeaderMap,
    params: FilterParams,
) -> std::result::Result<Response, WebError> {
    // Entry links must be absolute; the host was checked by the access rule.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string();
    blocking(&st, move |st| {
        let engine = st.live.engine();
        let (what, name) = match (&params.watchlist, &params.watch) {
            (Some(l), _) => ("watchlist", l.clone()),
            (_, Some(w)) => ("watch", w.clone()),
            _ => return Err(WebError::not_found("no such feed")),
        };
        let (_, page) = api::changes_page(st, &params, ENTRIES)?;
        let known = match what {
            "watchlist" => engine.watchlists.lists.iter().any(|l| l.name == name),
            _ => engine.all_watches()?.iter().any(|w| w.id == name),
        };
        if !known && page.records.is_empty() {
            return Err(WebError::not_found(format!("no such {what} `{name}`")));
        }
        let base = format!("http://{}", esc(&host));
        let self_path = match what {
            "watchlist" => format!("/feeds/{name}.atom"),
            _ => format!("/feeds/watch/{name}.atom"),
        };
        let updated = page
            .records
            .first()
            .map_or(engine.clock.now(), |r| r.alert.detected_at);
        let mut x = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\
             <id>{base}{self_path}</id><title>policywatch: {what} {}</title><updated>{}</updated>\
             <link rel=\"self\" href=\"{base}{}\"/><link href=\"{base}/?{what}={}\"/><generator>policywatch</generator>\n",
            esc(&name),
            updated.to_rfc3339(),
            esc(&self_path),
            esc(&super::html::qv(&name)),
        );
        for r in &page.records {
            let a = &r.alert;
            let mut summary = a.summary.clone();
            for n in &a.annotations {
                summary.push_str("\n• ");
                summary.push_str(n);
            }
            x.push_str(&format!(
                "<entry><id>{base}/changes/{id}</id><title>[{}] {}</title><updated>{}</updated>\
                 <link href=\"{base}/changes/{id}\"/>{}<author><name>{}</name></author>\
                 <category term=\"{}\"/><summary type=\"text\">{}</summary></entry>\n",
                esc(&a.event.to_string()),
                esc(&a.title),
                a.detected_at.to_rfc3339(),
                super::html::safe_href(&a.url)
                    .map(|h| format!("<link rel=\"related\" href=\"{h}\"/>"))
                    .unwrap_or_default(),
                esc(&a.watch),
                esc(&a.event.to_string()),
                esc(&summary),
                id = a.id,
            ));
        }
        x.push_str("</feed>\n");
        Ok(([(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")], x).into_response())
    })
    .await
}
