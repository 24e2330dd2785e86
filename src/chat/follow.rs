//! What `/follow` may follow, resolved against the configured `[sources]` with the source
//! kinds' own API code: a bill id, Bills site URL or title words (the Bills API search);
//! a GOV.UK path or URL; a free URL only on a host listed in `[discord] follow_hosts`.
//! Anything else is refused before any request is made: a chat command must not become a
//! way to make the daemon fetch arbitrary hosts.

use url::Url;

use super::{quote, Choice, FollowKind};
use crate::config::ChatSettings;
use crate::cycle::Engine;
use crate::data::FollowTarget;
use crate::error::Result;
use crate::source::bill::api;
use crate::source::bill_search::BillQuery;
use crate::source::Context;
use crate::watchlist::KindTarget;

/// Longest text `/follow` takes (a title search or a URL).
const WHAT_MAX: usize = 300;
/// Bills offered to choose from at most (Discord's select menu takes 25).
const CHOICES_MAX: usize = 25;

/// What `/follow` resolved to.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    /// One thing to follow, and a line about it (e.g. its current stage).
    One { target: FollowTarget, about: String },
    /// Several bills match: the member chooses.
    Several(Vec<Choice>),
    /// Not followable, and why (polite, escaped).
    Refused(String),
}

/// The name of the watchlist whose alerts go to `channel`: the one that names the channel,
/// else, when the channel is `[discord] channel`, the first that names none.
pub fn watchlist_for(engine: &Engine, channel: u64) -> Option<String> {
    let lists = &engine.watchlists.lists;
    lists
        .iter()
        .find(|l| l.channel == Some(channel))
        .or_else(|| {
            (engine.config.discord.default_channel == Some(channel))
                .then(|| lists.iter().find(|l| l.channel.is_none()))
                .flatten()
        })
        .map(|l| l.name.clone())
}

/// Resolves what a member typed after `/follow <kind>`.
pub async fn resolve(
    engine: &Engine,
    settings: &ChatSettings,
    kind: FollowKind,
    what: &str,
) -> Result<Resolved> {
    let what = what.trim();
    if what.is_empty() {
        return Ok(Resolved::Refused("Tell me what to follow.".into()));
    }
    if what.chars().count() > WHAT_MAX || what.chars().any(char::is_control) {
        return Ok(Resolved::Refused(format!(
            "That is not something I can follow (at most {WHAT_MAX} characters, one line)."
        )));
    }
    match kind {
        FollowKind::Bill => bill(engine, what).await,
        FollowKind::Guidance => Ok(guidance(what)),
        FollowKind::Question => question(engine, what).await,
        FollowKind::Page => Ok(page(settings, what)),
    }
}

fn context(engine: &Engine) -> Context {
    Context {
        fetcher: engine.fetcher.clone(),
        config: engine.config.clone(),
        now: engine.clock.now(),
    }
}

/// A bill id from `3548`, `#3548` or a Bills site URL (`…/bills/3548`, any page under it).
fn bill_id(engine: &Engine, what: &str) -> Option<u32> {
    let digits = what.trim_start_matches('#');
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        return digits.parse().ok();
    }
    let url = Url::parse(what).ok()?;
    let site = engine.config.sources.url(&api::BILLS_SITE);
    if url.host_str()? != site.host_str()? {
        return None;
    }
    let mut parts = url.path_segments()?;
    (parts.next()? == "bills").then_some(())?;
    parts.next()?.parse().ok()
}

/// "Commons: 2nd reading" for a summary's current stage.
fn stage_of(b: &api::BillSummary) -> String {
    match &b.current_stage {
        Some(s) => match (&s.house, &s.description) {
            (Some(h), Some(d)) => format!("{h}: {d}"),
            (None, Some(d)) => d.clone(),
            _ => "stage not given".into(),
        },
        None => "stage not given".into(),
    }
}

