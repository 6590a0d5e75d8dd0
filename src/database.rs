//! An open database: the store, the session and key-value operations on it, the schema they
//! share, and the background work the options ask for. What the adapter holds while open.

use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::config::Config;
use crate::error::Result;
use crate::kv::KeyValues;
use crate::metrics::Metrics;
use crate::op::Call;
use crate::schema;
use crate::sessions::Sessions;
use crate::statement::Tables;
use crate::store::Store;

/// How often the deltas of the session counters are folded (see `sessions/counters.rs`).
const FOLD_INTERVAL: Duration = Duration::from_secs(5);

/// An open database.
pub struct Database {
  store: Arc<Store>,
  /// The session operations.
  pub sessions: Arc<Sessions>,
  /// The key-value operations.
  pub values: Arc<KeyValues>,
  tables: Tables,
  background: Mutex<Vec<JoinHandle<()>>>,
}

impl Database {
  /// Builds the pool (opening no connection) and the SQL for the configured schema.
  pub fn new(config: Config, metrics: Arc<Metrics>) -> Result<Self> {
    let tables = Tables::new(config.options.schema.as_ref().map(|name| name.0.as_str()));
    let store = Arc::new(Store::new(config, metrics)?);
    Ok(Database {
      sessions: Arc::new(Sessions::new(store.clone(), &tables)),
      values: Arc::new(KeyValues::new(store.clone(), &tables)),
      store,
      tables,
      background: Mutex::new(Vec::new()),
    })
  }

  /// The configuration the pool was built from.
  pub fn config(&self) -> &Config {
    self.store.config()
  }

  /// The store the operations run on.
  pub fn store(&self) -> &Store {
    &self.store
  }

  /// Creates what is missing of the schema and prepares every statement (see [`schema::create`]),
  /// then the per-state session counters of `getStats()`.
  pub async fn create_schema(&self, call: Call) -> Result<()> {
    let mut statements = self.sessions.statements();
    statements.extend(self.values.statements());
    schema::create(&self.store, &self.tables, &statements, call).await?;
    let create = self.store.options().create_schema.0;
    self.sessions.prepare_counters(call, create).await?;
    Ok(())
  }

  /// Starts the background work the options ask for: the purge of expired key-value entries
  /// (`purgeIntervalMs`), the expiry of sessions (`sessionExpiryIntervalMs`), the folding of the
  /// session counters' deltas and the closing of idle connections (`idleTimeoutMs`). The tasks run on
  /// the tokio runtime (they never keep Node's event loop alive) and end with the database.
  pub fn start_background_tasks(self: &Arc<Self>) {
    let options = self.store.options();
    let mut tasks = Vec::new();
    if let Some(interval) = options.purge_interval_ms {
      tasks.push(self.every(interval.duration(), |database| async move {
        // A failed purge is retried at the next tick; expired entries already read as absent.
        let _ = database.values.purge_expired(Call::PURGE_EXPIRED).await;
      }));
    }
    if let Some(interval) = options.session_expiry_interval_ms {
      tasks.push(self.every(interval.duration(), |database| async move {
        // A failed expiry is retried at the next tick; it deletes only what is expired.
        let now = crate::time::iso_now();
        let _ = database
          .sessions
          .delete_expired(Call::DELETE_EXPIRED_SESSIONS, &now)
          .await;
      }));
    }
    // Folds the deltas of getStats()' counters, so that it keeps reading a few rows.
    tasks.push(self.every(FOLD_INTERVAL, |database| async move {
      let _ = database.sessions.fold_counters(Call::GET_STATS).await;
    }));
    if let Some(idle) = options.idle_timeout_ms {
      let idle = idle.duration();
      let check = (idle / 2).clamp(Duration::from_millis(100), Duration::from_secs(10));
      tasks.push(self.every(check, move |database| async move {
        database.store.close_idle(idle);
      }));
    }
    if let Ok(mut slot) = self.background.lock() {
      for previous in std::mem::replace(&mut *slot, tasks) {
        previous.abort();
      }
    }
  }

  /// A task running `work` every `interval` while the database lives.
  fn every<Work: Future<Output = ()> + Send + 'static>(
    self: &Arc<Self>,
    interval: Duration,
    work: impl Fn(Arc<Database>) -> Work + Send + 'static,
  ) -> JoinHandle<()> {
    let database: Weak<Database> = Arc::downgrade(self);
    tokio::spawn(async move {
      let mut ticks = tokio::time::interval(interval);
      ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
      ticks.tick().await;
      loop {
        ticks.tick().await;
        let Some(database) = database.upgrade() else {
          break;
        };
        work(database).await;
      }
    })
  }

  /// Stops the background work and the pool: no connection is handed out any more, idle ones
  /// close now and busy ones when returned.
  pub fn close(&self) {
    if let Ok(mut slot) = self.background.lock() {
      for task in slot.drain(..) {
        task.abort();
      }
    }
    self.store.close();
  }
}

#[cfg(test)]
mod tests {
  use crate::kv::KvSql;
  use crate::schema;
  use crate::sessions::SessionSql;
  use crate::statement::{Stmt, Tables};

  fn statements(tables: &Tables) -> Vec<Stmt> {
    let sessions = SessionSql::new(tables);
    let values = KvSql::new(tables);
    let mut all: Vec<Stmt> = sessions.all().into_iter().cloned().collect();
    all.extend(values.all().into_iter().cloned());
    all
  }

  #[test]
  fn every_parameter_has_a_type_and_every_placeholder_is_filled() {
    for statement in statements(&Tables::new(Some("t"))) {
      let highest = (1..=9)
        .filter(|n| statement.text.contains(&format!("${n}")))
        .max()
        .unwrap_or(0);
      assert_eq!(statement.types.len(), highest, "{}", statement.text);
      assert!(!statement.text.contains('{'), "{}", statement.text);
    }
  }

  #[test]
  fn a_named_schema_is_quoted_as_an_identifier_and_never_inside_a_string_literal() {
    let tables = Tables::new(Some("tenant \"A\"; DROP\\'"));
    assert!(schema::ddl(&tables, &[], None, Default::default())
      .contains("CREATE SCHEMA IF NOT EXISTS \"tenant \"\"A\"\"; DROP\\'\";"));
    assert!(SessionSql::new(&tables)
      .get_session
      .text
      .contains("FROM \"tenant \"\"A\"\"; DROP\\'\".sessions WHERE"));
    for statement in statements(&tables) {
      // The only quote characters are the identifier's and the SQL's own literals.
      assert!(!statement.text.contains("'\"tenant"), "{}", statement.text);
    }
  }
}
