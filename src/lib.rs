//! policywatch: watches UK bills, GOV.UK guidance and commissioner publications, keeps every
//! version, diffs the changes and delivers annotated alerts.
//!
//! The flow runs one way (README, Architecture): [`watchlist`] → [`schedule`] → [`fetch`] →
//! [`source`] (extract, normalise, compare) → [`store`] → [`annotate`] → outbox → [`notify`].
//! [`cycle`] wires one check cycle together; [`daemon`] runs cycles on schedule. Below them
//! all, [`data`] (plain records) and [`text`] (HTML → text, diffs) import nothing of the flow.

pub mod annotate;
pub mod backoff;
pub mod chat;
pub mod cli;
pub mod config;
pub mod control;
pub mod cycle;
pub mod daemon;
pub mod data;
pub mod error;
pub mod event;
pub mod fetch;
pub mod live;
pub mod notify;
pub mod schedule;
pub mod signals;
pub mod source;
pub mod status;
pub mod store;
pub mod text;
pub mod watchlist;
pub mod web;

pub use error::{Error, Result};

/// 1-based line and column of a byte offset, for `file:line:col` messages.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.chars().count(), |i| before[i + 1..].chars().count())
        + 1;
    (line, col)
}
