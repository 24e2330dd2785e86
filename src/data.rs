//! Plain data at the bottom of the flow: what a kind extracts ([`Document`]), what a search
//! follows ([`FollowTarget`]), what a comparison yields ([`Event`]), what the team is told
//! ([`Alert`], the stable JSON contract of `check --format json`), who is pinged
//! ([`Mention`]) and where an alert goes ([`Destination`]).
//!
//! This module imports nothing of the pipeline, so every stage can depend on it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A watched document, normalised: what is stored as a version, diffed and exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub title: String,
    pub url: String,
    /// Canonical readable text: what `diff` and `history` show. Equal text means no change
    /// for text-based kinds.
    pub text: String,
    /// Kind-specific structured fields (bill stages, change notes, feed entries, links).
    #[serde(default)]
    pub fields: serde_json::Value,
}

/// A watch that a search asks to follow (`follow = true`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowTarget {
    /// Id for the new watch, derived from the target so it is stable (e.g. `bill-3548`).
    pub id: String,
    /// `bill` or `govuk`.
    pub kind: String,
    /// Bill id for `bill`, path for `govuk`.
    pub target: String,
    /// Human title, for `status`.
    pub title: String,
}

/// The reaction the Discord sink puts on every alert message; a member's marks the alert
/// reviewed (see `chat`).
pub const REVIEWED_EMOJI: &str = "✅";

/// Someone the watchlist asks to be pinged with its alerts, in one service's terms: each
/// destination pings only its own kind of mention (the ids are checked when the watchlist
/// is read, so a sink can write them into its markup as they are).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Mention {
    /// A Discord user (`user:ID`).
    User(u64),
    /// A Discord role (`role:ID`).
    Role(u64),
    /// A Slack user (`slack-user:U…`): `<@U…>`.
    SlackUser(String),
    /// A Slack user group (`slack-group:S…`): `<!subteam^S…>`.
    SlackGroup(String),
    /// A Teams user by user principal name or Entra object id (`teams-user:…`): a
    /// mention entity.
    TeamsUser(String),
}

impl Mention {
    /// Reads `user:ID`, `role:ID`, `slack-user:ID`, `slack-group:ID` or `teams-user:ID`.
    pub fn parse(s: &str) -> Option<Mention> {
        let (who, id) = s.split_once(':')?;
        let id = id.trim();
        let slack_id = || {
            let ok = (2..=32).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            ok.then(|| id.to_string())
        };
        let discord_id = || {
            (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
                .then(|| id.parse().ok())
                .flatten()
        };
        match who.trim() {
            "user" => discord_id().map(Mention::User),
            "role" => discord_id().map(Mention::Role),
            "slack-user" => slack_id().map(Mention::SlackUser),
            "slack-group" => slack_id().map(Mention::SlackGroup),
            "teams-user" => {
                // A UPN (an address) or an object id: nothing that could end the `<at>` tag.
                let ok = (1..=128).contains(&id.len())
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"@._-".contains(&b));
                ok.then(|| Mention::TeamsUser(id.to_string()))
            }
            _ => None,
        }
    }
}

/// Where an alert goes: a destination kind (`discord`, `slack`, `teams`: the sink that
/// delivers it) and an address that kind understands (a Discord channel id, a named
/// webhook destination). Destinations are ordered, so the outbox groups them stably.
///
/// Stored and printed compatibly with the old `channel` number: a Discord channel
/// serialises as that number, any other destination as the string `kind:address`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Destination {
    pub kind: String,
    pub to: String,
}

/// The destination kind of Discord channels (serialised as bare numbers).
pub const DISCORD: &str = "discord";

impl Destination {
    pub fn new(kind: impl Into<String>, to: impl Into<String>) -> Self {
        Destination {
            kind: kind.into(),
            to: to.into(),
        }
    }

    /// A Discord channel.
    pub fn discord(channel: u64) -> Self {
        Destination::new(DISCORD, channel.to_string())
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind, self.to)
    }
}

