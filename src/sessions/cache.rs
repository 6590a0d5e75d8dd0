//! Conditional reads: per session id, the JSON text this adapter last read, with the row version's
//! validator (`xmin:ctid:version`: any UPDATE, by any client, makes a new row version with another
//! `xmin` and `ctid`). A `getSession` always asks the server, sending the validator it holds; the
//! server sends the data only when the row is no longer that version, so an unchanged session
//! costs an index lookup, with no detoasting and no transfer. Never a stale read: a missing row
//! reads as missing, a changed one comes back whole. Bounded by bytes, oldest entries evicted first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// One cached session: the validator of the row version its JSON was read from.
struct Entry {
  validator: Arc<str>,
  json: Arc<str>,
  /// Its place in the eviction order.
  seq: u64,
}

#[derive(Default)]
struct Inner {
  entries: HashMap<String, Entry>,
  /// `(seq, id)` in insertion order; entries replaced since leave stale pairs, skipped.
  order: VecDeque<(u64, String)>,
  bytes: usize,
  next_seq: u64,
}

/// A validator and the JSON read with it, as held when a read was sent.
pub struct Held {
  /// `xmin:ctid:version` of the row version `json` was read from.
  pub validator: Arc<str>,
  /// The session's JSON text.
  pub json: Arc<str>,
}

/// The sessions' JSON read last, by id, within a budget of bytes.
pub struct ReadCache {
  budget: usize,
  inner: Mutex<Inner>,
}

impl ReadCache {
  /// A cache of at most `budget` bytes of ids and JSON; `None` when `budget` is 0 (off).
  pub fn new(budget: usize) -> Option<Self> {
    (budget > 0).then(|| ReadCache {
      budget,
      inner: Mutex::new(Inner::default()),
    })
  }

  /// What is held for `id`, to send its validator with the read.
  pub fn held(&self, id: &str) -> Option<Held> {
    let inner = self.inner.lock().ok()?;
    inner.entries.get(id).map(|entry| Held {
      validator: entry.validator.clone(),
      json: entry.json.clone(),
    })
  }

  /// Keeps `json`, read from the row version `validator`, for `id` (a session larger than a
  /// quarter of the budget is not kept, and forgets what was held).
  pub fn keep(&self, id: &str, validator: &str, json: &str) {
    let Ok(mut inner) = self.inner.lock() else {
      return;
    };
    let inner = &mut *inner;
    Self::remove(inner, id);
    let size = id.len() + json.len() + validator.len();
    if size > self.budget / 4 {
      return;
    }
    while inner.bytes + size > self.budget {
      let Some((seq, oldest)) = inner.order.pop_front() else {
        break;
      };
      if inner.entries.get(&oldest).is_some_and(|entry| entry.seq == seq) {
        Self::remove(inner, &oldest);
      }
    }
    let seq = inner.next_seq;
    inner.next_seq += 1;
    inner.order.push_back((seq, id.to_string()));
    inner.bytes += size;
    inner.entries.insert(
      id.to_string(),
      Entry {
        validator: validator.into(),
        json: json.into(),
        seq,
      },
    );
    // Stale pairs of replaced entries are dropped once they outnumber the live ones.
    if inner.order.len() > 2 * inner.entries.len() + 64 {
      let entries = &inner.entries;
      inner
        .order
        .retain(|(seq, id)| entries.get(id).is_some_and(|entry| entry.seq == *seq));
    }
  }

  /// Forgets `id` (deleted, or read as missing).
  pub fn forget(&self, id: &str) {
    if let Ok(mut inner) = self.inner.lock() {
      Self::remove(&mut inner, id);
    }
  }

  /// Bytes held now.
  #[cfg(test)]
  fn bytes(&self) -> usize {
    self.inner.lock().map(|inner| inner.bytes).unwrap_or(0)
  }

  fn remove(inner: &mut Inner, id: &str) {
    if let Some(entry) = inner.entries.remove(id) {
      inner.bytes -= id.len() + entry.json.len() + entry.validator.len();
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_budget_of_zero_turns_it_off() {
    assert!(ReadCache::new(0).is_none());
  }

  #[test]
  fn keeps_the_last_read_and_replaces_it() {
    let cache = ReadCache::new(1000).unwrap();
    assert!(cache.held("a").is_none());
    cache.keep("a", "1:(0,1):1", "{\"v\":1}");
    cache.keep("a", "2:(0,2):2", "{\"v\":2}");
    let held = cache.held("a").unwrap();
    assert_eq!((&*held.validator, &*held.json), ("2:(0,2):2", "{\"v\":2}"));
    assert_eq!(cache.bytes(), 1 + 9 + 7);
    cache.forget("a");
    assert!(cache.held("a").is_none());
    assert_eq!(cache.bytes(), 0);
  }

  #[test]
  fn stays_within_its_budget_evicting_the_oldest() {
    let cache = ReadCache::new(400).unwrap();
    let json = "x".repeat(80);
    for index in 0..20 {
      cache.keep(&format!("id-{index}"), "v", &json);
      assert!(cache.bytes() <= 400, "{}", cache.bytes());
    }
    assert!(cache.held("id-0").is_none());
    assert!(cache.held("id-19").is_some());
    // Replacing entries again and again leaves no garbage behind.
    for _ in 0..1000 {
      cache.keep("id-19", "v", &json);
    }
    assert!(cache.inner.lock().unwrap().order.len() < 200);
    // Too large for a quarter of the budget: not kept, and the older text is forgotten.
    cache.keep("id-19", "v", &"y".repeat(200));
    assert!(cache.held("id-19").is_none());
  }
}
