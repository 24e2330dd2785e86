//! The fetcher against well-behaved local servers: conditional GET, retries, Retry-After,
//! status errors, redirects, politeness (User-Agent, per-host interval, concurrency) and
//! charset decoding. Nothing here touches the internet.

#[path = "common/hostile.rs"]
mod hostile;

use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use policywatch::config::FetchSettings;
use policywatch::fetch::{self, Body, FetchError, Fetched, Fetcher, Request, Validators};
use tokio::time::Instant;
use url::Url;
use wiremock::matchers::{header, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const UA: &str = "policywatch-test/0.1 (+mailto:team@example.test)";

fn settings() -> FetchSettings {
    FetchSettings {
        user_agent: UA.into(),
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(5),
        max_body: 1024 * 1024,
        max_redirects: 5,
        retries: 2,
        retry_base: Duration::from_millis(1),
        retry_max: Duration::from_millis(20),
        concurrency: 4,
        per_host_interval: Duration::ZERO,
        allow_private: true,
    }
}

fn fetcher(s: &FetchSettings) -> Fetcher {
    Fetcher::new(s).expect("fetcher builds")
}

fn url(server: &MockServer, p: &str) -> Url {
    Url::parse(&format!("{}{p}", server.uri())).unwrap()
}

async fn get(f: &Fetcher, u: &Url, validators: Option<&Validators>) -> Result<Fetched, FetchError> {
    f.get(Request {
        url: u,
        validators,
        accept: "text/html",
        allow_redirects: &[],
    })
    .await
}

fn body(fetched: Fetched) -> Body {
    match fetched {
        Fetched::Body(b) => b,
        Fetched::NotModified => panic!("expected a body, got 304"),
    }
}

#[tokio::test]
async fn conditional_get_with_etag_round_trip() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/doc"))
        .and(header("if-none-match", "\"v1\""))
        .respond_with(ResponseTemplate::new(304).insert_header("etag", "\"v1\""))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/doc"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"v1\"")
                .insert_header("content-type", "text/plain")
                .set_body_string("hello"),
        )
        .expect(1)
        .mount(&server)
        .await;

    let f = fetcher(&settings());
    let u = url(&server, "/doc");
    let first = body(get(&f, &u, None).await.unwrap());
    assert_eq!(first.bytes, b"hello");
    assert_eq!(first.status, 200);
    assert_eq!(first.validators.etag.as_deref(), Some("\"v1\""));
    assert_eq!(first.validators.last_modified, None);

    let second = get(&f, &u, Some(&first.validators)).await.unwrap();
    assert!(matches!(second, Fetched::NotModified), "{second:?}");
    assert_eq!(f.requests_made(), 2);
}

#[tokio::test]
async fn conditional_get_with_last_modified_round_trip() {
    let lm = "Wed, 21 Oct 2015 07:28:00 GMT";
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/doc"))
        // `header()` would split the date at its comma.
        .and(move |r: &wiremock::Request| {
            r.headers
                .get("if-modified-since")
                .and_then(|v| v.to_str().ok())
                == Some(lm)
        })
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/doc"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("last-modified", lm)
                .set_body_string("v1"),
        )
        .expect(1)
        .mount(&server)
        .await;

    let f = fetcher(&settings());
    let u = url(&server, "/doc");
    let first = body(get(&f, &u, None).await.unwrap());
    assert_eq!(
        first.validators,
        Validators {
            etag: None,
            last_modified: Some(lm.into())
        }
    );
    let second = get(&f, &u, Some(&first.validators)).await.unwrap();
    assert!(matches!(second, Fetched::NotModified), "{second:?}");
}

#[tokio::test]
async fn changed_resource_returns_new_validators() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/doc"))
        .and(header("if-none-match", "\"old\""))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"new\"")
                .set_body_string("v2"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let f = fetcher(&settings());
    let old = Validators {
        etag: Some("\"old\"".into()),
        last_modified: None,
    };
    let b = body(get(&f, &url(&server, "/doc"), Some(&old)).await.unwrap());
    assert_eq!(b.bytes, b"v2");
    assert_eq!(b.validators.etag.as_deref(), Some("\"new\""));
}

