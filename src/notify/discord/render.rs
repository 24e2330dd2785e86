//! Alerts as Discord messages: one embed per alert, grouped into as few messages as
//! Discord's limits allow. Pure functions, no I/O.
//!
//! Everything scraped (titles, summaries, annotations, keywords, diffs) is hostile: it is
//! escaped so that `@everyone`, `<@id>`, masked links and markdown render as plain text,
//! and cut so that no limit is passed, never inside a character, an escape or the diff's
//! code fence, and inside a word only when a single word is longer than the room.

use chrono::{DateTime, Utc};

use crate::data::{Mention, Severity, Tone};
use crate::notify::group::Batch;
use crate::store::ChangeRecord;
use crate::text::{humanise, one_line};

pub const CONTENT_MAX: usize = 2000;
pub const TITLE_MAX: usize = 256;
pub const DESCRIPTION_MAX: usize = 4096;
pub const FIELD_NAME_MAX: usize = 256;
pub const FIELD_VALUE_MAX: usize = 1024;
pub const FIELDS_MAX: usize = 25;
pub const FOOTER_MAX: usize = 2048;
pub const EMBEDS_MAX: usize = 10;
/// Title, description, field names and values, footer and author of every embed of one
/// message together.
pub const MESSAGE_EMBED_CHARS_MAX: usize = 6000;
/// Discord's default upload limit is 10 MiB per message; stay well under it.
pub const ATTACHMENT_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Discord refuses embed URLs longer than this.
const URL_MAX: usize = 2048;

/// Room given to the diff excerpt in an embed: enough to read the change, small enough that
/// several alerts share a message.
pub const DIFF_EXCERPT_MAX: usize = 1500;
const SUMMARY_MAX: usize = 900;
const ANNOTATION_MAX: usize = 300;
const ANNOTATIONS_MAX: usize = 1200;
const KEYWORDS_MAX: usize = 300;
/// Event fields shown besides Event and Watch, and the room each gets.
const EXTRA_FIELDS_MAX: usize = 8;
const EXTRA_FIELD_VALUE_MAX: usize = 300;

const ZWSP: char = '\u{200B}';
const ELLIPSIS: char = '…';

pub const GREY: u32 = 0x95A5A6;
pub const BLUE: u32 = 0x3498DB;
pub const ORANGE: u32 = 0xE67E22;
pub const GREEN: u32 = 0x2ECC71;
pub const DARK_RED: u32 = 0x992D22;

/// Length as Discord counts it. Discord counts code points; UTF-16 units are never fewer,
/// so a text that fits by this count fits whichever way it is counted.
pub fn discord_len(s: &str) -> usize {
    s.encode_utf16().count()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub value: String,
    pub inline: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Embed {
    pub title: String,
    pub url: Option<String>,
    pub description: String,
    pub color: u32,
    pub fields: Vec<Field>,
    pub footer: String,
    pub timestamp: DateTime<Utc>,
}

impl Embed {
    /// What the embed counts towards the 6000 per message.
    pub fn size(&self) -> usize {
        discord_len(&self.title)
            + discord_len(&self.description)
            + discord_len(&self.footer)
            + self
                .fields
                .iter()
                .map(|f| discord_len(&f.name) + discord_len(&f.value))
                .sum::<usize>()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub filename: String,
    pub data: Vec<u8>,
}

/// One alert, rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedAlert {
    pub id: u64,
    pub embed: Embed,
    /// The full diff, when the embed could not show all of it.
    pub attachment: Option<Attachment>,
    pub mentions: Vec<Mention>,
    /// Alerts of one cycle share this (their detection time); only they are grouped.
    pub cycle: DateTime<Utc>,
}

/// One Discord message: what is posted in one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The alerts it carries, in order (one embed each).
    pub alert_ids: Vec<u64>,
    /// Subscriber mentions, written by policywatch itself.
    pub content: Option<String>,
    pub embeds: Vec<Embed>,
    /// At most one per message (see [`group`]).
    pub attachment: Option<Attachment>,
    /// The only users and roles the message may ping.
    pub users: Vec<u64>,
    pub roles: Vec<u64>,
    /// What the embeds count towards [`MESSAGE_EMBED_CHARS_MAX`].
    pub embed_chars: usize,
}