impl Serialize for Destination {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.to.parse::<u64>() {
            Ok(channel) if self.kind == DISCORD => s.serialize_u64(channel),
            _ => s.serialize_str(&self.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for Destination {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Channel(u64),
            Named(String),
        }
        match Raw::deserialize(d)? {
            Raw::Channel(c) => Ok(Destination::discord(c)),
            Raw::Named(s) => match s.split_once(':') {
                Some((kind, to)) if !kind.is_empty() => Ok(Destination::new(kind, to)),
                _ => Err(serde::de::Error::custom(format!(
                    "`{s}` is not a destination (`kind:address` or a channel number)"
                ))),
            },
        }
    }
}

/// One way an alert is to go out, as a watchlist's routes decide: where, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Outgoing {
    pub destination: Option<Destination>,
    /// Not before this time (a digest's fire time, the end of quiet hours).
    pub hold_until: Option<DateTime<Utc>>,
    /// The digest it is part of (the route's key): held alerts of one digest and
    /// destination go out together.
    pub digest: Option<String>,
    /// Who to ping, replacing the alert's own mentions.
    pub mentions: Option<Vec<Mention>>,
}

/// What kind of news an event is, beside how much it matters: sinks colour by it
/// (Royal Assent good, a withdrawal bad), never by the event's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    #[default]
    Neutral,
    /// An outcome the watchers wanted to see: Royal Assent.
    Good,
    /// An end: withdrawn, defeated, removed.
    Bad,
}

impl Tone {
    pub fn is_neutral(&self) -> bool {
        *self == Tone::Neutral
    }
}

/// How much an event matters; drives the colour sinks give it and the order of annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Housekeeping: a watch failing or recovering.
    Info,
    /// A change worth a glance: edits, new feed entries, new publications.
    #[default]
    Notice,
    /// A change that moves policy: a stage change, Royal Assent, a major update, a withdrawal.
    Major,
}

/// One thing that happened between two versions of a watched document, as a kind's
/// `compare` sees it. The engine turns each into an [`Alert`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Dotted kind, e.g. `bill.stage_changed`, `govuk.silent_edit`, `page.changed`.
    pub kind: String,
    /// Overrides the document title when the event is about something inside it
    /// (a feed entry, a new bill found by a search).
    pub title: Option<String>,
    /// Overrides the document URL, as for `title`.
    pub url: Option<String>,
    /// The one-line narrative a person would write ("Commons: Committee stage → Report stage").
    pub summary: String,
    pub annotations: Vec<String>,
    pub severity: Severity,
    /// Good news, bad news or neither (colours the alert).
    #[serde(default, skip_serializing_if = "Tone::is_neutral")]
    pub tone: Tone,
    /// A unified diff of what changed, when the event is about text.
    pub diff: Option<String>,
    /// Text the watch's keywords are looked for in (changed lines, titles, notes).
    pub keyword_text: String,
    /// Event-specific structured data (e.g. `from` and `to` stage), kept in the alert.
    #[serde(default)]
    pub fields: serde_json::Value,
}

impl Event {
    pub fn new(kind: impl Into<String>, summary: impl Into<String>) -> Self {
        Event {
            kind: kind.into(),
            summary: summary.into(),
            ..Event::default()
        }
    }
}

/// Events recorded in the history without being alerted: a new version that no reader
/// needs told about, kept visible (`history --all`) with why it stayed quiet.
/// `watch.settings_changed`: the watch's extraction settings were edited, so the new
/// version is a new baseline; `watch.quiet`: the stored document changed in a way no
/// event covers (only invisible characters, or fields no alert is about).
pub const QUIET_EVENTS: &[&str] = &["watch.settings_changed", "watch.quiet"];

/// Whether an event is recorded without being delivered ([`QUIET_EVENTS`]).
pub fn is_quiet(event: &str) -> bool {
    QUIET_EVENTS.contains(&event)
}

/// An alert as stored in the change history and the outbox, and as printed by
/// `check --format json`. Fields are only ever added: scripts rely on them (README, Alerts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Change id, unique in the store and increasing in detection order.
    pub id: u64,
    pub watch: String,
    pub event: String,
    pub title: String,
    pub url: String,
    pub summary: String,
    pub annotations: Vec<String>,
    pub keywords: Vec<String>,
    /// Diff excerpt; cut at a line boundary when long (the full diff stays in the store).
    pub diff: String,
    pub detected_at: DateTime<Utc>,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Tone::is_neutral")]
    pub tone: Tone,
    /// The watchlist this alert came from.
    pub watchlist: String,
    /// Where the watchlist sends the alert (its `channel`), if it says; `None` is the
    /// configured default. Printed as `channel` (a number for Discord), as always.
    #[serde(rename = "channel", default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<Mention>,
    /// Versions the alert compares (absent for watch-health alerts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_version: Option<u64>,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub fields: serde_json::Value,
}
