//! Coalescing of concurrent calls, DataLoader-style but with no timer: a call that finds a free
//! pooled connection goes at once, alone; a call that finds the pool busy joins the calls of its
//! kind queued behind it, and the first connection to come free serves the whole group with one
//! statement (one round trip, and for saves one commit), handing each caller its own outcome.
//!
//! While the pool is busy the server, not the pool, is the limit, and its cost per statement is
//! what one statement for many rows saves. An idle adapter never waits for a group to fill.
//!
//! Each caller's outcome is the one it would get alone: a call still queued at its deadline leaves
//! the queue (nothing of it was sent) and fails with `E_TIMEOUT`; a call taken into a group waits
//! for the group's verdict, which the server delivers before the earliest member's deadline. A
//! member the group cannot serve quickly (a row locked by another transaction) is served alone, on
//! a connection of its own and by its own deadline, so that it delays only its own caller.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Object;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::retry::{with_client, Attempt, VERDICT_GRACE};
use crate::store::{Call, Store};

/// Most calls served by one statement.
const MAX_GROUP: usize = 256;

/// The longest a group's statement waits for a row lock before its members are served one by one
/// (the locked one then alone): far above the few ms the group's own concurrent writes hold a lock.
pub const GROUP_LOCK_WAIT: Duration = Duration::from_millis(100);

/// What a group did for one member.
pub enum Served<T> {
  /// Its outcome.
  Done(Result<T>),
  /// Nothing was written for it, and it needs longer than the group may wait (it waits for a
  /// lock): it is served alone, by its own deadline.
  Alone,
}

impl<T> Served<T> {
  /// Every member's outcome, when each got one.
  pub fn all_done(outputs: Vec<T>) -> Vec<Self> {
    outputs.into_iter().map(|output| Served::Done(Ok(output))).collect()
  }

  /// A member's outcome within its group: a timeout (nothing written: the server stopped the
  /// statement, or no time was left to send it) means "serve it alone"; a lost connection is the
  /// group's failure (the group runs again).
  pub fn member(outcome: Result<T>) -> Result<Self> {
    match outcome {
      Err(error) if error.is_connection_loss() => Err(error),
      Err(Error::Timeout { .. }) => Ok(Served::Alone),
      outcome => Ok(Served::Done(outcome)),
    }
  }
}

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

  /// Serves `group` (never empty) on `client`: what was done for each member, in order. An `Err`
  /// is the group's (a lost connection, a deadlock): it is run again or given to every member.
  fn serve<'a>(
    store: &'a Store,
    client: &'a Object,
    group: &'a [Self],
    attempt: &'a Attempt,
  ) -> impl Future<Output = Result<Vec<Served<Self::Output>>>> + Send + 'a;

  /// Serves one member alone, on a connection of its own, by `deadline`: for the kinds whose
  /// `serve` can answer [`Served::Alone`].
  fn alone(store: Arc<Store>, work: Self, deadline: Instant) -> impl Future<Output = Result<Self::Output>> + Send {
    let _ = (store, work, deadline);
    async {
      Err(Error::Query {
        context: Call(Self::METHOD).op().to_string(),
        message: "a call of this kind cannot be served alone (a bug, please report it)".into(),
        sqlstate: None,
      })
    }
  }
}

/// Where a caller waits for its outcome.
type Reply<W> = oneshot::Sender<Result<<W as Work>::Output>>;

/// A group taken from the queue: the calls, and each one's deadline and caller.
type Group<W> = (Vec<W>, Vec<(Instant, Reply<W>)>);

/// A queued call: its ticket (to leave the queue by), its deadline, the work and its caller.
struct Waiting<W: Work> {
  ticket: u64,
  deadline: Instant,
  work: W,
  reply: Reply<W>,
}

/// The calls of one kind waiting for a connection.
pub struct Coalescer<W: Work> {
  queue: Mutex<Vec<Waiting<W>>>,
  tickets: AtomicU64,
}

impl<W: Work> Default for Coalescer<W> {
  fn default() -> Self {
    Coalescer {
      queue: Mutex::new(Vec::new()),
      tickets: AtomicU64::new(0),
    }
  }
}

impl<W: Work> Coalescer<W> {
  /// Queues `work` and waits for its outcome. The first call of a burst starts the group task;
  /// the queue is never empty while one is pending. At `deadline` a call still queued leaves with
  /// `E_TIMEOUT`; one already taken into a group waits for the group's verdict.
  pub async fn join(&self, store: &Arc<Store>, work: W, deadline: Instant) -> Result<W::Output> {
    let op = Call(W::METHOD).op();
    let ticket = self.tickets.fetch_add(1, Ordering::Relaxed);
    let (reply, mut answer) = oneshot::channel();
    let first = {
      let mut queue = lock(&self.queue);
      queue.push(Waiting {
        ticket,
        deadline,
        work,
        reply,
      });
      queue.len() == 1
    };
    if first {
      serve_later::<W>(store);
    }
    let outcome = match tokio::time::timeout_at(deadline, &mut answer).await {
      Ok(outcome) => outcome,
      Err(_) if self.withdraw(ticket) => return Err(store.deadline_passed(op)),
      // Taken into a group: its writes carry the deadline to the server, whose verdict comes
      // within the grace a silent server gets (then as E_OUTCOME_UNKNOWN).
      Err(_) => match tokio::time::timeout(VERDICT_GRACE * 2, answer).await {
        Ok(outcome) => outcome,
        Err(_) => return Err(store.outcome_unknown(op, "its group of coalesced calls gave no verdict in time")),
      },
    };
    outcome.unwrap_or_else(|_| {
      Err(Error::Query {
        context: op.to_string(),
        message: "its group of coalesced calls ended without an answer (a bug, please report it)".into(),
        sqlstate: None,
      })
    })
  }

