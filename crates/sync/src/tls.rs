//! TLS for the sync link (rustls with ring, on both sides).
//!
//! The server reads its certificate chain and private key from PEM files
//! ([`ServerTls::from_pem_files`]) and refuses to start on a bad file. Its
//! listener does each handshake on its own task (bounded in number and time),
//! so one slow client never holds up another; a client that speaks plain HTTP
//! to it gets an HTTP answer saying to use https, not a dropped connection.
//!
//! A workstation trusts the operating system's roots, or — enrolled with
//! `--ca` — only the CA certificates it was given ([`ca_certificates`]): a
//! hospital's own CA or a self-signed server certificate.

use crate::protocol::{ErrorBody, BODY_MAX_BYTES};
use crate::SyncError;
use rustls::pki_types::pem::{self, PemObject, SectionKind};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// The largest certificate, key or CA file read.
pub const TLS_FILE_MAX_BYTES: u64 = 256 * 1024;
/// The largest CA text a workstation keeps with its link.
pub const CA_PEM_MAX_BYTES: usize = 64 * 1024;
/// How long a client may take over its TLS handshake (or a plain-HTTP request's refusal).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// TLS handshakes the server runs at once; further connections wait to be accepted.
pub const TLS_HANDSHAKES_MAX: usize = 64;
/// The head of a plain-HTTP request read before it is answered, at most.
const PLAIN_HEAD_MAX_BYTES: usize = 16 * 1024;

/// Which file a TLS problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFileRole {
    /// The server's certificate chain (`--tls-cert`).
    Certificate,
    /// The server's private key (`--tls-key`).
    Key,
    /// The CA a workstation trusts (`--ca`).
    Ca,
}

/// What is wrong with a certificate, key or CA file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFileProblem {
    /// It cannot be read (missing, no permission) — the system's words.
    Unreadable(String),
    /// Larger than [`TLS_FILE_MAX_BYTES`] (or a CA over [`CA_PEM_MAX_BYTES`]).
    TooLarge,
    /// Not PEM, or PEM without the expected section — what was found.
    NotPem(String),
    /// A CA file that also holds something other than certificates (a private key).
    NotOnlyCertificates,
    /// PEM, but the certificate or key inside is not usable — rustls' words.
    Unusable(String),
    /// The private key does not belong to the certificate.
    KeyMismatch,
}

fn file_error(path: &Path, role: TlsFileRole, problem: TlsFileProblem) -> SyncError {
    SyncError::TlsFile { path: path.display().to_string(), role, problem }
}

/// Reads a small file, refusing a large one before reading it.
fn read_small(path: &Path, role: TlsFileRole) -> Result<Vec<u8>, SyncError> {
    let unreadable = |e: std::io::Error| file_error(path, role, TlsFileProblem::Unreadable(e.to_string()));
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.len() > TLS_FILE_MAX_BYTES {
        return Err(file_error(path, role, TlsFileProblem::TooLarge));
    }
    std::fs::read(path).map_err(unreadable)
}

/// Every PEM section of a file: (kind, DER).
fn sections(bytes: &[u8]) -> Result<Vec<(SectionKind, Vec<u8>)>, String> {
    <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes).collect::<Result<Vec<_>, pem::Error>>().map_err(|e| e.to_string())
}

/// The server's certificate chain and key, checked and ready to serve.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerTls")
    }
}

impl ServerTls {
    /// Reads the certificate chain (the server's first, then any intermediates)
    /// and its private key (PKCS#8, PKCS#1 or SEC1) from PEM files, and checks
    /// that they belong together.
    pub fn from_pem_files(cert_path: &Path, key_path: &Path) -> Result<ServerTls, SyncError> {
        use TlsFileRole::{Certificate, Key};
        let cert_pem = read_small(cert_path, Certificate)?;
        let key_pem = read_small(key_path, Key)?;
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&cert_pem)
                .collect::<Result<_, _>>()
                .map_err(|e| file_error(cert_path, Certificate, TlsFileProblem::NotPem(e.to_string())))?;
        if chain.is_empty() {
            return Err(file_error(cert_path, Certificate, TlsFileProblem::NotPem(found(&cert_pem))));
        }
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
            let detail = match e {
                pem::Error::NoItemsFound => found(&key_pem),
                e => e.to_string(),
            };
            file_error(key_path, Key, TlsFileProblem::NotPem(detail))
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| file_error(key_path, Key, TlsFileProblem::Unusable(e.to_string())))?
            .with_no_client_auth();
        let mut config = builder.with_single_cert(chain, key).map_err(|e| match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                file_error(key_path, Key, TlsFileProblem::KeyMismatch)
            }
            // The key could not be loaded (an unsupported algorithm), or the certificate not parsed.
            rustls::Error::InvalidCertificate(_) | rustls::Error::InvalidMessage(_) => {
                file_error(cert_path, Certificate, TlsFileProblem::Unusable(e.to_string()))
            }
            e => file_error(key_path, Key, TlsFileProblem::Unusable(e.to_string())),
        })?;
        // The server speaks HTTP/1.1 only (axum's http1 feature).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls { config: Arc::new(config) })
    }
}

/// What a file holds instead of the expected PEM section, in a few words.
fn found(bytes: &[u8]) -> String {
    match sections(bytes) {
        Ok(s) if s.is_empty() => "no PEM section (-----BEGIN …-----)".into(),
        Ok(s) => {
            let kinds: Vec<String> = s.iter().map(|(kind, _)| format!("{kind:?}")).collect();
            format!("only {}", kinds.join(", "))
        }
        Err(e) => e,
    }
}

