//! `feed` watches end to end: new entries and changed entries, with stable identities.

mod common;

use common::Project;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn rss(items: &[(&str, &str, &str)]) -> String {
    let items: String = items
        .iter()
        .map(|(guid, title, desc)| {
            let guid = if guid.is_empty() {
                String::new()
            } else {
                format!("<guid>{guid}</guid>")
            };
            format!("<item>{guid}<title>{title}</title><description>{desc}</description></item>")
        })
        .collect();
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>IASC news</title><link>https://example.org</link><description>x</description>{items}</channel></rss>")
}

async fn serve(server: &MockServer, body: String) {
    server.reset().await;
    Mock::given(path("/feed.xml"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "application/rss+xml"),
        )
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn new_and_changed_entries_alert_once_each() {
    let server = MockServer::start().await;
    let p = Project::new();
    p.watchlist(
        "team.toml",
        &format!("name = \"t\"\nkeywords = [\"modern slavery\"]\n[[watch]]\nid = \"news\"\nkind = \"feed\"\nurl = \"{}/feed.xml\"\n", server.uri()),
    );
    // The second item has neither guid nor link: its identity must still be stable.
    let base = [
        ("a1", "Annual report", "Published today."),
        ("", "Letter to the Home Secretary", "On NRM delays."),
    ];
    serve(&server, rss(&base)).await;
    assert!(p.check_json().is_empty());
    serve(&server, rss(&base)).await;
    assert!(
        p.check_json().is_empty(),
        "re-parsing the same feed finds nothing new"
    );

    let mut next = vec![(
        "b2",
        "Modern slavery statement guidance",
        "Tackling modern slavery in supply chains.",
    )];
    next.extend(base);
    serve(&server, rss(&next)).await;
    let alerts = p.check_json();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["event"], "feed.new_entry");
    assert_eq!(alerts[0]["title"], "Modern slavery statement guidance");
    assert_eq!(
        alerts[0]["summary"],
        "New in IASC news: Modern slavery statement guidance"
    );
    assert_eq!(alerts[0]["keywords"], serde_json::json!(["modern slavery"]));

    next[1].2 = "Published today. Corrected figures.";
    serve(&server, rss(&next)).await;
    let alerts = p.check_json();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["event"], "feed.changed_entry");
    assert!(alerts[0]["diff"]
        .as_str()
        .unwrap()
        .contains("+Published today. Corrected figures."));
}
