//! The streaming extractor against the tree: identical title, text and links on every HTML
//! document the tests have (the page-extraction fuzz seeds, every HTML string in the JSON
//! fixtures, the feed fixtures read as HTML, the page shapes the page tests and the
//! benchmark serve, hand-written hard cases) and on mutations of each, under several
//! narrowings. Wherever streaming answers, it must answer what the tree does. And our
//! tokenizer against html5ever's, token by token, on the same documents and on generated
//! markup: wherever ours answers, it must answer what html5ever does.

mod common;

use std::cell::RefCell;
use std::path::Path;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use policywatch::text::html::{extract_by_tree, extract_streaming, Narrowing};
use policywatch::text::tokenize::{tokenize, Fed, Item};
use regex::Regex;
use url::Url;

/// The narrowings each document is extracted with: (select, ignore_selectors, ignore).
fn narrowings() -> Vec<(Vec<String>, Vec<String>, Vec<Regex>)> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        (vec![], vec![], vec![]),
        (s(&["main"]), vec![], vec![]),
        // The page-extraction fuzz target's narrowing.
        (
            s(&["main", "#content, article"]),
            s(&[".nav", "footer, aside"]),
            vec![Regex::new(r"(?i)last updated:? .*").unwrap()],
        ),
        (vec![], s(&["nav", "header", ".c3"]), vec![]),
        (s(&["main > section", "body h2"]), s(&["a[href]"]), vec![]),
        (s(&["p", "li"]), vec![], vec![]),
        // Not streamable: the tree answers alone, and must still answer.
        (s(&["li:first-child"]), vec![], vec![]),
    ]
}

fn seeds() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs = Vec::new();
    let files = |dir: &Path, docs: &mut Vec<(String, String)>| {
        let mut paths: Vec<_> = walk(dir);
        paths.sort();
        for p in paths {
            let name = p.strip_prefix(root).unwrap().display().to_string();
            let Ok(bytes) = std::fs::read(&p) else {
                continue;
            };
            if name.contains("fuzz/seeds/page_extract/") {
                // First byte: the fuzz target's narrowing mode; the rest is the page.
                docs.push((name, String::from_utf8_lossy(&bytes[1..]).into_owned()));
                continue;
            }
            let Ok(text) = String::from_utf8(bytes) else {
                continue;
            };
            match p.extension().and_then(|e| e.to_str()) {
                Some("json") => {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                        let mut html = Vec::new();
                        strings_with_markup(&v, &mut html);
                        for (i, h) in html.into_iter().enumerate() {
                            docs.push((format!("{name}#{i}"), h));
                        }
                    }
                }
                Some("atom" | "rss" | "xml") => docs.push((name, text)),
                _ => {}
            }
        }
    };
    files(&root.join("fuzz/seeds/page_extract"), &mut docs);
    files(&root.join("tests/fixtures"), &mut docs);
    docs.push((
        "page test shape".into(),
        common::commissioner_page("", 1234, "today", "  "),
    ));
    docs.push(("benchmark page".into(), bench_page(7)));
    for (i, h) in HARD.iter().enumerate() {
        docs.push((format!("hard case {i}"), h.to_string()));
        // Without a doctype the tree builder is in quirks mode (a table does not close a
        // <p>); with one it is not.
        docs.push((
            format!("hard case {i}, no quirks"),
            format!("<!DOCTYPE html>{h}"),
        ));
    }
    docs
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn strings_with_markup(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) if s.contains('<') => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings_with_markup(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| strings_with_markup(x, out)),
        _ => {}
    }
}

