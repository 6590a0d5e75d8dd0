//! Large values crossing the boundary a chunk at a time, so that neither side blocks the event
//! loop for long: batch results above [`HOLD_ABOVE_BYTES`] wait in [`LargeResults`] for JS to take
//! them, and the sessions of a large `saveSessions` gather in [`StagedSaves`] until the last chunk.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use super::values::Reply;
use crate::error::{Error, Result};
use crate::sessions::SessionInput;
use crate::time::instant_from_ms;

/// A batch result larger than this (bytes of text) is kept in Rust and taken by JS a chunk at a
/// time, so that turning it into JS strings never blocks the event loop for long.
const HOLD_ABOVE_BYTES: usize = 1 << 20;

/// Large batch results waiting for JS to take them a chunk at a time, by request.
#[derive(Clone, Default)]
pub struct LargeResults(Arc<Mutex<HashMap<u32, VecDeque<String>>>>);

impl LargeResults {
  /// `reply` as handed to JS: strings of more than [`HOLD_ABOVE_BYTES`] are kept here under
  /// `request`, and JS gets their count instead (then calls [`take`](Self::take)).
  pub fn hand_over(&self, request: u32, reply: Reply) -> Reply {
    match reply {
      Reply::Strings(texts) if texts.iter().map(String::len).sum::<usize>() > HOLD_ABOVE_BYTES => {
        let count = texts.len() as u32;
        lock(&self.0).insert(request, texts.into());
        Reply::Number(f64::from(count))
      }
      reply => reply,
    }
  }

  /// The next strings of the result kept for `request`: about `max_bytes` of text, at least one
  /// string while any is left.
  pub fn take(&self, request: u32, max_bytes: u32) -> Reply {
    let mut kept = lock(&self.0);
    let Some(texts) = kept.get_mut(&request) else {
      return Reply::Strings(Vec::new());
    };
    let mut chunk = Vec::new();
    let mut bytes = 0;
    while let Some(text) = texts.pop_front() {
      bytes += text.len();
      chunk.push(text);
      if bytes >= max_bytes as usize {
        break;
      }
    }
    if texts.is_empty() {
      kept.remove(&request);
    }
    Reply::Strings(chunk)
  }

  /// Drops what is left of the result kept for `request`.
  pub fn release(&self, request: u32) {
    lock(&self.0).remove(&request);
  }
}

/// Sessions of large `saveSessions` calls handed over a chunk at a time, by stage.
#[derive(Default)]
pub struct StagedSaves(Mutex<HashMap<u32, Vec<SessionInput>>>);

impl StagedSaves {
  /// Adds a chunk under `stage`.
  pub fn add(&self, stage: u32, sessions: Vec<SessionInput>) {
    lock(&self.0).entry(stage).or_default().extend(sessions);
  }

  /// Takes every chunk staged under `stage`.
  pub fn remove(&self, stage: u32) -> Option<Vec<SessionInput>> {
    lock(&self.0).remove(&stage)
  }
}

/// The sessions of a `saveSessions` chunk: parallel arrays, with dates as epoch milliseconds.
pub fn session_inputs(
  ids: Vec<String>,
  versions: Vec<i32>,
  created_at_ms: Vec<f64>,
  updated_at_ms: Vec<f64>,
  jsons: Vec<String>,
) -> Result<Vec<SessionInput>> {
  let count = ids.len();
  if versions.len() != count || created_at_ms.len() != count || updated_at_ms.len() != count || jsons.len() != count {
    return Err(Error::validation(
      "sessions",
      "saveSessions: parallel arrays differ in length",
    ));
  }
  ids
    .into_iter()
    .zip(versions)
    .zip(created_at_ms)
    .zip(updated_at_ms)
    .zip(jsons)
    .map(|((((id, version), created), updated), json)| session_input(id, version, created, updated, json))
    .collect()
}

/// One session to save, with dates as epoch milliseconds.
pub fn session_input(
  id: String,
  version: i32,
  created_at_ms: f64,
  updated_at_ms: f64,
  json: String,
) -> Result<SessionInput> {
  Ok(SessionInput {
    id,
    json,
    version,
    created_at: instant_from_ms("createdAt", created_at_ms)?,
    updated_at: instant_from_ms("updatedAt", updated_at_ms)?,
  })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
  mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_large_result_is_kept_and_taken_in_chunks_of_about_the_size_asked() {
    let results = LargeResults::default();
    let texts: Vec<String> = (0..5).map(|n| format!("{n}").repeat(300_000)).collect();
    let Reply::Number(count) = results.hand_over(7, Reply::Strings(texts.clone())) else {
      panic!("a result above the bound is kept");
    };
    assert_eq!(count, 5.0);
    let mut taken = Vec::new();
    loop {
      let Reply::Strings(chunk) = results.take(7, 500_000) else {
        panic!("take gives strings");
      };
      if chunk.is_empty() {
        break;
      }
      assert!(chunk.len() <= 2);
      taken.extend(chunk);
    }
    assert_eq!(taken, texts);
  }

  #[test]
  fn a_small_result_is_handed_over_as_is_and_a_released_one_is_gone() {
    let results = LargeResults::default();
    assert!(matches!(results.hand_over(1, Reply::Strings(vec!["a".into()])), Reply::Strings(texts) if texts == ["a"]));
    results.hand_over(2, Reply::Strings(vec!["x".repeat(2 << 20)]));
    results.release(2);
    assert!(matches!(results.take(2, 1), Reply::Strings(texts) if texts.is_empty()));
  }

  #[test]
  fn parallel_arrays_of_different_lengths_are_refused() {
    let error = session_inputs(vec!["a".into()], vec![], vec![0.0], vec![0.0], vec!["{}".into()]).unwrap_err();
    assert_eq!(error.code(), "E_VALIDATION");
  }
}
