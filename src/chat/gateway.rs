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

use super::{Commands, FollowKind, Member, Reply, Request, CHOOSE_BILL};
use crate::live::Live;
use crate::notify::discord::{within, DiscordToken};

/// Work that is not done by then is deferred ("thinking…") and its answer edited in:
/// Discord drops an interaction not answered within 3 seconds.
pub const DEFER_AFTER: Duration = Duration::from_millis(1500);
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
    let (http, _) =
        crate::notify::discord::http_client(token, &settings).map_err(|e| e.to_string())?;
    let handler = Handler {
        commands: Arc::new(Commands { live: live.clone() }),
        guild,
        me: OnceLock::new(),
    };
    let mut client = serenity::client::ClientBuilder::new_with_http(http, intents())
        .event_handler(handler)
        .await
        .map_err(|e| e.to_string())?;
    client.start().await.map_err(|e| e.to_string())
}

struct Handler {
    commands: Arc<Commands>,
    guild: u64,
    /// The bot's own user id (its ✅ on each alert is not a member's mark).
    me: OnceLock<u64>,
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

impl Asked<'_> {
    async fn respond(&self, ctx: &Context, r: CreateInteractionResponse) -> Result<(), String> {
        match self {
            Asked::Command(c) => within(REQUEST_TIMEOUT, c.create_response(&ctx.http, r)).await,
            Asked::Component(c) => within(REQUEST_TIMEOUT, c.create_response(&ctx.http, r)).await,
        }
    }

    async fn edit(&self, ctx: &Context, e: EditInteractionResponse) -> Result<(), String> {
        let edited = match self {
            Asked::Command(c) => within(REQUEST_TIMEOUT, c.edit_response(&ctx.http, e)).await,
            Asked::Component(c) => within(REQUEST_TIMEOUT, c.edit_response(&ctx.http, e)).await,
        };
        edited.map(|_| ())
    }

    /// Answers with `work`'s reply, deferring first when it is not ready in
    /// [`DEFER_AFTER`] so the 3-second window is kept however long the work takes.
    async fn answer(&self, ctx: &Context, work: impl std::future::Future<Output = Reply>) {
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
                self.respond(ctx, r).await
            }
            None => {
                let r = match self {
                    Asked::Command(_) => CreateInteractionResponse::Defer(
                        CreateInteractionResponseMessage::new().ephemeral(true),
                    ),
                    Asked::Component(_) => CreateInteractionResponse::Acknowledge,
                };
                match self.respond(ctx, r).await {
                    Ok(()) => {
                        let reply = work.await;
                        self.edit(ctx, edit(&reply)).await
                    }
                    Err(e) => Err(e),
                }
            }
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
                        .answer(&ctx, async {
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
                    .answer(&ctx, async move {
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
                    .answer(&ctx, async move {
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
        let users = within(
            REQUEST_TIMEOUT,
            ctx.http
                .get_reaction_users(r.channel_id, r.message_id, &r.emoji, 100, None),
        )
        .await;
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
