//! Routing: which collectors an event reaches. `SimpleRouter` delivers by
//! direct key(s), by topic(s) (exact match) or to every collector; another
//! `Router` can replace it.

use std::collections::HashMap;

use crate::error::{Error, Result};

/// How a payload asks to be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// To every collector.
    Broadcast,
    /// To the collectors with these keys.
    Keys(Vec<String>),
    /// To the collectors listening to any of these topics.
    Topics(Vec<String>),
}

/// The collectors of a queue by key and by topic, in registration order.
#[derive(Debug, Default)]
pub struct Directory {
    keys: Vec<String>,
    by_key: HashMap<String, usize>,
    by_topic: HashMap<String, Vec<usize>>,
}

impl Directory {
    /// Indexes collectors given as (key, topics); keys must be unique.
    pub fn new<'a>(collectors: impl IntoIterator<Item = (&'a str, &'a [String])>) -> Result<Directory> {
        let mut directory = Directory::default();
        for (index, (key, topics)) in collectors.into_iter().enumerate() {
            if key.is_empty() {
                return Err(Error::InvalidConfig("a collector key cannot be empty".into()));
            }
            if directory.by_key.insert(key.to_owned(), index).is_some() {
                return Err(Error::InvalidConfig(format!("collector key '{key}' is given twice")));
            }
            directory.keys.push(key.to_owned());
            for topic in topics {
                let listeners = directory.by_topic.entry(topic.clone()).or_default();
                if listeners.last() != Some(&index) {
                    listeners.push(index);
                }
            }
        }
        Ok(directory)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn key(&self, index: usize) -> &str {
        &self.keys[index]
    }

    pub fn index(&self, key: &str) -> Option<usize> {
        self.by_key.get(key).copied()
    }

    /// The collectors listening to `topic`, in registration order.
    pub fn listeners(&self, topic: &str) -> &[usize] {
        self.by_topic.get(topic).map_or(&[], Vec::as_slice)
    }

    /// Fails naming the first key no collector has, so a payload sent to a
    /// mistyped key is refused rather than delivered nowhere.
    pub fn check(&self, route: &Route) -> Result<()> {
        if let Route::Keys(keys) = route {
            if let Some(unknown) = keys.iter().find(|k| !self.by_key.contains_key(k.as_str())) {
                return Err(Error::UnknownCollector {
                    key: unknown.clone(),
                    known: self.keys.join(", "),
                });
            }
        }
        Ok(())
    }
}

/// Picks the collectors an event reaches. Called by consumers, concurrently.
pub trait Router: Send + Sync + 'static {
    /// Indices into `directory`, each at most once; one result per index
    /// comes back to the publisher.
    fn route(&self, route: &Route, directory: &Directory) -> Vec<usize>;
}

/// The default router: keys and topics by exact match, broadcast to all.
#[derive(Debug, Default)]
pub struct SimpleRouter;

impl Router for SimpleRouter {
    fn route(&self, route: &Route, directory: &Directory) -> Vec<usize> {
        match route {
            Route::Broadcast => (0..directory.len()).collect(),
            Route::Keys(keys) => unique(keys.iter().filter_map(|k| directory.index(k))),
            Route::Topics(topics) => {
                let mut reached = unique(topics.iter().flat_map(|t| directory.listeners(t).iter().copied()));
                reached.sort_unstable();
                reached
            }
        }
    }
}

/// Keeps the first occurrence of each index. Routes are short: a linear
/// scan beats hashing.
fn unique(indices: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    for index in indices {
        if !out.contains(&index) {
            out.push(index);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directory() -> Directory {
        let topics = [
            vec!["payments".to_owned()],
            vec!["payments".to_owned(), "audit".to_owned()],
            vec![],
        ];
        Directory::new(["a", "b", "c"].into_iter().zip(topics.iter().map(Vec::as_slice))).unwrap()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn keys_topics_and_broadcast() {
        let d = directory();
        let r = SimpleRouter;
        assert_eq!(r.route(&Route::Broadcast, &d), vec![0, 1, 2]);
        assert_eq!(r.route(&Route::Keys(strings(&["c", "a", "c"])), &d), vec![2, 0]);
        assert_eq!(r.route(&Route::Topics(strings(&["audit", "payments"])), &d), vec![0, 1]);
        assert_eq!(r.route(&Route::Topics(strings(&["pay"])), &d), Vec::<usize>::new());
    }

    #[test]
    fn unknown_keys_and_duplicate_collectors_are_refused() {
        let d = directory();
        let error = d.check(&Route::Keys(strings(&["a", "zz"]))).unwrap_err();
        assert_eq!(error.code(), "ERR_UNKNOWN_COLLECTOR");
        assert!(error.to_string().contains("'zz'"));
        let twice = Directory::new([("a", &[][..]), ("a", &[][..])]).unwrap_err();
        assert_eq!(twice.code(), "ERR_INVALID_CONFIG");
    }
}
