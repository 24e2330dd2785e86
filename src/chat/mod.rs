//! The channel as a control room: slash commands to follow and query, and triage marks on
//! alert messages, over serenity's gateway client (no inbound port; see [`gateway`]).
//!
//! This module holds what the commands mean, free of the gateway: a [`Request`] parsed from
//! an interaction, who asked ([`Member`]), and the [`Reply`] to send. The same data
//! functions serve the command line and the chat (`status::collect`, the history query,
//! one change): only the rendering differs ([`render`]).

use std::sync::Arc;

use crate::config::ChatSettings;
use crate::data::FollowTarget;
use crate::error::{Error, Result};
use crate::live::Live;
use crate::store::{Followed, Review, LOOKING, REVIEWED};

mod follow;
pub mod gateway;
pub mod render;

pub use follow::{resolve, Resolved};

/// The bot's reaction on every alert message; a member's marks the alert reviewed. (Plain
/// data, so the Discord sink can add it without depending on chat.)
pub use crate::data::REVIEWED_EMOJI;
/// A member's marks the alert "looking into it".
pub const LOOKING_EMOJI: &str = "👀";

/// The select menu that offers bills to choose from (its value is the bill id).
pub const CHOOSE_BILL: &str = "pw-follow-bill";

/// Replies longer than this are cut (Discord's message content limit is 2,000).
pub const REPLY_MAX: usize = 1900;

/// Who sent an interaction or a reaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub id: u64,
    /// As the guild shows it (nickname, else global name, else user name).
    pub name: String,
    pub roles: Vec<u64>,
    pub bot: bool,
}

impl Member {
    /// How a follow or a mark names the member: their name and id (names change).
    pub fn attribution(&self) -> String {
        format!("{} on Discord (user {})", self.name, self.id)
    }
}

/// What `/follow` follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowKind {
    Bill,
    Guidance,
    Question,
    Page,
}

impl FollowKind {
    pub fn parse(s: &str) -> Option<FollowKind> {
        match s {
            "bill" => Some(FollowKind::Bill),
            "guidance" => Some(FollowKind::Guidance),
            "question" => Some(FollowKind::Question),
            "page" => Some(FollowKind::Page),
            _ => None,
        }
    }
}

/// A command, parsed from an interaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Watches {
        watchlist: Option<String>,
    },
    Follow {
        kind: FollowKind,
        what: String,
    },
    /// A bill chosen from the list `/follow bill <words>` offered.
    ChooseBill {
        id: String,
    },
    Unfollow {
        watch: String,
    },
    History {
        watch: String,
        count: usize,
    },
    Show {
        change: u64,
    },
    Diff {
        watch: String,
    },
    Status,
}

impl Request {
    /// Whether it changes what is followed: only `[discord] manage_roles` may.
    pub fn manages(&self) -> bool {
        matches!(
            self,
            Request::Follow { .. } | Request::ChooseBill { .. } | Request::Unfollow { .. }
        )
    }
}

/// One option of a choice.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub description: String,
}

/// What to answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reply {
    /// Markdown, already escaped where it quotes anything from outside.
    pub content: String,
    /// Only the member who asked sees it.
    pub ephemeral: bool,
    /// A file to attach (name, bytes): `/show`'s diff.
    pub file: Option<(String, Vec<u8>)>,
    /// A select menu (custom id, options) to choose from.
    pub choices: Option<(String, Vec<Choice>)>,
}

impl Reply {
    /// An answer only the asker sees.
    pub fn private(content: impl Into<String>) -> Reply {
        Reply {
            content: content.into(),
            ephemeral: true,
            ..Reply::default()
        }
    }
}

/// Escapes text from outside (or typed by a member) for a reply, cut to `max`.
pub fn quote(s: &str, max: usize) -> String {
    crate::notify::discord::render::fit(crate::notify::discord::render::escape(s), max)
}

/// A reply cut to [`REPLY_MAX`] characters.
fn quote_cut(s: String) -> String {
    if s.chars().count() <= REPLY_MAX {
        return s;
    }
    let mut out: String = s.chars().take(REPLY_MAX - 1).collect();
    out.push('…');
    out
}

/// The mark a reaction stands for, if any.
fn mark_of(emoji: &str) -> Option<&'static str> {
    match emoji {
        REVIEWED_EMOJI => Some(REVIEWED),
        LOOKING_EMOJI => Some(LOOKING),
        _ => None,
    }
}

/// Answers commands against the running engine.
pub struct Commands {
    pub live: Arc<Live>,
}

impl Commands {
    fn settings(&self) -> ChatSettings {
        self.live.engine().config.discord.chat.clone()
    }

    /// Whether the member holds one of `[discord] manage_roles`.
    pub fn may_manage(&self, who: &Member) -> bool {
        let roles = self.settings().manage_roles;
        who.roles.iter().any(|r| roles.contains(r))
    }

