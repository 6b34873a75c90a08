//! TLS: always verified, against the built-in roots or the CA of `--ca-file`; a failure before
//! anything was sent is a refusal.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::support::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name)
}

/// A TLS front on loopback with the test CA's certificate for 127.0.0.1, forwarding the
/// decrypted bytes to `backend` (the simulator): what a corporate TLS inspection looks like.
fn tls_front(backend: &str) -> String {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(fixture("server.pem")).expect("cert").map(|c| c.expect("cert")).collect();
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
    let url = format!("https://{}", listener.local_addr().expect("addr"));
    let backend = backend.trim_start_matches("http://").to_owned();
    // The thread ends with the test process.
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (config, backend) = (Arc::clone(&config), backend.clone());
            std::thread::spawn(move || forward(client, config, &backend));
        }
    });
    url
}

/// One connection: the handshake, then one request and its answer (the executor never reuses
/// a connection).
fn forward(client: TcpStream, config: Arc<rustls::ServerConfig>, backend: &str) {
    let Ok(connection) = rustls::ServerConnection::new(config) else { return };
    let mut tls = rustls::StreamOwned::new(connection, client);
    let mut request = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    // Read the head and as much body as Content-Length says.
    while let Ok(n) = tls.read(&mut buffer) {
        if n == 0 {
            return;
        }
        request.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&request);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if request.len() >= end + 4 + length {
                break;
            }
        }
    }
    let Ok(mut upstream) = TcpStream::connect(backend) else { return };
    // One request per connection: the simulator may close it as soon as it has answered.
    if upstream.write_all(&request).and_then(|()| upstream.shutdown(std::net::Shutdown::Write)).is_err() {
        return;
    }
    // Passed on as it comes: the executor closes the connection once it has read the answer.
    while let Ok(n) = upstream.read(&mut buffer) {
        if n == 0 || tls.write_all(&buffer[..n]).and_then(|()| tls.flush()).is_err() {
            return;
        }
    }
}

/// Behind a TLS front whose CA the built-in roots do not hold, a run is refused (exit 3) with
/// the TLS reason and the hint of `--ca-file`, and nothing reaches the target; with
/// `--ca-file` naming that CA, the same run completes.
#[test]
fn a_tls_failure_is_a_refusal_and_ca_file_names_the_ca_to_trust() {
    let work = Work::new();
    let digest = work.write(vec![network("A")], vec![], &[]);
    let sim = start(sim_config());
    let url = tls_front(&sim.url());

    let refused = run(&work, &url, &digest).output().expect("runs");
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    let message = stderr(&refused);
    assert!(message.contains("TLS") && message.contains("--ca-file"), "{message}");
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert_eq!(calls(&sim.counters()), 0, "nothing reached the target");

    let trusted = run(&work, &url, &digest).arg("--ca-file").arg(fixture("ca.pem")).output().expect("runs");
    assert!(trusted.status.success(), "{}", stderr(&trusted));
    assert_eq!(count(&sim.counters().objects, "networks"), 1, "network A, created once");

    let not_pem = run(&work, &url, &digest).arg("--ca-file").arg(fixture("README.md")).output().expect("runs");
    assert_eq!(not_pem.status.code(), Some(3), "{}", stderr(&not_pem));
    assert!(stderr(&not_pem).contains("holds no PEM certificate"), "{}", stderr(&not_pem));
}
