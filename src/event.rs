//! Events and alerts; the types live in [`crate::data`] (plain data, imported by every
//! stage) and are re-exported here under their historical path.

pub use crate::data::{Alert, Event, Severity};