#[tokio::test]
async fn retries_server_errors_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;

    let f = fetcher(&settings());
    let b = body(get(&f, &url(&server, "/flaky"), None).await.unwrap());
    assert_eq!(b.bytes, b"ok");
    assert_eq!(f.requests_made(), 3);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn gives_up_after_retries_with_status_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_string("down for maintenance"))
        .mount(&server)
        .await;

    let f = fetcher(&settings());
    let u = url(&server, "/down");
    let err = get(&f, &u, None).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(f.requests_made(), 3, "1 attempt + 2 retries");
    let msg = err.to_string();
    assert!(msg.starts_with(u.as_str()), "{msg}");
    assert!(msg.contains("HTTP 503"), "{msg}");
    assert!(msg.contains("Service Unavailable"), "{msg}");
    assert!(msg.contains("down for maintenance"), "{msg}");
}

#[tokio::test]
async fn backoff_doubles_between_retries() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let s = FetchSettings {
        retries: 3,
        retry_base: Duration::from_millis(20),
        retry_max: Duration::from_millis(50),
        ..settings()
    };
    let f = fetcher(&s);
    let started = Instant::now();
    let err = get(&f, &url(&server, "/x"), None).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.status(), Some(502));
    assert_eq!(f.requests_made(), 4);
    // 20ms + 40ms + 50ms (capped) of backoff.
    assert!(elapsed >= Duration::from_millis(110), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[tokio::test]
async fn too_many_requests_honours_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;

    // A backoff of a minute: the retry can only come quickly if `Retry-After: 0` is obeyed.
    let s = FetchSettings {
        retry_base: Duration::from_secs(60),
        retry_max: Duration::from_secs(60),
        ..settings()
    };
    let f = fetcher(&s);
    let started = Instant::now();
    let b = body(get(&f, &url(&server, "/busy"), None).await.unwrap());
    assert_eq!(b.bytes, b"ok");
    assert_eq!(f.requests_made(), 2);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn retry_after_is_capped_at_retry_max() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "3600"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let f = fetcher(&settings()); // retry_max 20ms
    let started = Instant::now();
    body(get(&f, &url(&server, "/x"), None).await.unwrap());
    assert_eq!(f.requests_made(), 2);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn retry_after_parsing_and_cap() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00
    let cap = Duration::from_secs(30);
    assert_eq!(fetch::retry_after("0", now, cap), Some(Duration::ZERO));
    assert_eq!(
        fetch::retry_after("7", now, cap),
        Some(Duration::from_secs(7))
    );
    assert_eq!(fetch::retry_after("3600", now, cap), Some(cap));
    assert_eq!(
        fetch::retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now, cap),
        Some(Duration::from_secs(10))
    );
    assert_eq!(
        fetch::retry_after("Wed, 21 Oct 2015 09:00:00 GMT", now, cap),
        Some(cap)
    );
    // A date in the past means "now".
    assert_eq!(
        fetch::retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now, cap),
        Some(Duration::ZERO)
    );
    assert_eq!(fetch::retry_after("later please", now, cap), None);
    assert_eq!(fetch::retry_after("1.5", now, cap), None);

    let base = Duration::from_millis(250);
    assert_eq!(policywatch::backoff::delay(1, base, cap), base);
    assert_eq!(
        policywatch::backoff::delay(3, base, cap),
        Duration::from_secs(1)
    );
    assert_eq!(policywatch::backoff::delay(40, base, cap), cap);
}

#[tokio::test]
async fn not_found_is_a_status_error_without_retries() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(404)
                .insert_header("content-type", "text/html")
                .set_body_string(
                    "<html><head><style>h1{}</style></head><body>\n<h1>No such\tpage</h1>\u{7}</body></html>",
                ),
        )
        .mount(&server)
        .await;

    let f = fetcher(&settings());
    let u = url(&server, "/missing");
    let err = get(&f, &u, None).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_eq!(f.requests_made(), 1, "4xx is not retried");
    assert_eq!(
        err.to_string(),
        format!("{u}: HTTP 404 (Not Found: No such page)")
    );
}

