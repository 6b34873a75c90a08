//! A minimal HTTP/1.1 server: one request per connection, answered with `Connection: close`.
//!
//! The simulator does not use a server crate because it must be able to take a request,
//! change its state and then close the connection without writing a single byte: that is
//! what a lost response looks like to a client, and the executor's resume logic is tested
//! against it. Request heads are parsed with `httparse`; bodies need a `Content-Length`
//! (curl and ureq always send one for the bodies qmig uses).

use std::io::{self, Read, Write};
use std::net::{Shutdown as SocketShutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::lock;

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024 * 1024;
/// A client that connects and sends nothing must not hold up a shutdown for long.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// Header lookup, case-insensitive as HTTP requires.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Response { status, headers: vec![("Content-Type".into(), content_type.into())], body: body.into() }
    }

    pub fn xml(status: u16, body: String) -> Self {
        Response::new(status, "text/xml;charset=UTF-8", body)
    }

    /// The Apache-style page Qualys's front end serves for errors outside the API itself.
    pub fn html_page(status: u16, message: &str) -> Self {
        let reason = reason(status);
        let body = format!(
            "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>{status} {reason}</title>\n\
             </head><body>\n<h1>{reason}</h1>\n<p>{message}</p>\n</body></html>\n"
        );
        Response::new(status, "text/html; charset=iso-8859-1", body)
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What the server does with a request once it has been handled.
#[derive(Debug)]
pub(crate) enum Outcome {
    Respond(Response),
    /// Close the connection without answering.
    Drop,
}

pub(crate) type Handler = dyn Fn(Request) -> Outcome + Send + Sync;

/// Lets any thread ask the server to stop, and the owner wait for that request.
#[derive(Debug)]
pub(crate) struct Shutdown {
    requested: Mutex<bool>,
    changed: Condvar,
    /// Connecting here wakes the accept loop so that it sees the request.
    wake: SocketAddr,
}

impl Shutdown {
    pub fn new(wake: SocketAddr) -> Self {
        Shutdown { requested: Mutex::new(false), changed: Condvar::new(), wake }
    }

    pub fn request(&self) {
        *lock(&self.requested) = true;
        self.changed.notify_all();
        // Ignored on purpose: if the listener is already gone there is nothing left to wake.
        let _ = TcpStream::connect_timeout(&self.wake, Duration::from_secs(1));
    }

    fn is_requested(&self) -> bool {
        *lock(&self.requested)
    }

    pub fn wait(&self) {
        let mut requested = lock(&self.requested);
        while !*requested {
            requested = self.changed.wait(requested).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

/// Accepts connections until a shutdown is requested, then waits for the requests in flight.
pub(crate) fn serve(listener: TcpListener, handler: Arc<Handler>, shutdown: Arc<Shutdown>) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut workers: Vec<JoinHandle<()>> = Vec::new();
        for stream in listener.incoming() {
            if shutdown.is_requested() {
                break;
            }
            let Ok(stream) = stream else { continue };
            workers.retain(|w| !w.is_finished());
            let handler = Arc::clone(&handler);
            workers.push(thread::spawn(move || handle_connection(stream, &*handler)));
        }
        drop(listener);
        for worker in workers {
            // A panicking handler has already lost its connection; the others still finish.
            let _ = worker.join();
        }
    })
}

fn handle_connection(mut stream: TcpStream, handler: &Handler) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let outcome = match read_request(&mut stream) {
        Ok(Some(request)) => handler(request),
        Ok(None) | Err(ReadError::Io) => return,
        Err(ReadError::Refused(status, message)) => Outcome::Respond(Response::html_page(status, message)),
    };
    if let Outcome::Respond(response) = outcome {
        // The client may already have gone; nothing useful can be done about it here.
        let _ = write_response(&mut stream, &response);
    }
    let _ = stream.shutdown(SocketShutdown::Both);
}

enum ReadError {
    Io,
    Refused(u16, &'static str),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Io
    }
}

/// Reads one request; `None` when the peer closed without sending anything.
fn read_request(stream: &mut TcpStream) -> Result<Option<Request>, ReadError> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let head_len = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::Refused(431, "The request header is too large."));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return if buf.is_empty() { Ok(None) } else { Err(ReadError::Io) };
        }
        buf.extend_from_slice(&chunk[..n]);
    };

    let mut header_slots = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut header_slots);
    let bad = ReadError::Refused(400, "Your browser sent a request that this server could not understand.");
    match parsed.parse(&buf[..head_len]) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(bad),
    }
    let (Some(method), Some(target)) = (parsed.method, parsed.path) else { return Err(bad) };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut request = Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers: parsed
            .headers
            .iter()
            .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
            .collect(),
        body: Vec::new(),
    };

    if request.header("Transfer-Encoding").is_some() {
        return Err(ReadError::Refused(411, "A request with a body must give its Content-Length."));
    }
    let length = match request.header("Content-Length") {
        None => 0,
        Some(v) => v.trim().parse::<usize>().map_err(|_| bad)?,
    };
    if length > MAX_BODY {
        return Err(ReadError::Refused(413, "The request body is too large."));
    }
    if length > 0 && request.header("Expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut body = buf.split_off(head_len);
    if body.len() < length {
        let mut rest = vec![0u8; length - body.len()];
        stream.read_exact(&mut rest)?;
        body.extend_from_slice(&rest);
    }
    body.truncate(length);
    request.body = body;
    Ok(Some(request))
}

fn write_response(stream: &mut TcpStream, response: &Response) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", response.status, reason(response.status));
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", response.body.len()));
    stream.write_all(head.as_bytes())?;
    stream.write_all(&response.body)?;
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}