fn bill_target(b: &api::BillSummary) -> FollowTarget {
    FollowTarget {
        id: format!("bill-{}", b.bill_id),
        kind: <crate::source::bill::Bill as KindTarget>::KIND.into(),
        target: b.bill_id.to_string(),
        title: b.short_title.clone().unwrap_or_default(),
    }
}

fn one_bill(b: &api::BillSummary) -> Resolved {
    Resolved::One {
        target: bill_target(b),
        about: format!(
            "**{}**, now at {}",
            quote(b.short_title.as_deref().unwrap_or("untitled bill"), 200),
            quote(&stage_of(b), 200)
        ),
    }
}

async fn bill(engine: &Engine, what: &str) -> Result<Resolved> {
    let ctx = context(engine);
    if let Some(id) = bill_id(engine, what) {
        let found = api::summaries(&ctx, &[id]).await?;
        return Ok(match found.iter().find(|b| b.bill_id == id) {
            Some(b) => one_bill(b),
            None => Resolved::Refused(format!("There is no bill {id} on the Bills API.")),
        });
    }
    if what.contains("://") {
        return Ok(Resolved::Refused(
            "That link is not a bill on the Bills site; give the bill's number or its title."
                .into(),
        ));
    }
    // Title words: one page of the Bills API search is plenty to choose from.
    let query = BillQuery {
        term: Some(what.to_string()),
        ..BillQuery::default()
    };
    let url = api::search_url(&ctx.base(&api::BILLS_API), &query, 0)?;
    let page: api::SearchResult<api::BillSummary> = api::get_json(&ctx, &url).await?;
    Ok(match page.items.as_slice() {
        [] => Resolved::Refused(format!("No bill matches “{}”.", quote(what, 200))),
        [b] => one_bill(b),
        many => Resolved::Several(
            many.iter()
                .take(CHOICES_MAX)
                .map(|b| Choice {
                    value: b.bill_id.to_string(),
                    // Plain text in a select menu: no markdown, 100 characters at most.
                    label: cut(b.short_title.as_deref().unwrap_or("untitled bill"), 100),
                    description: cut(&format!("bill {} · {}", b.bill_id, stage_of(b)), 100),
                })
                .collect(),
        ),
    })
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// A written question by id (`1738745`) or UIN (`12348`, `HL1234`), looked up on the
/// Written Questions API (`[sources] questions_statements`) and followed by its id.
async fn question(engine: &Engine, what: &str) -> Result<Resolved> {
    use crate::source::written_questions::{look_up, QuestionRef};
    let what = what.trim_start_matches('#');
    // Question ids run to seven digits and more; Commons UINs are shorter numbers, Lords
    // UINs start with `HL`.
    let q = if what.len() >= 7 && what.chars().all(|c| c.is_ascii_digit()) {
        match what.parse() {
            Ok(id) => QuestionRef::Id(id),
            Err(_) => return Ok(Resolved::Refused("That question id is too long.".into())),
        }
    } else {
        let letters = what.chars().take_while(char::is_ascii_alphabetic).count();
        let digits = &what[letters..];
        if letters > 4
            || digits.is_empty()
            || digits.len() > 7
            || !digits.chars().all(|c| c.is_ascii_digit())
        {
            return Ok(Resolved::Refused(format!(
                "`{}` is not a written question id or UIN (e.g. `1738745` or `HL1234`).",
                quote(what, 100)
            )));
        }
        QuestionRef::Uin(what.to_ascii_uppercase())
    };
    let (id, about) = look_up(&context(engine), &q).await?;
    Ok(Resolved::One {
        target: FollowTarget {
            id: format!("question-{id}"),
            kind: "written_questions".into(),
            target: id.to_string(),
            title: about.clone(),
        },
        about: quote(&about, 400),
    })
}

/// A GOV.UK path (`/guidance/…`) or page URL on www.gov.uk.
fn guidance(what: &str) -> Resolved {
    let path = match Url::parse(what) {
        Ok(u) if matches!(u.host_str(), Some("www.gov.uk" | "gov.uk")) => u.path().to_string(),
        Ok(_) => {
            return Resolved::Refused(
                "`/follow guidance` takes a GOV.UK path or a www.gov.uk link.".into(),
            )
        }
        Err(_) => what.to_string(),
    };
    let ok = path.starts_with('/')
        && path.len() > 1
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'));
    if !ok {
        return Resolved::Refused(format!(
            "`{}` is not a GOV.UK path (it starts with `/`, e.g. `/guidance/…`).",
            quote(&path, 200)
        ));
    }
    Resolved::One {
        target: FollowTarget {
            id: format!("govuk-{}", crate::source::govuk_search::slug(&path)),
            kind: "govuk".into(),
            target: path.clone(),
            title: path.clone(),
        },
        about: format!(
            "GOV.UK `{}`; its first check records a baseline",
            quote(&path, 200)
        ),
    }
}

/// A free URL, only on a host in `[discord] follow_hosts` (exactly, or a subdomain of it).
/// Decided on the text alone: nothing is fetched or resolved for a refused URL.
fn page(settings: &ChatSettings, what: &str) -> Resolved {
    let Ok(url) = Url::parse(what) else {
        return Resolved::Refused("`/follow page` takes a full http(s) link.".into());
    };
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let allowed = matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none()
        && matches!(url.host(), Some(url::Host::Domain(_)))
        && settings
            .follow_hosts
            .iter()
            .any(|h| host == *h || host.ends_with(&format!(".{h}")));
    if !allowed {
        let hosts = if settings.follow_hosts.is_empty() {
            "none are allowed".to_string()
        } else {
            settings.follow_hosts.join(", ")
        };
        return Resolved::Refused(format!(
            "Sorry, I only follow pages on the hosts this policywatch allows \
             (`[discord] follow_hosts`: {}). Ask whoever runs it to add the host, or to add \
             the page to a watchlist.",
            quote(&hosts, 500)
        ));
    }
    let key = format!("{}{}", host, url.path());
    Resolved::One {
        target: FollowTarget {
            id: format!("page-{}", crate::source::govuk_search::slug(&key)),
            kind: "page".into(),
            target: url.to_string(),
            title: url.to_string(),
        },
        about: format!("the page {}; its first check records a baseline", url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(hosts: &[&str]) -> ChatSettings {
        ChatSettings {
            follow_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            ..ChatSettings::default()
        }
    }

    #[test]
    fn free_urls_only_on_allowed_hosts() {
        let s = settings(&["ico.org.uk"]);
        for refused in [
            "http://169.254.169.254/",
            "http://127.0.0.1/",
            "http://[::1]/",
            "file:///etc/passwd",
            "https://evil.example/",
            "https://ico.org.uk.evil.example/",
            "https://user:pw@ico.org.uk/",
            "not a url",
        ] {
            assert!(
                matches!(page(&s, refused), Resolved::Refused(_)),
                "{refused}"
            );
        }
        for ok in ["https://ico.org.uk/news/", "https://www.ico.org.uk/a"] {
            assert!(matches!(page(&s, ok), Resolved::One { .. }), "{ok}");
        }
        assert!(matches!(
            page(&settings(&[]), "https://ico.org.uk/"),
            Resolved::Refused(_)
        ));
    }

    #[test]
    fn guidance_takes_paths_and_gov_uk_links() {
        match guidance("https://www.gov.uk/guidance/foo-bar") {
            Resolved::One { target, .. } => {
                assert_eq!(target.target, "/guidance/foo-bar");
                assert_eq!(target.id, "govuk-guidance-foo-bar");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            guidance("https://example.com/x"),
            Resolved::Refused(_)
        ));
        assert!(matches!(guidance("guidance"), Resolved::Refused(_)));
    }
}
