//! The adapter's lifecycle: not initialized -> open (a [`Database`]) -> closed, and back to open.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::config::{self, Config, Options};
use crate::database::Database;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::op::Call;

enum State {
  New,
  Open(Arc<Database>),
  Closed,
}

/// An adapter: the constructor's options and, once initialized, an open database.
pub struct Adapter {
  /// Call counters and latencies, kept across re-initialization.
  pub metrics: Arc<Metrics>,
  options: Options,
  state: RwLock<State>,
  initializing: tokio::sync::Mutex<()>,
  /// Counts `close()` calls: an `initialize()` that started before the latest one must not reopen.
  closes: AtomicU64,
}

impl Adapter {
  /// Validates the options (nothing is opened).
  pub fn new(options_json: &str) -> Result<Self> {
    let options = config::parse_options(options_json)?;
    config::resolve(&options, &config::process_env)?;
    Ok(Adapter {
      metrics: Arc::new(Metrics::default()),
      options,
      state: RwLock::new(State::New),
      initializing: tokio::sync::Mutex::new(()),
      closes: AtomicU64::new(0),
    })
  }

  /// Where this adapter is in its open/close history; read when `initialize()` is called (on
  /// the JS thread) and handed to [`Adapter::initialize`], so that a `close()` made after it wins.
  pub fn epoch(&self) -> u64 {
    self.closes.load(Ordering::SeqCst)
  }

  /// Opens the pool (or keeps the open one when the configuration is unchanged) and creates the
  /// schema if missing. Safe to call again at any time, also after `close()`; but if `close()` is
  /// called while it runs (after `epoch` was read), close wins: this fails with `E_CLOSED` and
  /// releases what it opened. The overrides may not weaken TLS (`E_CONFIG`).
  pub async fn initialize(&self, call: Call, overrides_json: Option<&str>, epoch: u64) -> Result<()> {
    let config: Config = match overrides_json {
      Some(json) => {
        let options = config::with_initialize_overrides(&self.options, json)?;
        let configured = config::resolve(&self.options, &config::process_env)?.tls.mode;
        let config = config::resolve(&options, &config::process_env)?;
        let requested = options.ssl_mode.filter(|_| options.ssl_mode != self.options.ssl_mode);
        if config.tls.mode < configured || requested.is_some_and(|mode| mode < configured) {
          return Err(Error::config(
            "options.sslMode",
            format!(
              "initialize() would weaken TLS from {} (as the adapter was constructed) to {}; \
               configure TLS in the constructor instead",
              configured.name(),
              requested.unwrap_or(config.tls.mode).name()
            ),
          ));
        }
        config
      }
      None => config::resolve(&self.options, &config::process_env)?,
    };
    let _one_at_a_time = self.initializing.lock().await;
    let closed = |call: Call| Error::Closed {
      context: call.op().to_string(),
    };
    if self.epoch() != epoch {
      return Err(closed(call));
    }
    let current = match &*self.read_state()? {
      State::Open(database) if *database.config() == config => Some(database.clone()),
      _ => None,
    };
    if let Some(database) = current {
      database.create_schema(call).await?;
      return if self.epoch() == epoch {
        Ok(())
      } else {
        Err(closed(call))
      };
    }
    let database = Arc::new(Database::new(config, self.metrics.clone())?);
    if let Err(error) = database.create_schema(call).await {
      database.close();
      return Err(error);
    }
    let previous = {
      let mut state = self.write_state()?;
      // close() bumps the epoch under this lock: checking here means it cannot slip in between.
      if self.epoch() != epoch {
        drop(state);
        database.close();
        return Err(closed(call));
      }
      std::mem::replace(&mut *state, State::Open(database.clone()))
    };
    database.start_background_tasks();
    if let State::Open(previous) = previous {
      previous.close();
    }
    Ok(())
  }

  /// The open database, or `E_NOT_INITIALIZED` / `E_CLOSED`.
  pub fn database(&self, call: Call) -> Result<Arc<Database>> {
    match &*self.read_state()? {
      State::Open(database) => Ok(database.clone()),
      State::New => Err(Error::NotInitialized {
        context: call.op().to_string(),
      }),
      State::Closed => Err(Error::Closed {
        context: call.op().to_string(),
      }),
    }
  }

  /// The pool's figures while open (`None` before `initialize()` and after `close()`).
  pub fn pool_status(&self) -> Option<deadpool_postgres::Status> {
    match &*self.read_state().ok()? {
      State::Open(database) => Some(database.store().pool_status()),
      _ => None,
    }
  }

  /// Closes the pool. Calls already running finish; later calls fail with `E_CLOSED`.
  pub fn close(&self) -> Result<()> {
    let previous = {
      let mut state = self.write_state()?;
      self.closes.fetch_add(1, Ordering::SeqCst);
      std::mem::replace(&mut *state, State::Closed)
    };
    if let State::Open(database) = previous {
      database.close();
    }
    Ok(())
  }

  /// `None` when a live query succeeds, else why not.
  pub async fn health(&self, call: Call) -> Option<String> {
    let database = match self.database(call) {
      Ok(database) => database,
      Err(error) => return Some(error.to_string()),
    };
    database.store().ping(call).await.err().map(|error| error.to_string())
  }

  fn read_state(&self) -> Result<std::sync::RwLockReadGuard<'_, State>> {
    self.state.read().map_err(|_| poisoned())
  }

  fn write_state(&self) -> Result<std::sync::RwLockWriteGuard<'_, State>> {
    self.state.write().map_err(|_| poisoned())
  }
}

fn poisoned() -> Error {
  Error::internal("the adapter's state lock was poisoned by an earlier panic")
}