/// A page shaped like `bench/bench.py`'s: head with style and script, a nav, sections,
/// publication lists, a footer.
fn bench_page(i: usize) -> String {
    let mut h = format!("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Page {i:04}</title><style>.c1{{margin:1px}}</style><script>var pageId={i};if(a<b){{}}</script></head><body><header><nav><ul>");
    for k in 0..10 {
        h.push_str(&format!(
            "<li><a href=\"/section/{k}\">Section &amp; {k}</a></li>"
        ));
    }
    h.push_str("</ul></nav></header>\n<main>\n<h1>Heading</h1>\n");
    for s in 0..8 {
        if s % 4 == 3 {
            h.push_str("<h2>Publications</h2>\n<ul>");
            for k in 0..5 {
                h.push_str(&format!(
                    "<li><a href=\"/wp-content/uploads/{i}/{s}-{k}.pdf\">Report {k} (PDF)</a></li>"
                ));
            }
            h.push_str("</ul>\n");
        } else {
            h.push_str(&format!("<section class=\"c{s}\"><h2>Part {s}</h2>\n<p>Victims of modern slavery &ndash; the NRM&nbsp;statistics.</p>\n<p>Second  paragraph\nwrapped.</p>\n</section>\n"));
        }
    }
    h.push_str("</main>\n<footer><ul><li><a href=\"/legal/1\">Legal</a></li></ul><p>&copy; IASC</p></footer></body></html>\n");
    h
}

/// Markup whose tree is not the nesting of its tags, and other corners.
const HARD: &[&str] = &[
    "<p>one<p>two<div>three</div>four",
    "<ul><li>a<li>b<ul><li>c</ul><li>d</ul><dl><dt>t<dd>d<dt>u</dl>",
    "<p><b>bold <i>both</p></b></i> after",
    "<div><b>x</div>y",
    "<a href=/1>one<a href=/2>two</a></a>",
    "<table><tr><td>cell<td>two<tr><th>h</table>after",
    "<p>para<table><tr><td>x</td></tr></table>",
    "text before <html><body>in body</body></html> after html",
    "<title>T</title><h1>H</h1><p>x",
    "<h1></h1><title></title><h1>second</h1>",
    "<html><head><title>  </title></head><body><h1>Fallback <script>x</script>title</h1></body></html>",
    "<head><meta charset=utf-8><link rel=x></head>\n  <script>var a;</script><body>b",
    "<body><form><form><p>in form</form></form>after",
    "<div><form></div></form>x",
    "</p>text</br>more</div></span>",
    "<h2>a<h3>b</h2>c",
    "<pre>\nkeep\n  this</pre><textarea>\nt</textarea>",
    "<p>x<svg><title>Logo</title><path d=\"M0\"/><text>no</text></svg>y</p>",
    "<svg><p>breaks out</p></svg>",
    "<svg/><p>after self-closed svg</p>",
    "<math><mi>x</mi></math> after math",
    "<noscript><p>no</p></noscript><iframe><p>x</p></iframe><noembed>n</noembed>",
    "<select><option>a<option>b</select>",
    "<p>a<nobr>b<nobr>c</p>",
    "<button><p>in button<button>second</button>",
    "<template><p>t</p></template>visible",
    "<frameset><frame></frameset>",
    "<img alt=\" Alt  text \"><img src=x alt=''><image alt=old>",
    "<a href=\"javascript:x\">js</a><a href=\"#top\">top</a><a href=\"mailto:a@b\">m</a><a href=\"https://ex.org/a b\">sp</a>",
    "<main id=a><main id=b><p>nested</p></main></main>",
    "<div class=\"nav x\"><p>ignored?</p></div><aside>side</aside><footer>f</footer>",
    "<body class=x><body class=y>double body",
    "<html lang=en><html lang=fr>",
    "\u{feff}<!-- c --><!doctype html><p>bom</p>",
    "<p>nul\u{0}char</p><script>nul\u{0}</script>",
    "<xmp><b>raw</b></xmp><listing>\nl</listing>",
    "<ruby>漢<rt>kan</rt></ruby>",
    "<object><p>o</p></object><applet>a</applet>",
    "<p>&amp;&lt;&gt;&nbsp;&#x41;&unknown; &copy</p>",
    "<br/><hr/><p/>self-closed p<div/>self-closed div",
    "<caption>c</caption><td>stray cell</td><tr>row</tr>",
    "<table><caption>Cap</caption><colgroup><col></colgroup><thead><tr><th>a<th>b</thead><tbody><tr><td>1<td>2</tbody><tfoot><tr><td>f</tfoot></table>",
    "<table>\n <tr>\n  <td><b>bold</b> <i>open italic</td><td><table><tr><td>inner</table>after inner</td></tr>\n</table><p>after",
    "<table><tr><td>a</tr></td><tbody><td>b</table>",
    "<table>text in table<tr><td>x</table>",
    "<table><tr><td><p>para<td>next</table>",
    "<table><tr><td>a</td></tr><script>var s;</script><style>t{}</style><input type=hidden><tr><td>b</td></tr></table>",
    "<table><div>moved</div></table>",
    "<p>open<table><tr><td>cell</table>after table",
    "<b>b<table><tr><td>in cell</table>tail</b>",
    "<table><tr><td><a href=/x>l</a></td><th><ul><li>i1<li>i2</ul></table>",
    "<table><thead><tr><th>h</th></tr></thead></tbody></tfoot><tr><td>late</td></tr></table>",
    "<li>loose<li>items</li><dd>d",
    "<div><span><p>p in span</span></p></div>",
    "<em><p>para in em</p></em>",
    "",
    "plain text, no markup",
];

