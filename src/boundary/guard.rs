//! The panic guard: a panic in the native layer fails its call with `E_INTERNAL` instead of
//! crossing into Node (which would abort the process).

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

use crate::error::{Error, Result};

/// Runs `work`; a panic in it becomes [`Error::Internal`] carrying the panic's message.
pub async fn guarded<T>(work: impl Future<Output = Result<T>>) -> Result<T> {
  match AssertUnwindSafe(work).catch_unwind().await {
    Ok(result) => result,
    Err(panic) => {
      let message = panic
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
      Err(Error::internal(message))
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  async fn panics(message: String) -> Result<()> {
    if !message.is_empty() {
      panic!("{message}");
    }
    Ok(())
  }

  #[tokio::test]
  async fn a_panic_becomes_an_internal_error_with_its_message_and_the_next_call_runs() {
    let error = guarded(panics("deliberate test panic".into())).await.unwrap_err();
    assert_eq!(error.code(), "E_INTERNAL");
    assert!(error.to_string().contains("deliberate test panic"), "{error}");
    assert!(error.to_native_reason().starts_with("E_INTERNAL {"));
    assert!(guarded(panics(String::new())).await.is_ok());
  }

  #[tokio::test]
  async fn a_panic_with_a_static_message_and_an_error_pass_through() {
    let panicking = async {
      if !cfg!(miri) {
        panic!("static message");
      }
      Ok(())
    };
    let error = guarded::<()>(panicking).await.unwrap_err();
    assert!(error.to_string().contains("static message"));
    let error = guarded(async { Err::<(), _>(Error::validation("id", "bad id")) })
      .await
      .unwrap_err();
    assert_eq!(error.code(), "E_VALIDATION");
  }
}
