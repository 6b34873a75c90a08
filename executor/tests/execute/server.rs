//! A scripted HTTP server on loopback, for what the simulator cannot show or say: each request
//! is recorded byte for byte and answered by the test's handler.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

pub fn xml(status: u16, body: impl Into<String>) -> Answer {
    Answer { status, headers: vec![], body: body.into() }
}

pub fn simple_id(id: u64) -> Answer {
    xml(
        200,
        format!(
            "<SIMPLE_RETURN><RESPONSE><TEXT>created</TEXT><ITEM_LIST><ITEM><KEY>ID</KEY><VALUE>{id}</VALUE></ITEM></ITEM_LIST></RESPONSE></SIMPLE_RETURN>"
        ),
    )
}

pub fn simple_error(status: u16, code: u32, text: &str) -> Answer {
    xml(status, format!("<SIMPLE_RETURN><RESPONSE><CODE>{code}</CODE><TEXT>{text}</TEXT></RESPONSE></SIMPLE_RETURN>"))
}

type Handler = dyn Fn(&Seen, usize) -> Answer + Send + Sync;

pub struct Server {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts a server; `handler` gets each request and its index (from 0).
    pub fn start(handler: impl Fn(&Seen, usize) -> Answer + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let (seen, stop) = (Arc::clone(&seen), Arc::clone(&stop));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        serve(stream, &seen, handler.as_ref());
                    }
                }
            })
        };
        Server { url, seen, stop, thread: Some(thread) }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<Seen>>, handler: &Handler) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or_default().to_owned(), parts.next().unwrap_or_default().to_owned());
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let length =
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.parse().ok());
    let mut body = vec![0; length.unwrap_or(0)];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request = Seen { method, target, headers, body };
    let index = {
        let mut seen = seen.lock().expect("lock");
        seen.push(request.clone());
        seen.len() - 1
    };
    let Answer { status, headers, body } = handler(&request, index);
    let mut response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&body);
    let _ = reader.get_mut().write_all(response.as_bytes());
}

/// An HTTP CONNECT proxy on loopback: it records each CONNECT request line and tunnels the
/// connection to the address asked for.
pub struct Tunnel {
    url: String,
    connects: Arc<Mutex<Vec<String>>>,
}

impl Tunnel {
    pub fn start() -> Tunnel {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let connects = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&connects);
        // The thread ends with the test process; every tunnel closes with its connection.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let recorded = Arc::clone(&recorded);
                std::thread::spawn(move || tunnel(stream, &recorded));
            }
        });
        Tunnel { url, connects }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn connects(&self) -> Vec<String> {
        self.connects.lock().expect("lock").clone()
    }
}

fn tunnel(client: TcpStream, connects: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(client.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
    }
    connects.lock().expect("lock").push(line.trim().to_owned());
    let authority = line.split_whitespace().nth(1).unwrap_or_default().to_owned();
    let Ok(upstream) = TcpStream::connect(&authority) else { return };
    let mut client_writer = client;
    if client_writer.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").is_err() {
        return;
    }
    let mut upstream_reader = upstream.try_clone().expect("clone");
    let mut upstream_writer = upstream;
    let to_upstream = std::thread::spawn(move || {
        let _ = std::io::copy(&mut reader, &mut upstream_writer);
        let _ = upstream_writer.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut upstream_reader, &mut client_writer);
    let _ = to_upstream.join();
}
