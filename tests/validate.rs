//! `policywatch validate`: every watchlist mistake is reported as `file:line:col: message`
//! on stderr with exit code 2; good watchlists print a one-line summary and exit 0.
//! The watchlists are in `tests/fixtures/watchlists/{good,bad}`.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{fixture, Project};
use policywatch::config::Config;
use policywatch::source::bill::Bill;
use policywatch::source::bill_search::BillQuery;
use policywatch::source::govuk::Govuk;
use policywatch::source::govuk_search::GovukQuery;
use policywatch::source::page::{Page, PageMode};
use policywatch::source::registry;
use policywatch::watchlist::{self, Mention, Target, Watch};

/// A project whose `watchlists/` holds copies of the named fixture files.
fn project_with(dir: &str, files: &[&str]) -> Project {
    let project = Project::new();
    for name in files {
        let text = String::from_utf8(fixture(&format!("watchlists/{dir}/{name}"))).unwrap();
        project.watchlist(name, &text);
    }
    project
}

/// Runs `validate`; returns (exit code, stdout, stderr).
fn validate(project: &Project) -> (i32, String, String) {
    let out = project.cmd().arg("validate").output().unwrap();
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Validates one bad file alone and expects exactly `expected` on stderr, exit 2.
fn assert_rejected(file: &str, expected: &str) {
    let (code, stdout, stderr) = validate(&project_with("bad", &[file]));
    assert_eq!(code, 2, "stderr: {stderr}");
    assert_eq!(stdout, "");
    assert_eq!(stderr, format!("{expected}\n"));
}

#[test]
fn unknown_kind_lists_the_valid_kinds() {
    // Every registered kind, in registry order (so a new kind does not break this test).
    let kinds = policywatch::source::registry::kinds().names().join(", ");
    assert!(kinds.starts_with("page, feed, bill, bill_search, govuk, govuk_search"));
    assert_rejected(
        "unknown_kind.toml",
        &format!("watchlists/unknown_kind.toml:5:8: unknown kind `rss`; valid kinds: {kinds}"),
    );
}

#[test]
fn unknown_field_is_named_with_a_suggestion_and_the_allowed_keys() {
    assert_rejected(
        "unknown_field.toml",
        "watchlists/unknown_field.toml:7:1: unknown key `keyword` in a `feed` watch (did you mean `keywords`?); allowed keys: id, kind, url, schedule, keywords, channel, mentions, select, ignore_selectors, ignore, follow, allow_redirects",
    );
}

#[test]
fn bad_cron_expression_gives_the_reason() {
    assert_rejected(
        "bad_cron.toml",
        "watchlists/bad_cron.toml:7:12: bad cron expression `0 9 * * 1-5`: day-of-week `1-5` uses numbers; write names (e.g. `Mon-Fri`), since numbering differs between cron dialects",
    );
}

#[test]
fn bad_css_selector_points_at_the_selector_itself() {
    // The second of three selectors: the column is that string's, not the array's.
    assert_rejected(
        "bad_selector.toml",
        "watchlists/bad_selector.toml:7:19: bad CSS selector `div[class=`: `[` is never closed (an attribute test looks like `[name]` or `[name=\"value\"]`)",
    );
}

#[test]
fn bad_regex_gives_a_one_line_reason() {
    assert_rejected(
        "bad_regex.toml",
        "watchlists/bad_regex.toml:7:28: bad regex `(views`: unclosed group",
    );
}

#[test]
fn relative_url_is_refused() {
    assert_rejected(
        "bad_url.toml",
        "watchlists/bad_url.toml:6:7: bad URL `www.example.org/feed.xml`: relative URL without a base; `url` must be an absolute http(s) URL",
    );
}

#[test]
fn duplicate_id_across_files_names_both_places() {
    let project = project_with("bad", &["duplicate_a.toml", "duplicate_b.toml"]);
    let (code, stdout, stderr) = validate(&project);
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "watchlists/duplicate_b.toml:9:8: duplicate watch id `shared-id` (also at watchlists/duplicate_a.toml:4:6)\n"
    );
}

#[test]
fn missing_required_field_points_at_the_watch() {
    assert_rejected(
        "missing_field.toml",
        "watchlists/missing_field.toml:3:1: bill watch `no-bill` is missing `bill`: the bill's id on bills.parliament.uk, e.g. `bill = 3548`",
    );
}

#[test]
fn toml_syntax_error_has_a_position() {
    assert_rejected(
        "syntax.toml",
        "watchlists/syntax.toml:5:13: TOML syntax error: invalid basic string",
    );
}

