//! The fetcher against servers that misbehave on purpose: endless and huge bodies, a gzip
//! bomb, headers that never end, a byte a second, redirect loops and redirects out of
//! http(s). Each test checks the message a user would read, that it ends fast, and that
//! memory stays bounded.
//!
//! The tests run one at a time (they share [`SERIAL`]) so that the process's peak memory
//! can be attributed to the one running.

#[path = "common/hostile.rs"]
mod hostile;

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use policywatch::config::FetchSettings;
use policywatch::fetch::{FetchError, Fetched, Fetcher, Request};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;
use url::Url;

use hostile::{respond, serve, Head, PeakMeter, RawServer};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const CAP: u64 = 4 * 1024 * 1024;
const GIB: u64 = 1024 * 1024 * 1024;
/// Allowed growth of peak memory over the body cap during one hostile fetch.
const SLACK: u64 = 64 * 1024 * 1024;

fn settings() -> FetchSettings {
    FetchSettings {
        user_agent: "policywatch-test/0.1".into(),
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(10),
        max_body: CAP,
        max_redirects: 5,
        retries: 0,
        retry_base: Duration::from_millis(1),
        retry_max: Duration::from_millis(10),
        concurrency: 4,
        per_host_interval: Duration::ZERO,
        allow_private: true,
    }
}

struct Outcome {
    error: FetchError,
    message: String,
    elapsed: Duration,
    requests: u64,
}

/// Fetches `url` expecting an error; checks it begins with the URL, came within `within`,
/// and that peak memory grew by less than the cap plus [`SLACK`].
async fn fetch_err(s: &FetchSettings, url: &Url, within: Duration) -> Outcome {
    let meter = PeakMeter::start();
    let fetcher = Fetcher::new(s).unwrap();
    let started = Instant::now();
    let result = tokio::time::timeout(
        within + Duration::from_secs(5),
        fetcher.get(Request {
            url,
            validators: None,
            accept: "*/*",
            allow_redirects: &[],
        }),
    )
    .await
    .expect("the fetch itself must end");
    let elapsed = started.elapsed();
    let growth = meter.growth(url.as_str());
    let error = match result {
        Ok(Fetched::Body(b)) => panic!("expected an error, got {} bytes", b.bytes.len()),
        Ok(Fetched::NotModified) => panic!("expected an error, got 304"),
        Err(e) => e,
    };
    let message = error.to_string();
    eprintln!(
        "{message} [{elapsed:?}, peak memory +{} KiB]",
        growth.map_or("?".into(), |g| (g / 1024).to_string())
    );
    assert!(
        message.starts_with(url.as_str()),
        "message should start with the URL: {message}"
    );
    assert!(elapsed < within, "took {elapsed:?}: {message}");
    if let Some(growth) = growth {
        assert!(
            growth < s.max_body + SLACK,
            "peak memory grew by {growth} bytes: {message}"
        );
    }
    Outcome {
        error,
        message,
        elapsed,
        requests: fetcher.requests_made(),
    }
}

/// Writes `head` then `body_chunk` over and over until `total` bytes are sent or the client
/// goes away.
async fn stream_forever(mut stream: TcpStream, head: String, total: Option<u64>) {
    static ZEROS: [u8; 64 * 1024] = [b'0'; 64 * 1024];
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let mut sent = 0u64;
    while total.is_none_or(|t| sent < t) {
        if stream.write_all(&ZEROS).await.is_err() {
            return;
        }
        sent += ZEROS.len() as u64;
    }
}

#[tokio::test]
async fn endless_body_stops_at_the_cap() {
    let _serial = SERIAL.lock().await;
    let server = serve(|stream, _: Head| {
        // No Content-Length, no chunking: the body ends when the connection does. Never.
        stream_forever(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n".into(),
            None,
        )
    })
    .await;
    let out = fetch_err(&settings(), &server.url("/endless"), Duration::from_secs(5)).await;
    assert!(matches!(out.error, FetchError::TooLarge { .. }));
    assert!(
        out.message.ends_with("body larger than 4 MiB limit"),
        "{}",
        out.message
    );
    assert_eq!(out.requests, 1, "a body over the cap is not retried");
}

