//! Coalescing of concurrent calls, DataLoader-style but with no timer, by an in-flight budget: each
//! kind of call has statement slots (the budget). A call that finds a slot free, and nobody of its
//! kind queued, goes at once, alone; a call that finds every slot taken joins the calls of its kind
//! queued behind them, and the first slot to come free serves the whole group with one statement
//! (one round trip, and for saves one commit), handing each caller its own outcome.
//!
//! The budget follows the load: while few calls of a kind are under way (up to its spread), each
//! goes alone, up to that many statements at once, so a lightly loaded adapter gets the server's
//! parallelism; once more are, the kind runs one statement at a time and everything that arrives
//! meanwhile shares the next. More statements than the server can usefully run at once only queue
//! on it, and one statement for many rows costs it little more than one for a row (for saves, one
//! commit instead of many). An idle adapter never waits for a group to fill.
//!
//! Each caller's outcome is the one it would get alone: a call still queued at its deadline leaves
//! the queue (nothing of it was sent) and fails with `E_TIMEOUT`; a call taken into a group waits
//! for the group's verdict, which the server delivers before the earliest member's deadline. A
//! member the group cannot serve quickly (a row locked by another transaction) is served alone, by
//! its own deadline, so that it delays only its own caller.
//!
//! Generic, like deadpool's pool over its `Manager`: the grouping knows no database. A kind of
//! call ([`Work`]) says how a group is served within its [`Context`] (for the adapter: its
//! sessions or key-value operations on a store); the unit tests below serve groups from memory.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::op::Call;

/// Most calls served by one statement.
const MAX_GROUP: usize = 256;

/// Calls under way up to which each goes alone (as many statements of a kind at once); beyond,
/// each kind runs one statement at a time. Measured on SmallTalk's conversation workload on 2
/// cores: 4 conversations ran fastest with 4 statements of a kind at once, 16 and 64 with one.
pub const DEFAULT_SPREAD: usize = 4;

/// The load the coalescers of one adapter share: how many calls are under way, in all kinds, and
/// up to how many each goes alone.
pub struct Load {
  /// Up to this many calls under way, each may go alone; beyond, one statement per kind at a time.
  spread: usize,
  /// Calls under way (alone, queued or in a group), of every kind.
  active: AtomicUsize,
  /// Signalled when a slot comes free or the budget grows.
  changed: Notify,
}

impl Load {
  /// No call under way yet; `spread` as in [`Load::spread`].
  pub fn new(spread: usize) -> Arc<Self> {
    Arc::new(Load {
      spread: spread.max(1),
      active: AtomicUsize::new(0),
      changed: Notify::new(),
    })
  }

  /// Statements of one kind allowed in flight now.
  fn budget(&self) -> usize {
    if self.active.load(Ordering::Acquire) > self.spread {
      1
    } else {
      self.spread
    }
  }

  /// Counts a call under way until the returned guard is dropped.
  fn enter(self: &Arc<Self>) -> Active {
    self.active.fetch_add(1, Ordering::AcqRel);
    Active(self.clone())
  }
}

/// A call under way, counted while it lives.
struct Active(Arc<Load>);

impl Drop for Active {
  fn drop(&mut self) {
    // Fewer calls under way may mean a larger budget.
    if self.0.active.fetch_sub(1, Ordering::AcqRel) == self.0.spread + 1 {
      self.0.changed.notify_waiters();
    }
  }
}

/// The statement slots of one kind of call.
struct Slots {
  load: Arc<Load>,
  /// Statements of this kind in flight, alone or as groups.
  in_flight: AtomicUsize,
}

/// One statement's slot, given back when dropped.
struct Slot(Arc<Slots>);

impl Slots {
  /// A slot, when one is free now.
  fn try_take(self: &Arc<Self>) -> Option<Slot> {
    let mut in_flight = self.in_flight.load(Ordering::Acquire);
    loop {
      if in_flight >= self.load.budget() {
        return None;
      }
      match self
        .in_flight
        .compare_exchange_weak(in_flight, in_flight + 1, Ordering::AcqRel, Ordering::Acquire)
      {
        Ok(_) => return Some(Slot(self.clone())),
        Err(now) => in_flight = now,
      }
    }
  }

