//! [`Normalizer`]: events as stable JSON for snapshot tests.

use std::collections::HashMap;

use serde_json::Value;
use turnkit_protocol::Event;

/// Replaces what differs from run to run with stable placeholders.
///
/// - `seq` is checked to have no gaps, then replaced by the position in the list;
/// - event ids become `sub#1`, `sub#2`, … in order of first appearance;
/// - `call_id`, `approval_id` and `sub_session_id` values become `call#N`, `approval#N`, …;
/// - `duration_ms` and `*_ms` timing fields become `"<duration>"`, `*_at` and `timestamp`
///   fields `"<time>"`;
/// - registered path prefixes (the session's temp dir) become their placeholder.
#[derive(Clone, Debug, Default)]
pub struct Normalizer {
    paths: Vec<(String, String)>,
}

impl Normalizer {
    /// A normaliser with no path replacements.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces `prefix` at the start of any string with `placeholder`.
    pub fn path(
        mut self,
        prefix: impl AsRef<std::path::Path>,
        placeholder: impl Into<String>,
    ) -> Self {
        self.paths
            .push((prefix.as_ref().display().to_string(), placeholder.into()));
        // Longest first, so a nested directory wins over its parent.
        self.paths
            .sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        self
    }

    /// The events as a JSON array with every placeholder applied.
    ///
    /// # Panics
    ///
    /// Panics, naming the events, if the sequence numbers have a gap or go backwards.
    pub fn normalize(&self, events: &[Event]) -> Value {
        for pair in events.windows(2) {
            assert_eq!(
                pair[1].seq,
                pair[0].seq + 1,
                "event seq must increase by one with no gaps: {:?} then {:?}",
                pair[0],
                pair[1]
            );
        }
        let mut ids = Ids::default();
        let normalised = events
            .iter()
            .enumerate()
            .map(|(position, event)| {
                let mut value = serde_json::to_value(event).expect("events always serialise");
                if let Value::Object(fields) = &mut value {
                    fields.insert("seq".into(), Value::from(position));
                    let id = ids.placeholder("sub", &event.id);
                    fields.insert("id".into(), Value::from(id));
                    if let Some(msg) = fields.get_mut("msg") {
                        self.walk(msg, &mut ids);
                    }
                }
                value
            })
            .collect();
        Value::Array(normalised)
    }

    fn walk(&self, value: &mut Value, ids: &mut Ids) {
        match value {
            Value::Object(fields) => {
                for (key, field) in fields.iter_mut() {
                    match key.as_str() {
                        "call_id" | "approval_id" | "sub_session_id" => {
                            if let Value::String(text) = field {
                                let family = key.trim_end_matches("_id");
                                *field = Value::from(ids.placeholder(family, text));
                            }
                        }
                        key if key == "duration_ms" || key.ends_with("_ms") => {
                            *field = Value::from("<duration>");
                        }
                        key if key.ends_with("_at") || key == "timestamp" => {
                            *field = Value::from("<time>");
                        }
                        _ => self.walk(field, ids),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.walk(item, ids)),
            Value::String(text) => {
                for (prefix, placeholder) in &self.paths {
                    if text.contains(prefix.as_str()) {
                        *text = text.replace(prefix.as_str(), placeholder);
                    }
                }
            }
            _ => {}
        }
    }
}

#[derive(Default)]
struct Ids {
    seen: HashMap<(String, String), usize>,
    counts: HashMap<String, usize>,
}

impl Ids {
    fn placeholder(&mut self, family: &str, value: &str) -> String {
        let key = (family.to_owned(), value.to_owned());
        let next = self.counts.get(family).copied().unwrap_or(0) + 1;
        let number = *self.seen.entry(key).or_insert(next);
        if number == next {
            self.counts.insert(family.to_owned(), next);
        }
        format!("{family}#{number}")
    }
}
