//! serenity's gateway client: slash commands and reactions arrive over a websocket the bot
//! opens (no inbound port). Only the intents needed are asked for: guilds (interactions
//! come with it) and guild message reactions; no message content.
//!
//! serenity resumes a dropped session by itself (and re-identifies when it cannot); when
//! its client gives up altogether, [`serve`] starts a new one after a growing pause. The
//! gateway runs on its own task beside the scheduler and the outbox, which post through
//! the HTTP API: an outage here never holds up a check or a delivery.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serenity::all::{
    ButtonStyle, CommandInteraction, CommandOptionType, ComponentInteraction,
    ComponentInteractionDataKind, Context, CreateActionRow, CreateAllowedMentions,
    CreateAttachment, CreateButton, CreateCommand, CreateCommandOption, CreateInteractionResponse,
    CreateInteractionResponseMessage, CreateSelectMenu, CreateSelectMenuKind,
    CreateSelectMenuOption, EditInteractionResponse, EventHandler, GatewayIntents, GuildId,
    Interaction, Reaction, ReactionType, Ready, ResolvedOption, ResolvedValue, ResumedEvent,
};

use reqwest012 as rq;
use serenity::http::{
    Http, LightMethod, Multipart, MultipartUpload, Request as HttpRequest, Route,
};

use super::{Commands, FollowKind, Member, Reply, Request, CHOOSE_BILL};
use crate::live::Live;
use crate::notify::discord::{retry_after_of, within, DiscordToken};

/// Work that is not done by then is deferred ("thinking…") and its answer edited in:
/// Discord drops an interaction not answered within 3 seconds.
pub const DEFER_AFTER: Duration = Duration::from_millis(1500);
/// Discord drops an interaction whose first answer does not arrive within this long of
/// its dispatch.
const ANSWER_WINDOW: Duration = Duration::from_secs(3);
/// Kept free at the end of the window for a retried first answer's own trip.
const WINDOW_MARGIN: Duration = Duration::from_millis(500);
/// 429s an edit of a deferred answer is retried through (its token lasts 15 minutes).
const EDIT_RETRIES: u32 = 5;
/// No single request to Discord waits longer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Pauses between restarts of a client that gave up: 1 s doubling to 5 minutes; reset
/// after a session that lasted.
const RESTART_BASE: Duration = Duration::from_secs(1);
const RESTART_MAX: Duration = Duration::from_secs(300);
const STABLE: Duration = Duration::from_secs(600);

/// The intents the bot asks for.
pub fn intents() -> GatewayIntents {
    GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGE_REACTIONS
}

/// Keeps a gateway session to Discord for as long as the daemon runs: registers the slash
/// commands in `[discord] guild`, answers them and records triage reactions. Never returns.
pub async fn serve(live: Arc<Live>, token: DiscordToken) {
    let mut failures = 0u32;
    loop {
        let started = tokio::time::Instant::now();
        match session(&live, &token).await {
            Ok(()) => tracing::warn!("the Discord gateway session ended"),
            Err(e) => tracing::warn!(error = %token.scrub(&e), "the Discord gateway failed"),
        }
        if started.elapsed() >= STABLE {
            failures = 0;
        }
        failures += 1;
        let wait = crate::backoff::delay(failures, RESTART_BASE, RESTART_MAX);
        tracing::info!(
            seconds = wait.as_secs_f64(),
            "reconnecting to the Discord gateway"
        );
        tokio::time::sleep(wait).await;
    }
}

/// One client's life: until serenity gives up on it.
async fn session(live: &Arc<Live>, token: &DiscordToken) -> std::result::Result<(), String> {
    let settings = live.engine().config.discord.clone();
    let Some(guild) = settings.chat.guild else {
        return Err("no `[discord] guild` is set".into());
    };
    let (http, client) =
        crate::notify::discord::http_client(token, &settings).map_err(|e| e.to_string())?;
    let handler = Handler {
        client,
        commands: Arc::new(Commands { live: live.clone() }),
        guild,
        me: OnceLock::new(),
        reactions: tokio::sync::Mutex::new(()),
    };
    let mut client = serenity::client::ClientBuilder::new_with_http(http, intents())
        .event_handler(handler)
        .await
        .map_err(|e| e.to_string())?;
    client.start().await.map_err(|e| e.to_string())
}