/// Cuts, drops and repeats slices of `doc`, deterministically.
fn mutations(doc: &str, seed: u64) -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let chars: Vec<char> = doc.chars().collect();
    if chars.len() < 4 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for _ in 0..4 {
        let a = rng.usize(..chars.len());
        let b = rng.usize(a..=chars.len().min(a + 200));
        let s: String = match rng.u8(..3) {
            0 => chars[..a].iter().collect(),
            1 => chars[..a].iter().chain(&chars[b..]).collect(),
            _ => chars[..b].iter().chain(&chars[a..]).collect(),
        };
        out.push(s);
    }
    out
}

#[test]
fn streaming_and_tree_extraction_agree_on_every_test_document() {
    let base = Url::parse("https://example.org/dir/page.html").unwrap();
    let narrowings = narrowings();
    let (mut compared, mut streamed) = (0, 0);
    for (i, (name, doc)) in seeds().into_iter().enumerate() {
        let mut variants = vec![doc.clone()];
        variants.extend(mutations(&doc, i as u64));
        for (v, html) in variants.iter().enumerate() {
            for (select, ignore_selectors, ignore) in &narrowings {
                let n = Narrowing {
                    select,
                    ignore_selectors,
                    ignore,
                };
                let tree = extract_by_tree(html, Some(&base), n);
                compared += 1;
                if let Ok(stream) = extract_streaming(html, Some(&base), n) {
                    streamed += 1;
                    assert_eq!(
                        stream, tree,
                        "{name} (variant {v}), select {select:?}, ignore {ignore_selectors:?}:\n{html}"
                    );
                }
            }
        }
    }
    println!("{streamed} of {compared} extractions streamed, each equal to the tree's");
    assert!(streamed * 2 > compared, "{streamed} of {compared} streamed");
}

#[test]
fn the_pages_the_tests_and_the_benchmark_serve_are_streamed() {
    let base = Url::parse("https://example.org/").unwrap();
    let main = ["main".to_string()];
    for (name, html) in [
        (
            "page test shape",
            common::commissioner_page("", 1234, "today", "  "),
        ),
        ("benchmark page", bench_page(3)),
    ] {
        for select in [&main[..], &[]] {
            let n = Narrowing {
                select,
                ..Narrowing::default()
            };
            let streamed = extract_streaming(&html, Some(&base), n)
                .unwrap_or_else(|why| panic!("{name} not streamed: {why}"));
            assert_eq!(streamed, extract_by_tree(&html, Some(&base), n), "{name}");
        }
    }
    // The fuzz seed with every kind of narrowing, too.
    let seed = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/page_extract/iasc-homepage-plain"),
    )
    .unwrap();
    let html = String::from_utf8_lossy(&seed[1..]);
    if let Err(why) = extract_streaming(&html, Some(&base), Narrowing::default()) {
        panic!("the fuzz seed is not streamed: {why}");
    }
}