    /// The answer to `request` from `who` in `channel`. Never fails: errors are replies.
    pub async fn answer(&self, request: Request, who: &Member, channel: u64) -> Reply {
        if request.manages() && !self.may_manage(who) {
            return Reply::private(
                "Sorry, following and unfollowing are for the roles this policywatch trusts \
                 with that (`[discord] manage_roles`). Ask someone who has one of them; \
                 reading commands (`/watches`, `/history`, `/show`, `/diff`, `/status`) are \
                 open to everyone here.",
            );
        }
        match self.answer_inner(request, who, channel).await {
            Ok(reply) => reply,
            Err(e) => Reply::private(format!(
                "That did not work: {}",
                quote(&e.to_string(), REPLY_MAX - 40)
            )),
        }
    }

    async fn answer_inner(&self, request: Request, who: &Member, channel: u64) -> Result<Reply> {
        let engine = self.live.engine();
        let store = engine.store.clone();
        match request {
            Request::Follow { kind, what } => {
                let settings = self.settings();
                match follow::resolve(&engine, &settings, kind, &what).await? {
                    Resolved::One { target, about } => self.follow(target, &about, who, channel),
                    Resolved::Several(choices) => Ok(Reply {
                        content: format!(
                            "Several bills match “{}”. Which one should this channel follow?",
                            quote(&what, 200)
                        ),
                        ephemeral: true,
                        file: None,
                        choices: Some((CHOOSE_BILL.to_string(), choices)),
                    }),
                    Resolved::Refused(why) => Ok(Reply::private(why)),
                }
            }
            Request::ChooseBill { id } => {
                let settings = self.settings();
                match follow::resolve(&engine, &settings, FollowKind::Bill, &id).await? {
                    Resolved::One { target, about } => self.follow(target, &about, who, channel),
                    Resolved::Several(_) => Ok(Reply::private("That choice is not a bill id.")),
                    Resolved::Refused(why) => Ok(Reply::private(why)),
                }
            }
            Request::Unfollow { watch } => {
                let follows = store.follows()?;
                let known = follows
                    .iter()
                    .any(|f| f.target.id == watch && f.unfollowed_at.is_none());
                if !known {
                    return Ok(Reply::private(format!(
                        "`{}` is not a followed watch (watches in the watchlist files are \
                         changed there); `/watches` lists them.",
                        quote(&watch, 100)
                    )));
                }
                store.unfollow(&watch)?;
                store.flush()?;
                self.live.follows_changed();
                tracing::info!(watch = %watch, by = %who.attribution(), "unfollowed from chat");
                Ok(Reply::private(format!(
                    "No longer following `{}`. `/follow` brings it back.",
                    quote(&watch, 100)
                )))
            }
            Request::Watches { watchlist } => {
                let report = self.live.status()?;
                Ok(Reply::private(render::watches(
                    &report,
                    watchlist.as_deref(),
                )))
            }
            Request::Status => {
                let report = self.live.status()?;
                Ok(Reply::private(render::status(&report)))
            }
            Request::History { watch, count } => {
                let mut skipped = 0;
                let records = crate::store::history(
                    store.as_ref(),
                    &crate::store::ChangeFilter {
                        watch: Some(watch.clone()),
                        ..Default::default()
                    },
                    false,
                    &mut |_| {
                        skipped += 1;
                        Ok(())
                    },
                )?;
                let start = records.len().saturating_sub(count.clamp(1, 25));
                let mut text = render::history(&watch, &records[start..]);
                if skipped > 0 {
                    text.push_str(&format!(
                        "\n({skipped} unreadable records skipped; `policywatch doctor` names them)"
                    ));
                }
                Ok(Reply::private(quote_cut(text)))
            }
            Request::Show { change } => {
                let record = store.change(change)?.ok_or(Error::NotFound {
                    what: "change",
                    id: change.to_string(),
                })?;
                let mut reply = Reply::private(render::show(&record));
                if !record.full_diff.is_empty() {
                    reply.file = Some((
                        crate::notify::discord::render::diff_filename(
                            &record.alert.watch,
                            record.alert.id,
                        ),
                        record.full_diff.clone().into_bytes(),
                    ));
                }
                Ok(reply)
            }
            Request::Diff { watch } => {
                let (a, b, changes) =
                    crate::store::version_diff(store.as_ref(), &watch, None, None)?;
                let text = if changes.is_empty() {
                    format!("v{} → v{}: no text differences", a.seq, b.seq)
                } else {
                    format!(
                        "--- {watch} v{}\n+++ {watch} v{}\n{}# {}",
                        a.seq,
                        b.seq,
                        changes.unified,
                        changes.summary()
                    )
                };
                let mut reply = Reply::private(render::diff(&watch, &text));
                if text.chars().count() > render::DIFF_INLINE {
                    reply.file = Some((
                        format!("{}.diff", crate::source::govuk_search::slug(&watch)),
                        text.into_bytes(),
                    ));
                }
                Ok(reply)
            }
        }
    }

