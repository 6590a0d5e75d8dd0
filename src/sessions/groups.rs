//! The session calls served in groups while the pool is busy (see `coalesce.rs`): `getSession`
//! and `hasSession` as one `= ANY($1)` read, `saveSession` as one upsert of many sessions.

use std::sync::Arc;

use tokio::time::Instant;

use super::{ids_of, SessionInput, Sessions};
use crate::coalesce::{Coalescer, Load, Served, Taken, Work};
use crate::error::Result;
use crate::op::Call;
use crate::store::serve_group;

/// Largest total of session JSON one group of saves sends.
const MAX_SAVE_GROUP_BYTES: usize = 16 << 20;

/// The queues of the session calls served in groups.
pub struct Groups {
  /// `getSession`.
  pub get: Coalescer<Sessions, GetSession>,
  /// `hasSession`.
  pub has: Coalescer<Sessions, HasSession>,
  /// `saveSession`.
  pub save: Coalescer<Sessions, SaveSession>,
}

impl Groups {
  /// Empty queues under the adapter's `load`.
  pub fn new(load: &Arc<Load>) -> Self {
    Groups {
      get: Coalescer::new(Call::GET_SESSION, load),
      has: Coalescer::new(Call::HAS_SESSION, load),
      save: Coalescer::new(Call::SAVE_SESSION, load),
    }
  }
}

/// A `getSession` call, served in a group of concurrent ones.
pub struct GetSession(pub String);

impl Work<Sessions> for GetSession {
  type Output = Option<String>;

  fn queue(sessions: &Sessions) -> Option<&Coalescer<Sessions, Self>> {
    sessions.groups.as_ref().map(|groups| &groups.get)
  }

  async fn serve<'a>(
    sessions: &'a Arc<Sessions>,
    deadline: Instant,
    taken: &'a mut Taken<'_, Sessions, Self>,
  ) -> Result<Vec<Served<Self::Output>>> {
    let (store, call) = (&sessions.store, Call::GET_SESSION);
    serve_group!(store, call, deadline, taken, |client, group, _attempt| async {
      let ids: Vec<&str> = group.iter().map(|get| get.0.as_str()).collect();
      let Some(cache) = &sessions.cache else {
        let found = store
          .json_by_key(&client, &sessions.sql.get_sessions, &ids, ("id", "data"), call.op())
          .await?;
        return Ok(Served::all_done(found));
      };
      sessions
        .read_group_through(&client, cache, &ids)
        .await
        .map(Served::all_done)
    })
  }
}

/// A `hasSession` call, served in a group of concurrent ones.
pub struct HasSession(pub String);

impl Work<Sessions> for HasSession {
  type Output = bool;

  fn queue(sessions: &Sessions) -> Option<&Coalescer<Sessions, Self>> {
    sessions.groups.as_ref().map(|groups| &groups.has)
  }

  async fn serve<'a>(
    sessions: &'a Arc<Sessions>,
    deadline: Instant,
    taken: &'a mut Taken<'_, Sessions, Self>,
  ) -> Result<Vec<Served<Self::Output>>> {
    let (store, call) = (&sessions.store, Call::HAS_SESSION);
    serve_group!(store, call, deadline, taken, |client, group, _attempt| async {
      let ids: Vec<&str> = group.iter().map(|has| has.0.as_str()).collect();
      let rows = store
        .query(&client, &sessions.sql.existing_ids, &[&ids], call.op())
        .await?;
      let existing = ids_of(&rows);
      Ok(
        group
          .iter()
          .map(|has| Served::Done(Ok(existing.contains(has.0.as_str()))))
          .collect(),
      )
    })
  }
}

/// A `saveSession` call, saved in a group of concurrent saves of other sessions.
pub struct SaveSession(pub SessionInput);

impl Work<Sessions> for SaveSession {
  type Output = ();

  fn queue(sessions: &Sessions) -> Option<&Coalescer<Sessions, Self>> {
    sessions.groups.as_ref().map(|groups| &groups.save)
  }

  /// Two saves of one id never share a statement (turns keep them apart already: see
  /// `Sessions::turns`), and a group stays under [`MAX_SAVE_GROUP_BYTES`].
  fn fits(&self, group: &[Self]) -> bool {
    let bytes: usize = group.iter().map(|save| save.0.json.len()).sum();
    (group.is_empty() || bytes + self.0.json.len() <= MAX_SAVE_GROUP_BYTES)
      && group.iter().all(|save| save.0.id != self.0.id)
  }

  async fn serve<'a>(
    sessions: &'a Arc<Sessions>,
    deadline: Instant,
    taken: &'a mut Taken<'_, Sessions, Self>,
  ) -> Result<Vec<Served<Self::Output>>> {
    serve_group!(
      sessions.store,
      Call::SAVE_SESSION,
      deadline,
      taken,
      |client, group, attempt| async {
        let group: Vec<&SessionInput> = group.iter().map(|save| &save.0).collect();
        sessions.save_group(&client, &group, attempt).await
      }
    )
  }

  async fn alone(sessions: Arc<Sessions>, work: Self, deadline: Instant) -> Result<Self::Output> {
    sessions.save_alone(Call::SAVE_SESSION, &work.0, deadline).await
  }
}