  /// A slot, once one comes free.
  async fn take(self: &Arc<Self>) -> Slot {
    loop {
      let changed = self.load.changed.notified();
      futures_util::pin_mut!(changed);
      // Registered before the check, so a slot freed in between is not missed.
      changed.as_mut().enable();
      if let Some(slot) = self.try_take() {
        return slot;
      }
      changed.await;
    }
  }
}

impl Drop for Slot {
  fn drop(&mut self) {
    self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    self.0.load.changed.notify_waiters();
  }
}

/// What a group did for one member.
pub enum Served<T> {
  /// Its outcome.
  Done(Result<T>),
  /// Nothing was done for it, and it needs longer than the group may wait (it waits for a lock):
  /// it is served alone ([`Work::alone`]), by its own deadline.
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

/// What serves groups of calls: the errors a queued call can end with, and where group sizes go.
pub trait Context: Send + Sync + 'static {
  /// The error of a `call` still queued at its deadline (nothing of it was sent).
  fn deadline_passed(&self, call: Call) -> Error;
  /// The error of a `call` whose group gave no verdict [`Context::verdict_grace`] past its
  /// deadline (its write may or may not be stored).
  fn no_verdict(&self, call: Call) -> Error;
  /// How long past its deadline a call taken into a group waits for the group's verdict.
  fn verdict_grace(&self) -> Duration;
  /// Counts a group of `size` calls of `call`.
  fn record_group(&self, call: Call, size: usize);
}

/// One kind of call that can be served in groups within the context `C`.
pub trait Work<C: Context>: Sized + Send + Sync + 'static {
  /// What each caller gets.
  type Output: Send + 'static;

  /// The queue of this kind in `context` (`None` when coalescing is off).
  fn queue(context: &C) -> Option<&Coalescer<C, Self>>;

  /// Whether this call may join `group` (e.g. two saves of one id may not share a statement).
  fn fits(&self, _group: &[Self]) -> bool {
    true
  }

  /// Serves a group by `deadline`: first waits until it can (a connection came free), then takes
  /// the group with [`Taken::works`] (so that calls arriving meanwhile join it; it may be empty)
  /// and returns what was done for each member, in order. An `Err` is the group's (a lost
  /// connection, a closed pool), given to every member; an `Err(Error::Timeout)` before the group
  /// was taken fails only the calls due by now.
  fn serve<'a>(
    context: &'a Arc<C>,
    deadline: Instant,
    taken: &'a mut Taken<'_, C, Self>,
  ) -> impl Future<Output = Result<Vec<Served<Self::Output>>>> + Send + 'a;

  /// Serves one member alone, by `deadline`: for the kinds whose `serve` can answer
  /// [`Served::Alone`].
  fn alone(context: Arc<C>, work: Self, deadline: Instant) -> impl Future<Output = Result<Self::Output>> + Send {
    let _ = (context, work, deadline);
    async { Err(Error::internal("a call of this kind cannot be served alone")) }
  }
}

/// Where a caller waits for its outcome.
type Reply<T> = oneshot::Sender<Result<T>>;

/// A group taken from the queue: the calls, and each one's deadline and caller.
type Group<W, T> = (Vec<W>, Vec<(Instant, Reply<T>)>);

/// A queued call: its ticket (to leave the queue by), its deadline, the work and its caller.
struct Waiting<W, T> {
  ticket: u64,
  deadline: Instant,
  work: W,
  reply: Reply<T>,
}

/// The calls of one kind waiting to be served, and the statement slots of that kind.
pub struct Coalescer<C: Context, W: Work<C>> {
  call: Call,
  queue: Mutex<Vec<Waiting<W, W::Output>>>,
  tickets: AtomicU64,
  /// The statements of this kind in flight, and the budget.
  slots: Arc<Slots>,
}

/// The group a [`Work::serve`] takes once it can serve it.
pub struct Taken<'q, C: Context, W: Work<C>> {
  context: &'q Arc<C>,
  queue: &'q Coalescer<C, W>,
  group: Option<Group<W, W::Output>>,
}

impl<C: Context, W: Work<C>> Taken<'_, C, W> {
  /// The group: the calls queued now, taken on the first call (later calls give the same ones).
  pub fn works(&mut self) -> &[W] {
    let (context, queue) = (self.context, self.queue);
    &self.group.get_or_insert_with(|| queue.take(context)).0
  }
}

