//! Security headers on every response, and bounds on what a request may ask.

use std::sync::LazyLock;

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

/// Largest request body accepted (the service is read-only: nothing needs one).
pub const MAX_BODY: usize = 16 * 1024;
/// Longest query string (filters, a phrase).
pub const MAX_QUERY: usize = 2048;
/// Longest path.
const MAX_PATH: usize = 1024;
/// Requests served at once; more wait (the store is read on 2 cores at most).
const MAX_IN_FLIGHT: usize = 16;

static IN_FLIGHT: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(MAX_IN_FLIGHT));

/// Styles only from our own stylesheet, no scripts at all, no frames, forms only to us.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every response, errors included.
pub async fn security(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::CACHE_CONTROL, "no-store");
    set(
        h,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        h,
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    set(
        h,
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    );
    response
}

/// Refuses oversized paths and queries and anything but GET/HEAD before any work is done,
/// and caps the requests in flight.
pub async fn limits(request: Request, next: Next) -> Response {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        let mut r = (
            StatusCode::METHOD_NOT_ALLOWED,
            "this service is read-only: only GET and HEAD",
        )
            .into_response();
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let uri = request.uri();
    if uri.path().len() > MAX_PATH {
        return (StatusCode::URI_TOO_LONG, "path too long").into_response();
    }
    if uri.query().is_some_and(|q| q.len() > MAX_QUERY) {
        return (
            StatusCode::URI_TOO_LONG,
            format!("query too long (at most {MAX_QUERY} bytes)"),
        )
            .into_response();
    }
    let Ok(_permit) = IN_FLIGHT.acquire().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    next.run(request).await
}
