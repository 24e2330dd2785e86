//! Who may use the web service: a bearer token (required off loopback), and, without a
//! token, only requests addressed to the loopback host (so a web page elsewhere cannot
//! reach the service through DNS rebinding).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The token from `POLICYWATCH_WEB_TOKEN`, else the systemd credential `web-token`
/// (`$CREDENTIALS_DIRECTORY/web-token`); trimmed; empty counts as none.
pub fn token_from_env() -> Result<Option<String>> {
    if let Some(t) = std::env::var_os("POLICYWATCH_WEB_TOKEN") {
        let t = t.to_string_lossy().trim().to_string();
        if !t.is_empty() {
            return Ok(Some(t));
        }
    }
    let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") else {
        return Ok(None);
    };
    let path = Path::new(&dir).join("web-token");
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(Some(t.trim().to_string()).filter(|t| !t.is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io { path, source }),
    }
}

/// The access rule of a running service.
#[derive(Clone)]
pub struct Access {
    /// SHA-256 of the token: compared in constant time, whatever the lengths.
    token: Option<[u8; 32]>,
    /// Host names a request may be addressed to when there is no token.
    hosts: Vec<String>,
}

impl Access {
    /// Refuses a non-loopback address without a token.
    pub fn new(listen: SocketAddr, token: Option<String>) -> Result<Access> {
        if token.is_none() && !listen.ip().is_loopback() {
            return Err(Error::Usage(format!(
                "web.listen = \"{listen}\" is not a loopback address, and no access token is set: \
                 put one in POLICYWATCH_WEB_TOKEN or the systemd credential `web-token` \
                 ($CREDENTIALS_DIRECTORY/web-token), or listen on 127.0.0.1"
            )));
        }
        let ip = match listen.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        Ok(Access {
            token: token.map(|t| digest(t.as_bytes())),
            hosts: vec![
                "localhost".into(),
                "127.0.0.1".into(),
                "[::1]".into(),
                ip.to_string(),
            ],
        })
    }

    fn allows_token(&self, presented: Option<&[u8]>) -> bool {
        match (&self.token, presented) {
            (None, _) => true,
            (Some(want), Some(got)) => constant_time_eq(want, &digest(got)),
            (Some(_), None) => false,
        }
    }

    fn allows_host(&self, host: Option<&str>) -> bool {
        if self.token.is_some() {
            return true;
        }
        let Some(host) = host else { return false };
        // Strip the port: `[::1]:8686`, `127.0.0.1:8686`, `localhost`.
        let name = match host.rfind(':') {
            Some(i) if !host[i..].contains(']') => &host[..i],
            _ => host,
        };
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(name))
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Equal or not, in time that does not depend on where they differ.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token a request presents: `Authorization: Bearer T`, or Basic with T as password.
fn presented(request: &Request) -> Option<Vec<u8>> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().as_bytes().to_vec());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64_decode(rest.trim())?;
        let colon = decoded.iter().position(|&b| b == b':')?;
        return Some(decoded[colon + 1..].to_vec());
    }
    None
}

/// Standard base64 (padding optional), enough for a Basic credential.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() > 4096 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().take_while(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Middleware: 401 without the token, 421 for a foreign host name without one.
pub async fn check(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    if !access.allows_host(host.as_deref()) {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "this service answers only requests addressed to localhost",
        )
            .into_response();
    }
    if !access.allows_token(presented(&request).as_deref()) {
        let mut r = (
            StatusCode::UNAUTHORIZED,
            "an access token is required: send `Authorization: Bearer <token>`",
        )
            .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"policywatch\", charset=\"UTF-8\""),
        );
        return r;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_digest_and_basic_carries_one() {
        let a = Access::new("0.0.0.0:1".parse().unwrap(), Some("s3cret".into())).unwrap();
        assert!(a.allows_token(Some(b"s3cret")));
        assert!(!a.allows_token(Some(b"s3cre")));
        assert!(!a.allows_token(None));
        assert_eq!(base64_decode("dTpzM2NyZXQ=").unwrap(), b"u:s3cret");
    }

    #[test]
    fn off_loopback_needs_a_token_and_loopback_needs_its_host() {
        let e = Access::new("0.0.0.0:8686".parse().unwrap(), None)
            .err()
            .unwrap();
        assert!(e.to_string().contains("not a loopback address"), "{e}");
        let a = Access::new("127.0.0.1:8686".parse().unwrap(), None).unwrap();
        assert!(a.allows_host(Some("127.0.0.1:8686")));
        assert!(a.allows_host(Some("localhost:8686")));
        assert!(a.allows_host(Some("[::1]:8686")));
        assert!(!a.allows_host(Some("evil.example:8686")));
        assert!(!a.allows_host(None));
    }
}
