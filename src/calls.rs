//! Calls in flight between the JS thread and tokio, with wake-ups coalesced both ways.
//!
//! A submitted call is queued, and only the first of a burst spawns the task that starts them
//! all, in the order they were made; a finished call is queued, and only the first of a burst wakes the JS thread, which then
//! takes every finished call at once. A busy adapter so costs one cross-thread wake-up per burst
//! instead of two per call (a tokio spawn from a foreign thread unparks a worker, a threadsafe
//! function call signals the event loop: each is a system call on the JS thread's path).

use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Context;

/// The work of one call, ready to run on the runtime.
pub type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One finished call: its request number, whether it failed, and its value.
pub type Finished<R> = (u32, bool, R);

/// The queues of one adapter.
pub struct Calls<R> {
  submitted: Mutex<Vec<Job>>,
  dispatching: AtomicBool,
  finished: Mutex<Vec<Finished<R>>>,
  waking: AtomicBool,
}

impl<R: Send + 'static> Default for Calls<R> {
  fn default() -> Self {
    Calls {
      submitted: Mutex::new(Vec::new()),
      dispatching: AtomicBool::new(false),
      finished: Mutex::new(Vec::new()),
      waking: AtomicBool::new(false),
    }
  }
}

impl<R: Send + 'static> Calls<R> {
  /// Queues `job` (on the JS thread). When no dispatcher is running, `spawn` starts one: a task
  /// that spawns every queued job, until the queue stays empty.
  pub fn submit(self: &Arc<Self>, job: Job, spawn: impl FnOnce(Job)) {
    lock(&self.submitted).push(job);
    if !self.dispatching.swap(true, Ordering::AcqRel) {
      let calls = self.clone();
      spawn(Box::pin(async move { calls.dispatch() }));
    }
  }

  /// Spawns every queued job on the current runtime; returns when the queue stays empty.
  fn dispatch(&self) {
    loop {
      let jobs = mem::take(&mut *lock(&self.submitted));
      if jobs.is_empty() {
        self.dispatching.store(false, Ordering::SeqCst);
        // A job queued between the take and the store saw `dispatching` still set: run it here,
        // unless a new dispatcher already took over.
        if lock(&self.submitted).is_empty() || self.dispatching.swap(true, Ordering::SeqCst) {
          return;
        }
        continue;
      }
      // Each job runs up to its first wait here, in the order the calls were made (so calls that
      // queue, e.g. to be coalesced, queue in that order); only then does it go on its own.
      let mut context = Context::from_waker(futures_util::task::noop_waker_ref());
      for mut job in jobs {
        if job.as_mut().poll(&mut context).is_pending() {
          // The spawned task polls it again at once, with its real waker.
          tokio::spawn(job);
        }
      }
    }
  }

  /// Queues a finished call; `wake` (the JS thread's callback) is called when the JS thread is
  /// not already due to take the finished calls.
  pub fn finish(&self, finished: Finished<R>, wake: impl FnOnce()) {
    lock(&self.finished).push(finished);
    if !self.waking.swap(true, Ordering::AcqRel) {
      wake();
    }
  }

  /// Every finished call (on the JS thread, when woken), in the order they finished.
  pub fn take_finished(&self) -> Vec<Finished<R>> {
    // Cleared first: a call finishing from here on wakes the JS thread again.
    self.waking.store(false, Ordering::SeqCst);
    mem::take(&mut *lock(&self.finished))
  }
}

/// The queue behind `mutex`; a queue poisoned by a panic elsewhere is still a valid `Vec`.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
  mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::sync::atomic::AtomicUsize;

  #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
  async fn every_submitted_job_runs_with_one_dispatcher_per_burst() {
    let calls: Arc<Calls<()>> = Arc::new(Calls::default());
    let ran = Arc::new(AtomicUsize::new(0));
    let dispatchers = Arc::new(AtomicUsize::new(0));
    for _ in 0..1000 {
      let ran = ran.clone();
      let dispatchers = dispatchers.clone();
      calls.submit(
        Box::pin(async move {
          ran.fetch_add(1, Ordering::SeqCst);
        }),
        |dispatch| {
          dispatchers.fetch_add(1, Ordering::SeqCst);
          tokio::spawn(dispatch);
        },
      );
    }
    for _ in 0..200 {
      if ran.load(Ordering::SeqCst) == 1000 {
        break;
      }
      tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(ran.load(Ordering::SeqCst), 1000);
    assert!(dispatchers.load(Ordering::SeqCst) < 1000);
  }

  #[test]
  fn finished_calls_wake_once_until_taken() {
    let calls: Calls<u32> = Calls::default();
    let mut wakes = 0;
    for request in 0..5 {
      calls.finish((request, false, request * 10), || wakes += 1);
    }
    assert_eq!(wakes, 1);
    assert_eq!(calls.take_finished().len(), 5);
    calls.finish((9, true, 0), || wakes += 1);
    assert_eq!(wakes, 2);
    assert_eq!(calls.take_finished(), vec![(9, true, 0)]);
  }
}