struct Handler {
    /// Interaction answers are sent on it directly (see [`Asked::send`]).
    client: rq::Client,
    commands: Arc<Commands>,
    guild: u64,
    /// The bot's own user id (its ✅ on each alert is not a member's mark).
    me: OnceLock<u64>,
    /// Held from reading a message's reactions to recording the marks: a handler that read
    /// the list earlier cannot then undo marks a handler with a newer list recorded.
    reactions: tokio::sync::Mutex<()>,
}

/// The slash commands, as registered in the guild.
pub fn definitions() -> Vec<CreateCommand> {
    let text = |name: &str, about: &str| {
        CreateCommandOption::new(CommandOptionType::String, name, about)
            .required(true)
            .max_length(300)
    };
    let follow = |name: &str, about: &str, what: &str| {
        CreateCommandOption::new(CommandOptionType::SubCommand, name, about)
            .add_sub_option(text("what", what))
    };
    vec![
        CreateCommand::new("watches")
            .description("The watches, their kind, last change and health")
            .add_option(
                CreateCommandOption::new(
                    CommandOptionType::String,
                    "watchlist",
                    "Only this watchlist",
                )
                .max_length(100),
            ),
        CreateCommand::new("follow")
            .description("Follow something in this channel's watchlist")
            .add_option(follow(
                "bill",
                "Follow a UK bill",
                "Bill number, bills.parliament.uk link or title words",
            ))
            .add_option(follow(
                "guidance",
                "Follow GOV.UK guidance",
                "GOV.UK path or www.gov.uk link",
            ))
            .add_option(follow(
                "question",
                "Follow a written parliamentary question",
                "Question id or UIN, e.g. 1738745 or HL1234",
            ))
            .add_option(follow(
                "page",
                "Follow a web page (allowed hosts only)",
                "The page's full link",
            )),
        CreateCommand::new("unfollow")
            .description("Stop following a watch followed from chat or by a search")
            .add_option(text("watch", "The watch id, e.g. bill-3548")),
        CreateCommand::new("history")
            .description("A watch's latest changes")
            .add_option(text("watch", "The watch id"))
            .add_option(
                CreateCommandOption::new(CommandOptionType::Integer, "count", "How many (1-25)")
                    .min_int_value(1)
                    .max_int_value(25),
            ),
        CreateCommand::new("show")
            .description("One change in full, with its diff as a file")
            .add_option(
                CreateCommandOption::new(CommandOptionType::Integer, "id", "The change id")
                    .required(true)
                    .min_int_value(1),
            ),
        CreateCommand::new("diff")
            .description("The diff of a watch's latest two versions")
            .add_option(text("watch", "The watch id")),
        CreateCommand::new("status").description("Failing watches, the outbox and the last check"),
    ]
}

