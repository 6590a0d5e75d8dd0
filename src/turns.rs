//! Per-key order: while one write to a key is in flight, the next for the same key waits its turn,
//! and turns are given in the order they were asked for. Generic (keys are strings); unit-tested.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// The order of writes per key: one in flight per key, the next waiting its turn.
#[derive(Default)]
pub struct Turns {
  held: Mutex<HashMap<String, Line>>,
}

/// The writes to one session in flight or waiting: the lock they take turns on, and how many.
type Line = (Arc<tokio::sync::Mutex<()>>, usize);

/// A write's turn on one session: held until dropped.
pub struct Turn<'a> {
  turns: &'a Turns,
  id: String,
  guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Turns {
  /// Waits for the turn on `id`: after every write to it asked for earlier.
  pub fn take<'a>(&'a self, id: &str) -> impl Future<Output = Turn<'a>> + Send + 'a {
    let mutex = {
      let mut held = lock(&self.held);
      let entry = held.entry(id.to_owned()).or_default();
      entry.1 += 1;
      entry.0.clone()
    };
    // Counted before waiting, so that a wait given up on (its future dropped) is uncounted too.
    let mut turn = Turn {
      turns: self,
      id: id.to_owned(),
      guard: None,
    };
    async move {
      turn.guard = Some(mutex.lock_owned().await);
      turn
    }
  }

  /// Sessions with a write in flight or waiting.
  pub fn len(&self) -> usize {
    lock(&self.held).len()
  }

  /// Whether no session has a write in flight.
  pub fn is_empty(&self) -> bool {
    self.len() == 0
  }
}

impl Drop for Turn<'_> {
  fn drop(&mut self) {
    let mut held = lock(&self.turns.held);
    self.guard = None;
    if let Some(entry) = held.get_mut(&self.id) {
      entry.1 -= 1;
      if entry.1 == 0 {
        held.remove(&self.id);
      }
    }
  }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
  mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::time::Duration;

  #[tokio::test]
  async fn turns_on_one_id_are_given_in_the_order_asked_and_leave_nothing_behind() {
    let turns = Arc::new(Turns::default());
    let order = Arc::new(Mutex::new(Vec::new()));
    let first = turns.take("a").await;
    let mut waiting = Vec::new();
    for index in 0..5 {
      let turns = turns.clone();
      let order = order.clone();
      let mut task = boxed(async move {
        let _turn = turns.take("a").await;
        lock(&order).push(index);
      });
      // Each asks in turn (first poll), then all wait behind `first`.
      assert!(futures_util::poll!(&mut task).is_pending());
      waiting.push(task);
    }
    let other = turns.take("b").await;
    assert_eq!(turns.len(), 2);
    drop(first);
    futures_util::future::join_all(waiting).await;
    assert_eq!(*lock(&order), vec![0, 1, 2, 3, 4]);
    drop(other);
    assert!(turns.is_empty());
  }

  #[tokio::test]
  async fn a_turn_given_up_on_while_waiting_leaves_nothing_behind() {
    let turns = Turns::default();
    let held = turns.take("a").await;
    let gave_up = tokio::time::timeout(Duration::from_millis(10), turns.take("a")).await;
    assert!(gave_up.is_err());
    drop(held);
    assert!(turns.is_empty());
  }

  fn boxed<F: Future<Output = ()>>(future: F) -> std::pin::Pin<Box<F>> {
    Box::pin(future)
  }
}