  /// Removes the call holding `ticket` from the queue; false when a group has taken it.
  fn withdraw(&self, ticket: u64) -> bool {
    let mut queue = lock(&self.queue);
    match queue.iter().position(|waiting| waiting.ticket == ticket) {
      Some(index) => {
        queue.remove(index);
        true
      }
      None => false,
    }
  }

  /// Fails the queued calls whose deadline has passed (with `E_TIMEOUT`: nothing of them was
  /// sent); true when calls are left.
  fn expire(&self, store: &Store) -> bool {
    let now = Instant::now();
    let mut queue = lock(&self.queue);
    let (due, left): (Vec<_>, Vec<_>) = queue.drain(..).partition(|waiting| waiting.deadline <= now);
    *queue = left;
    let calls_left = !queue.is_empty();
    drop(queue);
    for waiting in due {
      let _ = waiting.reply.send(Err(store.deadline_passed(Call(W::METHOD).op())));
    }
    calls_left
  }

  /// The deadline of the oldest queued call (the earliest: every call gets the same time).
  fn oldest_deadline(&self) -> Option<Instant> {
    lock(&self.queue).first().map(|waiting| waiting.deadline)
  }

  /// Takes the next group: queued calls in arrival order, skipping the ones that fit no more
  /// (they stay queued, in order, and a follow-up task serves them) and the ones whose caller is
  /// gone.
  fn take(&self, store: &Arc<Store>) -> Group<W> {
    let mut queue = lock(&self.queue);
    let mut works: Vec<W> = Vec::new();
    let mut callers = Vec::new();
    let mut left = Vec::new();
    for waiting in queue.drain(..) {
      if waiting.reply.is_closed() {
        continue;
      }
      if works.len() < MAX_GROUP && left.is_empty() && waiting.work.fits(&works) {
        works.push(waiting.work);
        callers.push((waiting.deadline, waiting.reply));
      } else {
        left.push(waiting);
      }
    }
    let follow_up = !left.is_empty();
    *queue = left;
    drop(queue);
    if follow_up {
      serve_later::<W>(store);
    }
    (works, callers)
  }
}

/// Starts a task serving the next group of `W`.
fn serve_later<W: Work>(store: &Arc<Store>) {
  tokio::spawn(serve_group::<W>(store.clone()));
}

/// Waits for a connection, takes the queued group and serves it; every member gets its outcome,
/// or the group's failure.
async fn serve_group<W: Work>(store: Arc<Store>) {
  let Some(coalescer) = W::queue(&store) else {
    return;
  };
  let Some(deadline) = coalescer.oldest_deadline() else {
    return;
  };
  let op = Call(W::METHOD).op();
  let mut taken: Option<Group<W>> = None;
  let outcome: Result<Vec<Served<W::Output>>> = async {
    with_client!(store, op, deadline, Some(GROUP_LOCK_WAIT), |client, attempt| async {
      let (works, _) = taken.get_or_insert_with(|| coalescer.take(&store));
      if works.is_empty() {
        return Ok(Vec::new());
      }
      W::serve(&store, &client, works, attempt).await
    })
  }
  .await;
  let group = match (taken, &outcome) {
    (Some(taken), _) => taken,
    // No connection came free by the oldest call's deadline: the calls due by now fail (nothing
    // of them was sent); the younger ones wait on, up to their own deadlines. (Past
    // acquireTimeoutMs, the pool's own timeout, every queued call fails as a plain call would.)
    (None, Err(Error::Timeout { .. })) if Instant::now() >= deadline => {
      if coalescer.expire(&store) {
        serve_later::<W>(&store);
      }
      return;
    }
    // Any other failure before a connection came free is shared by the calls queued by then.
    (None, _) => coalescer.take(&store),
  };
  answer(&store, group, outcome);
}

/// Hands each member of `group` what `outcome` holds for it; members to be served alone are
/// served so, each in a task of its own.
fn answer<W: Work>(store: &Arc<Store>, (works, callers): Group<W>, outcome: Result<Vec<Served<W::Output>>>) {
  if works.is_empty() {
    return;
  }
  store.metrics.record_group(W::METHOD, works.len());
  let served = match outcome {
    Ok(served) if served.len() == callers.len() => served,
    Ok(served) => {
      let error = Error::Query {
        context: Call(W::METHOD).op().to_string(),
        message: format!(
          "a group of {} calls got {} answers (a bug, please report it)",
          callers.len(),
          served.len()
        ),
        sqlstate: None,
      };
      callers.iter().map(|_| Served::Done(Err(error.clone()))).collect()
    }
    Err(error) => callers.iter().map(|_| Served::Done(Err(error.clone()))).collect(),
  };
  for ((work, (deadline, reply)), served) in works.into_iter().zip(callers).zip(served) {
    match served {
      Served::Done(outcome) => {
        let _ = reply.send(outcome);
      }
      Served::Alone => {
        let store = store.clone();
        tokio::spawn(async move {
          let _ = reply.send(W::alone(store, work, deadline).await);
        });
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
