//! The real changes feed and copies edited for one change each
//! (tests/fixtures/legislation-gov-uk/PROVENANCE.md).

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            "../../../tests/fixtures/legislation-gov-uk/",
            $name
        ))
    };
}

const REAL: &str = fixture!("GET_changes_affected_ukpga_2018_12__3_of_2271_unapplied.atom");
const EMPTY: &str = fixture!("GET_changes_unapplied_affected_uksi_1980_2049__empty.atom");
const ONE_MORE: &str = fixture!("GET_changes_affected_ukpga_2018_12__edited_one_more_effect.atom");
const REORDERED: &str =
    fixture!("GET_changes_affected_ukpga_2018_12__edited_reordered_attributes_and_updated.atom");
const APPLIED: &str =
    fixture!("GET_changes_affected_ukpga_2018_12__edited_first_effect_applied.atom");

fn doc(xml: &str) -> Document {
    let url =
        Url::parse("http://legislation.test/changes/affected/ukpga/2018/12/data.feed").unwrap();
    into_document("ukpga/2018/12", &url, parse(xml).unwrap().effects)
}

#[test]
fn reads_the_real_feed() {
    let page = parse(REAL).unwrap();
    assert_eq!(page.total_pages, Some(757));
    assert_eq!(page.effects.len(), 3);
    let e = &page.effects[0];
    assert_eq!(e.id, "key-afc4da5af850ada1378557cf240207e0");
    assert_eq!(e.kind, "word substituted");
    assert_eq!(e.affected_title, "Data Protection Act 2018");
    assert_eq!(e.affected_provisions, "s. 65 heading");
    assert_eq!(e.affecting, "S.I. 2026/386");
    assert_eq!(e.affecting_provisions, "Sch. 2 para. 23(2)(3)");
    assert_eq!(
        e.affected_url.as_deref(),
        Some("https://www.legislation.gov.uk/ukpga/2018/12/part/3/chapter/4/crossheading/general-obligations")
    );
    assert!(!e.applied && e.requires_applied);
    assert_eq!(e.in_force_text(), "30 September 2026 (wholly in force)");
    assert!(e.comments.as_deref().unwrap().contains("“Commissioner”"));
    let empty = parse(EMPTY).unwrap();
    assert!(empty.effects.is_empty());
    assert_eq!(empty.total_pages, Some(0));
}

#[test]
fn order_attribute_order_and_generation_time_are_not_changes() {
    assert_eq!(doc(REAL), doc(REORDERED));
    assert!(compare(&doc(REAL), &doc(REORDERED)).unwrap().is_empty());
}

#[test]
fn one_more_effect_is_one_event() {
    let ev = compare(&doc(REAL), &doc(ONE_MORE)).unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind, "legislation.effect_recorded");
    assert_eq!(
        ev[0].summary,
        "Data Protection Act 2018 s. 68 heading: word substituted by S.I. 2026/386 Sch. 2 para. 23(2)(3)"
    );
    assert_eq!(
        ev[0].annotations[0],
        "In force: 30 September 2026 (wholly in force)"
    );
}

#[test]
fn applied_turning_true_is_effect_applied() {
    let ev = compare(&doc(REAL), &doc(APPLIED)).unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind, "legislation.effect_applied");
    assert_eq!(
        ev[0].summary,
        "Revised text published: Data Protection Act 2018 s. 65 heading (word substituted by S.I. 2026/386)"
    );
}

#[test]
fn hostile_feeds_fail_clearly() {
    let e = parse("<feed><entry><ukm:Effect EffectId=\"x\"></entry>").unwrap_err();
    assert!(
        e.starts_with("not a readable legislation.gov.uk feed at byte"),
        "{e}"
    );
    assert_eq!(
        parse("<html>hello</html>").unwrap_err(),
        "not an Atom feed (no <feed> element)"
    );
    // A billion-laughs DOCTYPE: entities are not expanded.
    let bomb = "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]><feed><entry><title>&b;</title></entry></feed>";
    assert!(parse(bomb).unwrap().effects.is_empty());
}

#[test]
fn legislation_keys_are_checked() {
    assert!(validate("ukpga/2015/30").is_ok());
    assert!(validate("uksi/2015/1833").is_ok());
    assert!(validate("ukpga/Geo5/15-16/20").is_ok());
    assert!(validate("ukpga/2015").is_err());
    assert!(validate("../../etc/passwd").is_err());
    assert!(validate("ukpga/2015/30?x=1").is_err());
}