/// Renders one alert as an embed (and its full diff as a file when the embed cannot hold it).
pub fn render(record: &ChangeRecord) -> RenderedAlert {
    let a = &record.alert;
    let title = {
        let t = one_line(&a.title);
        let t = if t.is_empty() { a.watch.clone() } else { t };
        fit(escape(&t), TITLE_MAX)
    };

    let mut description = String::new();
    if !a.summary.trim().is_empty() {
        description.push_str(&fit(escape(a.summary.trim()), SUMMARY_MAX));
    }
    let mut notes_used = 0;
    for (i, note) in a.annotations.iter().enumerate() {
        let line = format!("• {}", fit(escape(&one_line(note)), ANNOTATION_MAX));
        if notes_used + discord_len(&line) > ANNOTATIONS_MAX {
            push_line(
                &mut description,
                &format!("• … {} more", a.annotations.len() - i),
            );
            break;
        }
        notes_used += discord_len(&line) + 1;
        push_line(&mut description, &line);
    }
    if !a.keywords.is_empty() {
        let list = fit(escape(&one_line(&a.keywords.join(", "))), KEYWORDS_MAX);
        push_line(&mut description, &format!("**Keywords:** {list}"));
    }

    let full = if record.full_diff.trim().is_empty() {
        a.diff.as_str()
    } else {
        record.full_diff.as_str()
    };
    let mut attachment = None;
    if !full.trim().is_empty() {
        let filename = diff_filename(&a.watch, a.id);
        // Room for the note said when the diff does not fit, so it always can be said.
        let note_room = 60 + discord_len(&filename) + 2;
        let room = DESCRIPTION_MAX
            .saturating_sub(discord_len(&description) + 2 + note_room)
            .min(DIFF_EXCERPT_MAX);
        let block = diff_block(full, room);
        if let Some(block) = &block {
            push_line(&mut description, &block.text);
        }
        let complete = block.as_ref().is_some_and(|b| b.shown == b.total);
        if !complete {
            let note = match &block {
                Some(b) => format!(
                    "Diff too long ({} of {} lines shown): full diff attached as `{filename}`",
                    b.shown, b.total
                ),
                None => format!("Diff too long: full diff attached as `{filename}`"),
            };
            push_line(&mut description, &note);
            attachment = Some(Attachment {
                filename,
                data: cap_attachment(full, a.id),
            });
        }
    }

    let mut fields = vec![
        Field {
            name: "Event".into(),
            value: fit(escape(&one_line(&a.event)), FIELD_VALUE_MAX),
            inline: true,
        },
        Field {
            name: "Watch".into(),
            value: fit(escape(&one_line(&a.watch)), FIELD_VALUE_MAX),
            inline: true,
        },
    ];
    fields.extend(extra_fields(&a.fields, &[&a.url, &a.title]));
    fields.truncate(FIELDS_MAX);

    let footer = fit(
        escape(&one_line(&format!("{} · alert {}", a.watchlist, a.id))),
        FOOTER_MAX,
    );

    RenderedAlert {
        id: a.id,
        embed: Embed {
            title,
            url: link(&a.url),
            description: if description.is_empty() {
                // Discord refuses an empty embed body only when the whole embed is empty; a
                // title always exists, but say something anyway.
                "(no details)".into()
            } else {
                description
            },
            color: colour(a.tone, a.severity),
            fields,
            footer,
            timestamp: a.detected_at,
        },
        attachment,
        mentions: a.mentions.clone(),
        cycle: a.detected_at,
    }
}

/// Packs alerts into as few messages as Discord's limits allow, in order, through the
/// generic [`group`](crate::notify::group::group): only alerts of one cycle share a
/// message. A message carries at most one file (serenity numbers every file of a raw
/// request alike).
pub fn group(alerts: Vec<RenderedAlert>) -> Vec<Message> {
    crate::notify::group::group(alerts.into_iter().map(|a| (a.cycle, a)))
}

impl Batch for Message {
    type Item = RenderedAlert;

    fn empty() -> Self {
        Message {
            alert_ids: Vec::new(),
            content: None,
            embeds: Vec::new(),
            attachment: None,
            users: Vec::new(),
            roles: Vec::new(),
            embed_chars: 0,
        }
    }

    fn fits(&self, a: &RenderedAlert) -> bool {
        self.embeds.len() < EMBEDS_MAX
            && self.embed_chars + a.embed.size() <= MESSAGE_EMBED_CHARS_MAX
            && !(self.attachment.is_some() && a.attachment.is_some())
            && discord_len(&content_for(&self.users, &self.roles, &a.mentions)) <= CONTENT_MAX
    }

