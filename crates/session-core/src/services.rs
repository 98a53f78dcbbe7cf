//! [`Services`]: a typed map of shared values that tasks look up by type.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Shared values a session offers its tasks, one per type: a model client, a snapshotter, ….
///
/// Task crates never depend on each other; when one needs another's help it looks up a
/// service by type (usually an `Arc<dyn Trait>` defined in a crate both can see).
#[derive(Clone, Default)]
pub struct Services {
    values: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl Services {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `value`, replacing any earlier value of the same type.
    pub fn insert<T: Clone + Send + Sync + 'static>(&mut self, value: T) {
        self.values.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// Adds every value of `other`, replacing values of the same types.
    pub fn extend(&mut self, other: Services) {
        self.values.extend(other.values);
    }

    /// A clone of the value of type `T`, if there is one.
    pub fn get<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.values
            .get(&TypeId::of::<T>())?
            .downcast_ref::<T>()
            .cloned()
    }

    /// Whether a value of type `T` is present.
    pub fn contains<T: 'static>(&self) -> bool {
        self.values.contains_key(&TypeId::of::<T>())
    }
}

impl fmt::Debug for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Services")
            .field("len", &self.values.len())
            .finish()
    }
}