// --- Our tokenizer against html5ever's --------------------------------------------------

/// What a tree builder asks of the tokenizer after each start tag.
fn raw_kind(token: &Token) -> Option<RawKind> {
    let Token::TagToken(tag) = token else {
        return None;
    };
    if tag.kind != TagKind::StartTag {
        return None;
    }
    match &*tag.name {
        "title" | "textarea" => Some(RawKind::Rcdata),
        "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => Some(RawKind::Rawtext),
        "script" => Some(RawKind::ScriptData),
        _ => None,
    }
}

/// Tokens as compared: neighbouring text joined (where text is cut carries no meaning),
/// parse errors dropped (html5ever words them its own way; nothing reads them).
fn record(tokens: &mut Vec<Token>, token: Token) {
    match (token, tokens.last_mut()) {
        (Token::ParseError(_), _) => {}
        (Token::CharacterTokens(t), Some(Token::CharacterTokens(prev))) => prev.push_tendril(&t),
        (token, _) => tokens.push(token),
    }
}

struct Recorder(RefCell<Vec<Token>>);

impl TokenSink for Recorder {
    type Handle = ();
    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let raw = raw_kind(&token);
        record(&mut self.0.borrow_mut(), token);
        raw.map_or(TokenSinkResult::Continue, TokenSinkResult::RawData)
    }
}

fn html5ever_tokens(html: &str) -> Vec<Token> {
    let tokenizer = Tokenizer::new(Recorder(RefCell::new(Vec::new())), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink.0.into_inner()
}

/// Our tokens, or why ours leaves the page to html5ever.
fn our_tokens(html: &str) -> Result<Vec<Token>, &'static str> {
    let mut tokens = Vec::new();
    let fed = tokenize::<()>(html, |item| {
        // Text comes borrowed: as a token, to compare with html5ever's.
        let t = match item {
            Item::Text(text) => Token::CharacterTokens(StrTendril::from_slice(text)),
            Item::Token(token) => token,
        };
        let raw = raw_kind(&t);
        record(&mut tokens, t);
        Ok(raw)
    });
    match fed {
        Fed::Done => Ok(tokens),
        Fed::Unsure(why) => Err(why),
        Fed::Stopped(()) => unreachable!("the recorder never stops"),
    }
}

/// Ours equal html5ever's, or ours are unsure: which.
fn tokens_agree(name: &str, html: &str) -> bool {
    match our_tokens(html) {
        Ok(ours) => {
            assert_eq!(
                ours,
                html5ever_tokens(html),
                "tokens differ for {name}:\n{html}"
            );
            true
        }
        Err(_) => false,
    }
}

#[test]
fn our_tokenizer_gives_html5evers_tokens_on_every_test_document() {
    let (mut compared, mut ours) = (0, 0);
    for (i, (name, doc)) in seeds().into_iter().enumerate() {
        let mut variants = vec![doc.clone()];
        variants.extend(mutations(&doc, i as u64));
        for (v, html) in variants.iter().enumerate() {
            compared += 1;
            if tokens_agree(&format!("{name} (variant {v})"), html) {
                ours += 1;
            }
        }
    }
    println!("{ours} of {compared} documents tokenized by ours, each as html5ever does");
    assert!(
        ours * 2 > compared,
        "ours tokenized only {ours} of {compared}"
    );
    // The pages the speed is measured on never fall back.
    for (name, html) in [
        ("benchmark page", bench_page(5)),
        (
            "page test shape",
            common::commissioner_page("", 7, "today", "  "),
        ),
    ] {
        assert!(
            tokens_agree(name, &html),
            "{name}: {:?}",
            our_tokens(&html).err()
        );
    }
}

