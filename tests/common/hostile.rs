//! Raw TCP servers for tests that need a server to misbehave in ways a framework will not:
//! endless bodies, lying lengths, headers that never end, a byte a second.
//!
//! Included with `#[path = "common/hostile.rs"] mod hostile;` so each test binary gets its
//! own copy and nothing else in `tests/common` is pulled in.

#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use url::Url;

/// What the client asked for.
#[derive(Debug, Clone)]
pub struct Head {
    pub method: String,
    pub path: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A local server; stops accepting when dropped.
pub struct RawServer {
    pub base: Url,
    connections: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
}

impl RawServer {
    /// `base` joined with `path`.
    pub fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("valid path")
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Serves every connection with `handler`, after reading the request head. The handler
/// answers one request per connection (send `Connection: close` or close the stream).
pub async fn serve<F, Fut>(handler: F) -> RawServer
where
    F: Fn(TcpStream, Head) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    let handler = Arc::new(handler);
    let accept = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let handler = handler.clone();
            tokio::spawn(async move {
                if let Some(head) = read_head(&mut stream).await {
                    handler(stream, head).await;
                }
            });
        }
    });
    RawServer {
        base: Url::parse(&format!("http://{addr}/")).expect("base url"),
        connections,
        accept,
    }
}

/// Reads up to the blank line ending the request head (at most 64 KiB).
async fn read_head(stream: &mut TcpStream) -> Option<Head> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = stream.read(&mut byte).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Head {
        method,
        path,
        headers,
    })
}

/// Writes a complete response with `Content-Length` and `Connection: close`.
pub async fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let _ = stream.write_all(out.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
}

/// How far this process's peak resident memory (`VmHWM`) grows over a stretch of a test,
/// where the platform can say. Linux resets the peak through `/proc/self/clear_refs`;
/// without that (or without `/proc/self/status`) the growth cannot be measured, and
/// [`PeakMeter::growth`] says so on stderr instead of reporting a growth of nothing.
pub struct PeakMeter(Result<u64, String>);

impl PeakMeter {
    /// Resets the peak to the current resident memory and starts measuring from there.
    pub fn start() -> Self {
        PeakMeter(Self::try_start())
    }

    fn try_start() -> Result<u64, String> {
        proc_status_kib("VmHWM:")?;
        std::fs::write("/proc/self/clear_refs", "5")
            .map_err(|e| format!("/proc/self/clear_refs cannot reset the peak ({e})"))?;
        Ok(proc_status_kib("VmRSS:")? * 1024)
    }

    /// Bytes the peak grew by since [`PeakMeter::start`], or `None` (with the reason
    /// printed as a skipped check) where this platform cannot measure it.
    pub fn growth(&self, what: &str) -> Option<u64> {
        let measured = self
            .0
            .clone()
            .and_then(|before| Ok((proc_status_kib("VmHWM:")? * 1024).saturating_sub(before)));
        match measured {
            Ok(growth) => Some(growth),
            Err(reason) => {
                eprintln!("SKIPPED memory bound of {what}: {reason}");
                None
            }
        }
    }
}

fn proc_status_kib(field: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("/proc/self/status cannot be read ({e})"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("/proc/self/status has no {field} line"))
}
