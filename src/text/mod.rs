//! Text helpers shared by every stage: HTML → readable text and whitespace folding
//! ([`html`]), and line/word diffs ([`diff`]). They import nothing of the pipeline.

pub mod diff;
pub mod html;