    /// Stores a follow made in chat, attributed to `who`, in the channel's watchlist.
    fn follow(
        &self,
        target: FollowTarget,
        about: &str,
        who: &Member,
        channel: u64,
    ) -> Result<Reply> {
        let engine = self.live.engine();
        let Some(list) = follow::watchlist_for(&engine, channel) else {
            return Ok(Reply::private(
                "No watchlist posts to this channel, so nothing here could take the follow. \
                 Use `/follow` in the channel of the watchlist that should take it.",
            ));
        };
        // Already watched, under any id?
        let kind = crate::source::registry::find(&target.kind);
        let key = kind
            .and_then(|k| k.follow_target(&target.target))
            .map(|t| (t.kind().to_string(), t.key()));
        if let Some(existing) = engine.all_watches()?.iter().find(|w| {
            w.id == target.id || Some((w.target.kind().to_string(), w.target.key())) == key
        }) {
            return Ok(Reply::private(format!(
                "Already watched as `{}` ({}).",
                quote(&existing.id, 100),
                about
            )));
        }
        let followed = Followed {
            target: target.clone(),
            followed_by: who.attribution(),
            since: engine.clock.now(),
            unfollowed_at: None,
            watchlist: Some(list.clone()),
        };
        engine.store.follow(&followed)?;
        engine.store.flush()?;
        // The scheduler takes the new watch now: its baseline is recorded at once.
        self.live.follows_changed();
        tracing::info!(watch = %target.id, by = %followed.followed_by, "followed from chat");
        Ok(Reply::private(format!(
            "Following `{}` in watchlist `{}`: {about}. Its changes will be posted here.",
            quote(&target.id, 100),
            quote(&list, 100),
        )))
    }

    /// Whether a message is one of our alert messages (reactions on others mean nothing).
    pub fn is_alert_message(&self, message: u64) -> Result<bool> {
        Ok(!self
            .live
            .engine()
            .store
            .message_changes(message)?
            .is_empty())
    }

    /// Makes the marks of one emoji on a message's alerts match the members who have that
    /// reaction on it now (Discord's list): the outcome does not depend on the order the
    /// reaction events are handled in, and a later event repairs marks an earlier one lost.
    /// Returns how many marks changed.
    pub fn reconcile(&self, message: u64, emoji: &str, present: &[Member]) -> Result<usize> {
        let Some(mark) = mark_of(emoji) else {
            return Ok(0);
        };
        let engine = self.live.engine();
        let store = &engine.store;
        let present: Vec<&Member> = present.iter().filter(|m| !m.bot).collect();
        let mut changed = 0;
        for change in store.message_changes(message)? {
            let Some(record) = store.change(change)? else {
                continue;
            };
            let marked: Vec<&Review> = record.reviews.iter().filter(|r| r.mark == mark).collect();
            for r in &marked {
                if !present
                    .iter()
                    .any(|m| r.user.as_deref() == Some(&m.id.to_string()))
                {
                    changed += usize::from(store.set_review(change, r, false)?);
                }
            }
            for m in &present {
                if !marked
                    .iter()
                    .any(|r| r.user.as_deref() == Some(&m.id.to_string()))
                {
                    let review = Review {
                        by: m.name.clone(),
                        mark: mark.to_string(),
                        at: engine.clock.now(),
                        user: Some(m.id.to_string()),
                    };
                    changed += usize::from(store.set_review(change, &review, true)?);
                }
            }
        }
        if changed > 0 {
            store.flush()?;
            tracing::info!(message, mark, changed, "triage marks brought up to date");
        }
        Ok(changed)
    }

    /// Records (or, `on = false`, clears) a member's mark on the alerts of a message, from
    /// the event alone (when Discord's list of reactions cannot be read). Returns how many
    /// alerts changed; reactions on messages that are not ours change nothing.
    pub fn mark(&self, message: u64, emoji: &str, who: &Member, on: bool) -> Result<usize> {
        let Some(mark) = mark_of(emoji) else {
            return Ok(0);
        };
        if who.bot {
            return Ok(0);
        }
        let engine = self.live.engine();
        let store = &engine.store;
        let review = Review {
            by: who.name.clone(),
            mark: mark.to_string(),
            at: engine.clock.now(),
            user: Some(who.id.to_string()),
        };
        let mut changed = 0;
        for change in store.message_changes(message)? {
            if store.set_review(change, &review, on)? {
                changed += 1;
            }
        }
        if changed > 0 {
            store.flush()?;
            tracing::info!(message, mark, by = %who.attribution(), on, "triage mark");
        }
        Ok(changed)
    }
}