    fn add(&mut self, a: RenderedAlert) {
        let m = self;
        m.embed_chars += a.embed.size();
        m.alert_ids.push(a.id);
        m.embeds.push(a.embed);
        if a.attachment.is_some() {
            m.attachment = a.attachment;
        }
        for mention in a.mentions {
            // Mentions past the content limit are dropped rather than the message refused.
            if discord_len(&content_for(
                &m.users,
                &m.roles,
                std::slice::from_ref(&mention),
            )) > CONTENT_MAX
            {
                continue;
            }
            match mention {
                Mention::User(id) if !m.users.contains(&id) => m.users.push(id),
                Mention::Role(id) if !m.roles.contains(&id) => m.roles.push(id),
                _ => {}
            }
        }
        let content = content_for(&m.users, &m.roles, &[]);
        m.content = (!content.is_empty()).then_some(content);
    }
}

/// The mentions line: users then roles, each once.
fn content_for(users: &[u64], roles: &[u64], more: &[Mention]) -> String {
    let mut users = users.to_vec();
    let mut roles = roles.to_vec();
    for m in more {
        match *m {
            Mention::User(id) if !users.contains(&id) => users.push(id),
            Mention::Role(id) if !roles.contains(&id) => roles.push(id),
            _ => {}
        }
    }
    users
        .iter()
        .map(|id| format!("<@{id}>"))
        .chain(roles.iter().map(|id| format!("<@&{id}>")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Colour by the event's tone, then its severity. Watch health (severity `info`) is grey
/// whichever way it goes.
pub fn colour(tone: Tone, severity: Severity) -> u32 {
    match (severity, tone) {
        (Severity::Info, _) => GREY,
        (_, Tone::Good) => GREEN,
        (_, Tone::Bad) => DARK_RED,
        (Severity::Major, Tone::Neutral) => ORANGE,
        (Severity::Notice, Tone::Neutral) => BLUE,
    }
}

/// `<watch>-<id>.diff`, with anything but letters, digits, `.`, `_` and `-` replaced, so
/// the name is safe in a header and in inline code.
pub fn diff_filename(watch: &str, id: u64) -> String {
    let safe: String = watch
        .chars()
        .take(80)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{safe}-{id}.diff")
}

/// The source link, if Discord will take it (an http(s) URL within its length limit).
fn link(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    let s = parsed.to_string();
    (matches!(parsed.scheme(), "http" | "https") && s.len() <= URL_MAX).then_some(s)
}

/// The full diff as a file, cut at a line boundary if it is over the upload limit.
fn cap_attachment(diff: &str, id: u64) -> Vec<u8> {
    if diff.len() <= ATTACHMENT_BYTES_MAX {
        return diff.as_bytes().to_vec();
    }
    let trailer = format!(
        "\n… diff cut at {} MiB; `policywatch show {id}` prints all of it\n",
        ATTACHMENT_BYTES_MAX / (1024 * 1024)
    );
    let mut end = ATTACHMENT_BYTES_MAX - trailer.len();
    while !diff.is_char_boundary(end) {
        end -= 1;
    }
    let end = diff[..end].rfind('\n').map_or(end, |i| i + 1);
    let mut out = diff.as_bytes()[..end].to_vec();
    out.extend_from_slice(trailer.as_bytes());
    out
}

/// Event fields worth a line: scalars and lists of scalars, short, not repeating the title
/// or link.
fn extra_fields(fields: &serde_json::Value, repeated: &[&str]) -> Vec<Field> {
    let serde_json::Value::Object(map) = fields else {
        return Vec::new();
    };
    let scalar = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(if *b { "yes" } else { "no" }.to_string()),
        _ => None,
    };
    let mut out = Vec::new();
    for (key, value) in map {
        let text = match value {
            serde_json::Value::Array(items) => {
                let parts: Option<Vec<String>> = items.iter().map(scalar).collect();
                match parts {
                    Some(p) if !p.is_empty() => p.join(", "),
                    _ => continue,
                }
            }
            v => match scalar(v) {
                Some(s) => s,
                None => continue,
            },
        };
        let text = one_line(&text);
        if text.is_empty() || repeated.contains(&text.as_str()) {
            continue;
        }
        // Discord refuses a field without a name.
        let name = Some(humanise(key)).filter(|n| !n.is_empty());
        out.push(Field {
            name: fit(escape(name.as_deref().unwrap_or("Field")), FIELD_NAME_MAX),
            value: fit(escape(&text), EXTRA_FIELD_VALUE_MAX.min(FIELD_VALUE_MAX)),
            inline: discord_len(&text) <= 40,
        });
        if out.len() == EXTRA_FIELDS_MAX {
            break;
        }
    }
    out
}

fn push_line(out: &mut String, line: &str) {
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(line);
}

/// Characters dropped from anything shown: controls (but newline and tab) and the bidi
/// overrides that let text display in an order other than it reads.
fn dropped(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Escaped text, with the places it may be cut.
#[derive(Debug, Clone, Default)]
pub struct Escaped {
    text: String,
    len: usize,
    /// After each source character: (byte offset, Discord length, ends a word).
    cuts: Vec<(usize, usize, bool)>,
}

impl Escaped {
    fn push(&mut self, token: &str, word_end: bool) {
        self.text.push_str(token);
        self.len += discord_len(token);
        self.cuts.push((self.text.len(), self.len, word_end));
    }
}

/// Escapes scraped text for Discord markdown: markdown characters and brackets get a
/// backslash, `@` gets a zero-width space after it (so no mention can form), line-leading
/// `#`, `-`, `+` (headings, lists) are escaped, and bare links are kept clickable when they
/// contain nothing that could start markup.
pub fn escape(raw: &str) -> Escaped {
    let mut out = Escaped::default();
    let chars: Vec<char> = raw.chars().filter(|c| !dropped(*c)).collect();
    let mut i = 0;
    let mut line_start = true;
    while i < chars.len() {
        if let Some(end) = bare_link(&chars, i) {
            for (j, c) in chars[i..end].iter().enumerate() {
                let word_end = i + j + 1 == end;
                out.push(c.encode_utf8(&mut [0; 4]), word_end);
            }
            i = end;
            line_start = false;
            continue;
        }
        let c = chars[i];
        let word_end = chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        let token = match c {
            '\t' => " ".to_string(),
            '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']' | '(' | ')' | '<' | '>' => {
                format!("\\{c}")
            }
            '#' | '-' | '+' if line_start => format!("\\{c}"),
            '@' => format!("@{ZWSP}"),
            c => c.to_string(),
        };
        out.push(&token, word_end);
        if c == '\n' {
            line_start = true;
        } else if !c.is_whitespace() {
            line_start = false;
        }
        i += 1;
    }
    out
}

/// End of an http(s) link starting at `i` that is safe to leave as written: Discord turns
/// it into a link, and it holds nothing that could open markup or a mention.
fn bare_link(chars: &[char], i: usize) -> Option<usize> {
    let at_word_start = i == 0 || chars[i - 1].is_whitespace();
    if !at_word_start {
        return None;
    }
    let rest: String = chars[i..chars.len().min(i + 8)].iter().collect();
    if !(rest.starts_with("https://") || rest.starts_with("http://")) {
        return None;
    }
    let end = chars[i..]
        .iter()
        .position(|c| c.is_whitespace())
        .map_or(chars.len(), |p| i + p);
    let safe = chars[i..end].iter().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                '-' | '.'
                    | '_'
                    | ':'
                    | '/'
                    | '?'
                    | '#'
                    | '%'
                    | '&'
                    | '='
                    | '+'
                    | ','
                    | ';'
                    | '!'
                    | '$'
                    | '\''
            )
    });
    safe.then_some(end)
}

