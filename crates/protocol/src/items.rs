//! [`ItemList`]: a list of history items whose copies share their items.

use std::fmt;
use std::ops::Index;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ResponseItem;

/// Items per sealed chunk. A copy shares every sealed chunk and the open tail; the first push
/// after a copy clones at most this many items (the tail), once.
const CHUNK: usize = 32;

/// An append-only list of [`ResponseItem`]s that is cheap to copy: a clone shares the items
/// instead of cloning them, so a session's history can be handed to every model request (and
/// kept by a recording test model) at a cost independent of its length.
///
/// Items are kept in sealed chunks of 32, shared between copies, and an open tail; pushing to
/// one copy never changes another.
///
/// ```
/// use turnkit_protocol::{ItemList, ResponseItem};
///
/// let mut history: ItemList = (0..100).map(|n| ResponseItem::user_text(format!("{n}"))).collect();
/// let request = history.clone();
/// history.push(ResponseItem::user_text("later"));
/// assert_eq!((request.len(), history.len()), (100, 101));
/// assert_eq!(history[99], ResponseItem::user_text("99"));
/// assert_eq!(request.to_vec(), history.iter().take(100).cloned().collect::<Vec<_>>());
/// ```
#[derive(Clone, Default)]
pub struct ItemList {
    /// Full chunks of exactly `CHUNK` items each.
    sealed: Arc<Vec<Arc<[ResponseItem]>>>,
    /// Fewer than `CHUNK` items.
    tail: Arc<Vec<ResponseItem>>,
    /// Whether every output so far follows its call, kept up to date by `push`.
    pairing: Pairing,
}

/// More calls than this open at once stop the tracking: [`ItemList::calls_paired`] then
/// answers `None`, and the caller checks the items itself.
const MAX_TRACKED_OPEN_CALLS: usize = 64;

/// What the items say about function calls and their outputs, as far as they go.
#[derive(Clone, Debug)]
enum Pairing {
    /// Every output so far followed its call; these calls have no output yet.
    Tracked(Arc<Vec<String>>),
    /// An output came without its call before it (or twice).
    Broken,
    /// Too many calls were open at once to track.
    Untracked,
}

impl Default for Pairing {
    fn default() -> Self {
        Pairing::Tracked(Arc::default())
    }
}

impl ItemList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether every function call has its output after it, and every output its call before
    /// it (call ids compared, each answered once): `Some(true)` for the shape a history has
    /// unless a turn was cut off; `None` when too many calls were open at once to keep track,
    /// and the caller must look at the items itself.
    ///
    /// Kept up to date as items are pushed, so asking costs nothing.
    pub fn calls_paired(&self) -> Option<bool> {
        match &self.pairing {
            Pairing::Tracked(open) => Some(open.is_empty()),
            Pairing::Broken => Some(false),
            Pairing::Untracked => None,
        }
    }

    /// How many items it holds.
    pub fn len(&self) -> usize {
        self.sealed.len() * CHUNK + self.tail.len()
    }

    /// Whether it holds no item.
    pub fn is_empty(&self) -> bool {
        self.sealed.is_empty() && self.tail.is_empty()
    }

    /// Appends an item; copies made earlier do not see it.
    pub fn push(&mut self, item: ResponseItem) {
        self.pairing.track(&item);
        let tail = Arc::make_mut(&mut self.tail);
        tail.push(item);
        if tail.len() == CHUNK {
            let chunk: Arc<[ResponseItem]> = std::mem::take(tail).into();
            Arc::make_mut(&mut self.sealed).push(chunk);
        }
    }

    /// The item at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&ResponseItem> {
        match self.sealed.get(index / CHUNK) {
            Some(chunk) => chunk.get(index % CHUNK),
            None => self.tail.get(index - self.sealed.len() * CHUNK),
        }
    }

    /// The last item, if any.
    pub fn last(&self) -> Option<&ResponseItem> {
        self.tail
            .last()
            .or_else(|| self.sealed.last().and_then(|chunk| chunk.last()))
    }

    /// Whether an item equal to `item` is in the list.
    pub fn contains(&self, item: &ResponseItem) -> bool {
        self.iter().any(|held| held == item)
    }

    /// The items in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &ResponseItem> + Clone + '_ {
        self.sealed
            .iter()
            .flat_map(|chunk| chunk.iter())
            .chain(self.tail.iter())
    }

    /// The items, cloned into a `Vec`.
    pub fn to_vec(&self) -> Vec<ResponseItem> {
        let mut items = Vec::with_capacity(self.len());
        items.extend(self.iter().cloned());
        items
    }
}

impl Pairing {
    fn track(&mut self, item: &ResponseItem) {
        let Pairing::Tracked(open) = self else {
            return;
        };
        match item {
            ResponseItem::FunctionCall { call_id, .. } => {
                if open.len() == MAX_TRACKED_OPEN_CALLS {
                    *self = Pairing::Untracked;
                } else {
                    Arc::make_mut(open).push(call_id.clone());
                }
            }
            ResponseItem::FunctionCallOutput { call_id, .. } => {
                match open.iter().position(|open| open == call_id) {
                    Some(index) => {
                        Arc::make_mut(open).remove(index);
                    }
                    None => *self = Pairing::Broken,
                }
            }
            _ => {}
        }
    }
}

