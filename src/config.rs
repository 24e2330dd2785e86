//! `policywatch.toml`: optional, every key has a built-in default. Parsed and validated once
//! into an immutable [`Config`].

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::schedule::Schedule;

mod check;

/// Why a config file was refused. Kept apart from [`crate::error::Error`] (which converts
/// it) so this module, read by `fetch`, imports nothing that imports `fetch`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Each problem as `file:line:col: message`.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
    #[error("cannot read {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub sources: Sources,
    pub fetch: FetchSettings,
    pub discord: DiscordSettings,
    pub store: StoreSettings,
    /// Schedule for watchlists that give none.
    pub default_schedule: Schedule,
    /// The zone schedules are read in, unless a watchlist names its own.
    pub timezone: chrono_tz::Tz,
    /// Consecutive failures after which a watch raises `watch.failing`.
    pub failing_after: u32,
    /// How often every followed bill is fetched in full even if `lastUpdate` did not move.
    pub bills_full_refresh: Duration,
    /// The history browser and JSON API (`[web]`); off unless `listen` is set.
    pub web: WebSettings,
    /// `[destinations.NAME]`: named places routes send alerts to.
    pub destinations: BTreeMap<String, DestinationSettings>,
}

/// One `[destinations.NAME]`. Which kinds exist is the destination registry's to say
/// (checked with the watchlists, like `[sources]` keys).
#[derive(Debug, Clone, PartialEq)]
pub struct DestinationSettings {
    pub kind: String,
    /// Discord: the channel id.
    pub channel: Option<u64>,
    /// `file:line:col` of the table, for messages.
    pub at: String,
}

impl Config {
    /// The destination a route's `to = "NAME"` stands for: a Discord channel for a
    /// `discord` destination, else the kind and the destination's name.
    pub fn destination(&self, name: &str) -> Option<crate::data::Destination> {
        let d = self.destinations.get(name)?;
        Some(match (d.kind.as_str(), d.channel) {
            (crate::data::DISCORD, Some(channel)) => crate::data::Destination::discord(channel),
            (kind, _) => crate::data::Destination::new(kind, name),
        })
    }

    /// Names of the destinations of one kind.
    pub fn destinations_of(&self, kind: &str) -> Vec<String> {
        self.destinations
            .iter()
            .filter(|(_, d)| d.kind == kind)
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// `[web]`: where the daemon's HTTP service listens, if anywhere.
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    pub listen: Option<std::net::SocketAddr>,
}

/// Base URLs of the sources (`[sources]`); configurable so tests and mirrors can point
/// anywhere. Which keys exist is declared by the source kinds ([`SourceBase`]); this only
/// holds the URLs the file set, with where, so an unknown key can be pointed at.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    set: BTreeMap<String, (Url, String)>,
}

/// A `[sources]` key a source kind reads, with its built-in default.
#[derive(Debug, Clone, Copy)]
pub struct SourceBase {
    pub key: &'static str,
    pub default: &'static str,
    /// What it points at, for `kinds` and the README.
    pub meaning: &'static str,
}

impl Sources {
    /// The URL configured for `base`, else its default.
    pub fn url(&self, base: &SourceBase) -> Url {
        match self.set.get(base.key) {
            Some((url, _)) => url.clone(),
            // Defaults are checked by a test of the registry.
            None => Url::parse(base.default).expect("built-in source URLs are valid"),
        }
    }