#[tokio::test]
async fn announced_one_gib_body_is_refused_before_reading() {
    let _serial = SERIAL.lock().await;
    let server = serve(|stream, _: Head| {
        stream_forever(
            stream,
            format!("HTTP/1.1 200 OK\r\nContent-Length: {GIB}\r\n\r\n"),
            Some(GIB),
        )
    })
    .await;
    let out = fetch_err(&settings(), &server.url("/huge"), Duration::from_secs(2)).await;
    assert!(
        out.message
            .ends_with("body larger than 4 MiB limit (Content-Length: 1073741824 bytes)"),
        "{}",
        out.message
    );
}

#[tokio::test]
async fn chunked_one_gib_body_stops_at_the_cap() {
    let _serial = SERIAL.lock().await;
    let server = serve(|mut stream, _: Head| async move {
        static CHUNK: [u8; 32 * 1024] = [b'x'; 32 * 1024];
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let size = format!("{:x}\r\n", CHUNK.len());
        for _ in 0..GIB / CHUNK.len() as u64 {
            let sent = async {
                stream.write_all(size.as_bytes()).await?;
                stream.write_all(&CHUNK).await?;
                stream.write_all(b"\r\n").await
            };
            if sent.await.is_err() {
                return;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
    })
    .await;
    let out = fetch_err(&settings(), &server.url("/chunked"), Duration::from_secs(5)).await;
    assert!(
        out.message.ends_with("body larger than 4 MiB limit"),
        "{}",
        out.message
    );
}

#[tokio::test]
async fn gzip_bomb_stops_at_the_cap() {
    let _serial = SERIAL.lock().await;
    // 256 MiB of zeros, a few hundred KiB on the wire.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..256 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb: Arc<Vec<u8>> = Arc::new(enc.finish().unwrap());
    assert!(bomb.len() < 1024 * 1024, "{}", bomb.len());
    drop(zeros);

    let server = serve(move |mut stream, _: Head| {
        let bomb = bomb.clone();
        async move {
            respond(
                &mut stream,
                "200 OK",
                &[("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
                &bomb,
            )
            .await;
        }
    })
    .await;
    let out = fetch_err(&settings(), &server.url("/bomb"), Duration::from_secs(5)).await;
    assert!(matches!(
        out.error,
        FetchError::TooLarge {
            announced: None,
            ..
        }
    ));
    assert!(
        out.message.ends_with("body larger than 4 MiB limit"),
        "{}",
        out.message
    );
}

#[tokio::test]
async fn never_ending_headers_are_refused() {
    let _serial = SERIAL.lock().await;
    let server = serve(|mut stream, _: Head| async move {
        if stream.write_all(b"HTTP/1.1 200 OK\r\n").await.is_err() {
            return;
        }
        let mut i = 0u64;
        loop {
            let line = format!("X-Filler-{i}: {}\r\n", "a".repeat(100));
            if stream.write_all(line.as_bytes()).await.is_err() {
                return;
            }
            i += 1;
        }
    })
    .await;
    let out = fetch_err(&settings(), &server.url("/headers"), Duration::from_secs(5)).await;
    assert!(
        out.message.contains("response headers too large"),
        "{}",
        out.message
    );
}

/// A server that sends `prefix` at once, then one byte of `rest` per `every`.
async fn trickle(prefix: &'static str, rest: &'static str, every: Duration) -> RawServer {
    serve(move |mut stream, _: Head| async move {
        if stream.write_all(prefix.as_bytes()).await.is_err() {
            return;
        }
        for b in rest.bytes().cycle() {
            tokio::time::sleep(every).await;
            if stream.write_all(&[b]).await.is_err() {
                return;
            }
        }
    })
    .await
}

#[tokio::test]
async fn body_at_one_byte_a_second_times_out() {
    let _serial = SERIAL.lock().await;
    let server = trickle(
        "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n",
        "slow",
        Duration::from_secs(1),
    )
    .await;
    let s = FetchSettings {
        timeout: Duration::from_millis(1500),
        ..settings()
    };
    let out = fetch_err(&s, &server.url("/slow"), Duration::from_secs(3)).await;
    assert!(matches!(out.error, FetchError::Timeout { .. }));
    assert!(
        out.message.ends_with("timed out after 1.5s"),
        "{}",
        out.message
    );
    assert!(
        out.elapsed >= Duration::from_millis(1400),
        "{:?}",
        out.elapsed
    );
}

#[tokio::test]
async fn headers_at_one_byte_a_second_time_out() {
    let _serial = SERIAL.lock().await;
    let server = trickle(
        "",
        "HTTP/1.1 200 OK\r\nX-Slow: yes\r\n",
        Duration::from_secs(1),
    )
    .await;
    let s = FetchSettings {
        timeout: Duration::from_secs(1),
        ..settings()
    };
    let out = fetch_err(&s, &server.url("/slow"), Duration::from_secs(3)).await;
    assert!(
        out.message.ends_with("timed out after 1s"),
        "{}",
        out.message
    );
}

#[tokio::test]
async fn timeouts_are_retried_within_the_budget() {
    let _serial = SERIAL.lock().await;
    let server = trickle(
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
        "x",
        Duration::from_secs(1),
    )
    .await;
    let s = FetchSettings {
        timeout: Duration::from_millis(200),
        retries: 2,
        ..settings()
    };
    let out = fetch_err(&s, &server.url("/slow"), Duration::from_secs(3)).await;
    assert!(
        out.message.ends_with("timed out after 0.2s"),
        "{}",
        out.message
    );
    assert_eq!(out.requests, 3);
    assert_eq!(server.connections(), 3);
}

/// Redirects as a function of the request path.
async fn redirector(location: fn(&str) -> String) -> RawServer {
    serve(move |mut stream, head: Head| async move {
        let loc = location(&head.path);
        respond(&mut stream, "302 Found", &[("Location", &loc)], b"").await;
    })
    .await
}

#[tokio::test]
async fn redirect_loop_is_detected() {
    let _serial = SERIAL.lock().await;
    let server = redirector(|p| if p == "/a" { "/b".into() } else { "/a".into() }).await;
    let out = fetch_err(&settings(), &server.url("/a"), Duration::from_secs(2)).await;
    assert!(matches!(out.error, FetchError::Redirect { .. }));
    assert!(out.message.contains("redirect loop"), "{}", out.message);
    assert!(out.message.contains("/b"), "{}", out.message);
    assert_eq!(out.requests, 2);
}

#[tokio::test]
async fn self_redirect_is_a_loop() {
    let _serial = SERIAL.lock().await;
    let server = redirector(|p| p.to_string()).await;
    let out = fetch_err(&settings(), &server.url("/same"), Duration::from_secs(2)).await;
    assert!(out.message.contains("redirect loop"), "{}", out.message);
    assert_eq!(out.requests, 1);
}

#[tokio::test]
async fn endless_redirect_chain_stops_at_the_limit() {
    let _serial = SERIAL.lock().await;
    let server = redirector(|p| format!("{p}x")).await;
    let s = FetchSettings {
        max_redirects: 3,
        ..settings()
    };
    let out = fetch_err(&s, &server.url("/r"), Duration::from_secs(2)).await;
    assert!(
        out.message.contains("too many redirects (more than 3"),
        "{}",
        out.message
    );
    assert_eq!(out.requests, 4, "the first request and 3 redirects");
}

#[tokio::test]
async fn redirect_to_a_file_url_is_refused() {
    let _serial = SERIAL.lock().await;
    let server = redirector(|_| "file:///etc/passwd".into()).await;
    let out = fetch_err(&settings(), &server.url("/go"), Duration::from_secs(2)).await;
    assert!(
        out.message.ends_with(
            "redirect to `file:///etc/passwd` refused: only http and https redirects are followed"
        ),
        "{}",
        out.message
    );
    assert_eq!(out.requests, 1);
}

#[tokio::test]
async fn redirect_to_ftp_is_refused() {
    let _serial = SERIAL.lock().await;
    let server = redirector(|_| "ftp://ftp.example.test/pub/file.txt".into()).await;
    let out = fetch_err(&settings(), &server.url("/go"), Duration::from_secs(2)).await;
    assert!(
        out.message
            .contains("redirect to `ftp://ftp.example.test/pub/file.txt` refused"),
        "{}",
        out.message
    );
}

#[tokio::test]
async fn redirect_without_location_or_with_garbage_is_an_error() {
    let _serial = SERIAL.lock().await;
    let server = serve(|mut stream, head: Head| async move {
        if head.path == "/none" {
            respond(&mut stream, "301 Moved Permanently", &[], b"").await;
        } else {
            respond(
                &mut stream,
                "301 Moved Permanently",
                &[("Location", "http://[::1")],
                b"",
            )
            .await;
        }
    })
    .await;
    let out = fetch_err(&settings(), &server.url("/none"), Duration::from_secs(2)).await;
    assert!(
        out.message
            .ends_with("redirect (HTTP 301) without a Location"),
        "{}",
        out.message
    );
    let out = fetch_err(&settings(), &server.url("/bad"), Duration::from_secs(2)).await;
    assert!(out.message.contains("not a valid URL"), "{}", out.message);
}

#[tokio::test]
async fn body_shorter_than_announced_is_an_error() {
    let _serial = SERIAL.lock().await;
    let server = serve(|mut stream, _: Head| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly this")
            .await;
        let _ = stream.shutdown().await;
    })
    .await;
    let out = fetch_err(&settings(), &server.url("/short"), Duration::from_secs(2)).await;
    assert!(
        out.message.contains("failed reading the body"),
        "{}",
        out.message
    );
}

#[tokio::test]
async fn corrupt_gzip_is_an_error() {
    let _serial = SERIAL.lock().await;
    let server = serve(|mut stream, _: Head| async move {
        let junk = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03this is not deflate at all";
        respond(&mut stream, "200 OK", &[("Content-Encoding", "gzip")], junk).await;
    })
    .await;
    let out = fetch_err(&settings(), &server.url("/gz"), Duration::from_secs(2)).await;
    assert!(
        out.message.contains("could not decompress the body"),
        "{}",
        out.message
    );
}

#[tokio::test]
async fn not_http_at_all_is_an_error() {
    let _serial = SERIAL.lock().await;
    let server = serve(|mut stream, _: Head| async move {
        let _ = stream
            .write_all(b"\x00\xff\xfeSSH-2.0-OpenSSH_9.6\r\n\x1b[31mgarbage\r\n\r\n")
            .await;
        let _ = stream.shutdown().await;
    })
    .await;
    let out = fetch_err(&settings(), &server.url("/"), Duration::from_secs(2)).await;
    assert!(out.message.contains("request failed"), "{}", out.message);
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    let _serial = SERIAL.lock().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let s = FetchSettings {
        retries: 2,
        ..settings()
    };
    let out = fetch_err(&s, &url, Duration::from_secs(2)).await;
    assert!(out.message.contains("could not connect"), "{}", out.message);
    assert_eq!(out.requests, 3);
}

#[tokio::test]
async fn endless_error_body_is_quoted_briefly() {
    let _serial = SERIAL.lock().await;
    let server = serve(|stream, _: Head| {
        stream_forever(
            stream,
            "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nRetry-After: 86400\r\n\r\n"
                .into(),
            None,
        )
    })
    .await;
    let s = FetchSettings {
        retries: 1,
        ..settings()
    };
    let out = fetch_err(&s, &server.url("/err"), Duration::from_secs(2)).await;
    assert_eq!(out.error.status(), Some(500));
    assert_eq!(
        out.requests, 2,
        "retried once, Retry-After capped at retry_max"
    );
    assert!(
        out.message
            .contains("HTTP 500 (Internal Server Error: 0000"),
        "{}",
        out.message
    );
    assert!(out.message.len() < 400, "{}", out.message);
}