#[test]
fn every_problem_of_every_file_is_reported_in_one_run() {
    let files = [
        "bad_cron.toml",
        "bad_regex.toml",
        "bad_selector.toml",
        "bad_url.toml",
        "duplicate_a.toml",
        "duplicate_b.toml",
        "missing_field.toml",
        "syntax.toml",
        "unknown_field.toml",
        "unknown_kind.toml",
    ];
    let (code, stdout, stderr) = validate(&project_with("bad", &files));
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    // Each line's `file:line:col`, in file order; the messages are checked one by one above.
    let located: Vec<String> = stderr
        .lines()
        .map(|l| l.splitn(4, ':').take(3).collect::<Vec<_>>().join(":"))
        .collect();
    assert_eq!(
        located,
        [
            "watchlists/bad_cron.toml:7:12",
            "watchlists/bad_regex.toml:7:28",
            "watchlists/bad_selector.toml:7:19",
            "watchlists/bad_url.toml:6:7",
            "watchlists/duplicate_b.toml:9:8",
            "watchlists/missing_field.toml:3:1",
            "watchlists/syntax.toml:5:13",
            "watchlists/unknown_field.toml:7:1",
            "watchlists/unknown_kind.toml:5:8",
        ],
        "stderr:\n{stderr}"
    );
}

#[test]
fn good_watchlists_print_a_summary() {
    let project = project_with(
        "good",
        &["10-slavery.toml", "20-guidance.toml", "README.md"],
    );
    let (code, stdout, stderr) = validate(&project);
    assert_eq!(code, 0, "stderr: {stderr}");
    assert_eq!(stdout, "2 watchlists, 7 watches: OK\n");
}

#[test]
fn an_empty_directory_has_no_watches() {
    let (code, stdout, _) = validate(&Project::new());
    assert_eq!(code, 0);
    assert_eq!(stdout, "0 watchlists, 0 watches: OK\n");
}

#[test]
fn a_missing_directory_is_named() {
    let project = Project::new();
    let out = project
        .cmd()
        .args(["validate", "--watchlists", "no-such-dir"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "no-such-dir: watchlists directory not found (point --watchlists at one)\n"
    );
}

fn good() -> watchlist::Watchlists {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/watchlists/good");
    watchlist::load_dir(&dir, &Config::default(), registry::kinds()).expect("good watchlists load")
}

fn watch(id: &str) -> Arc<Watch> {
    good()
        .find(id)
        .unwrap_or_else(|| panic!("no watch {id}"))
        .clone()
}

#[test]
fn files_load_in_name_order_and_skip_non_toml() {
    let lists = good();
    let names: Vec<&str> = lists.lists.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["Modern slavery", "Guidance"]);
    let ids: Vec<&str> = lists.watches().map(|w| w.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "iasc-news",
            "iasc-publications",
            "msa-2015-changes",
            "bill-3548",
            "slavery-bills",
            "statutory-guidance",
            "home-office-guidance",
        ]
    );
    assert!(lists
        .list("Guidance")
        .unwrap()
        .file
        .ends_with("20-guidance.toml"));
}

#[test]
fn a_watch_inherits_the_lists_defaults_and_adds_its_keywords() {
    let w = watch("iasc-news");
    assert_eq!(w.list, "Modern slavery");
    // The list's keywords, then the watch's; "Modern Slavery" repeats "modern slavery".
    assert_eq!(
        w.keywords,
        [
            "modern slavery",
            "forced labour",
            "National Referral Mechanism",
            "exploitation"
        ]
    );
    assert_eq!(w.schedule.expr(), "*/15 * * * *");
    assert_eq!(w.channel, Some(112233445566778899));
    assert_eq!(w.mentions, [Mention::Role(998877665544332211)]);
    assert_eq!(
        w.target,
        Target::new(Page {
            url: "https://www.antislaverycommissioner.co.uk/news-insights/"
                .parse()
                .unwrap(),
            mode: PageMode::Text,
        })
    );
    assert_eq!(w.filter.select, ["main"]);
    assert_eq!(w.filter.ignore_selectors, [".share-buttons", "footer"]);
    assert!(w.filter.ignore[0].is_match("Last updated: 3 March 2026"));
    assert!(!w.follow);
    assert_eq!(w.followed_from, None);
}

#[test]
fn a_watch_overrides_schedule_channel_and_mentions() {
    assert_eq!(watch("msa-2015-changes").schedule.expr(), "0 7 * * Mon-Fri");
    let bill = watch("bill-3548");
    assert_eq!(bill.target, Target::new(Bill { id: 3548 }));
    assert_eq!(bill.channel, Some(42));
    assert_eq!(bill.mentions, [Mention::User(1234)]);
    assert!(matches!(
        watch("iasc-publications").target.get::<Page>(),
        Some(Page {
            mode: PageMode::Links,
            ..
        })
    ));
}