    /// Keys the file set that are not in `known`, each as `file:line:col: message`.
    pub fn unknown(&self, known: &[&str]) -> Vec<String> {
        self.set
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .map(|(k, (_, at))| {
                format!(
                    "{at}: unknown key `{k}` in [sources]; known keys: {}",
                    known.join(", ")
                )
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct FetchSettings {
    pub user_agent: String,
    pub connect_timeout: Duration,
    /// Whole request, headers and body.
    pub timeout: Duration,
    /// Largest body accepted, counted after decompression.
    pub max_body: u64,
    pub max_redirects: usize,
    /// Retries after the first attempt on 5xx, 429 and connection errors.
    pub retries: u32,
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Requests in flight at once, over all hosts.
    pub concurrency: usize,
    /// Minimum gap between two requests to the same host.
    pub per_host_interval: Duration,
    /// Whether loopback, private, link-local and unique-local addresses may be fetched.
    pub allow_private: bool,
}

#[derive(Debug, Clone)]
pub struct DiscordSettings {
    /// Discord API base (tests and proxies); `None` means the real API.
    pub api_base: Option<Url>,
    /// Channel for watchlists that name none.
    pub default_channel: Option<u64>,
    pub send_timeout: Duration,
    /// How long `check` waits for delivery before leaving the rest queued.
    pub deliver_wait: Duration,
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// The chat side (slash commands and triage over the gateway): on when `guild` is set.
    pub chat: ChatSettings,
}

/// `[discord] guild`, `manage_roles`, `follow_hosts`, `threads`: the channel as a control
/// room (see [`crate::chat`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatSettings {
    /// The guild whose slash commands are registered; `None`: no gateway connection.
    pub guild: Option<u64>,
    /// Roles allowed to `/follow` and `/unfollow` (checked on every interaction).
    pub manage_roles: Vec<u64>,
    /// Hosts a free URL (`/follow page`) may name; lower case, no port.
    pub follow_hosts: Vec<String>,
    /// Open a thread under each major alert.
    pub threads: bool,
}

#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// sled page cache, bytes.
    pub cache_capacity: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config::from_raw(RawConfig::default(), &|_| String::new())
            .expect("built-in defaults are valid")
    }
}

impl Config {
    /// Reads and validates a config file; problems come back as `file:line:col: message`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        use check::{fields_of, Table};
        // Structs read as a map (none today) would report no fields: then any key goes.
        let known = |f: &'static [&'static str]| Some(f).filter(|f| !f.is_empty());
        let tables = [
            Table {
                name: "sources",
                keys: None,
                entries: None,
            },
            Table {
                name: "fetch",
                keys: known(fields_of::<RawFetch>()),
                entries: None,
            },
            Table {
                name: "discord",
                keys: known(fields_of::<RawDiscord>()),
                entries: None,
            },
            Table {
                name: "store",
                keys: known(fields_of::<RawStore>()),
                entries: None,
            },
            Table {
                name: "health",
                keys: known(fields_of::<RawHealth>()),
                entries: None,
            },
            Table {
                name: "bills",
                keys: known(fields_of::<RawBills>()),
                entries: None,
            },
            Table {
                name: "web",
                keys: known(fields_of::<RawWeb>()),
                entries: None,
            },
            Table {
                name: "destinations",
                keys: None,
                entries: known(fields_of::<RawDestination>()),
            },
        ];
        let top = fields_of::<RawConfig>();
        let problems =
            check::keys(text, path, top, &tables).map_err(|p| ConfigError::Invalid(vec![p]))?;
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        // Mistakes of type and of value are listed together, in the order of the file: the
        // values that read are checked even when others are of the wrong type.
        let (raw, mut problems) = Self::read_raw(text, path);
        if let Some(raw) = raw {
            let at = |span: std::ops::Range<usize>| check::location(text, path, span.start);
            match Config::from_raw(raw, &at) {
                Ok(config) if problems.is_empty() => return Ok(config),
                Ok(_) => {}
                // Messages start with the key they are about (`fetch.concurrency …`):
                // point at it.
                Err(messages) => problems.extend(messages.into_iter().map(|m| {
                    let key = m.split([':', ' ']).next().unwrap_or_default();
                    match check::position_of(text, key) {
                        Some(p) => (p, format!("{}: {m}", check::location(text, path, p))),
                        None => (0, format!("{}: {m}", path.display())),
                    }
                })),
            }
        }
        problems.sort_by_key(|(p, _)| *p);
        Err(ConfigError::Invalid(
            problems.into_iter().map(|(_, m)| m).collect(),
        ))
    }

    /// serde's reading of the file, every type mistake noted (not just the first): a value
    /// in the wrong type is noted, taken out, and the rest read again. Gives what could be
    /// read (`None` when a mistake stops the reading) and the mistakes, each with where it
    /// is in the file.
    fn read_raw(text: &str, path: &Path) -> (Option<RawConfig>, Vec<(usize, String)>) {
        let mut current = text.to_string();
        let mut problems = Vec::new();
        for _ in 0..50 {
            let e = match toml::from_str::<RawConfig>(&current) {
                Ok(raw) => return (Some(raw), problems),
                Err(e) => e,
            };
            let key = e
                .span()
                .and_then(|s| check::key_covering(&current, s.start));
            let message = check::reword(e.message());
            let Some(key) = key else {
                let at = e
                    .span()
                    .and_then(|s| {
                        check::position_of(text, &check::key_covering(&current, s.start)?)
                    })
                    .unwrap_or(0);
                problems.push((
                    at,
                    format!("{}: {message}", check::location(text, path, at)),
                ));
                break;
            };
            let at = check::position_of(text, &key).unwrap_or(0);
            problems.push((
                at,
                format!("{}: `{key}`: {message}", check::location(text, path, at)),
            ));
            match check::without(&current, &key) {
                Some(rest) => current = rest,
                None => break,
            }
        }
        (None, problems)
    }

    /// The checked config, or every bad value at once: each message starts with the dotted
    /// key it is about (`fetch.concurrency …`), so the caller can point at it. A bad value
    /// is noted and replaced by its default so the rest is still checked.
    fn from_raw(
        raw: RawConfig,
        at: &dyn Fn(std::ops::Range<usize>) -> String,
    ) -> std::result::Result<Config, Vec<String>> {
        let mut p = Problems::default();
        let url = |key: &str, v: &str| -> std::result::Result<Url, String> {
            // Worded as in watchlists (`watchlist::reader`).
            let u = Url::parse(v).map_err(|e| {
                format!("{key}: bad URL `{v}`: {e}; it must be an absolute http(s) URL")
            })?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(format!("{key}: `{v}` is not an http(s) URL"));
            }
            Ok(u)
        };
        // `Duration::from_secs_f64` panics on a negative, NaN or huge number.
        let secs = |key: &str, v: f64| -> std::result::Result<Duration, String> {
            Duration::try_from_secs_f64(v)
                .map_err(|_| format!("{key}: `{v}` is not a number of seconds, 0 or more"))
        };
        let defaults = RawConfig::default();
        let (df, dd) = (&defaults.fetch, &defaults.discord);
        let s = raw.sources;
        let f = raw.fetch;
        let d = raw.discord;
        let concurrency = p
            .keep(if f.concurrency == 0 {
                Err("fetch.concurrency must be at least 1".into())
            } else {
                Ok(f.concurrency)
            })
            .unwrap_or(df.concurrency);
        let max_body = p
            .keep(if f.max_body_bytes == 0 {
                Err("fetch.max_body_bytes must be positive".into())
            } else {
                Ok(f.max_body_bytes)
            })
            .unwrap_or(df.max_body_bytes);
        let timezone = p
            .keep(
                crate::schedule::parse_timezone(&raw.timezone)
                    .map_err(|e| format!("timezone: {e}")),
            )
            .unwrap_or(crate::schedule::DEFAULT_TIMEZONE);
        let user_agent = match &f.contact {
            Some(c) => format!("{} (+{c})", f.user_agent),
            None => f.user_agent.clone(),
        };
        let mut secs_or = |key: &str, v: f64, default: f64| {
            p.keep(secs(key, v))
                .unwrap_or_else(|| Duration::from_secs_f64(default))
        };
        let fetch = FetchSettings {
            user_agent,
            connect_timeout: secs_or(
                "fetch.connect_timeout_secs",
                f.connect_timeout_secs,
                df.connect_timeout_secs,
            ),
            timeout: secs_or("fetch.timeout_secs", f.timeout_secs, df.timeout_secs),
            max_body,
            max_redirects: f.max_redirects,
            retries: f.retries,
            retry_base: secs_or(
                "fetch.retry_base_secs",
                f.retry_base_secs,
                df.retry_base_secs,
            ),
            retry_max: secs_or("fetch.retry_max_secs", f.retry_max_secs, df.retry_max_secs),
            concurrency,
            per_host_interval: secs_or(
                "fetch.per_host_interval_secs",
                f.per_host_interval_secs,
                df.per_host_interval_secs,
            ),
            allow_private: f.allow_private,
        };
        let send_timeout = secs_or(
            "discord.send_timeout_secs",
            d.send_timeout_secs,
            dd.send_timeout_secs,
        );
        let deliver_wait = secs_or(
            "discord.deliver_wait_secs",
            d.deliver_wait_secs,
            dd.deliver_wait_secs,
        );
        let retry_base = secs_or(
            "discord.retry_base_secs",
            d.retry_base_secs,
            dd.retry_base_secs,
        );
        let retry_max = secs_or(
            "discord.retry_max_secs",
            d.retry_max_secs,
            dd.retry_max_secs,
        );
        let bills_full_refresh = secs_or(
            "bills.full_refresh_hours",
            raw.bills.full_refresh_hours * 3600.0,
            defaults.bills.full_refresh_hours * 3600.0,
        );
        let sources = s
            .into_iter()
            .filter_map(|(k, v)| {
                let u = p.keep(url(&format!("sources.{k}"), v.get_ref()))?;
                Some((k, (u, at(v.span()))))
            })
            .collect();
        let api_base = d
            .api_base
            .as_deref()
            .and_then(|v| p.keep(url("discord.api_base", v)));
        let follow_hosts = d
            .follow_hosts
            .iter()
            .filter_map(|h| {
                let h = h.trim().to_ascii_lowercase();
                let host = !h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
                p.keep(if host {
                    Ok(h)
                } else {
                    Err(format!(
                        "discord.follow_hosts: `{h}` is not a host name (no scheme, port or path)"
                    ))
                })
            })
            .collect();
        let default_schedule = p.keep(
            Schedule::parse_in(&raw.schedule, timezone).map_err(|e| format!("schedule: {e}")),
        );
        let destinations = raw
            .destinations
            .into_iter()
            .filter_map(|(name, d)| {
                let at = at(d.span());
                let d = d.into_inner();
                let named = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                p.keep(if named {
                    Ok(())
                } else {
                    Err(format!(
                        "destinations.{name}: a destination name is letters, digits, `-` and `_`"
                    ))
                })?;
                let settings = DestinationSettings {
                    kind: d.kind,
                    channel: d.channel,
                    at,
                };
                Some((name, settings))
            })
            .collect();
        let listen = raw.web.listen.as_deref().and_then(|v| {
            p.keep(v.parse().map_err(|_| {
                format!("web.listen: `{v}` is not an address:port like 127.0.0.1:8686")
            }))
        });
        let Some(default_schedule) = default_schedule.filter(|_| p.0.is_empty()) else {
            return Err(p.0);
        };
        Ok(Config {
            sources: Sources { set: sources },
            fetch,
            discord: DiscordSettings {
                api_base,
                default_channel: d.channel,
                send_timeout,
                deliver_wait,
                retry_base,
                retry_max,
                chat: ChatSettings {
                    guild: d.guild,
                    manage_roles: d.manage_roles,
                    follow_hosts,
                    threads: d.threads,
                },
            },
            store: StoreSettings {
                cache_capacity: raw.store.cache_capacity_bytes,
            },
            default_schedule,
            timezone,
            failing_after: raw.health.failing_after.max(1),
            bills_full_refresh,
            destinations,
            web: WebSettings { listen },
        })
    }
}

