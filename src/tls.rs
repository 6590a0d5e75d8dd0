//! TLS for connections, on rustls (ring): `require`/`prefer` encrypt without checking the
//! certificate (libpq semantics), `verify-ca` checks the chain, `verify-full` the chain and the host.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{SslMode, Tls};
use crate::error::{Error, Result};

/// Builds the rustls connector for `tls.mode` (not called for `disable`).
pub fn connector(tls: &Tls) -> Result<MakeRustlsConnect> {
  let provider = Arc::new(rustls::crypto::ring::default_provider());
  let builder = ClientConfig::builder_with_provider(provider.clone())
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::config("sslMode", format!("TLS setup failed: {e}")))?;
  let client_config = match tls.mode {
    SslMode::Disable | SslMode::Prefer | SslMode::Require => builder
      .dangerous()
      .with_custom_certificate_verifier(Arc::new(NoCertificateCheck(provider)))
      .with_no_client_auth(),
    SslMode::VerifyCa | SslMode::VerifyFull => {
      let roots = Arc::new(root_store(tls)?);
      let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
        .build()
        .map_err(|e| Error::config("sslRootCert", format!("cannot build a certificate verifier: {e}")))?;
      let verifier: Arc<dyn ServerCertVerifier> = if tls.mode == SslMode::VerifyCa {
        Arc::new(ChainOnly(webpki))
      } else {
        webpki
      };
      builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth()
    }
  };
  Ok(MakeRustlsConnect::new(client_config))
}

/// The CA certificates to trust: inline PEM, else `sslRootCert`, else the system's store.
fn root_store(tls: &Tls) -> Result<RootCertStore> {
  let certificates: Vec<CertificateDer<'static>> = if let Some(pem) = &tls.ca_pem {
    CertificateDer::pem_slice_iter(pem.as_bytes())
      .collect::<std::result::Result<_, _>>()
      .map_err(|e| Error::config("ssl.ca", format!("cannot read the PEM certificates: {e}")))?
  } else if let Some(path) = &tls.root_cert {
    CertificateDer::pem_file_iter(path)
      .and_then(|certs| certs.collect::<std::result::Result<_, _>>())
      .map_err(|e| Error::config("sslRootCert", format!("cannot read {}: {e}", path.display())))?
  } else {
    rustls_native_certs::load_native_certs().certs
  };
  let mut store = RootCertStore::empty();
  let (added, _ignored) = store.add_parsable_certificates(certificates);
  if added == 0 {
    return Err(Error::config(
      "sslRootCert",
      "no usable CA certificate found for certificate verification",
    ));
  }
  Ok(store)
}

/// Accepts any server certificate but still checks the handshake signatures.
#[derive(Debug)]
struct NoCertificateCheck(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCertificateCheck {
  fn verify_server_cert(
    &self,
    _end_entity: &CertificateDer<'_>,
    _intermediates: &[CertificateDer<'_>],
    _server_name: &ServerName<'_>,
    _ocsp_response: &[u8],
    _now: UnixTime,
  ) -> std::result::Result<ServerCertVerified, rustls::Error> {
    Ok(ServerCertVerified::assertion())
  }

  fn verify_tls12_signature(
    &self,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
  ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
    verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
  }

  fn verify_tls13_signature(
    &self,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
  ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
    verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
  }

  fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
    self.0.signature_verification_algorithms.supported_schemes()
  }
}

/// verify-ca: the chain must be trusted; a name mismatch is tolerated.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
  fn verify_server_cert(
    &self,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
    ocsp_response: &[u8],
    now: UnixTime,
  ) -> std::result::Result<ServerCertVerified, rustls::Error> {
    match self
      .0
      .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    {
      Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
      | Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext { .. })) => {
        Ok(ServerCertVerified::assertion())
      }
      other => other,
    }
  }

  fn verify_tls12_signature(
    &self,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
  ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
    self.0.verify_tls12_signature(message, cert, dss)
  }

  fn verify_tls13_signature(
    &self,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
  ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
    self.0.verify_tls13_signature(message, cert, dss)
  }

  fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
    self.0.supported_verify_schemes()
  }
}
