//! Listing, comparison and follows on the hand-written Search API pages and the GDS-authored
//! Atom sample (tests/fixtures/govuk-search, govuk-atom; provenance in their PROVENANCE.md).

use super::*;
use crate::schedule::Schedule;
use crate::watchlist::TextFilter;

const SEARCH: &str = "search__home-office-modern-slavery-guidance";

fn site() -> Url {
    Url::parse("https://www.gov.uk/").unwrap()
}

fn read(dir: &str, name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{dir}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn results(name: &str) -> Vec<Match> {
    let json: Value =
        serde_json::from_slice(&read("govuk-search", &format!("{name}.json"))).unwrap();
    json["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| Match::from_result(r, &site()))
        .collect()
}

fn doc(listing: &Listing) -> Document {
    Document {
        title: "GOV.UK documents matching “modern slavery”, from home-office".into(),
        url: "https://www.gov.uk/search/all".into(),
        text: String::new(),
        fields: serde_json::to_value(listing).unwrap(),
    }
}

/// The listing after reading `page` in full, on top of `previous`.
fn listing(page: &str, previous: Option<&Listing>) -> Listing {
    merge(
        (results(page), true),
        Vec::new(),
        previous.cloned().unwrap_or_default(),
    )
}

fn watch(follow: bool) -> Watch {
    Watch {
        id: "ho-modern-slavery".into(),
        list: "home-office".into(),
        target: Target::new(GovukQuery {
            keywords: Some("modern slavery".into()),
            organisations: vec!["home-office".into()],
            ..GovukQuery::default()
        }),
        schedule: Schedule::parse("0 */30 * * * *").unwrap(),
        keywords: Vec::new(),
        channel: None,
        mentions: Vec::new(),
        filter: TextFilter::default(),
        follow,
        followed_from: None,
        origin: None,
        allow_redirects: vec![],
    }
}

#[test]
fn reads_search_results() {
    let m = &results(&format!("{SEARCH}__baseline"))[1];
    assert_eq!(m.link, "/government/publications/duty-to-notify-the-home-office-of-potential-victims-of-modern-slavery");
    assert_eq!(m.url, "https://www.gov.uk/government/publications/duty-to-notify-the-home-office-of-potential-victims-of-modern-slavery");
    assert_eq!(m.public_timestamp.as_deref(), Some("2024-06-11T08:00:00Z"));
    assert_eq!(m.format.as_deref(), Some("guidance"));
    assert_eq!(m.organisations, ["Home Office"]);
    assert_eq!(m.about(), "Guidance · Home Office · 11 June 2024, 9:00am");
}

#[test]
fn a_new_match_raises_exactly_one_new_document() {
    let before = listing(&format!("{SEARCH}__baseline"), None);
    let after = listing(&format!("{SEARCH}__new-result"), Some(&before));
    let ev = compare(&watch(false), &doc(&before), &doc(&after)).unwrap();
    assert_eq!(ev.len(), 1, "{ev:#?}");
    let e = &ev[0];
    assert_eq!(e.kind, "govuk.new_document");
    assert_eq!(
        e.summary,
        "New on GOV.UK: Modern slavery: victim support and the recovery needs assessment (Guidance · Home Office · 4 March 2025, 9:30am)"
    );
    assert_eq!(
        e.url.as_deref(),
        Some("https://www.gov.uk/government/publications/modern-slavery-victim-support-recovery-needs-assessment")
    );
    // The same result next cycle is old news.
    let again = listing(&format!("{SEARCH}__new-result"), Some(&after));
    assert!(compare(&watch(false), &doc(&after), &doc(&again))
        .unwrap()
        .is_empty());
}

#[test]
fn a_moved_timestamp_is_an_update_unless_the_match_is_followed() {
    let before = listing(&format!("{SEARCH}__baseline"), None);
    let after = listing(
        &format!("{SEARCH}__duty-to-notify-timestamp-moved"),
        Some(&before),
    );
    let ev = compare(&watch(false), &doc(&before), &doc(&after)).unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind, "govuk.updated");
    assert_eq!(
        ev[0].summary,
        "Updated on GOV.UK: Modern slavery: duty to notify (public timestamp 11 June 2024, 9:00am → 18 February 2025, 4:05pm)"
    );
    assert!(compare(&watch(true), &doc(&before), &doc(&after))
        .unwrap()
        .is_empty());
}

#[test]
fn a_match_that_drops_out_and_returns_is_not_new() {
    let before = listing(&format!("{SEARCH}__new-result"), None);
    let without = listing(&format!("{SEARCH}__baseline"), Some(&before));
    assert_eq!(
        without.matches.len(),
        3,
        "read in full: the dropped match is gone from the list"
    );
    let back = listing(&format!("{SEARCH}__new-result"), Some(&without));
    assert!(compare(&watch(false), &doc(&without), &doc(&back))
        .unwrap()
        .is_empty());
}

#[test]
fn matches_older_than_the_pages_read_are_carried_over() {
    let before = listing(&format!("{SEARCH}__baseline"), None);
    // Only the first page was read (it reached a known match): the third match still stands.
    let partial = merge(
        (results(&format!("{SEARCH}__page-1-of-2")), false),
        Vec::new(),
        before.clone(),
    );
    assert_eq!(partial.matches, before.matches);
}

#[test]
fn follows_each_match_on_gov_uk_with_a_stable_id() {
    let l = listing(&format!("{SEARCH}__baseline"), None);
    let f = follows(&doc(&l)).unwrap();
    assert_eq!(f.len(), 3);
    assert_eq!(
        f[0],
        FollowTarget {
            id: "govuk-government-publications-modern-slavery-how-to-identify-and-support-victims".into(),
            kind: "govuk".into(),
            target: "/government/publications/modern-slavery-how-to-identify-and-support-victims".into(),
            title: "Modern slavery: statutory guidance for England and Wales (under s49 of the Modern Slavery Act 2015) and non-statutory guidance for Scotland and Northern Ireland".into(),
        }
    );
}

#[test]
fn atom_entries_are_matches_by_gov_uk_path() {
    let entries = |name: &str| -> Vec<Match> {
        let d = feed::parse(
            &read("govuk-atom", name),
            "https://www.gov.uk/drug-device-alerts.atom",
        )
        .unwrap();
        let e: Vec<feed::Entry> = serde_json::from_value(d.fields["entries"].clone()).unwrap();
        e.iter()
            .filter_map(|e| Match::from_entry(e, &site()))
            .collect()
    };
    let before = merge(
        (Vec::new(), true),
        entries("drug-device-alerts__gds-authored-sample.atom"),
        Listing::default(),
    );
    assert_eq!(
        before.matches[0].link,
        "/drug-device-alerts/an-important-alert"
    );
    let after = merge(
        (Vec::new(), true),
        entries("drug-device-alerts__gds-authored-sample__new-entry-first.atom"),
        before.clone(),
    );
    let ev = compare(&watch(false), &doc(&before), &doc(&after)).unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind, "govuk.new_document");
    assert_eq!(ev[0].title.as_deref(), Some("A new important alert"));
}

#[test]
fn the_search_url_asks_for_newest_first_with_filters() {
    let q = GovukQuery {
        keywords: Some("modern slavery".into()),
        organisations: vec!["home-office".into(), "uk-visas-and-immigration".into()],
        document_types: vec!["guidance".into()],
        feed: None,
    };
    let u = search_url(&site(), &q, 50, 50).unwrap();
    assert_eq!(
        u.as_str(),
        "https://www.gov.uk/api/search.json?q=modern+slavery&filter_organisations=home-office&filter_organisations=uk-visas-and-immigration&filter_content_store_document_type=guidance&order=-public_timestamp&fields=title&fields=link&fields=description&fields=public_timestamp&fields=format&fields=content_store_document_type&fields=organisations&count=50&start=50"
    );
}