fn string(options: &[ResolvedOption<'_>], name: &str) -> Option<String> {
    options
        .iter()
        .find(|o| o.name == name)
        .and_then(|o| match o.value {
            ResolvedValue::String(s) => Some(s.to_string()),
            _ => None,
        })
}

fn integer(options: &[ResolvedOption<'_>], name: &str) -> Option<i64> {
    options
        .iter()
        .find(|o| o.name == name)
        .and_then(|o| match o.value {
            ResolvedValue::Integer(n) => Some(n),
            _ => None,
        })
}

/// The request a slash command stands for; `None` for one we do not know.
pub fn request_of(cmd: &CommandInteraction) -> Option<Request> {
    let options = cmd.data.options();
    Some(match cmd.data.name.as_str() {
        "watches" => Request::Watches {
            watchlist: string(&options, "watchlist"),
        },
        "follow" => {
            let sub = options.first()?;
            let ResolvedValue::SubCommand(inner) = &sub.value else {
                return None;
            };
            Request::Follow {
                kind: FollowKind::parse(sub.name)?,
                what: string(inner, "what")?,
            }
        }
        "unfollow" => Request::Unfollow {
            watch: string(&options, "watch")?,
        },
        "history" => Request::History {
            watch: string(&options, "watch")?,
            count: integer(&options, "count").unwrap_or(10).clamp(1, 25) as usize,
        },
        "show" => Request::Show {
            change: u64::try_from(integer(&options, "id")?).ok()?,
        },
        "diff" => Request::Diff {
            watch: string(&options, "watch")?,
        },
        "status" => Request::Status,
        _ => return None,
    })
}

fn member_of(
    m: Option<&serenity::model::guild::Member>,
    user: &serenity::model::user::User,
) -> Member {
    match m {
        Some(m) => Member {
            id: m.user.id.get(),
            name: m.display_name().to_string(),
            roles: m.roles.iter().map(|r| r.get()).collect(),
            bot: m.user.bot,
        },
        None => Member {
            id: user.id.get(),
            name: user.display_name().to_string(),
            roles: Vec::new(),
            bot: user.bot,
        },
    }
}

fn attachment(reply: &Reply) -> Option<CreateAttachment> {
    reply
        .file
        .as_ref()
        .map(|(name, bytes)| CreateAttachment::bytes(bytes.clone(), name.clone()))
}

fn components(reply: &Reply) -> Vec<CreateActionRow> {
    match &reply.choices {
        Some((id, choices)) => vec![
            CreateActionRow::SelectMenu(
                CreateSelectMenu::new(
                    id.clone(),
                    CreateSelectMenuKind::String {
                        options: choices
                            .iter()
                            .map(|c| {
                                CreateSelectMenuOption::new(c.label.clone(), c.value.clone())
                                    .description(c.description.clone())
                            })
                            .collect(),
                    },
                )
                .placeholder("Choose a bill"),
            ),
            CreateActionRow::Buttons(vec![CreateButton::new("pw-cancel")
                .label("None of these")
                .style(ButtonStyle::Secondary)]),
        ],
        None => Vec::new(),
    }
}

/// A reply as an interaction response message: nobody pinged, whatever it quotes.
fn message(reply: &Reply) -> CreateInteractionResponseMessage {
    let mut m = CreateInteractionResponseMessage::new()
        .content(reply.content.clone())
        .ephemeral(reply.ephemeral)
        .allowed_mentions(CreateAllowedMentions::new())
        .components(components(reply));
    if let Some(file) = attachment(reply) {
        m = m.add_file(file);
    }
    m
}

fn edit(reply: &Reply) -> EditInteractionResponse {
    let mut e = EditInteractionResponse::new()
        .content(reply.content.clone())
        .allowed_mentions(CreateAllowedMentions::new())
        .components(components(reply));
    if let Some(file) = attachment(reply) {
        e = e.new_attachment(file);
    }
    e
}

/// The interaction being answered.
enum Asked<'a> {
    Command(&'a CommandInteraction),
    /// A choice from a menu we sent: the answer replaces that message.
    Component(&'a ComponentInteraction),
}

/// Why an answer did not go through.
enum Failed {
    /// 429: Discord asks to try again after this long.
    RateLimited(Duration),
    Other(String),
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::RateLimited(after) => write!(
                f,
                "rate limited by Discord, retry after {:.2}s",
                after.as_secs_f64()
            ),
            Failed::Other(e) => f.write_str(e),
        }
    }
}

impl Asked<'_> {
    fn id_token(
        &self,
    ) -> (
        serenity::all::InteractionId,
        &str,
        serenity::all::ApplicationId,
    ) {
        match self {
            Asked::Command(c) => (c.id, &c.token, c.application_id),
            Asked::Component(c) => (c.id, &c.token, c.application_id),
        }
    }

    /// Sends one answer: serenity builds the payload and the request, and we execute it,
    /// because serenity's error for a 429 has lost the `retry_after` that says when to
    /// try again (its own rate limiter is off; see `notify::discord`).
    async fn send(
        &self,
        http: &Http,
        client: &rq::Client,
        original: bool,
        payload: &impl serde::Serialize,
        file: Option<CreateAttachment>,
    ) -> Result<(), Failed> {
        let (id, token, app) = self.id_token();
        let route = if original {
            Route::WebhookOriginalInteractionResponse {
                application_id: app,
                token,
            }
        } else {
            Route::InteractionResponse {
                interaction_id: id,
                token,
            }
        };
        let method = if original {
            LightMethod::Patch
        } else {
            LightMethod::Post
        };
        // The payload describes the file (id 0, its bytes skipped); the bytes go as `files[0]`.
        let json = serde_json::to_string(payload).map_err(|e| Failed::Other(e.to_string()))?;
        let request = match file {
            None => HttpRequest::new(route, method).body(Some(json.into_bytes())),
            Some(f) => HttpRequest::new(route, method).multipart(Some(Multipart {
                upload: MultipartUpload::Attachments(vec![f]),
                fields: vec![],
                payload_json: Some(json),
            })),
        };
        let built = request
            .build(client, http.token(), http.proxy.as_deref())
            .map_err(|e| Failed::Other(format!("cannot build the Discord request: {e}")))?;
        let sent = tokio::time::timeout(REQUEST_TIMEOUT, async {
            let response = built.send().await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.text().await?;
            Ok::<_, rq::Error>((status, headers, body))
        })
        .await;
        let (status, headers, body) = match sent {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return Err(Failed::Other(e.without_url().to_string())),
            Err(_) => {
                return Err(Failed::Other(format!(
                    "no answer from Discord within {}s",
                    REQUEST_TIMEOUT.as_secs_f64()
                )))
            }
        };
        match status {
            200..=299 => Ok(()),
            429 => {
                let json = serde_json::from_str(&body).unwrap_or_default();
                Err(Failed::RateLimited(
                    retry_after_of(&headers, &json).unwrap_or(Duration::from_secs(1)),
                ))
            }
            _ => Err(Failed::Other(format!(
                "Discord answered {status}: {}",
                crate::notify::snippet(&body)
            ))),
        }
    }

    /// The first answer, retried after a 429 while it can still land within
    /// [`ANSWER_WINDOW`] of `dispatched`; a wait that would miss it comes back as
    /// `RateLimited`.
    async fn respond(
        &self,
        ctx: &Context,
        client: &rq::Client,
        r: &CreateInteractionResponse,
        file: Option<CreateAttachment>,
        dispatched: tokio::time::Instant,
    ) -> Result<(), Failed> {
        loop {
            match self.send(&ctx.http, client, false, r, file.clone()).await {
                Err(Failed::RateLimited(after))
                    if dispatched.elapsed() + after + WINDOW_MARGIN <= ANSWER_WINDOW =>
                {
                    tracing::info!(
                        seconds = after.as_secs_f64(),
                        "interaction answer rate limited; retrying"
                    );
                    tokio::time::sleep(after).await;
                }
                other => return other,
            }
        }
    }

    /// Edits the deferred answer in, retrying after 429s.
    async fn edit(&self, ctx: &Context, client: &rq::Client, reply: &Reply) -> Result<(), Failed> {
        let e = edit(reply);
        let mut tries = 0;
        loop {
            match self
                .send(&ctx.http, client, true, &e, attachment(reply))
                .await
            {
                Err(Failed::RateLimited(after)) if tries < EDIT_RETRIES => {
                    tries += 1;
                    tracing::info!(
                        seconds = after.as_secs_f64(),
                        "interaction edit rate limited; retrying"
                    );
                    tokio::time::sleep(after).await;
                }
                other => return other,
            }
        }
    }

    /// The deferral: "thinking…" for a command, a silent acknowledgement for a choice.
    fn deferral(&self) -> CreateInteractionResponse {
        match self {
            Asked::Command(_) => CreateInteractionResponse::Defer(
                CreateInteractionResponseMessage::new().ephemeral(true),
            ),
            Asked::Component(_) => CreateInteractionResponse::Acknowledge,
        }
    }

    /// Answers with `work`'s reply, deferring first when it is not ready in
    /// [`DEFER_AFTER`] so the 3-second window is kept however long the work takes. A 429
    /// is retried after Discord's `retry_after`; when that would miss the window, the
    /// answer is deferred at once and edited in after the wait.
    async fn answer(
        &self,
        ctx: &Context,
        client: &rq::Client,
        work: impl std::future::Future<Output = Reply>,
    ) {
        let dispatched = tokio::time::Instant::now();
        tokio::pin!(work);
        let ready = tokio::select! {
            reply = &mut work => Some(reply),
            _ = tokio::time::sleep(DEFER_AFTER) => None,
        };
        let result = match ready {
            Some(reply) => {
                let m = message(&reply);
                let r = match self {
                    Asked::Command(_) => CreateInteractionResponse::Message(m),
                    Asked::Component(_) => CreateInteractionResponse::UpdateMessage(m),
                };
                match self
                    .respond(ctx, client, &r, attachment(&reply), dispatched)
                    .await
                {
                    Err(Failed::RateLimited(after)) => {
                        tracing::info!(
                            seconds = after.as_secs_f64(),
                            "interaction answer rate limited past its window; deferring"
                        );
                        match self
                            .respond(ctx, client, &self.deferral(), None, dispatched)
                            .await
                        {
                            Ok(()) => {
                                tokio::time::sleep(after).await;
                                self.edit(ctx, client, &reply).await
                            }
                            Err(e) => Err(e),
                        }
                    }
                    other => other,
                }
            }
            None => match self
                .respond(ctx, client, &self.deferral(), None, dispatched)
                .await
            {
                Ok(()) => {
                    let reply = work.await;
                    self.edit(ctx, client, &reply).await
                }
                Err(e) => Err(e),
            },
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not answer a Discord interaction");
        }
    }
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        let _ = self.me.set(ready.user.id.get());
        tracing::info!(guild = self.guild, "connected to the Discord gateway");
        let registered = within(
            REQUEST_TIMEOUT,
            GuildId::new(self.guild).set_commands(&ctx.http, definitions()),
        )
        .await;
        if let Err(e) = registered {
            tracing::error!(error = %e, guild = self.guild, "could not register the slash commands");
        }
    }

    async fn resume(&self, _ctx: Context, _: ResumedEvent) {
        tracing::info!("Discord gateway session resumed");
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        match interaction {
            Interaction::Command(cmd) => {
                let asked = Asked::Command(&cmd);
                if cmd.guild_id.map(|g| g.get()) != Some(self.guild) {
                    asked
                        .answer(&ctx, &self.client, async {
                            Reply::private("policywatch answers only in its own server.")
                        })
                        .await;
                    return;
                }
                let who = member_of(cmd.member.as_deref(), &cmd.user);
                let channel = cmd.channel_id.get();
                let commands = self.commands.clone();
                let request = request_of(&cmd);
                asked
                    .answer(&ctx, &self.client, async move {
                        match request {
                            Some(r) => commands.answer(r, &who, channel).await,
                            None => Reply::private("I do not know that command."),
                        }
                    })
                    .await;
            }
            Interaction::Component(c) => {
                let asked = Asked::Component(&c);
                let who = member_of(c.member.as_ref(), &c.user);
                let channel = c.channel_id.get();
                let request = match (&c.data.custom_id[..], &c.data.kind) {
                    (CHOOSE_BILL, ComponentInteractionDataKind::StringSelect { values }) => values
                        .first()
                        .map(|id| Request::ChooseBill { id: id.clone() }),
                    _ => None,
                };
                let commands = self.commands.clone();
                asked
                    .answer(&ctx, &self.client, async move {
                        match request {
                            Some(r) => commands.answer(r, &who, channel).await,
                            None => Reply::private("Nothing followed."),
                        }
                    })
                    .await;
            }
            _ => {}
        }
    }

    async fn reaction_add(&self, ctx: Context, r: Reaction) {
        self.reaction(&ctx, r, true).await;
    }

    async fn reaction_remove(&self, ctx: Context, r: Reaction) {
        self.reaction(&ctx, r, false).await;
    }
}