impl From<Vec<ResponseItem>> for ItemList {
    /// Moves the items into chunks in one pass (no per-item push).
    fn from(mut items: Vec<ResponseItem>) -> Self {
        let mut pairing = Pairing::default();
        for item in &items {
            pairing.track(item);
        }
        let tail = items.split_off(items.len() / CHUNK * CHUNK);
        let mut moved = items.into_iter();
        let sealed: Vec<Arc<[ResponseItem]>> = std::iter::from_fn(|| {
            let chunk: Vec<ResponseItem> = moved.by_ref().take(CHUNK).collect();
            (!chunk.is_empty()).then(|| chunk.into())
        })
        .collect();
        Self {
            sealed: Arc::new(sealed),
            tail: Arc::new(tail),
            pairing,
        }
    }
}

impl From<ItemList> for Vec<ResponseItem> {
    fn from(items: ItemList) -> Self {
        items.to_vec()
    }
}

impl FromIterator<ResponseItem> for ItemList {
    fn from_iter<I: IntoIterator<Item = ResponseItem>>(items: I) -> Self {
        let mut list = ItemList::new();
        list.extend(items);
        list
    }
}

impl Extend<ResponseItem> for ItemList {
    fn extend<I: IntoIterator<Item = ResponseItem>>(&mut self, items: I) {
        for item in items {
            self.push(item);
        }
    }
}

impl<'a> IntoIterator for &'a ItemList {
    type Item = &'a ResponseItem;
    type IntoIter = Box<dyn DoubleEndedIterator<Item = &'a ResponseItem> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl Index<usize> for ItemList {
    type Output = ResponseItem;

    fn index(&self, index: usize) -> &ResponseItem {
        let len = self.len();
        self.get(index)
            .unwrap_or_else(|| panic!("index {index} out of range for a list of {len} items"))
    }
}

impl PartialEq for ItemList {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for ItemList {}

impl PartialEq<[ResponseItem]> for ItemList {
    fn eq(&self, other: &[ResponseItem]) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl PartialEq<Vec<ResponseItem>> for ItemList {
    fn eq(&self, other: &Vec<ResponseItem>) -> bool {
        *self == **other
    }
}

impl PartialEq<ItemList> for Vec<ResponseItem> {
    fn eq(&self, other: &ItemList) -> bool {
        *other == **self
    }
}

impl fmt::Debug for ItemList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for ItemList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for ItemList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<ResponseItem>::deserialize(deserializer).map(ItemList::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(range: std::ops::Range<usize>) -> Vec<ResponseItem> {
        range
            .map(|n| ResponseItem::user_text(format!("item {n}")))
            .collect()
    }

    #[test]
    fn copies_never_see_later_pushes_and_every_index_reads_back() {
        let mut list = ItemList::new();
        let mut copies = Vec::new();
        for (n, item) in items(0..100).into_iter().enumerate() {
            copies.push((n, list.clone()));
            list.push(item);
        }
        let all = items(0..100);
        assert_eq!(list, all);
        for (n, copy) in copies {
            assert_eq!(copy.len(), n);
            assert_eq!(copy.to_vec(), all[..n]);
            assert_eq!(copy.last(), n.checked_sub(1).map(|last| &all[last]));
        }
        for (index, item) in all.iter().enumerate() {
            assert_eq!(&list[index], item);
        }
        assert!(list.get(100).is_none());
        assert_eq!(
            list.iter().rev().cloned().collect::<Vec<_>>(),
            all.iter().rev().cloned().collect::<Vec<_>>()
        );
    }

    fn call(id: &str) -> ResponseItem {
        ResponseItem::FunctionCall {
            call_id: id.to_owned(),
            name: "shell".to_owned(),
            arguments: "{}".to_owned(),
        }
    }

    fn output(id: &str) -> ResponseItem {
        ResponseItem::FunctionCallOutput {
            call_id: id.to_owned(),
            output: "ok".to_owned(),
            success: None,
        }
    }

    #[test]
    fn pairing_follows_the_pushes() {
        let mut list = ItemList::new();
        assert_eq!(list.calls_paired(), Some(true));
        list.push(call("a"));
        list.push(call("b"));
        let open = list.clone();
        list.push(output("b"));
        assert_eq!(list.calls_paired(), Some(false));
        list.push(output("a"));
        assert_eq!(list.calls_paired(), Some(true));
        assert_eq!(
            open.calls_paired(),
            Some(false),
            "a copy keeps its own state"
        );
        list.push(output("a"));
        assert_eq!(
            list.calls_paired(),
            Some(false),
            "an output twice breaks it"
        );
        list.push(call("c"));
        list.push(output("c"));
        assert_eq!(list.calls_paired(), Some(false), "for good");

        let stray: ItemList = vec![output("x"), call("x")].into();
        assert_eq!(stray.calls_paired(), Some(false));
        let wide: ItemList = (0..=MAX_TRACKED_OPEN_CALLS)
            .map(|n| call(&n.to_string()))
            .collect();
        assert_eq!(wide.calls_paired(), None);
        assert_eq!(ItemList::default().calls_paired(), Some(true));
    }

    #[test]
    fn it_serialises_as_a_plain_list() {
        let all = items(0..40);
        let list = ItemList::from(all.clone());
        assert_eq!(list, all.iter().cloned().collect::<ItemList>());
        assert_eq!(list.len(), 40);
        assert_eq!(list[39], all[39]);
        let json = serde_json::to_string(&list).expect("serialises");
        assert_eq!(json, serde_json::to_string(&all).expect("serialises"));
        let back: ItemList = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, list);
        assert_eq!(format!("{list:?}"), format!("{all:?}"));
    }
}
