//! Extraction, keyword pages and by-page diffs on real public-domain PDFs
//! (tests/fixtures/documents/PROVENANCE.md), and hostile PDFs made here.

use std::io::Write;

use super::*;

const V2006: &[u8] = include_bytes!(
    "../../../tests/fixtures/documents/state-dept-guidance-bulletin-25-macau-2006.pdf"
);
const V2017: &[u8] = include_bytes!(
    "../../../tests/fixtures/documents/state-dept-guidance-bulletin-33-macau-2017.pdf"
);

fn kws(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_real_pdf_reads_page_by_page() {
    let e = extract_blocking(V2017, Some("application/pdf"), Limits::default()).unwrap();
    assert_eq!(e.format, Format::Pdf);
    assert_eq!(e.page_count, 2);
    assert!(
        e.pages[0].starts_with("OFFICE OF THE GEOGRAPHER AND GLOBAL ISSUES\nDEPARTMENT OF STATE")
    );
    assert!(e.pages[0]
        .contains("GUIDANCE ON THE DEPICTION OF THE\nMACAU SPECIAL ADMINISTRATIVE REGION"));
    let text = text_with_pages(&e);
    assert!(text.starts_with("--- page 1 ---\nOFFICE OF THE GEOGRAPHER"));
    assert_eq!(pages_of(&text), e.pages);
}

#[test]
fn keywords_are_counted_with_their_pages() {
    let e = extract_blocking(V2006, None, Limits::default()).unwrap();
    let hits = keyword_pages(&kws(&["Macau", "Hong Kong", "modern slavery"]), &e.pages);
    let macau = hits.iter().find(|h| h.keyword == "Macau").unwrap();
    assert!(macau.count >= 5, "{macau:?}");
    assert_eq!(macau.pages, [1, 2]);
    assert_eq!(
        macau.describe(Format::Pdf),
        format!("Macau: {}×, pp. 1, 2", macau.count)
    );
    assert!(hits.iter().all(|h| h.keyword != "modern slavery"));
    let one = KeywordPages {
        keyword: "k".into(),
        count: 1,
        pages: vec![3],
    };
    assert_eq!(one.describe(Format::Pdf), "k: 1×, p. 3");
    let many = KeywordPages {
        keyword: "k".into(),
        count: 14,
        pages: (1..=12).collect(),
    };
    assert_eq!(
        many.describe(Format::Pdf),
        "k: 14×, pp. 1, 2, 3, 4, 5, 6, 7, 8…"
    );
}

#[test]
fn a_second_version_diffs_by_page() {
    let a = extract_blocking(V2006, None, Limits::default()).unwrap();
    let b = extract_blocking(V2017, None, Limits::default()).unwrap();
    let (diff, pages) = diff_by_page(&a.pages, &b.pages);
    assert_eq!(pages, [1, 2]);
    assert!(diff.starts_with("@@ page 1 ("), "{diff}");
    assert!(diff.contains("+No. 33 August 16. 2017"), "{diff}");
    let (same, none) = diff_by_page(&a.pages, &a.pages);
    assert!(same.is_empty() && none.is_empty());
}

fn pdf_with_stream(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write!(
        out,
        "%PDF-1.4\n1 0 obj\n<< /Length {} /Filter /FlateDecode >>\nstream\n",
        data.len()
    )
    .unwrap();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\nendstream\nendobj\ntrailer\n<< >>\n%%EOF\n");
    out
}

#[test]
fn a_pdf_bomb_is_refused_before_parsing() {
    // 200 MB of zeros deflate to about 200 KB.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..200 {
        z.write_all(&zeros).unwrap();
    }
    let bomb = pdf_with_stream(&z.finish().unwrap());
    assert!(bomb.len() < 1024 * 1024);
    let err = extract_blocking(&bomb, None, Limits::default()).unwrap_err();
    assert_eq!(
        err,
        "PDF refused: its compressed streams expand to more than 64 MiB (a PDF bomb?)"
    );
    // A small honest stream passes the pre-scan.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(b"BT (hello) Tj ET").unwrap();
    assert!(prescan_pdf(&pdf_with_stream(&z.finish().unwrap()), 1024).is_ok());
    // The real PDFs pass.
    assert!(prescan_pdf(V2006, Limits::default().max_inflated).is_ok());
}

#[test]
fn malformed_documents_fail_clearly() {
    let err = extract_blocking(&V2017[..V2017.len() / 3], None, Limits::default()).unwrap_err();
    assert!(err.starts_with("malformed PDF"), "{err}");
    let err = extract_blocking(b"%PDF-1.7\ngarbage", None, Limits::default()).unwrap_err();
    assert!(err.starts_with("malformed PDF"), "{err}");
    let err = extract_blocking(
        &[0xff, 0xd8, 0xff, 0xe0],
        Some("image/jpeg"),
        Limits::default(),
    )
    .unwrap_err();
    assert_eq!(err, "not a PDF or HTML document (image/jpeg)");
}

#[tokio::test]
async fn extraction_is_bounded_in_time() {
    let limits = Limits {
        timeout: Duration::from_nanos(1),
        ..Limits::default()
    };
    let err = extract(V2006.to_vec(), None, limits).await.unwrap_err();
    assert_eq!(
        err,
        "document refused: extracting its text took longer than 1ns"
    );
}

#[test]
fn html_documents_are_one_page() {
    let e = extract_blocking(
        b"<html><head><title>t</title></head><body><p>Modern slavery statement</p></body></html>",
        Some("text/html"),
        Limits::default(),
    )
    .unwrap();
    assert_eq!(e.format, Format::Html);
    assert_eq!(e.pages, ["Modern slavery statement"]);
    assert_eq!(text_with_pages(&e), "Modern slavery statement");
}
