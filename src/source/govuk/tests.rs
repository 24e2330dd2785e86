//! Normalisation and comparison on real Content API items (tests/fixtures/govuk-content,
//! provenance in its PROVENANCE.md) and copies edited as their names say.

use super::*;
use crate::data::Severity;

fn site() -> Url {
    Url::parse("https://www.gov.uk/").unwrap()
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/govuk-content/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn item(name: &str) -> Item {
    let json = fixture(name);
    let path = json["base_path"].as_str().unwrap_or("/").to_string();
    extract(&json, &path, &site())
}

/// Events from one fixture to the next, as the engine would compare them.
fn events(from: &str, to: &str) -> Vec<Event> {
    compare::events(&item(from), &item(to))
}

fn kinds(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

const SCHOOLS: &str = "publication__statutory_guidance__schemes-for-financing-schools";
const CLOSING: &str =
    "publication__guidance__further-businesses-and-premises-to-close__17-change-notes";
const PIGS: &str = "publication__guidance__withdrawn__a-guide-for-pig-keepers";

#[test]
fn normalises_a_publication() {
    let i = item(SCHOOLS);
    assert_eq!(i.title, "Schemes for financing schools");
    assert_eq!(i.document_type, "statutory_guidance");
    assert_eq!(
        i.organisations,
        ["Department for Education", "Education Funding Agency"]
    );
    assert_eq!(i.public_updated_at.as_deref(), Some("2015-12-17T12:06:08Z"));
    assert_eq!(
        i.body.lines().next(),
        Some("This statutory guidance is for local authorities.")
    );
    // Sorted oldest first although the API lists newest first; offsets normalised to UTC.
    let stamps: Vec<&str> = i
        .change_history
        .iter()
        .map(|c| c.public_timestamp.as_str())
        .collect();
    assert_eq!(
        stamps,
        [
            "2013-03-26T09:00:00Z",
            "2014-02-26T10:48:40Z",
            "2015-08-19T08:30:03Z",
            "2015-12-17T12:06:08Z"
        ]
    );
    let doc = i.document(&site());
    assert_eq!(
        doc.url,
        "https://www.gov.uk/government/publications/schemes-for-financing-schools"
    );
    assert!(doc.text.starts_with(
        "# Schemes for financing schools\nStatutory guidance for local authorities on producing and amending school financing schemes.\nThis statutory guidance"
    ));
    assert!(doc.text.contains(
        "## Updates to this page\n- 17 December 2015, 12:06pm: Updated to include admissions appeals"
    ));
}

#[test]
fn body_headings_become_section_lines() {
    let i = item("html_publication__v1_published");
    assert!(i
        .body
        .starts_with("## Details of the application\nThe Environment Agency has received"));
    assert!(i
        .body
        .contains("\n#### Volume\n4.2 cubic metres per day\n## How to view the application\n"));
    assert!(i.description.is_empty() && i.change_history.is_empty());
}

#[test]
fn whitespace_edits_and_new_timestamps_raise_nothing() {
    let (v1, v2) = (
        item("html_publication__v1_published"),
        item("html_publication__v2_updated"),
    );
    assert_ne!(
        v1.public_updated_at, v2.public_updated_at,
        "the fixture moves the timestamp"
    );
    assert_eq!(v1.text(), v2.text());
    assert!(compare::events(&v1, &v2).is_empty());
}

#[test]
fn body_edit_without_a_note_is_a_silent_edit_naming_sections() {
    let ev = events(
        "html_publication__v1_published",
        "html_publication__v2_updated__body-edited-no-note",
    );
    assert_eq!(kinds(&ev), ["govuk.silent_edit"]);
    let e = &ev[0];
    assert_eq!(
        e.summary,
        "Edited without a change note: Volume: +1 −1 paragraphs; How to comment on the application: +1 paragraph"
    );
    assert!(e
        .annotations
        .iter()
        .any(|a| a.contains("GOV.UK sent no email")));
    let diff = e.diff.as_deref().unwrap();
    assert!(diff.contains("@@ Volume\n"), "{diff}");
    assert!(diff.contains("-4.2 cubic metres per day\n+6.5 cubic metres per day\n"));
    assert!(diff.contains("+Comments received after that date will not be considered.\n"));
    assert!(e.keyword_text.contains("6.5 cubic metres per day"));
}

#[test]
fn reordered_change_history_alone_raises_nothing() {
    assert!(events(SCHOOLS, &format!("{SCHOOLS}__change-history-oldest-first")).is_empty());
}

#[test]
fn body_edit_with_reordered_history_is_silent_never_major() {
    let ev = events(
        SCHOOLS,
        &format!("{SCHOOLS}__body-edited-no-note__change-history-oldest-first"),
    );
    assert_eq!(kinds(&ev), ["govuk.silent_edit"]);
    assert_eq!(
        ev[0].summary,
        "Edited without a change note: Schemes for financing schools: +1 −1 paragraphs"
    );
}

#[test]
fn a_new_note_listed_last_is_a_major_update_quoting_it() {
    let ev = events(
        SCHOOLS,
        &format!("{SCHOOLS}__new-note-listed-last__annex-b-added"),
    );
    assert_eq!(kinds(&ev), ["govuk.major_update"]);
    let e = &ev[0];
    assert_eq!(
        e.summary,
        "Major update, 1 March 2016, 10:00am: “Added Annex B: loans to schools, and made clear that the guidance also applies to maintained schools.”"
    );
    assert_eq!(e.severity, Severity::Major);
    assert_eq!(
        e.annotations,
        [
            "Schemes for financing schools: +1 −1 paragraphs",
            "Annex B: loans to schools: +3 paragraphs"
        ]
    );
    let diff = e.diff.as_deref().unwrap();
    // One hunk covers both sections; its header names the first.
    assert!(
        diff.starts_with("@@ -1,5 +1,8 @@ Schemes for financing schools\n"),
        "{diff}"
    );
    assert!(diff.contains("+## Annex B: loans to schools\n+A scheme may allow maintained schools"));
    assert_eq!(e.fields["public_timestamp"], "2016-03-01T10:00:00Z");
}

#[test]
fn attachment_added_without_a_note_says_so() {
    let base = format!("{CLOSING}__with-attachments");
    let ev = events(&base, &format!("{base}__attachment-added-no-note"));
    assert_eq!(kinds(&ev), ["govuk.attachment_added"]);
    assert_eq!(
        ev[0].summary,
        "New attachment “Face coverings: businesses and venues where they must be worn” (PDF, 150 KB, 4 pages), without a change note"
    );
    assert_eq!(
        ev[0].annotations,
        ["New: https://assets.publishing.service.gov.uk/government/uploads/system/uploads/attachment_data/file/910455/face-coverings-venues.pdf"]
    );
}

#[test]
fn replaced_attachment_with_a_note_is_a_major_update_and_a_changed_attachment() {
    let base = format!("{CLOSING}__with-attachments");
    let ev = events(
        &base,
        &format!("{base}__attachment-replaced__new-note-listed-last"),
    );
    assert_eq!(
        kinds(&ev),
        ["govuk.major_update", "govuk.attachment_changed"]
    );
    let note =
        "“Updated the guidance PDF to reflect the rules on face coverings in places of worship.”";
    assert_eq!(
        ev[0].summary,
        format!("Major update, 24 August 2020, 4:10pm: {note}")
    );
    assert_eq!(
        ev[0].annotations,
        ["Attachment changed: “Closing certain businesses and venues in England”"]
    );
    assert_eq!(
        ev[1].summary,
        format!("Attachment “Closing certain businesses and venues in England” replaced with a new file, now PDF, 306 KB, 10 pages, change note: {note}")
    );
    assert!(ev[1].diff.as_deref().unwrap().contains("/file/911580/"));
}

#[test]
fn title_and_summary_edits_are_metadata_changes() {
    let ev = events(SCHOOLS, &format!("{SCHOOLS}__title-and-summary-edited"));
    assert_eq!(kinds(&ev), ["govuk.metadata_changed"]);
    assert_eq!(
        ev[0].summary,
        "Changed title “Schemes for financing schools” → “Schemes for financing maintained schools”; summary “Statutory guidance for local authorities on producing and amending school financing schemes.” → “Statutory guidance for local authorities on producing, amending and consulting on school financing schemes.”"
    );
}

#[test]
fn withdrawal_quotes_the_explanation() {
    let ev = events(&format!("{PIGS}__before-withdrawal"), PIGS);
    assert_eq!(kinds(&ev), ["govuk.withdrawn"]);
    assert_eq!(
        ev[0].summary,
        "Withdrawn on 13 January 2015, 1:05pm: “This information is now out of date. For our current guidance please read guidance for keepers of sheep, goats and pigs.”"
    );
    assert_eq!(ev[0].severity, Severity::Major);
}

#[test]
fn a_410_is_reported_once() {
    let before = item(SCHOOLS);
    let mut gone = removed_item(&before.path);
    gone.title = before.title.clone();
    let ev = compare::events(&before, &gone);
    assert_eq!(kinds(&ev), ["govuk.removed"]);
    assert_eq!(
        ev[0].summary,
        "Removed from GOV.UK (the Content API answers 410 Gone)"
    );
    assert!(
        compare::events(&gone, &gone.clone()).is_empty(),
        "still gone: nothing new"
    );
}

#[test]
fn a_redirect_item_gives_the_new_path() {
    let ev = events(SCHOOLS, &format!("{SCHOOLS}__replaced-by-redirect-item"));
    assert_eq!(kinds(&ev), ["govuk.redirected"]);
    assert_eq!(
        ev[0].summary,
        "Redirected: /government/publications/schemes-for-financing-schools now leads to /government/publications/schemes-for-financing-local-authority-maintained-schools"
    );
}

#[test]
fn an_http_redirect_is_a_move_to_the_new_path() {
    let site = site();
    let asked = api_url(&site, "/old/path").unwrap();
    let got = Url::parse("https://www.gov.uk/api/content/new/path").unwrap();
    assert_eq!(moved_to(&site, &asked, &got).as_deref(), Some("/new/path"));
    assert_eq!(moved_to(&site, &asked, &asked), None);
}

#[test]
fn rendered_document_blocks_become_attachments() {
    let json = serde_json::json!({
        "schema_name": "publication",
        "title": "T",
        "details": { "documents": [
            "<section class=\"attachment embedded\"><h3 class=\"title\"><a href=\"/government/uploads/system/uploads/attachment_data/file/1/annex.pdf\">Annex A</a></h3></section>"
        ]}
    });
    let i = extract(&json, "/p", &site());
    assert_eq!(
        i.attachments,
        [Attachment {
            id: None,
            title: "Annex A".into(),
            url: "https://www.gov.uk/government/uploads/system/uploads/attachment_data/file/1/annex.pdf".into(),
            content_type: Some("application/pdf".into()),
            file_size: None,
            number_of_pages: None,
        }]
    );
}

#[test]
fn collections_list_their_documents_by_group() {
    let json = serde_json::json!({
        "schema_name": "document_collection",
        "title": "Modern slavery",
        "details": { "collection_groups": [
            { "title": "Statutory guidance", "documents": ["a"] }
        ]},
        "links": { "documents": [
            { "content_id": "a", "title": "Modern slavery: how to identify and support victims", "base_path": "/government/publications/modern-slavery-how-to-identify-and-support-victims" }
        ]}
    });
    assert_eq!(
        extract(&json, "/c", &site()).body,
        "## Statutory guidance\n- Modern slavery: how to identify and support victims </government/publications/modern-slavery-how-to-identify-and-support-victims>"
    );
}

#[test]
fn organisations_come_from_links() {
    let i = item("news_article__press_release__home-office-linked");
    assert_eq!(i.document_type, "press_release");
    assert!(
        i.organisations.iter().any(|o| o == "Home Office"),
        "{:?}",
        i.organisations
    );
    assert_eq!(i.change_history.len(), 1);
    assert_eq!(i.change_history[0].note, "First published.");
    assert_eq!(
        i.withdrawn_notice, None,
        "an empty `withdrawn_notice` is not a withdrawal"
    );
}

#[test]
fn a_page_address_on_the_configured_site_gives_its_path() {
    let url = |s: &str| Url::parse(s).unwrap();
    let gov = crate::config::Sources::default();
    assert_eq!(
        path_of(&url("https://www.gov.uk/guidance/x?y=1#z"), &gov).as_deref(),
        Some("/guidance/x")
    );
    assert_eq!(path_of(&url("https://www.gov.uk/"), &gov), None);
    assert_eq!(path_of(&url("http://www.gov.uk/guidance/x"), &gov), None);
    assert_eq!(path_of(&url("https://example.org/guidance/x"), &gov), None);
    // A mirror under a path: the watch path is what follows it.
    let mirror = crate::config::Config::parse(
        "[sources]\ngovuk = \"https://mirror.example/gov/\"\n",
        std::path::Path::new("policywatch.toml"),
    )
    .unwrap()
    .sources;
    assert_eq!(
        path_of(&url("https://mirror.example/gov/guidance/x"), &mirror).as_deref(),
        Some("/guidance/x")
    );
    assert_eq!(
        path_of(&url("https://mirror.example/guidance/x"), &mirror),
        None
    );
}