#[test]
fn searches_resolve_string_and_table_forms() {
    let bills = watch("slavery-bills");
    assert!(bills.follow);
    assert_eq!(
        bills.target,
        Target::new(BillQuery {
            term: Some("slavery".into()),
            session: Some(39),
            house: Some("Commons".into()),
            bill_type: None,
            rss: true,
        })
    );
    let guidance = watch("home-office-guidance");
    assert!(guidance.follow);
    assert_eq!(
        guidance.target,
        Target::new(GovukQuery {
            keywords: Some("modern slavery".into()),
            organisations: vec!["home-office".into()],
            document_types: vec!["guidance".into(), "statutory_guidance".into()],
            feed: None,
        })
    );
    // A list with no schedule, keywords or channel of its own takes the config's schedule.
    let g = watch("statutory-guidance");
    assert_eq!(g.schedule, Config::default().default_schedule);
    assert!(g.keywords.is_empty());
    assert_eq!(g.channel, None);
    assert_eq!(
        g.target,
        Target::new(Govuk {
            path: "/government/publications/modern-slavery-how-to-identify-and-support-victims"
                .into()
        })
    );
}

#[test]
fn kinds_lists_every_registered_kind_with_its_keys_and_events() {
    let project = Project::new();
    let text = project.stdout(&["kinds"]);
    for kind in registry::all() {
        assert!(
            text.contains(&format!("{}: {}", kind.name(), kind.about())),
            "{text}"
        );
        for e in kind.events() {
            assert!(text.contains(e.name), "{} missing:\n{text}", e.name);
        }
    }
    assert!(text.contains("bill: a bill on the UK Parliament Bills API, by id\n  keys: `bill`\n"));
    assert!(text.contains("[sources] govuk = \"https://www.gov.uk/\""));
    assert!(text.contains("bill.stage_changed"));
    assert!(text.contains("watch.failing"));

    let json = project.stdout(&["kinds", "--json"]);
    let kinds = common::json_lines(json.as_bytes());
    let names: Vec<&str> = kinds.iter().map(|k| k["kind"].as_str().unwrap()).collect();
    let registered: Vec<&str> = registry::all().map(|k| k.name()).collect();
    assert_eq!(names, registered);
    assert_eq!(
        names[..6],
        [
            "page",
            "feed",
            "bill",
            "bill_search",
            "govuk",
            "govuk_search"
        ]
    );
    assert_eq!(kinds[3]["keys"], serde_json::json!(["search"]));
    assert_eq!(kinds[3]["follow"], true);
    assert_eq!(kinds[2]["events"][0]["event"], "bill.stage_changed");
    assert_eq!(kinds[2]["events"][0]["severity"], "major");
}

#[test]
fn an_unknown_sources_key_is_named_with_its_position_and_the_known_keys() {
    let project = Project::new();
    std::fs::write(
        project.path().join("policywatch.toml"),
        "[sources]\ngovuk = \"https://www.gov.uk/\"\nhansrd = \"https://hansard.parliament.uk/\"\n",
    )
    .unwrap();
    let (code, _, stderr) = validate(&project);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("policywatch.toml:3:10: unknown key `hansrd` in [sources]; known keys: parliament_bills, parliament_bills_site, bills_rss, govuk"),
        "{stderr}"
    );
}

/// Issue 16: schedules are read in `Europe/London` unless the config or a watchlist names
/// another zone; an unknown zone is refused with its place.
#[test]
fn time_zones_come_from_the_config_and_the_watchlist() {
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("watchlists");
    std::fs::create_dir(&lists).unwrap();
    std::fs::write(
        lists.join("london.toml"),
        "name = \"london\"\nschedule = \"0 9 * * Mon-Fri\"\n\n[[watch]]\nid = \"a\"\nkind = \"feed\"\nurl = \"https://example.org/feed\"\n",
    )
    .unwrap();
    std::fs::write(
        lists.join("utc.toml"),
        "name = \"utc\"\ntimezone = \"UTC\"\nschedule = \"0 9 * * Mon-Fri\"\n\n[[watch]]\nid = \"b\"\nkind = \"feed\"\nurl = \"https://example.org/feed\"\n",
    )
    .unwrap();
    let config = Config::default();
    assert_eq!(config.timezone.name(), "Europe/London");
    let loaded = watchlist::load_dir(&lists, &config, registry::kinds()).unwrap();
    let zone = |id: &str| {
        loaded
            .watches()
            .find(|w| w.id == id)
            .unwrap()
            .schedule
            .timezone()
            .name()
            .to_string()
    };
    assert_eq!(zone("a"), "Europe/London");
    assert_eq!(zone("b"), "UTC");
    let config = Config::parse("timezone = \"America/New_York\"\n", Path::new("p.toml")).unwrap();
    assert_eq!(
        config.default_schedule.timezone().name(),
        "America/New_York"
    );
    let err = Config::parse("timezone = \"Mars/Olympus\"\n", Path::new("p.toml")).unwrap_err();
    assert!(
        err.to_string().contains("unknown time zone `Mars/Olympus`"),
        "{err}"
    );

    std::fs::write(
        lists.join("bad.toml"),
        "name = \"bad\"\ntimezone = \"Europe/Lundon\"\n",
    )
    .unwrap();
    let err = watchlist::load_dir(&lists, &Config::default(), registry::kinds())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bad.toml:2:12: unknown time zone `Europe/Lundon`"),
        "{err}"
    );
}
