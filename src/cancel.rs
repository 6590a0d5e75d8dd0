//! Cancel requests that wait, as libpq's do, for the server to close the connection before
//! closing their own side. tokio-postgres' `cancel_query` shuts its socket down right after
//! sending, and PgBouncer drops a request whose client is gone before it was forwarded: through
//! PgBouncer the statement would run on.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{CancelToken, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Where a cancel request may go: every configured server (a request naming a backend a server
/// does not have is ignored there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
  /// A TCP host and port.
  Tcp(String, u16),
  /// A Unix-domain socket file.
  Unix(String),
}

/// The targets for `hosts` and `ports` as the pool connects to them: a port per host, or the
/// first port for every host; a host starting with `/` is a socket directory.
pub fn targets(hosts: &[String], ports: &[u16]) -> Vec<Target> {
  hosts
    .iter()
    .enumerate()
    .map(|(index, host)| {
      let port = ports.get(index).or(ports.first()).copied().unwrap_or(5432);
      if host.starts_with('/') {
        Target::Unix(format!("{}/.s.PGSQL.{port}", host.trim_end_matches('/')))
      } else {
        Target::Tcp(host.clone(), port)
      }
    })
    .collect()
}

/// Sends `token`'s cancel request to every target at once, each bounded by `bound`.
pub async fn cancel(token: CancelToken, targets: Vec<Target>, tls: Option<MakeRustlsConnect>, bound: Duration) {
  let requests = targets.into_iter().map(|target| {
    let token = token.clone();
    let tls = tls.clone();
    async move {
      let _ = tokio::time::timeout(bound, send(&token, &target, tls)).await;
    }
  });
  futures_util::future::join_all(requests).await;
}

async fn send(token: &CancelToken, target: &Target, tls: Option<MakeRustlsConnect>) -> io::Result<()> {
  let failed = |e: tokio_postgres::Error| io::Error::other(e.to_string());
  match target {
    Target::Tcp(host, port) => {
      let stream = AwaitClose(tokio::net::TcpStream::connect((host.as_str(), *port)).await?);
      match tls {
        Some(mut tls) => {
          let connect = MakeTlsConnect::<AwaitClose<tokio::net::TcpStream>>::make_tls_connect(&mut tls, host)
            .map_err(|e| io::Error::other(e.to_string()))?;
          token.cancel_query_raw(stream, connect).await.map_err(failed)
        }
        None => token.cancel_query_raw(stream, NoTls).await.map_err(failed),
      }
    }
    #[cfg(unix)]
    Target::Unix(path) => {
      let stream = AwaitClose(tokio::net::UnixStream::connect(path).await?);
      token.cancel_query_raw(stream, NoTls).await.map_err(failed)
    }
    #[cfg(not(unix))]
    Target::Unix(_) => Ok(()),
  }
}

/// A stream whose shutdown waits for the peer to close first (reading and dropping what it
/// sends), the way a cancel request must end.
struct AwaitClose<S>(S);

impl<S: AsyncRead + Unpin> AsyncRead for AwaitClose<S> {
  fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
    Pin::new(&mut self.0).poll_read(cx, buf)
  }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for AwaitClose<S> {
  fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
    Pin::new(&mut self.0).poll_write(cx, buf)
  }

  fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    Pin::new(&mut self.0).poll_flush(cx)
  }

  fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    let mut scratch = [0u8; 64];
    loop {
      let mut buf = ReadBuf::new(&mut scratch);
      match Pin::new(&mut self.0).poll_read(cx, &mut buf) {
        Poll::Ready(Ok(())) if buf.filled().is_empty() => return Pin::new(&mut self.0).poll_shutdown(cx),
        Poll::Ready(Ok(())) => continue,
        // Reset by the peer: closed all the same.
        Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
        Poll::Pending => return Poll::Pending,
      }
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn every_configured_server_is_a_target() {
    let hosts = vec!["db-a".to_string(), "/run/postgresql/".to_string(), "db-c".to_string()];
    assert_eq!(
      targets(&hosts, &[5433, 5434]),
      vec![
        Target::Tcp("db-a".into(), 5433),
        Target::Unix("/run/postgresql/.s.PGSQL.5434".into()),
        Target::Tcp("db-c".into(), 5433),
      ]
    );
    assert_eq!(targets(&["h".to_string()], &[]), vec![Target::Tcp("h".into(), 5432)]);
  }

  #[tokio::test]
  async fn shutdown_waits_for_the_peer_to_close() {
    let (client, mut server) = tokio::io::duplex(64);
    let mut stream = AwaitClose(client);
    let closer = tokio::spawn(async move {
      use tokio::io::AsyncWriteExt;
      tokio::time::sleep(Duration::from_millis(50)).await;
      server.write_all(b"bye").await.unwrap();
      drop(server);
    });
    let started = std::time::Instant::now();
    tokio::io::AsyncWriteExt::shutdown(&mut stream).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(40));
    closer.await.unwrap();
  }
}
