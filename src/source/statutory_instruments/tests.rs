//! Snapshots and events on fixtures built from the API's schemas with values from real
//! instruments (tests/fixtures/statutory-instruments/PROVENANCE.md).

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            "../../../tests/fixtures/statutory-instruments/",
            $name
        ))
    };
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn pair(detail: &str, items: &str) -> (Instrument, Vec<BusinessItem>) {
    let d: Resource<Instrument> = serde_json::from_str(detail).unwrap();
    (d.value, serde_json::from_str(items).unwrap())
}

fn old_two() -> Vec<(Instrument, Vec<BusinessItem>)> {
    vec![
        pair(
            fixture!("GET_v2_StatutoryInstrument_tiSc1833.json"),
            fixture!("GET_v2_StatutoryInstrument_tiSc1833_BusinessItems.json"),
        ),
        pair(
            fixture!("GET_v2_StatutoryInstrument_dTnO1743.json"),
            fixture!("GET_v2_StatutoryInstrument_dTnO1743_BusinessItems.json"),
        ),
    ]
}

fn with(detail: &str, items: &str) -> Vec<(Instrument, Vec<BusinessItem>)> {
    let mut v = old_two();
    v.insert(0, pair(detail, items));
    v
}

const LAID: &str = fixture!("GET_v2_StatutoryInstrument_tiScAm27__laid.json");
const MADE: &str = fixture!("GET_v2_StatutoryInstrument_tiScAm27__made.json");
const ITEMS_LAID: &str = fixture!("GET_v2_StatutoryInstrument_tiScAm27_BusinessItems__laid.json");
const ITEMS_APPROVED: &str =
    fixture!("GET_v2_StatutoryInstrument_tiScAm27_BusinessItems__approved.json");
const MARCH: &str = "2027-03-02T10:00:00Z";

fn kinds(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

#[test]
fn the_listing_shapes_read() {
    let l: crate::source::api_json::Collection<Resource<Instrument>> = serde_json::from_str(
        fixture!("GET_v2_StatutoryInstrument__ActOfParliamentId__edited_new_instrument.json"),
    )
    .unwrap();
    assert_eq!(l.items.len(), 3);
    assert_eq!(l.items[0].value.id.as_deref(), Some("tiScAm27"));
    let acts: Vec<Act> = serde_json::from_str(fixture!(
        "GET_v2_ActOfParliament__Name_Modern_Slavery_Act_2015.json"
    ))
    .unwrap();
    assert_eq!(acts[0].name.as_deref(), Some("Modern Slavery Act 2015"));
}

#[test]
fn old_instruments_read_in_force_and_render() {
    let s = Snapshot::build(&old_two(), at(MARCH));
    assert_eq!(s.instruments.len(), 2);
    let t = s.instruments.iter().find(|i| i.id == "tiSc1833").unwrap();
    assert_eq!(t.number.as_deref(), Some("SI 2015/1833"));
    assert!(t.in_force);
    assert_eq!(t.steps.len(), 4);
    let doc = s.into_document("t".into(), "u".into());
    assert!(doc.text.contains("## The Modern Slavery Act 2015 (Transparency in Supply Chains) Regulations 2015 (SI 2015/1833)\nProcedure: Draft affirmative\nLaid: Commons 29 July 2015, Lords 29 July 2015\nMade: 28 October 2015\nIn force: 29 October 2015"), "{}", doc.text);
}

#[test]
fn laid_then_made_then_a_step_then_in_force() {
    let base = Snapshot::build(&old_two(), at(MARCH));
    let laid = Snapshot::build(&with(LAID, ITEMS_LAID), at(MARCH));
    let ev = events(&base, &laid);
    assert_eq!(kinds(&ev), ["si.laid"]);
    assert_eq!(
        ev[0].summary,
        "New instrument: The Modern Slavery Act 2015 (Transparency in Supply Chains) (Amendment) Regulations 2027 — Draft affirmative, laid: Commons 1 March 2027, Lords 1 March 2027"
    );
    assert!(events(
        &laid,
        &Snapshot::build(&with(LAID, ITEMS_LAID), at("2027-03-20T10:00:00Z"))
    )
    .is_empty());

    let made = Snapshot::build(&with(MADE, ITEMS_APPROVED), at("2027-04-21T10:00:00Z"));
    let ev = events(&laid, &made);
    assert_eq!(kinds(&ev), ["si.made", "si.procedure_step"]);
    assert_eq!(
        ev[0].summary,
        "Made 20 April 2027: The Modern Slavery Act 2015 (Transparency in Supply Chains) (Amendment) Regulations 2027 (SI 2027/412)"
    );
    assert_eq!(ev[0].annotations, ["Comes into force 1 June 2027"]);
    assert_eq!(
        ev[1].summary,
        "Approved by the House of Commons (Commons), 14 April 2027: The Modern Slavery Act 2015 (Transparency in Supply Chains) (Amendment) Regulations 2027 (SI 2027/412)"
    );
    assert_eq!(
        ev[0].url.as_deref(),
        Some("https://www.legislation.gov.uk/uksi/2027/412/contents/made")
    );

    // 31 May 23:30 UTC is already 1 June in the UK (BST).
    let eve = Snapshot::build(&with(MADE, ITEMS_APPROVED), at("2027-05-31T22:30:00Z"));
    assert!(events(&made, &eve).is_empty());
    let day = Snapshot::build(&with(MADE, ITEMS_APPROVED), at("2027-05-31T23:30:00Z"));
    let ev = events(&eve, &day);
    assert_eq!(kinds(&ev), ["si.in_force"]);
    assert_eq!(
        ev[0].summary,
        "In force from 1 June 2027: The Modern Slavery Act 2015 (Transparency in Supply Chains) (Amendment) Regulations 2027 (SI 2027/412)"
    );
    let later = Snapshot::build(&with(MADE, ITEMS_APPROVED), at("2027-07-01T10:00:00Z"));
    assert!(events(&day, &later).is_empty());
    assert_eq!(day, later);
}

#[test]
fn ids_and_names_of_acts() {
    assert!(looks_like_id("mSa2015X"));
    assert!(!looks_like_id("Modern Slavery Act 2015"));
    assert!(!looks_like_id("Children"));
}
