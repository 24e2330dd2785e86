//! The all-bills RSS feed (`bills.parliament.uk/rss/allbills.rss`), read by hand because its
//! useful parts are where feed readers do not look: the stage is an attribute on `<item>`
//! (`p4:stage`, a generated prefix, so matched by local name), the time is `a10:updated`, the
//! bill id is the last path segment of `<guid>`, and guids repeat.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event as Xml};
use quick_xml::Reader;

/// Items read from one feed at most (the real feed has 50).
const MAX_ITEMS: usize = 1000;

/// One bill as the feed lists it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RssBill {
    pub id: u32,
    pub title: String,
    /// The feed's description: the long title.
    pub description: String,
    pub stage: Option<String>,
    /// The categories: bill type and house.
    pub categories: Vec<String>,
    pub link: Option<String>,
    pub updated: Option<String>,
}

impl RssBill {
    pub fn house(&self) -> Option<&str> {
        self.categories
            .iter()
            .map(String::as_str)
            .find(|c| matches!(*c, "Commons" | "Lords"))
    }
}

/// The bill id at the end of a guid or link: `https://bills.parliament.uk/bills/3873`.
fn bill_id(s: &str) -> Option<u32> {
    s.trim()
        .trim_end_matches('/')
        .rsplit('/')
        .next()?
        .parse()
        .ok()
}

fn stage_attribute(start: &BytesStart<'_>) -> Option<String> {
    start.attributes().flatten().find_map(|a| {
        (a.key.local_name().as_ref() == b"stage")
            .then(|| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok())
            .flatten()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    })
}

/// Parses the feed; one entry per bill id, the most recently updated when guids repeat.
pub fn parse(xml: &str) -> Result<Vec<RssBill>, String> {
    let mut reader = Reader::from_str(xml);
    let mut bills: Vec<RssBill> = Vec::new();
    let mut item: Option<(RssBill, Option<String>)> = None;
    // Local name of the element whose text is being read, and the text so far.
    let mut field: Option<(Vec<u8>, String)> = None;
    loop {
        let event = reader.read_event().map_err(|e| {
            format!(
                "not a readable RSS feed at byte {}: {e}",
                reader.buffer_position()
            )
        })?;
        match event {
            Xml::Start(s) => {
                let name = s.local_name().as_ref().to_vec();
                if name == b"item" {
                    let bill = RssBill {
                        stage: stage_attribute(&s),
                        ..RssBill::default()
                    };
                    item = Some((bill, None));
                } else if item.is_some() {
                    field = Some((name, String::new()));
                }
            }
            Xml::Text(t) => {
                if let Some((_, text)) = &mut field {
                    text.push_str(&t.xml10_content().map_err(|e| e.to_string())?);
                }
            }
            Xml::CData(c) => {
                if let Some((_, text)) = &mut field {
                    text.push_str(&c.decode().map_err(|e| e.to_string())?);
                }
            }
            Xml::GeneralRef(r) => {
                if let Some((_, text)) = &mut field {
                    if let Ok(Some(ch)) = r.resolve_char_ref() {
                        text.push(ch);
                    } else {
                        let name = r.decode().map_err(|e| e.to_string())?;
                        text.push_str(resolve_predefined_entity(&name).unwrap_or(""));
                    }
                }
            }
            Xml::End(e) => {
                let name = e.local_name().as_ref().to_vec();
                if name == b"item" {
                    if let Some((mut bill, guid)) = item.take() {
                        let id = guid
                            .as_deref()
                            .and_then(bill_id)
                            .or_else(|| bill.link.as_deref().and_then(bill_id));
                        if let Some(id) = id {
                            bill.id = id;
                            keep(&mut bills, bill);
                        }
                    }
                    if bills.len() >= MAX_ITEMS {
                        break;
                    }
                } else if let (Some((bill, guid)), Some((fname, text))) = (&mut item, field.take())
                {
                    if fname == name {
                        let text = crate::text::html::fold(&text);
                        match name.as_slice() {
                            b"title" => bill.title = text,
                            b"description" => bill.description = text,
                            b"link" => bill.link = Some(text),
                            b"guid" => *guid = Some(text),
                            b"category" => bill.categories.push(text),
                            b"updated" => bill.updated = Some(text),
                            _ => {}
                        }
                    }
                }
            }
            Xml::Eof => break,
            _ => {}
        }
    }
    Ok(bills)
}

/// Adds a bill, or replaces an earlier entry for the same id if this one is newer.
fn keep(bills: &mut Vec<RssBill>, bill: RssBill) {
    match bills.iter_mut().find(|b| b.id == bill.id) {
        // RFC 3339 in UTC ("Z") compares as text.
        Some(known) if bill.updated > known.updated => *known = bill,
        Some(_) => {}
        None => bills.push(bill),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEED: &str = include_str!("../../../tests/fixtures/bills-rss/allbills__2025-02-01.rss");

    #[test]
    fn reads_stage_attribute_updated_and_id_from_guid() {
        let bills = parse(FEED).unwrap();
        assert_eq!(bills.len(), 50);
        let b = bills.iter().find(|b| b.id == 3929).unwrap();
        assert_eq!(b.title, "Border Security, Asylum and Immigration Bill");
        assert!(b
            .description
            .starts_with("A Bill to make provision about border security;"));
        assert_eq!(b.stage.as_deref(), Some("2nd reading"));
        assert_eq!(b.house(), Some("Commons"));
        assert_eq!(b.categories[0], "Government Bill");
        assert_eq!(
            b.link.as_deref(),
            Some("https://bills.parliament.uk/bills/3929")
        );
        assert_eq!(b.updated.as_deref(), Some("2025-01-30T17:09:37Z"));
        // Curly quotes and entities come through as text.
        let e = bills.iter().find(|b| b.id == 3737).unwrap();
        assert!(e.description.contains("Seafarers’ Wages Act 2023"));
    }

    #[test]
    fn repeated_guids_keep_the_newest_item() {
        let feed = r##"<rss xmlns:a10="http://www.w3.org/2005/Atom"><channel xmlns:p9="#billsSchema">
<item p9:stage="1st reading"><guid>https://bills.parliament.uk/bills/7</guid><title>Old &amp; Tired Bill</title><a10:updated>2025-01-01T00:00:00Z</a10:updated></item>
<item p9:stage="2nd reading"><guid>https://bills.parliament.uk/bills/7/</guid><title><![CDATA[New & Shiny Bill]]></title><a10:updated>2025-01-02T00:00:00Z</a10:updated></item>
<item><guid>not a bill</guid><title>Skipped</title></item>
</channel></rss>"##;
        let bills = parse(feed).unwrap();
        assert_eq!(bills.len(), 1);
        assert_eq!(bills[0].title, "New & Shiny Bill");
        assert_eq!(bills[0].stage.as_deref(), Some("2nd reading"));
    }

    #[test]
    fn broken_xml_is_an_error_not_a_panic() {
        assert!(parse("<rss><channel><item><title>x</item></rss>").is_err());
    }
}