/// Reads a CA file for `--ca` and returns its certificates as PEM text to keep
/// with the sync link (checked by [`ca_certificates`]).
pub fn read_ca_file(path: &Path) -> Result<String, SyncError> {
    let bytes = read_small(path, TlsFileRole::Ca)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| file_error(path, TlsFileRole::Ca, TlsFileProblem::NotPem("not text".into())))?;
    let text = text.trim().to_string();
    check_ca_pem(&text).map_err(|problem| file_error(path, TlsFileRole::Ca, problem))?;
    Ok(text)
}

/// The certificates a workstation trusts for its server, from the PEM kept
/// with its link: each must be an X.509 certificate rustls can use as a root.
pub fn ca_certificates(ca_pem: &str) -> Result<Vec<reqwest::Certificate>, SyncError> {
    let ders = check_ca_pem(ca_pem).map_err(|problem| SyncError::TlsFile {
        path: "(the CA kept with this workstation's link)".into(),
        role: TlsFileRole::Ca,
        problem,
    })?;
    ders.iter()
        .map(|der| {
            reqwest::Certificate::from_der(der).map_err(|e| SyncError::TlsFile {
                path: "(the CA kept with this workstation's link)".into(),
                role: TlsFileRole::Ca,
                problem: TlsFileProblem::Unusable(e.to_string()),
            })
        })
        .collect()
}

fn check_ca_pem(ca_pem: &str) -> Result<Vec<Vec<u8>>, TlsFileProblem> {
    if ca_pem.len() > CA_PEM_MAX_BYTES {
        return Err(TlsFileProblem::TooLarge);
    }
    let all = sections(ca_pem.as_bytes()).map_err(TlsFileProblem::NotPem)?;
    if all.is_empty() {
        return Err(TlsFileProblem::NotPem(found(ca_pem.as_bytes())));
    }
    // A private key has no business on a workstation's link.
    if all.iter().any(|(kind, _)| *kind != SectionKind::Certificate) {
        return Err(TlsFileProblem::NotOnlyCertificates);
    }
    let mut roots = rustls::RootCertStore::empty();
    for (_, der) in &all {
        roots.add(CertificateDer::from(der.as_slice())).map_err(|e| TlsFileProblem::Unusable(e.to_string()))?;
    }
    Ok(all.into_iter().map(|(_, der)| der).collect())
}

/// Accepts TCP connections and hands axum those whose TLS handshake finished.
pub(crate) struct TlsListener {
    local: SocketAddr,
    ready: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `tcp` (within a tokio runtime).
    pub(crate) fn new(tcp: TcpListener, tls: &ServerTls) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(tls.config.clone());
        let (tx, ready) = tokio::sync::mpsc::channel(TLS_HANDSHAKES_MAX);
        let permits = Arc::new(tokio::sync::Semaphore::new(TLS_HANDSHAKES_MAX));
        let accepting = tokio::spawn(async move {
            loop {
                let Ok(permit) = permits.clone().acquire_owned().await else { return };
                let (stream, peer) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    // Out of file descriptors and the like: as axum does, wait a moment and go on.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, async {
                        let mut first = [0u8; 1];
                        match stream.peek(&mut first).await {
                            // A TLS connection starts with a handshake record (content type 22).
                            Ok(1) if first[0] == 0x16 => acceptor.accept(stream).await.ok(),
                            Ok(1) => {
                                refuse_plain_http(stream, local).await;
                                None
                            }
                            _ => None,
                        }
                    });
                    let stream = handshake.await.ok().flatten();
                    drop(permit);
                    if let Some(stream) = stream {
                        let _ = tx.send((stream, peer)).await;
                    }
                });
            }
        });
        Ok(TlsListener { local, ready, accepting })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        // Graceful shutdown drops the listener: stop accepting (handshakes in flight end with the runtime).
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accepting task is gone only when the server stops.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Answers a plain-HTTP request on the TLS port with a refusal the client
/// understands (code `https_required`). The request is read first (its head,
/// and a body up to the protocol's limit), so closing does not reset the
/// connection before the client has read the answer.
async fn refuse_plain_http(mut stream: TcpStream, local: SocketAddr) {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let body_start = loop {
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if head.len() > PLAIN_HEAD_MAX_BYTES {
            return;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    };
    let content_length = String::from_utf8_lossy(&head[..body_start])
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim().eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok()).flatten()
        })
        .unwrap_or(0);
    if content_length > BODY_MAX_BYTES {
        return;
    }
    let mut remaining = content_length.saturating_sub(head.len() - body_start);
    while remaining > 0 {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => remaining = remaining.saturating_sub(n),
        }
    }
    let body = serde_json::to_string(&ErrorBody {
        code: "https_required".into(),
        message: format!("this server speaks https only: use https://{local}"),
    })
    .unwrap_or_default();
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The rustls error inside a failed request, if the failure was TLS's.
pub(crate) fn tls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // An io::Error's source() skips the error it wraps (and hyper wraps one io::Error in another).
        current = match e.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// A failed TLS handshake as the user's problem: the certificate is not
/// trusted, names another host, is out of date, or the server is not https.
pub(crate) fn handshake_error(tls: &rustls::Error, url: &str) -> SyncError {
    use rustls::CertificateError as C;
    let detail = tls.to_string();
    match tls {
        rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            SyncError::CertificateWrongHost { url: url.to_string(), detail }
        }
        rustls::Error::InvalidCertificate(
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
        ) => SyncError::CertificateExpired(detail),
        rustls::Error::InvalidCertificate(_) => SyncError::CertificateUntrusted(detail),
        rustls::Error::InvalidMessage(_) => SyncError::NotHttps(url.to_string()),
        _ => SyncError::Unreachable(detail),
    }
}
