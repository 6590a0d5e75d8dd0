//! Coalescing of concurrent calls, DataLoader-style but with no timer: a call that finds a free
//! pooled connection goes at once, alone; a call that finds the pool busy joins the calls of its
//! kind queued behind it, and the first connection to come free serves the whole group with one
//! statement (one round trip, and for saves one commit), handing each caller its own outcome.
//!
//! While the pool is busy the server, not the pool, is the limit, and its cost per statement is
//! what one statement for many rows saves. An idle adapter never waits for a group to fill.

use std::future::Future;
use std::sync::{Arc, Mutex};

use deadpool_postgres::Object;
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::retry::with_client;
use crate::store::{Call, Store};

/// Most calls served by one statement.
const MAX_GROUP: usize = 256;

/// One kind of call that can be served in groups.
pub trait Work: Sized + Send + Sync + 'static {
  /// What each caller gets.
  type Output: Send + 'static;
  /// The JS method whose calls these are.
  const METHOD: &'static str;

  /// The queue of this kind in `store` (`None` with `coalesce: false`).
  fn queue(store: &Store) -> Option<&Coalescer<Self>>;

  /// Whether this call may join `group` (e.g. two saves of one id may not share a statement).
  fn fits(&self, _group: &[Self]) -> bool {
    true
  }

  /// Serves `group` (never empty) on `client`: one outcome per member, in order. An `Err` is the
  /// group's (a lost connection, a deadlock): it is run again or given to every member.
  fn serve<'a>(
    store: &'a Store,
    client: &'a Object,
    group: &'a [Self],
    attempt: u32,
  ) -> impl Future<Output = Result<Vec<Result<Self::Output>>>> + Send + 'a;
}

/// Where a caller waits for its outcome.
type Reply<W> = oneshot::Sender<Result<<W as Work>::Output>>;

type Waiting<W> = (W, Reply<W>);

/// A group taken from the queue: the calls, and where their callers wait.
type Group<W> = (Vec<W>, Vec<Reply<W>>);

/// The calls of one kind waiting for a connection.
pub struct Coalescer<W: Work> {
  queue: Mutex<Vec<Waiting<W>>>,
}

impl<W: Work> Default for Coalescer<W> {
  fn default() -> Self {
    Coalescer {
      queue: Mutex::new(Vec::new()),
    }
  }
}

impl<W: Work> Coalescer<W> {
  /// Queues `work` and waits for its outcome, within the call's deadline. The first call of a
  /// burst starts the group task; the queue is never empty while one is pending.
  pub async fn join(&self, store: &Arc<Store>, work: W) -> Result<W::Output> {
    let deadline = store.deadline();
    let (reply, answer) = oneshot::channel();
    let first = {
      let mut queue = lock(&self.queue);
      queue.push((work, reply));
      queue.len() == 1
    };
    if first {
      tokio::spawn(serve_group::<W>(store.clone()));
    }
    match tokio::time::timeout_at(deadline, answer).await {
      Ok(Ok(outcome)) => outcome,
      Ok(Err(_)) => Err(Error::Query {
        context: Call(W::METHOD).op().to_string(),
        message: "its group of coalesced calls ended without an answer (a bug, please report it)".into(),
        sqlstate: None,
      }),
      Err(_) => Err(store.deadline_passed(Call(W::METHOD).op())),
    }
  }

  /// Takes the next group: queued calls in arrival order, skipping the ones that fit no more
  /// (they stay queued, in order, and a follow-up task serves them) and the ones whose caller
  /// already gave up.
  fn take(&self, store: &Arc<Store>) -> Group<W> {
    let mut queue = lock(&self.queue);
    let mut works: Vec<W> = Vec::new();
    let mut replies = Vec::new();
    let mut left = Vec::new();
    for (work, reply) in queue.drain(..) {
      if reply.is_closed() {
        continue;
      }
      if works.len() < MAX_GROUP && left.is_empty() && work.fits(&works) {
        works.push(work);
        replies.push(reply);
      } else {
        left.push((work, reply));
      }
    }
    let follow_up = !left.is_empty();
    *queue = left;
    drop(queue);
    if follow_up {
      tokio::spawn(serve_group::<W>(store.clone()));
    }
    (works, replies)
  }
}

/// Waits for a connection, takes the queued group and serves it; every member gets its outcome,
/// or the group's failure.
async fn serve_group<W: Work>(store: Arc<Store>) {
  let Some(coalescer) = W::queue(&store) else {
    return;
  };
  let op = Call(W::METHOD).op();
  let mut taken: Option<Group<W>> = None;
  let outcome: Result<Vec<Result<W::Output>>> = async {
    with_client!(store, op, |client, attempt| async {
      let (works, _) = taken.get_or_insert_with(|| coalescer.take(&store));
      if works.is_empty() {
        return Ok(Vec::new());
      }
      W::serve(&store, &client, works, attempt).await
    })
  }
  .await;
  // A failure before any connection came free is shared by the calls queued by then.
  let (works, replies) = taken.unwrap_or_else(|| coalescer.take(&store));
  if works.is_empty() {
    return;
  }
  store.metrics.record_group(W::METHOD, works.len());
  match outcome {
    Ok(outcomes) if outcomes.len() == replies.len() => {
      for (reply, outcome) in replies.into_iter().zip(outcomes) {
        let _ = reply.send(outcome);
      }
    }
    Ok(outcomes) => {
      let error = Error::Query {
        context: op.to_string(),
        message: format!(
          "a group of {} calls got {} answers (a bug, please report it)",
          replies.len(),
          outcomes.len()
        ),
        sqlstate: None,
      };
      for reply in replies {
        let _ = reply.send(Err(error.clone()));
      }
    }
    Err(error) => {
      for reply in replies {
        let _ = reply.send(Err(error.clone()));
      }
    }
  }
}

/// The queues of every coalesced kind.
#[derive(Default)]
pub struct Queues {
  /// `getSession`.
  pub get_session: Coalescer<crate::sessions::GetSession>,
  /// `hasSession`.
  pub has_session: Coalescer<crate::sessions::HasSession>,
  /// `saveSession`.
  pub save_session: Coalescer<crate::sessions::SaveSession>,
  /// `getValue`.
  pub get_value: Coalescer<crate::kv::GetValue>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
  mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
