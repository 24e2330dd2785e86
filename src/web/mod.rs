//! The daemon's local HTTP service: the history browser (server-rendered HTML that needs no
//! JavaScript), the JSON API under `/api/v1/`, and Atom feeds.
//!
//! Off unless `[web] listen` is set. Everything it serves is read-only: no path writes to
//! the store. Off loopback it refuses to start without an access token; with a token every
//! request must carry it (`Authorization: Bearer …`, or HTTP Basic with the token as
//! password so a browser can ask for it). Every response carries strict security headers,
//! and request bodies, URIs and query strings are bounded.
//!
//! One file per job: [`auth`] (token, hosts), [`headers`] (security headers, limits),
//! [`filter`] (the change index behind the timeline, its filters and paging), [`api`]
//! (JSON), [`pages`] (HTML), [`html`] (escaping, layout, diffs), [`svg`] (pictures),
//! [`atom`] (feeds).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::config::WebSettings;
use crate::error::{Error, Result};
use crate::live::Live;

pub mod api;
mod atom;
pub mod auth;
mod filter;
mod headers;
mod html;
mod pages;
mod svg;

/// What every handler shares.
pub struct WebState {
    pub live: Arc<Live>,
    /// Changes seen so far, for filtering and paging without decoding every record.
    index: Mutex<filter::ChangeIndex>,
}

pub type Shared = Arc<WebState>;

impl WebState {
    pub fn new(live: Arc<Live>) -> Shared {
        Arc::new(WebState {
            live,
            index: Mutex::default(),
        })
    }
}

/// The whole service: routes, authentication and headers.
pub fn router(state: Shared, access: auth::Access) -> Router {
    let api = Router::new()
        .route("/changes", get(api::changes))
        .route("/changes/{id}", get(api::change))
        .route("/watches", get(api::watches))
        .route("/watches/{id}", get(api::watch))
        .route("/watches/{id}/versions", get(api::versions))
        .route("/watches/{id}/versions/{seq}", get(api::version))
        .route("/watches/{id}/diff", get(api::diff))
        .route("/phrase", get(api::phrase))
        .route("/status", get(api::status))
        .route("/outbox", get(api::outbox))
        .fallback(api::not_found);
    Router::new()
        .route("/", get(pages::timeline))
        .route("/changes.csv", get(pages::timeline_csv))
        .route("/changes/{id}", get(pages::change))
        .route("/watches", get(pages::watches))
        .route("/watches/{id}", get(pages::watch))
        .route("/phrase", get(pages::phrase))
        .route("/status", get(pages::status))
        .route("/outbox", get(pages::outbox))
        .route("/feeds/{file}", get(atom::watchlist_feed))
        .route("/feeds/watch/{file}", get(atom::watch_feed))
        .route("/style.css", get(html::stylesheet))
        .nest("/api/v1", api)
        .fallback(pages::not_found)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(access),
            auth::check,
        ))
        .layer(axum::middleware::from_fn(headers::limits))
        .layer(axum::middleware::from_fn(headers::security))
        .layer(axum::extract::DefaultBodyLimit::max(headers::MAX_BODY))
}

/// Binds the configured address; `None` when the service is off.
///
/// Off loopback, a token is required: without one this is a startup error, never a
/// service open to the network.
pub async fn bind(
    settings: &WebSettings,
    token: Option<String>,
) -> Result<Option<(TcpListener, auth::Access)>> {
    let Some(addr) = settings.listen else {
        return Ok(None);
    };
    let access = auth::Access::new(addr, token)?;
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        Error::Usage(format!(
            "web.listen: cannot listen on {addr}: {e} (is another service using the port?)"
        ))
    })?;
    Ok(Some((listener, access)))
}

/// Serves until the process ends; logs the address it serves on.
pub async fn serve(listener: TcpListener, state: Shared, access: auth::Access) -> Result<()> {
    let addr = listener.local_addr().ok();
    if let Some(a) = addr {
        tracing::info!(address = %a, "history browser listening on http://{a}/");
    }
    let app = router(state, access).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await.map_err(|e| Error::Io {
        path: "web.listen".into(),
        source: e,
    })
}

/// An error a handler answers with: a status and a message the user can act on.
#[derive(Debug)]
pub struct WebError {
    pub status: StatusCode,
    pub message: String,
    /// Rendered as a JSON object (API) or an HTML page (browser).
    pub json: bool,
}

impl WebError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        WebError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            json: false,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        WebError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
            json: false,
        }
    }

    pub fn json(mut self) -> Self {
        self.json = true;
        self
    }
}

impl From<Error> for WebError {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::NotFound { .. } | Error::UnknownWatch(_) => StatusCode::NOT_FOUND,
            Error::Usage(_) | Error::Invalid(_) => StatusCode::BAD_REQUEST,
            _ => {
                tracing::error!(error = %e, "web request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        WebError {
            status,
            message: e.to_string(),
            json: false,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if self.json {
            (
                self.status,
                axum::Json(serde_json::json!({ "error": self.message })),
            )
                .into_response()
        } else {
            let title = self.status.canonical_reason().unwrap_or("Error");
            let body = format!("<p class=\"error\">{}</p>", html::esc(&self.message));
            (self.status, html::page(title, "", &body)).into_response()
        }
    }
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    state: &Shared,
    f: impl FnOnce(&WebState) -> std::result::Result<T, WebError> + Send + 'static,
) -> std::result::Result<T, WebError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || f(&state))
        .await
        .map_err(|e| WebError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("request failed: {e}"),
            json: false,
        })?
}

/// A watch id from a path: the watchlist rule (`[A-Za-z0-9._-]+`), so nothing else can
/// reach the store.
fn watch_id(id: &str) -> std::result::Result<&str, WebError> {
    let ok = !id.is_empty()
        && id.len() <= 200
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(id)
    } else {
        Err(WebError::not_found(format!(
            "no such watch `{}`",
            id.chars().take(80).collect::<String>()
        )))
    }
}