impl<C: Context, W: Work<C>> Coalescer<C, W> {
  /// An empty queue for calls of `call`, under the adapter's `load`.
  pub fn new(call: Call, load: &Arc<Load>) -> Self {
    Coalescer {
      call,
      queue: Mutex::new(Vec::new()),
      tickets: AtomicU64::new(0),
      slots: Arc::new(Slots {
        load: load.clone(),
        in_flight: AtomicUsize::new(0),
      }),
    }
  }

  /// A statement slot of this kind, by `deadline`.
  async fn slot(&self, deadline: Instant) -> Option<Slot> {
    tokio::time::timeout_at(deadline, self.slots.take()).await.ok()
  }

  /// Queues `work` and waits for its outcome. The first call of a burst starts the group task;
  /// the queue is never empty while one is pending. At `deadline` a call still queued leaves with
  /// [`Context::deadline_passed`]; one already taken into a group waits for the group's verdict.
  pub async fn join(&self, context: &Arc<C>, work: W, deadline: Instant) -> Result<W::Output> {
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
      serve_later::<C, W>(context);
    }
    let outcome = match tokio::time::timeout_at(deadline, &mut answer).await {
      Ok(outcome) => outcome,
      Err(_) if self.withdraw(ticket) => return Err(context.deadline_passed(self.call)),
      // Taken into a group: its writes carry the deadline to the server, whose verdict comes
      // within the grace.
      Err(_) => match tokio::time::timeout(context.verdict_grace(), answer).await {
        Ok(outcome) => outcome,
        Err(_) => return Err(context.no_verdict(self.call)),
      },
    };
    outcome.unwrap_or_else(|_| Err(Error::internal("a group of coalesced calls ended without an answer")))
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