/// The escaped text, cut to `max` with an ellipsis when longer: at the end of a word
/// unless that would waste more than a third of the room, never inside an escape.
pub fn fit(e: Escaped, max: usize) -> String {
    if e.len <= max {
        return e.text;
    }
    let budget = max.saturating_sub(1);
    let any = e.cuts.iter().rev().find(|c| c.1 <= budget);
    let word = e
        .cuts
        .iter()
        .rev()
        .find(|c| c.2 && c.1 <= budget && c.1 * 3 >= budget * 2);
    let at = word.or(any).map_or(0, |c| c.0);
    let mut out = e.text[..at].trim_end().to_string();
    out.push(ELLIPSIS);
    out
}

/// A ```diff block.
#[derive(Debug, Clone, PartialEq)]
struct DiffBlock {
    text: String,
    shown: usize,
    total: usize,
}

/// As many whole lines of the diff as fit in `room` (fence included), each neutralised so
/// it cannot close the fence or ping. A first line longer than the room is cut.
fn diff_block(diff: &str, room: usize) -> Option<DiffBlock> {
    const OPEN: &str = "```diff\n";
    const CLOSE: &str = "\n```";
    let lines: Vec<&str> = diff.trim_end_matches('\n').lines().collect();
    let avail = room.checked_sub(discord_len(OPEN) + discord_len(CLOSE))?;
    let mut body = String::new();
    let mut used = 0;
    let mut shown = 0;
    for line in &lines {
        let l = code_line(line);
        let need = l.len + usize::from(shown > 0);
        if used + need > avail {
            break;
        }
        if shown > 0 {
            body.push('\n');
        }
        body.push_str(&l.text);
        used += need;
        shown += 1;
    }
    if shown == 0 {
        let first = lines.first()?;
        if avail < 20 {
            return None;
        }
        body = fit(code_line(first), avail);
    }
    Some(DiffBlock {
        text: format!("{OPEN}{body}{CLOSE}"),
        shown,
        total: lines.len(),
    })
}

