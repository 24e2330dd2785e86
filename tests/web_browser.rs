//! The history browser in a real browser: headless Chromium (Debian's package, installed by
//! `.ci/run`) driven over WebDriver against a daemon on a seeded store.
//!
//! Under CI a missing browser fails the test; elsewhere it is skipped with the reason.
//! `POLICYWATCH_SCREENSHOTS=DIR` saves the README's screenshots there.

mod common;
#[path = "common/seeded.rs"]
mod seeded;
#[path = "common/webdriver.rs"]
mod webdriver;

use seeded::Seeded;
use webdriver::{browser_or_skip, Browser};

async fn choose(b: &Browser, select: &str, text: &str) {
    for option in b.find_all(&format!("select[name={select}] option")).await {
        let shown = option.text().await;
        let shown = shown.trim();
        // Version options read "v3 (2026-01-01 10:00)".
        if shown == text || shown.starts_with(&format!("{text} ")) {
            option.click().await;
            return;
        }
    }
    panic!("no option `{text}` in select `{select}`");
}

async fn screenshot(b: &Browser, name: &str) {
    if let Some(dir) = std::env::var_os("POLICYWATCH_SCREENSHOTS") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join(name), b.screenshot().await).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_analyst_browses_filters_compares_and_traces_a_phrase() {
    let Some((chromium, driver)) = browser_or_skip() else {
        return;
    };
    let seeded = Seeded::new().await;
    let _daemon = seeded.daemon().await;
    let base = seeded.base();
    let b = Browser::start(&chromium, &driver).await;

    // The timeline: every change, newest first, each row linking to its change.
    b.goto(&format!("{base}/")).await;
    assert!(b.title().await.starts_with("Timeline"));
    let rows = b.texts("table.changes tbody tr").await;
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert!(
        rows[0].contains("nrm") && rows[0].contains("page.changed"),
        "{rows:?}"
    );
    assert!(
        rows.iter().any(|r| r.contains("bill.stage_changed")),
        "{rows:?}"
    );
    // The weekly chart is drawn, with a legend per watchlist.
    let legend = b.texts("svg.weekly text").await;
    assert!(
        legend.iter().any(|t| t == "anti-slavery") && legend.iter().any(|t| t == "bills"),
        "{legend:?}"
    );
    screenshot(&b, "timeline.png").await;

    // Filtering by watchlist narrows the rows.
    choose(&b, "watchlist", "bills").await;
    b.click_to("form.filters button[type=submit]", "watchlist=bills")
        .await;
    let rows = b.texts("table.changes tbody tr").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("high-streets") && rows[0].contains("bill.stage_changed"));

    // Text search, with the other filters cleared.
    b.goto(&format!("{base}/")).await;
    let q = b.find("input[name=q]").await;
    q.type_text("Salvation Army").await;
    b.click_to("form.filters button[type=submit]", "q=Salvation")
        .await;
    let rows = b.texts("table.changes tbody tr").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("nrm"));

    // The CSV download of the filtered view holds the same rows.
    let href = b.find("p.downloads a").await.attr("href").await.unwrap();
    assert!(href.contains("q=Salvation"), "{href}");
    let csv = reqwest::get(format!("{base}{href}")).await.unwrap();
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "id,detected_at,watch,event,title,url,summary,keywords,delivered_at"
    );
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].contains(",nrm,page.changed,"));

    // The change page: the alert, its keywords, the diff side by side and inline.
    b.click_to("table.changes tbody tr a.title", "/changes/")
        .await;
    let left = b.texts("#side-by-side td.del").await;
    let right = b.texts("#side-by-side td.ins").await;
    assert_eq!(left, ["Support is available."], "{left:?} / {right:?}");
    assert_eq!(right, ["Support is available from the Salvation Army."]);
    let inline = b.texts("#inline .ins").await;
    assert_eq!(inline, ["+Support is available from the Salvation Army."]);
    screenshot(&b, "change.png").await;

    // The newest change: scraped `<Home Office> & …` is shown as text, never markup.
    b.goto(&format!("{base}/")).await;
    b.click_to("table.changes tbody tr a.title", "/changes/")
        .await;
    let added = b.texts("#side-by-side td.ins").await;
    assert_eq!(added, ["Appeals go to the <Home Office> & the courts."]);
    assert_eq!(b.texts(".keywords .kw").await, ["Home Office"]);

    // A watch page: versions, and the diff of two chosen versions.
    b.goto(&format!("{base}/watches/nrm")).await;
    let versions = b.texts("table.versions tbody tr").await;
    assert_eq!(versions.len(), 5);
    assert!(versions[0].starts_with('5'), "newest first: {versions:?}");
    choose(&b, "from", "v1").await;
    choose(&b, "to", "v3").await;
    b.click_to("#diff + form button", "from=1&to=3").await;
    let summary = b.find("p.diff-summary").await.text().await;
    assert!(summary.starts_with("v1 → v3"), "{summary}");
    let removed = b.texts("#side-by-side td.del").await;
    assert!(
        removed.contains(&"Victims have 30 days to recover.".to_string()),
        "{removed:?}"
    );
    let added = b.texts("#side-by-side td.ins").await;
    assert!(
        added.contains(&"A reasonable grounds decision is made within 5 working days.".to_string()),
        "{added:?}"
    );

    // Phrase history: first appeared in v2, disappeared in v4.
    b.goto(&format!("{base}/phrase")).await;
    b.find("input[name=q]")
        .await
        .type_text("reasonable grounds")
        .await;
    b.click_to("form.filters button[type=submit]", "q=reasonable")
        .await;
    let appeared = b.texts("table.phrase tr.appeared").await;
    let gone = b.texts("table.phrase tr.disappeared").await;
    assert_eq!(appeared.len(), 1, "{appeared:?}");
    assert!(
        appeared[0].contains("v2") && appeared[0].contains("A reasonable grounds decision"),
        "{appeared:?}"
    );
    assert_eq!(gone.len(), 1);
    assert!(gone[0].contains("v4"), "{gone:?}");
    // Its version links open the diff that introduced it.
    b.click_to("table.phrase tr.appeared td:nth-child(2) a", "from=1&to=2")
        .await;

    // A bill's journey: the stage track with the current stage marked.
    b.goto(&format!("{base}/watches/high-streets")).await;
    let current = b.texts("svg.stage-track g.current").await;
    assert_eq!(current.len(), 1);
    assert!(
        current[0].contains("Report stage") && current[0].contains("now"),
        "{current:?}"
    );
    let passed = b.texts("svg.stage-track g.passed").await;
    assert_eq!(
        passed.len(),
        3,
        "1st, 2nd reading and Committee stage: {passed:?}"
    );
    assert!(
        passed[2].contains("Committee stage") && passed[2].contains("2024-03-13"),
        "{passed:?}"
    );
    screenshot(&b, "bill-journey.png").await;

    // Status and outbox pages.
    b.goto(&format!("{base}/status")).await;
    let rows = b.texts("table.status tbody tr").await;
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|r| r.contains(" ok ") || r.contains("\tok\t") || r.contains("ok")));
    b.goto(&format!("{base}/outbox")).await;
    assert!(b
        .find("p.empty")
        .await
        .text()
        .await
        .contains("outbox is empty"));
}