  /// Fails the queued calls whose deadline has passed (nothing of them was sent); true when calls
  /// are left.
  fn expire(&self, context: &C) -> bool {
    let now = Instant::now();
    let mut queue = lock(&self.queue);
    let (due, left): (Vec<_>, Vec<_>) = queue.drain(..).partition(|waiting| waiting.deadline <= now);
    *queue = left;
    let calls_left = !queue.is_empty();
    drop(queue);
    for waiting in due {
      let _ = waiting.reply.send(Err(context.deadline_passed(self.call)));
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
  fn take(&self, context: &Arc<C>) -> Group<W, W::Output> {
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
      serve_later::<C, W>(context);
    }
    (works, callers)
  }
}

/// Serves `work` through `queue`: alone through `alone`, at once, when a statement slot of its kind
/// is free and no call of its kind is queued (and `may_go_alone`, e.g. a pooled connection is
/// free); otherwise with the others of its kind, in the next group (see [`Coalescer::join`]).
/// With coalescing off (`queue` is `None`) every call goes alone.
pub async fn serve<C: Context, W: Work<C>, Alone>(
  queue: Option<&Coalescer<C, W>>,
  context: &Arc<C>,
  work: W,
  deadline: Instant,
  may_go_alone: bool,
  alone: impl FnOnce(W) -> Alone,
) -> Result<W::Output>
where
  Alone: Future<Output = Result<W::Output>>,
{
  let Some(queue) = queue else {
    return alone(work).await;
  };
  let _active = queue.slots.load.enter();
  if may_go_alone && lock(&queue.queue).is_empty() {
    if let Some(slot) = queue.slots.try_take() {
      let outcome = alone(work).await;
      drop(slot);
      return outcome;
    }
  }
  queue.join(context, work, deadline).await
}

/// Starts a task serving the next group of `W`.
fn serve_later<C: Context, W: Work<C>>(context: &Arc<C>) {
  tokio::spawn(serve_group::<C, W>(context.clone()));
}

/// Serves the queued group; every member gets its outcome, or the group's failure.
async fn serve_group<C: Context, W: Work<C>>(context: Arc<C>) {
  let Some(queue) = W::queue(&context) else {
    return;
  };
  let Some(deadline) = queue.oldest_deadline() else {
    return;
  };
  let Some(_slot) = queue.slot(deadline).await else {
    // No slot came free by the oldest call's deadline: the calls due by now fail (nothing of them
    // was sent); the younger ones wait on, up to their own deadlines.
    if queue.expire(&context) {
      serve_later::<C, W>(&context);
    }
    return;
  };
  let mut taken = Taken {
    context: &context,
    queue,
    group: None,
  };
  let outcome = W::serve(&context, deadline, &mut taken).await;
  let group = match (taken.group, &outcome) {
    (Some(group), _) => group,
    // It could not serve by the oldest call's deadline: the calls due by now fail (nothing of them
    // was sent); the younger ones wait on, up to their own deadlines.
    (None, Err(Error::Timeout { .. })) if Instant::now() >= deadline => {
      if queue.expire(&context) {
        serve_later::<C, W>(&context);
      }
      return;
    }
    // Any other failure before the group was taken is shared by the calls queued by then.
    (None, _) => queue.take(&context),
  };
  answer(&context, queue.call, group, outcome);
}

/// Hands each member of `group` what `outcome` holds for it; members to be served alone are
/// served so, each in a task of its own.
fn answer<C: Context, W: Work<C>>(
  context: &Arc<C>,
  call: Call,
  (works, callers): Group<W, W::Output>,
  outcome: Result<Vec<Served<W::Output>>>,
) {
  if works.is_empty() {
    return;
  }
  context.record_group(call, works.len());
  let served = match outcome {
    Ok(served) if served.len() == callers.len() => served,
    Ok(served) => {
      let error = Error::internal(format!(
        "a group of {} calls got {} answers",
        callers.len(),
        served.len()
      ));
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
        let context = context.clone();
        tokio::spawn(async move {
          let _ = reply.send(W::alone(context, work, deadline).await);
        });
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
  use tokio::sync::Semaphore;

  const CALL: Call = Call("double");
  const GRACE: Duration = Duration::from_millis(50);

  /// Serves `Double` calls from memory: `permits` plays the pool, `groups` records what each
  /// statement served.
  struct Doubler {
    queue: Option<Coalescer<Doubler, Double>>,
    permits: Semaphore,
    groups: Mutex<Vec<Vec<i64>>>,
    recorded: Mutex<Vec<usize>>,
    /// How long serving a group takes once it has a permit.
    serve_time: Duration,
  }

  /// Doubles its number: negative ones fail alone, 13 waits "for a lock" (served alone, as 26+1),
  /// and no two equal numbers share a group.
  struct Double(i64);

  impl Context for Doubler {
    fn deadline_passed(&self, call: Call) -> Error {
      Error::Timeout {
        context: call.op().to_string(),
        message: "queued past its deadline".into(),
        sqlstate: None,
      }
    }
    fn no_verdict(&self, call: Call) -> Error {
      Error::OutcomeUnknown {
        context: call.op().to_string(),
        message: "no verdict".into(),
      }
    }
    fn verdict_grace(&self) -> Duration {
      GRACE
    }
    fn record_group(&self, _call: Call, size: usize) {
      lock(&self.recorded).push(size);
    }
  }

  impl Work<Doubler> for Double {
    type Output = i64;

    fn queue(context: &Doubler) -> Option<&Coalescer<Doubler, Self>> {
      context.queue.as_ref()
    }

    fn fits(&self, group: &[Self]) -> bool {
      group.iter().all(|other| other.0 != self.0)
    }

    async fn serve(
      context: &Arc<Doubler>,
      deadline: Instant,
      taken: &mut Taken<'_, Doubler, Self>,
    ) -> Result<Vec<Served<i64>>> {
      let Ok(permit) = tokio::time::timeout_at(deadline, context.permits.acquire()).await else {
        return Err(context.deadline_passed(CALL));
      };
      let Ok(_permit) = permit else {
        return Err(Error::Closed {
          context: CALL.op().to_string(),
        });
      };
      let group: Vec<i64> = taken.works().iter().map(|work| work.0).collect();
      lock(&context.groups).push(group.clone());
      tokio::time::sleep(context.serve_time).await;
      Ok(
        group
          .into_iter()
          .map(|n| match n {
            13 => Served::Alone,
            n if n < 0 => Served::Done(Err(Error::validation("n", format!("{n} is negative")))),
            n => Served::Done(Ok(n * 2)),
          })
          .collect(),
      )
    }

    async fn alone(_context: Arc<Doubler>, work: Self, _deadline: Instant) -> Result<i64> {
      Ok(work.0 * 2 + 1)
    }
  }

  fn doubler(permits: usize, serve_time: Duration) -> Arc<Doubler> {
    doubler_with_spread(permits, serve_time, 1)
  }

  fn doubler_with_spread(permits: usize, serve_time: Duration, spread: usize) -> Arc<Doubler> {
    Arc::new(Doubler {
      queue: Some(Coalescer::new(CALL, &Load::new(spread))),
      permits: Semaphore::new(permits),
      groups: Mutex::new(Vec::new()),
      recorded: Mutex::new(Vec::new()),
      serve_time,
    })
  }

  async fn call(context: &Arc<Doubler>, n: i64, within: Duration) -> Result<i64> {
    let queue = context.queue.as_ref().ok_or_else(|| Error::internal("no queue"))?;
    queue.join(context, Double(n), Instant::now() + within).await
  }

  /// Starts `numbers` as concurrent calls, each queued (first polled) in order.
  async fn calls(context: &Arc<Doubler>, numbers: &[i64], within: Duration) -> Vec<Result<i64>> {
    let tasks: Vec<_> = numbers
      .iter()
      .map(|&n| {
        let context = context.clone();
        tokio::spawn(async move { call(&context, n, within).await })
      })
      .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
      outcomes.push(task.await.unwrap_or_else(|_| Err(Error::internal("task failed"))));
    }
    outcomes
  }

  /// Serves `n` as a call would: alone (recorded in `alone`, taking `alone_time`) when a slot is
  /// free, else in a group.
  async fn serve(context: &Arc<Doubler>, n: i64, alone: Arc<Mutex<Vec<i64>>>, alone_time: Duration) -> Result<i64> {
    let queue = context.queue.as_ref().ok_or_else(|| Error::internal("no queue"))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    super::serve(
      Some(queue),
      context,
      Double(n),
      deadline,
      true,
      |Double(n)| async move {
        lock(&alone).push(n);
        tokio::time::sleep(alone_time).await;
        Ok(n * 2)
      },
    )
    .await
  }

  fn values(outcomes: &[Result<i64>]) -> Vec<std::result::Result<i64, &'static str>> {
    outcomes
      .iter()
      .map(|outcome| outcome.as_ref().map(|n| *n).map_err(Error::code))
      .collect()
  }

  #[tokio::test]
  async fn calls_queued_while_busy_are_served_as_one_group_each_with_its_own_outcome() {
    let context = doubler(1, Duration::from_millis(20));
    // The one permit is held: every call queues, and the group is taken once it comes free.
    let held = context.permits.acquire().await.unwrap();
    let pending = tokio::spawn({
      let context = context.clone();
      async move { calls(&context, &[1, 2, -3, 4], Duration::from_secs(5)).await }
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    drop(held);
    let outcomes = pending.await.unwrap();
    assert_eq!(values(&outcomes), vec![Ok(2), Ok(4), Err("E_VALIDATION"), Ok(8)]);
    assert_eq!(*lock(&context.groups), vec![vec![1, 2, -3, 4]]);
    assert_eq!(*lock(&context.recorded), vec![4]);
  }

  /// Starts `numbers` as concurrent `serve` calls, each alone taking `alone_time`; their outcomes.
  async fn served(
    context: &Arc<Doubler>,
    numbers: &[i64],
    alone: &Arc<Mutex<Vec<i64>>>,
    alone_time: Duration,
  ) -> Vec<Result<i64>> {
    let tasks: Vec<_> = numbers
      .iter()
      .map(|&n| {
        let (context, alone) = (context.clone(), alone.clone());
        tokio::spawn(async move { serve(&context, n, alone, alone_time).await })
      })
      .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
      outcomes.push(task.await.unwrap_or_else(|_| Err(Error::internal("task failed"))));
    }
    outcomes
  }

  #[tokio::test]
  async fn a_lone_call_goes_at_once_and_calls_beyond_the_spread_share_one_statement() {
    let context = doubler_with_spread(10, Duration::from_millis(5), 2);
    let alone = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    assert_eq!(
      serve(&context, 100, alone.clone(), Duration::ZERO).await.ok(),
      Some(200)
    );
    assert!(
      started.elapsed() < Duration::from_millis(50),
      "an idle adapter never waits"
    );
    let outcomes = served(&context, &[1, 2, 3, 4, 5, 6], &alone, Duration::from_millis(30)).await;
    assert_eq!(values(&outcomes), vec![Ok(2), Ok(4), Ok(6), Ok(8), Ok(10), Ok(12)]);
    // Two calls under way went alone; from the third on, the kind ran one statement at a time,
    // and the four waiting shared it.
    assert_eq!(*lock(&alone), vec![100, 1, 2]);
    assert_eq!(*lock(&context.groups), vec![vec![3, 4, 5, 6]]);
  }

  #[tokio::test]
  async fn while_few_calls_are_under_way_each_goes_alone_at_once() {
    let context = doubler_with_spread(10, Duration::from_millis(5), 4);
    let alone = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let outcomes = served(&context, &[1, 2, 3, 4], &alone, Duration::from_millis(40)).await;
    assert_eq!(values(&outcomes), vec![Ok(2), Ok(4), Ok(6), Ok(8)]);
    assert_eq!(*lock(&alone), vec![1, 2, 3, 4]);
    assert!(lock(&context.groups).is_empty());
    // Four statements at once: together they took about one's time.
    assert!(started.elapsed() < Duration::from_millis(120));
  }

  #[tokio::test]
  async fn a_call_that_does_not_fit_waits_for_the_next_group_in_order() {
    let context = doubler(1, Duration::from_millis(5));
    let held = context.permits.acquire().await.unwrap();
    let pending = tokio::spawn({
      let context = context.clone();
      async move { calls(&context, &[1, 1, 2, 1], Duration::from_secs(5)).await }
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    drop(held);
    let outcomes = pending.await.unwrap();
    assert_eq!(values(&outcomes), vec![Ok(2), Ok(2), Ok(4), Ok(2)]);
    // The second 1 does not fit the first group; everything behind it waits with it, in order.
    assert_eq!(*lock(&context.groups), vec![vec![1], vec![1, 2], vec![1]]);
  }

  #[tokio::test]
  async fn a_call_still_queued_at_its_deadline_leaves_and_is_never_served() {
    let context = doubler(1, Duration::from_millis(5));
    let held = context.permits.acquire().await.unwrap();
    let early = tokio::spawn({
      let context = context.clone();
      async move { call(&context, 7, Duration::from_millis(40)).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    let late = tokio::spawn({
      let context = context.clone();
      async move { call(&context, 8, Duration::from_secs(5)).await }
    });
    let early = early.await.unwrap();
    assert_eq!(early.map_err(|error| error.code()), Err("E_TIMEOUT"));
    drop(held);
    assert_eq!(late.await.unwrap().ok(), Some(16));
    assert_eq!(*lock(&context.groups), vec![vec![8]]);
  }

  #[tokio::test]
  async fn a_member_that_must_wait_is_served_alone_and_delays_no_one_else() {
    let context = doubler(1, Duration::from_millis(5));
    let held = context.permits.acquire().await.unwrap();
    let pending = tokio::spawn({
      let context = context.clone();
      async move { calls(&context, &[12, 13, 14], Duration::from_secs(5)).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(held);
    assert_eq!(values(&pending.await.unwrap()), vec![Ok(24), Ok(27), Ok(28)]);
  }

  #[tokio::test]
  async fn a_group_failure_reaches_every_member_once() {
    let context = doubler(1, Duration::from_millis(5));
    let held = context.permits.acquire().await.unwrap();
    let pending = tokio::spawn({
      let context = context.clone();
      async move { calls(&context, &[1, 2, 3], Duration::from_secs(5)).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    // A closed "pool": the group is taken with the failure and each member gets it.
    context.permits.close();
    drop(held);
    assert_eq!(values(&pending.await.unwrap()), vec![Err("E_CLOSED"); 3]);
    assert!(lock(&context.groups).is_empty());
  }

  #[tokio::test]
  async fn a_member_whose_group_gives_no_verdict_is_told_the_outcome_is_unknown() {
    // Serving takes far longer than the deadline plus the grace.
    let context = doubler(1, Duration::from_secs(5));
    let started = Instant::now();
    let outcome = call(&context, 1, Duration::from_millis(30)).await;
    assert_eq!(outcome.map_err(|error| error.code()), Err("E_OUTCOME_UNKNOWN"));
    assert!(started.elapsed() < Duration::from_millis(30) + GRACE * 4);
  }

  #[tokio::test]
  async fn a_caller_that_gave_up_is_left_out_of_the_group() {
    let context = doubler(1, Duration::from_millis(5));
    let held = context.permits.acquire().await.unwrap();
    let gone = tokio::spawn({
      let context = context.clone();
      async move { call(&context, 5, Duration::from_secs(5)).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    gone.abort();
    let _ = gone.await;
    let kept = tokio::spawn({
      let context = context.clone();
      async move { call(&context, 6, Duration::from_secs(5)).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    drop(held);
    assert_eq!(kept.await.unwrap().ok(), Some(12));
    assert_eq!(*lock(&context.groups), vec![vec![6]]);
  }
}