/// One diff line made safe inside a code block: no run of backticks (a zero-width space
/// between each pair, so ``` cannot close the fence), and a zero-width space after the `@`
/// of `@everyone`, `@here` and `<@`, so no mention forms even if the text were ever shown
/// outside the block. Hunk headers (`@@ -1 +1 @@`) stay as they are.
fn code_line(raw: &str) -> Escaped {
    let mut out = Escaped::default();
    let chars: Vec<char> = raw.chars().filter(|c| !dropped(*c)).collect();
    for (i, &c) in chars.iter().enumerate() {
        let word_end = chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        let mut token = String::new();
        if c == '`' && i > 0 && chars[i - 1] == '`' {
            token.push(ZWSP);
        }
        token.push(c);
        if c == '@' && (i > 0 && chars[i - 1] == '<' || mass_mention(&chars[i + 1..])) {
            token.push(ZWSP);
        }
        out.push(&token, word_end);
    }
    out
}

/// Whether the text after an `@` makes `@everyone` or `@here`.
fn mass_mention(after: &[char]) -> bool {
    ["everyone", "here"]
        .iter()
        .any(|w| after.iter().take(w.len()).copied().eq(w.chars()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Alert;
    use chrono::TimeZone;

    fn record(id: u64, title: &str, summary: &str, diff: &str) -> ChangeRecord {
        ChangeRecord {
            alert: Alert {
                id,
                watch: "ico-guidance".into(),
                event: "page.changed".into(),
                title: title.into(),
                url: "https://ico.org.uk/for-organisations/".into(),
                summary: summary.into(),
                annotations: vec!["Matched keyword: data protection".into()],
                keywords: vec!["data protection".into()],
                diff: diff.chars().take(3000).collect(),
                detected_at: Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
                severity: Severity::Notice,
                tone: Tone::Neutral,
                watchlist: "privacy".into(),
                destination: Some(crate::data::Destination::discord(42)),
                mentions: vec![],
                from_version: Some(1),
                to_version: Some(2),
                fields: serde_json::Value::Null,
            },
            full_diff: diff.into(),
            delivered_at: None,
            reviews: Vec::new(),
        }
    }

    /// Whether `c` occurs without a backslash before it.
    fn bare(s: &str, c: char) -> bool {
        let chars: Vec<char> = s.chars().collect();
        (0..chars.len()).any(|i| chars[i] == c && (i == 0 || chars[i - 1] != '\\'))
    }

    fn hostile() -> &'static str {
        "Hi @everyone and @here, ping <@&123> and <@456> in <#789>: [click](https://evil.example) **bold** `code` ||spoiler|| > quote"
    }

    #[test]
    fn escaped_text_cannot_ping_link_or_format() {
        let out = escape(hostile()).text;
        assert!(
            !out.contains("@everyone") && !out.contains("@here"),
            "{out}"
        );
        assert!(!bare(&out, '<') && !bare(&out, '['), "{out}");
        assert!(
            out.contains("\\[click\\]\\(https://evil.example\\)"),
            "{out}"
        );
        assert!(out.contains("\\*\\*bold\\*\\*"), "{out}");
        assert!(out.contains("\\|\\|spoiler\\|\\|"), "{out}");
        assert!(out.contains("\\> quote"), "{out}");
        // A heading or list marker starting a line is neutralised; the same mid-line is not.
        assert_eq!(escape("# Big\n- item a-b").text, "\\# Big\n\\- item a-b");
    }

    #[test]
    fn plain_links_stay_clickable_and_bidi_overrides_are_dropped() {
        let out = escape("See https://www.gov.uk/guidance/a_b?x=1 now \u{202E}txt.exe").text;
        assert!(
            out.contains("https://www.gov.uk/guidance/a_b?x=1 now"),
            "{out}"
        );
        assert!(!out.contains('\u{202E}'));
        // A link holding markup is escaped like any other text.
        assert!(escape("https://x.example/<@1>")
            .text
            .contains("\\<@\u{200B}1\\>"));
    }

    #[test]
    fn fit_cuts_at_a_word_never_inside_a_char_or_an_escape() {
        let text = "Réforme de la protection des données personnelles ".repeat(20);
        let out = fit(escape(&text), 100);
        assert!(discord_len(&out) <= 100);
        let kept = out.strip_suffix(ELLIPSIS).unwrap();
        assert!(kept.len() > 60, "{out}");
        assert!(
            text.starts_with(kept) && text[kept.len()..].starts_with(' '),
            "{out}"
        );
        // Emoji are two UTF-16 units: still never over.
        let emoji = "🦀".repeat(300);
        let out = fit(escape(&emoji), 256);
        assert!(discord_len(&out) <= 256, "{}", discord_len(&out));
        // Escapes are not split: the cut lands between `\*` pairs, not after a backslash.
        let stars = "*".repeat(600);
        let out = fit(escape(&stars), 255);
        assert!(out.trim_end_matches(ELLIPSIS).ends_with("\\*"));
        assert!(!out.trim_end_matches(ELLIPSIS).ends_with("\\\\"));
        // One enormous word has to be cut inside.
        let out = fit(escape(&"a".repeat(5000)), 256);
        assert_eq!(discord_len(&out), 256);
    }

    #[test]
    fn a_huge_diff_is_excerpted_in_a_closed_fence_and_attached_in_full() {
        let mut diff = String::from("@@ -1,4000 +1,4000 @@\n");
        for i in 0..4000 {
            diff.push_str(&format!("-old line {i} with some words in it for length\n"));
            diff.push_str(&format!(
                "+new line {i} ``` fence breaker and @everyone too\n"
            ));
        }
        assert!(diff.len() > 300_000);
        let r = render(&record(7, "Guidance", "Page changed", &diff));
        let d = &r.embed.description;
        assert!(discord_len(d) <= DESCRIPTION_MAX);
        assert!(d.contains("```diff\n"));
        // Exactly one opening and one closing fence: no diff line closed it early.
        assert_eq!(d.matches("```").count(), 2, "{d}");
        assert!(!d.contains("@everyone"));
        assert!(d.contains("Diff too long"), "{d}");
        assert!(d.contains("full diff attached as `ico-guidance-7.diff`"));
        let att = r.attachment.expect("attached");
        assert_eq!(att.filename, "ico-guidance-7.diff");
        assert_eq!(att.data, diff.as_bytes());
        // Whole lines only: the fence's last line is a complete diff line.
        let body = d
            .split("```diff\n")
            .nth(1)
            .unwrap()
            .split("\n```")
            .next()
            .unwrap();
        assert!(
            body.lines()
                .all(|l| l.starts_with('@') || l.ends_with("length") || l.ends_with("too")),
            "{body}"
        );
    }

    #[test]
    fn a_small_diff_is_shown_whole_without_attachment() {
        let diff = "@@ -1 +1 @@\n-Old text\n+New text\n";
        let r = render(&record(3, "Guidance", "Text changed: +1 −1 lines", diff));
        assert!(r.attachment.is_none());
        assert!(r
            .embed
            .description
            .contains("```diff\n@@ -1 +1 @@\n-Old text\n+New text\n```"));
        assert!(!r.embed.description.contains("Diff too long"));
        assert_eq!(r.embed.color, BLUE);
        assert_eq!(
            r.embed.url.as_deref(),
            Some("https://ico.org.uk/for-organisations/")
        );
        assert!(r
            .embed
            .description
            .contains("**Keywords:** data protection"));
    }

    #[test]
    fn hostile_title_and_summary_are_escaped_and_within_limits() {
        let long_title = format!("{} {}", hostile(), "word ".repeat(100));
        let r = render(&record(1, &long_title, hostile(), ""));
        assert!(discord_len(&r.embed.title) <= TITLE_MAX);
        assert!(r.embed.title.ends_with(ELLIPSIS));
        for text in [&r.embed.title, &r.embed.description] {
            assert!(!text.contains("@everyone") && !text.contains("@here"));
            assert!(!bare(text, '<') && !bare(text, '['), "{text}");
        }
    }

    #[test]
    fn watch_health_is_grey_and_major_changes_stand_out() {
        // watch.failing / watch.recovered
        assert_eq!(colour(Tone::Neutral, Severity::Info), GREY);
        // bill.stage_changed, bill.royal_assent, govuk.withdrawn
        assert_eq!(colour(Tone::Neutral, Severity::Major), ORANGE);
        assert_eq!(colour(Tone::Good, Severity::Major), GREEN);
        assert_eq!(colour(Tone::Bad, Severity::Major), DARK_RED);
    }

    #[test]
    fn alerts_are_grouped_within_every_limit_in_order() {
        let small: Vec<RenderedAlert> = (1..=40)
            .map(|i| {
                render(&record(
                    i,
                    &format!("Doc {i}"),
                    "Changed",
                    "@@ -1 +1 @@\n-a\n+b\n",
                ))
            })
            .collect();
        let messages = group(small);
        assert_eq!(messages.iter().map(|m| m.embeds.len()).sum::<usize>(), 40);
        assert_eq!(messages.len(), 4, "10 embeds each");
        let ids: Vec<u64> = messages.iter().flat_map(|m| m.alert_ids.clone()).collect();
        assert_eq!(ids, (1..=40).collect::<Vec<_>>());

        let big = "@@ -1,400 +1,400 @@\n".to_string()
            + &"+a fairly long line of changed words\n".repeat(400);
        let rendered: Vec<RenderedAlert> = (1..=6)
            .map(|i| render(&record(i, "Doc", &"summary words ".repeat(60), &big)))
            .collect();
        let messages = group(rendered);
        for m in &messages {
            let size: usize = m.embeds.iter().map(Embed::size).sum();
            assert!(size <= MESSAGE_EMBED_CHARS_MAX, "{size}");
            assert!(m.embeds.len() <= EMBEDS_MAX);
            assert!(
                m.attachment.is_some(),
                "one file per message, each alert's own"
            );
        }
        assert_eq!(messages.len(), 6);
    }

    #[test]
    fn alerts_of_different_cycles_are_not_grouped_and_mentions_are_collected() {
        let mut a = record(1, "A", "s", "");
        a.alert.mentions = vec![Mention::User(11), Mention::Role(22)];
        let mut b = record(2, "B", "s", "");
        b.alert.mentions = vec![Mention::Role(22), Mention::User(33)];
        let mut c = record(3, "C", "s", "");
        c.alert.detected_at += chrono::Duration::minutes(30);
        let messages = group(vec![render(&a), render(&b), render(&c)]);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].alert_ids, vec![1, 2]);
        assert_eq!(messages[0].content.as_deref(), Some("<@11> <@33> <@&22>"));
        assert_eq!(messages[0].users, vec![11, 33]);
        assert_eq!(messages[0].roles, vec![22]);
        assert_eq!(messages[1].content, None);
    }

    #[test]
    fn event_fields_become_short_embed_fields() {
        let mut r = record(1, "Bill", "Stage moved", "");
        r.alert.fields = serde_json::json!({
            "from": "Committee stage",
            "to": "Report stage",
            "house": "Commons",
            "nested": {"x": 1},
            "long_text": "x ".repeat(2000),
            "url": "https://ico.org.uk/for-organisations/",
        });
        let e = render(&r).embed;
        let names: Vec<&str> = e.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["Event", "Watch", "From", "House", "Long text", "To"]
        );
        assert!(e
            .fields
            .iter()
            .all(|f| discord_len(&f.value) <= FIELD_VALUE_MAX && !f.value.is_empty()));
        assert!(e
            .fields
            .iter()
            .any(|f| f.name == "From" && f.value == "Committee stage"));
    }

    #[test]
    fn diff_filenames_are_safe() {
        assert_eq!(diff_filename("bill-3548", 12), "bill-3548-12.diff");
        assert_eq!(diff_filename("a b/../`x`", 1), "a-b-..--x--1.diff");
    }
}