#[tokio::test]
async fn status_error_quotes_at_most_80_chars_of_text_and_no_binary() {
    let server = MockServer::start().await;
    Mock::given(path("/long"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("content-type", "text/plain")
                .set_body_string("x".repeat(5000)),
        )
        .mount(&server)
        .await;
    Mock::given(path("/binary"))
        .respond_with(
            ResponseTemplate::new(410)
                .insert_header("content-type", "image/png")
                .set_body_bytes(vec![0x89, b'P', b'N', b'G', 0, 0, 1]),
        )
        .mount(&server)
        .await;
    let f = fetcher(&settings());
    let msg = get(&f, &url(&server, "/long"), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(msg.contains("HTTP 403 (Forbidden: xxx"), "{msg}");
    assert!(
        msg.len() < url(&server, "/long").as_str().len() + 120,
        "{msg}"
    );
    let err = get(&f, &url(&server, "/binary"), None).await.unwrap_err();
    assert_eq!(err.status(), Some(410));
    assert!(err.to_string().ends_with("HTTP 410 (Gone)"), "{err}");
}

#[tokio::test]
async fn redirect_is_followed_and_final_url_reported() {
    let server = MockServer::start().await;
    Mock::given(path("/old"))
        .respond_with(ResponseTemplate::new(301).insert_header("location", "/middle"))
        .mount(&server)
        .await;
    Mock::given(path("/middle"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", format!("{}/new", server.uri())),
        )
        .mount(&server)
        .await;
    Mock::given(path("/new"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"n\"")
                .set_body_string("moved"),
        )
        .mount(&server)
        .await;

    let f = fetcher(&settings());
    let b = body(get(&f, &url(&server, "/old"), None).await.unwrap());
    assert_eq!(b.url, url(&server, "/new"));
    assert_eq!(b.bytes, b"moved");
    assert_eq!(b.validators.etag.as_deref(), Some("\"n\""));
    assert_eq!(f.requests_made(), 3);
}

#[tokio::test]
async fn identifying_user_agent_and_accept_are_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header("user-agent", UA))
        .and(header("accept", "application/json"))
        .and(header_exists("accept-encoding"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .expect(1)
        .mount(&server)
        .await;
    let f = fetcher(&settings());
    let u = url(&server, "/api");
    let got = f
        .get(Request {
            url: &u,
            validators: None,
            accept: "application/json",
            allow_redirects: &[],
        })
        .await
        .unwrap();
    assert_eq!(body(got).bytes, b"{}");
}

#[tokio::test]
async fn gzip_body_is_decompressed_and_capped_after_decompression() {
    let plain = "policy ".repeat(10_000); // 70 000 bytes
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(plain.as_bytes()).unwrap();
    let gz = enc.finish().unwrap();
    assert!(gz.len() < 1000);

    let server = MockServer::start().await;
    Mock::given(path("/gz"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-encoding", "gzip")
                .insert_header("content-type", "text/plain; charset=utf-8")
                .set_body_bytes(gz),
        )
        .mount(&server)
        .await;

    let f = fetcher(&settings());
    let b = body(get(&f, &url(&server, "/gz"), None).await.unwrap());
    assert_eq!(b.text().unwrap(), plain);

    // The same response with a 64 KiB cap: the compressed size would fit, the real one not.
    let small = FetchSettings {
        max_body: 64 * 1024,
        ..settings()
    };
    let f = fetcher(&small);
    let err = get(&f, &url(&server, "/gz"), None).await.unwrap_err();
    assert!(
        err.to_string().ends_with("body larger than 64 KiB limit"),
        "{err}"
    );
}

#[tokio::test]
async fn body_exactly_at_the_cap_is_accepted_one_more_byte_is_not() {
    let server = MockServer::start().await;
    Mock::given(path("/exact"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'a'; 1024]))
        .mount(&server)
        .await;
    Mock::given(path("/over"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'a'; 1025]))
        .mount(&server)
        .await;
    let s = FetchSettings {
        max_body: 1024,
        ..settings()
    };
    let f = fetcher(&s);
    assert_eq!(
        body(get(&f, &url(&server, "/exact"), None).await.unwrap())
            .bytes
            .len(),
        1024
    );
    let err = get(&f, &url(&server, "/over"), None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: body larger than 1 KiB limit (Content-Length: 1025 bytes)",
            url(&server, "/over")
        )
    );
    assert_eq!(f.requests_made(), 2, "a body over the cap is not retried");
}

/// A raw server that records when each request arrives and how many are in flight.
struct Recorder {
    arrivals: Mutex<Vec<Instant>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

async fn recording_server(hold: Duration) -> (hostile::RawServer, Arc<Recorder>) {
    let rec = Arc::new(Recorder {
        arrivals: Mutex::new(Vec::new()),
        in_flight: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
    });
    let r = rec.clone();
    let server = hostile::serve(move |mut stream, _head| {
        let r = r.clone();
        async move {
            r.arrivals.lock().unwrap().push(Instant::now());
            let now = r.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            r.max_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(hold).await;
            r.in_flight.fetch_sub(1, Ordering::SeqCst);
            hostile::respond(&mut stream, "200 OK", &[], b"ok").await;
        }
    })
    .await;
    (server, rec)
}

// Multi-threaded so the server notes arrivals while the client works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_host_interval_spaces_request_starts() {
    let interval = Duration::from_millis(50);
    let (server, rec) = recording_server(Duration::ZERO).await;
    let s = FetchSettings {
        per_host_interval: interval,
        ..settings()
    };
    let f = fetcher(&s);
    // Warm up this client first: its first connection costs more than later ones, which
    // would skew the first gap as the server sees it.
    body(get(&f, &server.url("/warm"), None).await.unwrap());
    rec.arrivals.lock().unwrap().clear();
    let urls: Vec<Url> = (0..4).map(|i| server.url(&format!("/p{i}"))).collect();
    // Four callers at once: they must queue, not all go together.
    let results = futures_util::future::join_all(urls.iter().map(|u| get(&f, u, None))).await;
    for r in results {
        body(r.unwrap());
    }
    let mut arrivals = rec.arrivals.lock().unwrap().clone();
    arrivals.sort();
    assert_eq!(arrivals.len(), 4);
    // Measured at the server, so scheduling and connection set-up on a busy machine can
    // shift an arrival by a few milliseconds either way; the client spaces the starts.
    let slack = Duration::from_millis(10);
    for pair in arrivals.windows(2) {
        assert!(
            pair[1] - pair[0] >= interval - slack,
            "arrivals {arrivals:?}"
        );
    }
    assert!(
        arrivals[3] - arrivals[0] >= 3 * interval - slack,
        "arrivals {arrivals:?}"
    );
}

#[tokio::test]
async fn per_host_interval_does_not_hold_back_other_hosts() {
    let (a, rec_a) = recording_server(Duration::ZERO).await;
    let (b, rec_b) = recording_server(Duration::ZERO).await;
    let s = FetchSettings {
        per_host_interval: Duration::from_millis(300),
        ..settings()
    };
    let f = fetcher(&s);
    let (ua, ub) = (a.url("/x"), b.url("/x"));
    let started = Instant::now();
    let (ra, rb) = tokio::join!(get(&f, &ua, None), get(&f, &ub, None));
    body(ra.unwrap());
    body(rb.unwrap());
    // Different hosts (ports) do not wait for each other.
    assert!(started.elapsed() < Duration::from_millis(250));
    assert_eq!(rec_a.arrivals.lock().unwrap().len(), 1);
    assert_eq!(rec_b.arrivals.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn global_concurrency_limit_is_honoured() {
    let (server, rec) = recording_server(Duration::from_millis(30)).await;
    let s = FetchSettings {
        concurrency: 2,
        ..settings()
    };
    let f = fetcher(&s);
    let urls: Vec<Url> = (0..8).map(|i| server.url(&format!("/c{i}"))).collect();
    let results = futures_util::future::join_all(urls.iter().map(|u| get(&f, u, None))).await;
    for r in results {
        body(r.unwrap());
    }
    assert_eq!(rec.arrivals.lock().unwrap().len(), 8);
    assert_eq!(rec.max_in_flight.load(Ordering::SeqCst), 2);
}

async fn text_of(content_type: Option<&str>, bytes: &[u8]) -> Result<String, FetchError> {
    let server = MockServer::start().await;
    let mut t = ResponseTemplate::new(200).set_body_bytes(bytes.to_vec());
    if let Some(ct) = content_type {
        t = t.insert_header("content-type", ct);
    }
    Mock::given(path("/t")).respond_with(t).mount(&server).await;
    let f = fetcher(&settings());
    body(get(&f, &url(&server, "/t"), None).await.unwrap())
        .text()
        .map(String::from)
}

#[tokio::test]
async fn charset_from_content_type_header() {
    let text = text_of(Some("text/plain; charset=ISO-8859-1"), b"Caf\xe9 cr\xe8me")
        .await
        .unwrap();
    assert_eq!(text, "Café crème");
}

#[tokio::test]
async fn charset_from_meta_tag() {
    let html = b"<!doctype html><html><head><meta charset=\"windows-1252\"><title>x</title></head><body>\x93quoted\x94 \x80</body></html>";
    let text = text_of(Some("text/html"), html).await.unwrap();
    assert!(text.contains("\u{201c}quoted\u{201d} \u{20ac}"), "{text}");
    let legacy = b"<html><head><META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=iso-8859-1\"></head>Gen\xe8ve</html>";
    assert!(text_of(None, legacy).await.unwrap().contains("Genève"));
}

#[tokio::test]
async fn charset_from_xml_declaration_and_bom() {
    let xml = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss><title>S\xe3o</title></rss>";
    assert!(text_of(Some("application/rss+xml"), xml)
        .await
        .unwrap()
        .contains("São"));
    let bom = b"\xef\xbb\xbfplain \xc3\xa9";
    assert_eq!(text_of(None, bom).await.unwrap(), "plain é");
}

#[tokio::test]
async fn invalid_utf8_is_an_error_naming_the_offset() {
    let server = MockServer::start().await;
    Mock::given(path("/bad"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/html; charset=utf-8")
                .set_body_bytes(b"<p>ok</p>\xc3\x28".to_vec()),
        )
        .mount(&server)
        .await;
    let f = fetcher(&settings());
    let u = url(&server, "/bad");
    let err = body(get(&f, &u, None).await.unwrap()).text().unwrap_err();
    assert_eq!(err.to_string(), format!("{u}: invalid UTF-8 at byte 9"));
}

#[tokio::test]
async fn unknown_charset_is_an_error_naming_it() {
    let err = text_of(Some("text/html; charset=x-martian-7"), b"hi")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("unknown charset `x-martian-7`"), "{msg}");
    assert!(msg.starts_with("http://"), "{msg}");
}

#[tokio::test]
async fn non_http_url_is_refused_without_a_request() {
    let f = fetcher(&settings());
    let u = Url::parse("file:///etc/passwd").unwrap();
    let err = get(&f, &u, None).await.unwrap_err();
    assert!(err.to_string().starts_with("file:///etc/passwd: "), "{err}");
    assert!(err.to_string().contains("only http and https"), "{err}");
    assert_eq!(f.requests_made(), 0);
}

#[tokio::test]
async fn fetches_can_run_on_spawned_tasks() {
    let server = MockServer::start().await;
    Mock::given(path("/s"))
        .respond_with(ResponseTemplate::new(200).set_body_string("sent"))
        .mount(&server)
        .await;
    let f = Arc::new(fetcher(&settings()));
    let u = url(&server, "/s");
    let task = tokio::spawn({
        let f = f.clone();
        async move {
            let got = f
                .get(Request {
                    url: &u,
                    validators: None,
                    accept: "*/*",
                    allow_redirects: &[],
                })
                .await;
            body(got.unwrap()).bytes
        }
    });
    assert_eq!(task.await.unwrap(), b"sent");
    assert_eq!(f.requests_made(), 1);
}

/// A page on one loopback server redirecting to an "internal" page on another port.
async fn redirect_to_other_port() -> (MockServer, MockServer) {
    let public = MockServer::start().await;
    let internal = MockServer::start().await;
    Mock::given(path("/secret"))
        .respond_with(ResponseTemplate::new(200).set_body_string("internal secret"))
        .mount(&internal)
        .await;
    Mock::given(path("/page"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/secret", internal.uri())),
        )
        .mount(&public)
        .await;
    (public, internal)
}

#[tokio::test]
async fn redirect_to_another_site_is_refused_and_not_fetched() {
    let (public, internal) = redirect_to_other_port().await;
    let f = fetcher(&settings());
    let err = get(&f, &url(&public, "/page"), None).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, FetchError::Redirect { .. }), "{msg}");
    let port = internal.address().port();
    assert!(
        msg.contains(&format!(
            "redirect to `http://127.0.0.1:{port}/secret` refused: it leaves 127.0.0.1:{}",
            public.address().port()
        )),
        "{msg}"
    );
    assert!(msg.contains("allow_redirects"), "{msg}");
    assert!(
        internal.received_requests().await.unwrap().is_empty(),
        "the internal page was never asked for"
    );
    assert_eq!(f.requests_made(), 1, "a refusal is not retried");
}

#[tokio::test]
async fn redirect_to_a_listed_host_is_followed() {
    let (public, internal) = redirect_to_other_port().await;
    let allow = vec![format!("127.0.0.1:{}", internal.address().port())];
    let f = fetcher(&settings());
    let b = body(
        f.get(Request {
            url: &url(&public, "/page"),
            validators: None,
            accept: "*/*",
            allow_redirects: &allow,
        })
        .await
        .unwrap(),
    );
    assert_eq!(b.url, url(&internal, "/secret"));
}

#[tokio::test]
async fn loopback_is_refused_unless_allowed() {
    let server = MockServer::start().await;
    Mock::given(path("/"))
        .respond_with(ResponseTemplate::new(200).set_body_string("hi"))
        .mount(&server)
        .await;
    let strict = FetchSettings {
        allow_private: false,
        ..settings()
    };
    let f = fetcher(&strict);
    let err = get(&f, &url(&server, "/"), None).await.unwrap_err();
    assert!(matches!(err, FetchError::Refused { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}/: 127.0.0.1 is a loopback address: refused (set `[fetch] allow_private = true` to allow internal addresses)",
            server.uri()
        )
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_public_name_resolving_to_a_private_address_is_refused() {
    let strict = FetchSettings {
        allow_private: false,
        ..settings()
    };
    let f = Fetcher::with_fixed_hosts(
        &strict,
        &[("news.example.test", "10.20.30.40".parse().unwrap())],
    )
    .unwrap();
    let u = Url::parse("http://news.example.test/feed").unwrap();
    let started = std::time::Instant::now();
    let err = get(&f, &u, None).await.unwrap_err();
    assert!(matches!(err, FetchError::Refused { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "http://news.example.test/feed: news.example.test resolves to 10.20.30.40, a private address: refused (set `[fetch] allow_private = true` to allow internal addresses)"
    );
    // Refused before any connection, and not retried.
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(f.requests_made(), 1);
}

#[tokio::test]
async fn error_bodies_are_quoted_short() {
    let server = MockServer::start().await;
    let page = format!(
        "<html><body><p>{}</p></body></html>",
        "secret-token ".repeat(100)
    );
    Mock::given(path("/"))
        .respond_with(ResponseTemplate::new(404).set_body_string(page))
        .mount(&server)
        .await;
    let f = fetcher(&settings());
    let msg = get(&f, &url(&server, "/"), None)
        .await
        .unwrap_err()
        .to_string();
    let quote = msg.split("(Not Found: ").nth(1).expect("quoted");
    assert!(quote.chars().count() <= 82, "{msg}");
    assert!(!msg.contains('<'), "{msg}");
}
