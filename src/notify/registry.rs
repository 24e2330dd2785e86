//! The only list of destination kinds. Adding one is its module under `src/notify/` (a
//! [`DestinationKind`] and its [`Sink`](super::Sink)) plus one line here.

use super::{discord, slack, teams, DestinationKind};

static KINDS: &[&dyn DestinationKind] = &[
    // The first configured kind also takes alerts with no destination of their own.
    &discord::DiscordKind,
    &slack::SlackKind,
    &teams::TeamsKind,
];

/// Every destination kind, in registry order.
pub fn kinds() -> &'static [&'static dyn DestinationKind] {
    KINDS
}

/// The kind called `name`.
pub fn find(name: &str) -> Option<&'static dyn DestinationKind> {
    KINDS.iter().copied().find(|k| k.name() == name)
}