/// Documents built at random from the pieces that trip tokenizers: character references
/// with and without `;`, stray `<` and `&`, quotes, raw text and its near-miss end tags,
/// CR LF, upper case, duplicate attributes.
#[test]
fn our_tokenizer_agrees_with_html5ever_on_generated_markup() {
    let pieces = [
        "<p>",
        "</p>",
        "<div class=\"a b\">",
        "</div>",
        "<a href='/x?y=1&z=2'>",
        "</a>",
        "<br>",
        "<br/>",
        "<img src=a.png alt=\"&quot;q&quot;\">",
        "<td colspan=2>",
        "<title>",
        "</title>",
        "<script>",
        "</script>",
        "<style>",
        "</style>",
        "<textarea>",
        "</textarea>",
        "<!-- c -->",
        "<!-- <p> -- -->",
        "text",
        " ",
        "\n",
        "\r\n",
        "\r",
        "\t",
        "&amp;",
        "&lt;",
        "&nbsp;",
        "&hellip;",
        "&#169;",
        "&#xA9;",
        "&#10;",
        "&",
        "& ",
        "AT&T",
        "&zz;",
        "&copy",
        "&#",
        "&#x;",
        "<",
        " < ",
        "<3",
        ">",
        "\"",
        "'",
        "=",
        "é",
        "😀",
        "</br>",
        "<SPAN STYLE=\"x\">",
        "</SPAN>",
        "<input disabled checked>",
        "<p data-a=1 data-a=2>",
        "<h1>",
        "</h1>",
        "<ul><li>",
        "</li></ul>",
        "</ title>",
        "</script >",
        "x</sc",
        "<!DOCTYPE html>",
        "<!DOCTYPé",
        "<!DOCTYPE htmé>",
        "<!doctype HTML >",
        "<a b=c/>",
        "<a b = 'c' d=e>",
        "<x-y z:w=1>",
    ];
    let mut rng = fastrand::Rng::with_seed(41);
    let (mut ours, total) = (0, 4000);
    for _ in 0..total {
        let html: String = (0..rng.usize(1..40))
            .map(|_| pieces[rng.usize(..pieces.len())])
            .collect();
        if tokens_agree("generated", &html) {
            ours += 1;
        }
    }
    println!("{ours} of {total} generated documents tokenized by ours");
    // Many pieces are there to be left to html5ever; enough documents must remain.
    assert!(ours * 4 > total, "ours tokenized only {ours} of {total}");
    // Character soup: every character markup is made of, with multi-byte ones among them,
    // in any order (a panic fails the test as surely as a difference).
    let soup: Vec<char> = "<<>>!!--&&#;=\"'/ \n\r\taDOCTYPEhtmlscriptx1é😀\u{a0}"
        .chars()
        .collect();
    for _ in 0..20_000 {
        let html: String = (0..rng.usize(0..48))
            .map(|_| soup[rng.usize(..soup.len())])
            .collect();
        tokens_agree("character soup", &html);
    }
}

#[test]
fn what_only_html5ever_tokenizes_is_left_to_it() {
    for html in [
        "<p>&copy 2024</p>",
        "<p>&notit;</p>",
        "<a href=\"?a=1&copy=2\">x</a>",
        "<p>a\0b</p>",
        "<!DOCTYPE html PUBLIC \"-//W3C//DTD HTML 4.01//EN\">",
        "<![CDATA[x]]>",
        "<?xml version=\"1.0\"?>",
        "<script><!-- <script> --></script>",
        "<p>&#128;</p>",
        "<p a=b\"c>",
        "</ p>",
        "<!-->",
        "<p>unfinished <!-- comment",
        // Not ASCII where a keyword was expected: no slicing through a character.
        "<!DOCTYPé>",
        "<!DOCTYPE htmé>",
        "<!doctype h😀>",
    ] {
        assert!(
            our_tokens(html).is_err(),
            "ours should leave {html:?} to html5ever"
        );
    }
}