/// Bad values found so far; [`Problems::keep`] notes one and lets checking go on.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn keep<T>(&mut self, r: std::result::Result<T, String>) -> Option<T> {
        r.map_err(|m| self.0.push(m)).ok()
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawConfig {
    schedule: String,
    timezone: String,
    /// Any key: which ones exist is the source kinds' to say (checked with the watchlists).
    sources: BTreeMap<String, toml::Spanned<String>>,
    fetch: RawFetch,
    discord: RawDiscord,
    store: RawStore,
    health: RawHealth,
    bills: RawBills,
    web: RawWeb,
    destinations: BTreeMap<String, toml::Spanned<RawDestination>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDestination {
    kind: String,
    channel: Option<u64>,
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            schedule: "0 */30 * * * *".into(),
            timezone: crate::schedule::DEFAULT_TIMEZONE.name().into(),
            sources: BTreeMap::new(),
            fetch: RawFetch::default(),
            discord: RawDiscord::default(),
            store: RawStore::default(),
            health: RawHealth::default(),
            bills: RawBills::default(),
            web: RawWeb::default(),
            destinations: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawFetch {
    user_agent: String,
    contact: Option<String>,
    connect_timeout_secs: f64,
    timeout_secs: f64,
    max_body_bytes: u64,
    max_redirects: usize,
    retries: u32,
    retry_base_secs: f64,
    retry_max_secs: f64,
    concurrency: usize,
    per_host_interval_secs: f64,
    allow_private: bool,
}

impl Default for RawFetch {
    fn default() -> Self {
        RawFetch {
            user_agent: concat!("policywatch/", env!("CARGO_PKG_VERSION")).into(),
            contact: None,
            connect_timeout_secs: 10.0,
            timeout_secs: 30.0,
            max_body_bytes: 10 * 1024 * 1024,
            max_redirects: 5,
            retries: 2,
            retry_base_secs: 1.0,
            retry_max_secs: 30.0,
            concurrency: 8,
            // GOV.UK asks for at most 10 requests a second.
            per_host_interval_secs: 0.1,
            allow_private: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawDiscord {
    api_base: Option<String>,
    channel: Option<u64>,
    send_timeout_secs: f64,
    deliver_wait_secs: f64,
    retry_base_secs: f64,
    retry_max_secs: f64,
    guild: Option<u64>,
    manage_roles: Vec<u64>,
    follow_hosts: Vec<String>,
    threads: bool,
}

impl Default for RawDiscord {
    fn default() -> Self {
        RawDiscord {
            api_base: None,
            channel: None,
            send_timeout_secs: 15.0,
            deliver_wait_secs: 60.0,
            retry_base_secs: 1.0,
            retry_max_secs: 300.0,
            guild: None,
            manage_roles: Vec::new(),
            follow_hosts: Vec::new(),
            threads: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawStore {
    cache_capacity_bytes: u64,
}

impl Default for RawStore {
    fn default() -> Self {
        RawStore {
            cache_capacity_bytes: 16 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawHealth {
    failing_after: u32,
}

impl Default for RawHealth {
    fn default() -> Self {
        RawHealth { failing_after: 3 }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawBills {
    full_refresh_hours: f64,
}

impl Default for RawBills {
    fn default() -> Self {
        RawBills {
            full_refresh_hours: 6.0,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawWeb {
    listen: Option<String>,
}
