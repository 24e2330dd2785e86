//! Grouping alerts into messages, for every sink: in order, as few messages as the sink's
//! limits allow, and only alerts of one batch key (a cycle, a digest) together. The limits
//! themselves are the sink's: its message type says whether one more alert fits.

/// A message being filled by [`group`]: the sink decides what fits.
pub trait Batch: Sized {
    /// One alert as the sink rendered it.
    type Item;
    /// An empty message.
    fn empty() -> Self;
    /// Whether `item` can join this (non-empty) message within the sink's limits.
    fn fits(&self, item: &Self::Item) -> bool;
    fn add(&mut self, item: Self::Item);
}

/// Packs `(key, item)` pairs into messages, in order. Only items with equal keys share a
/// message, and packing is deterministic, so the same queue always packs the same way: a
/// message resent after a crash carries the same alerts as the first attempt.
pub fn group<K: PartialEq, B: Batch>(items: impl IntoIterator<Item = (K, B::Item)>) -> Vec<B> {
    let mut out: Vec<B> = Vec::new();
    let mut key: Option<K> = None;
    for (k, item) in items {
        let joins = key.as_ref() == Some(&k) && out.last().is_some_and(|m| m.fits(&item));
        if !joins {
            out.push(B::empty());
            key = Some(k);
        }
        out.last_mut().expect("pushed above").add(item);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Words into lines of at most 10 characters.
    #[derive(Debug, PartialEq)]
    struct Line(String);
    impl Batch for Line {
        type Item = &'static str;
        fn empty() -> Self {
            Line(String::new())
        }
        fn fits(&self, w: &&str) -> bool {
            self.0.len() + 1 + w.len() <= 10
        }
        fn add(&mut self, w: &str) {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            self.0.push_str(w);
        }
    }

    #[test]
    fn packs_in_order_within_limits_and_never_across_keys() {
        let lines: Vec<Line> = group([(1, "aa"), (1, "bbb"), (1, "cccc"), (2, "d"), (2, "e")]);
        let text: Vec<&str> = lines.iter().map(|l| l.0.as_str()).collect();
        assert_eq!(text, ["aa bbb", "cccc", "d e"]);
        // Something that fits nowhere still gets a message of its own.
        let lines: Vec<Line> = group([(0, "a"), (0, "enormous-word"), (0, "b")]);
        assert_eq!(lines.len(), 3);
    }
}