/// Discord's list of who has a reaction takes at most this many users a page.
const REACTORS_PAGE: u8 = 100;
/// Pages read at most (10,000 reactors), so a huge list cannot keep the handler busy.
const REACTORS_PAGES: usize = 100;

/// Everyone who has `r`'s emoji on its message, read a page at a time (`after` the last
/// user id seen) so a mark beyond the first hundred is not taken for a removal.
async fn reactors(ctx: &Context, r: &Reaction) -> Result<Vec<serenity::all::User>, String> {
    let mut all: Vec<serenity::all::User> = Vec::new();
    for _ in 0..REACTORS_PAGES {
        let after = all.last().map(|u| u.id.get());
        let page = within(
            REQUEST_TIMEOUT,
            ctx.http
                .get_reaction_users(r.channel_id, r.message_id, &r.emoji, REACTORS_PAGE, after),
        )
        .await?;
        let full = page.len() == usize::from(REACTORS_PAGE);
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
    tracing::warn!(
        message = r.message_id.get(),
        "more reactors than are read; the marks follow the first {}",
        all.len()
    );
    Ok(all)
}

impl Handler {
    /// A member's ✅ / 👀 on an alert message marks (or, removed, unmarks) its alerts.
    /// serenity hands each event to a task of its own, so an add and a removal in quick
    /// succession may be handled in either order: the marks are set from Discord's list of
    /// who has the reaction now, which is the same whichever event is handled last.
    async fn reaction(&self, ctx: &Context, r: Reaction, on: bool) {
        let ReactionType::Unicode(emoji) = &r.emoji else {
            return;
        };
        if super::mark_of(emoji).is_none() {
            return;
        }
        let Some(user) = r.user_id else {
            return;
        };
        if Some(user.get()) == self.me.get().copied()
            || r.guild_id.map(|g| g.get()) != Some(self.guild)
        {
            return;
        }
        // A removal carries no member: the mark is found by the user id.
        let who = match &r.member {
            Some(m) => member_of(Some(m), &m.user),
            None => Member {
                id: user.get(),
                name: format!("user {user}"),
                roles: Vec::new(),
                bot: false,
            },
        };
        let message = r.message_id.get();
        match self.commands.is_alert_message(message) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(error = %e, message, "could not read the alert message's record");
                return;
            }
        }
        let _one_at_a_time = self.reactions.lock().await;
        let users = reactors(ctx, &r).await;
        let result = match users {
            Ok(users) => {
                let me = self.me.get().copied();
                let present: Vec<Member> = users
                    .iter()
                    .filter(|u| Some(u.id.get()) != me)
                    .map(|u| {
                        if u.id == user {
                            // The event's member carries the name the guild shows.
                            Member {
                                bot: u.bot,
                                ..who.clone()
                            }
                        } else {
                            member_of(None, u)
                        }
                    })
                    .collect();
                self.commands.reconcile(message, emoji, &present)
            }
            Err(e) => {
                tracing::warn!(error = %e, message, "could not read the message's reactions; recording the event alone");
                self.commands.mark(message, emoji, &who, on)
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, message, "could not record a triage mark");
        }
    }
}
