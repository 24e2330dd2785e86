//! The daemon's control socket, `control.sock` in the data directory: how the command line
//! works beside a running daemon.
//!
//! sled admits one process, so while the daemon holds the store, `history`, `show`,
//! `diff`, `export`, `status`, `outbox` and `unfollow` send their arguments here instead
//! and the daemon runs the very same command on its store, streaming back what it prints:
//! the output is identical by construction. `outbox retry/drop` and `unfollow` are then
//! done by the daemon. `reload` asks the daemon to re-read its watchlists.
//!
//! The socket is created mode 0600, so only the daemon's user (and root) can use it.
//!
//! Protocol: the client sends one JSON line `{"args": [argv…]}`; the daemon answers with
//! frames `[tag: u8][length: u32 BE][bytes]`: `o` a chunk of standard output, then one `x`
//! whose JSON body is `{"code": exit code, "message": …, "problems": […]}`.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::live::Live;

/// Largest request line and largest frame accepted.
const MAX_REQUEST: u64 = 64 * 1024;
const CHUNK: usize = 64 * 1024;
/// Connections served at once.
const MAX_CLIENTS: usize = 4;

pub fn socket_path(data: &Path) -> PathBuf {
    data.join("control.sock")
}

#[derive(Serialize, Deserialize)]
struct Request {
    args: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct End {
    code: i32,
    message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    problems: Vec<String>,
}

/// The bound socket; removes its file when dropped.
pub struct ControlSocket {
    listener: tokio::net::UnixListener,
    path: PathBuf,
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Creates the socket. Call with the store open: holding its lock proves that a socket
/// file already there is a leftover of a daemon that died, safe to replace.
pub fn bind(data: &Path) -> Result<ControlSocket> {
    use std::os::unix::fs::PermissionsExt;
    let path = socket_path(data);
    let io = |source| Error::Io {
        path: path.clone(),
        source,
    };
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    let listener = tokio::net::UnixListener::bind(&path).map_err(io)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok(ControlSocket { listener, path })
}

/// Runs one command line against the live daemon, writing its standard output to the
/// writer: the CLI's, handed in so that this module needs nothing above it.
pub type Execute = fn(&Live, &[String], &mut dyn Write) -> Result<()>;

/// Answers clients until the task is dropped.
pub async fn serve(socket: ControlSocket, live: Arc<Live>, execute: Execute) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CLIENTS));
    loop {
        let Ok((stream, _)) = socket.listener.accept().await else {
            continue;
        };
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let live = live.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            match stream.into_std() {
                Ok(s) => {
                    if let Err(e) = answer(s, &live, execute) {
                        tracing::debug!(error = %e, "control client went away");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "control socket"),
            }
        });
    }
}

/// Buffers standard output into `o` frames.
struct Frames<'a> {
    stream: &'a mut UnixStream,
    buf: Vec<u8>,
}

impl Frames<'_> {
    fn frame(&mut self, tag: u8, bytes: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(bytes.len()).map_err(std::io::Error::other)?;
        self.stream.write_all(&[tag])?;
        self.stream.write_all(&len.to_be_bytes())?;
        self.stream.write_all(bytes)
    }
}

impl Write for Frames<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let chunk = std::mem::take(&mut self.buf);
            self.frame(b'o', &chunk)?;
        }
        Ok(())
    }
}

fn answer(mut stream: UnixStream, live: &Live, execute: Execute) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut line = String::new();
    BufReader::new((&stream).take(MAX_REQUEST)).read_line(&mut line)?;
    let result = match serde_json::from_str::<Request>(&line) {
        Ok(req) => {
            let mut out = Frames {
                stream: &mut stream,
                buf: Vec::new(),
            };
            let r = execute(live, &req.args, &mut out);
            out.flush()?;
            r
        }
        Err(e) => Err(Error::Usage(format!("bad control request: {e}"))),
    };
    let end = match result {
        Ok(()) => End {
            code: 0,
            message: String::new(),
            problems: Vec::new(),
        },
        Err(e) => End {
            code: e.exit_code(),
            message: e.to_string(),
            problems: match e {
                Error::Invalid(p) => p,
                _ => Vec::new(),
            },
        },
    };
    let body = serde_json::to_vec(&end).map_err(std::io::Error::other)?;
    Frames {
        stream: &mut stream,
        buf: Vec::new(),
    }
    .frame(b'x', &body)
}

/// Asks the daemon on `data` to run `args` (a whole command line), copying what it
/// prints to standard output. `None` when no daemon answers there.
pub fn ask(data: &Path, args: &[String]) -> Option<Result<()>> {
    let mut stream = UnixStream::connect(socket_path(data)).ok()?;
    Some(exchange(&mut stream, args))
}

fn exchange(stream: &mut UnixStream, args: &[String]) -> Result<()> {
    let lost = |e: std::io::Error| Error::Daemon {
        code: 1,
        message: format!("lost the connection to the daemon: {e}"),
    };
    let mut line = serde_json::to_vec(&Request {
        args: args.to_vec(),
    })?;
    line.push(b'\n');
    stream.write_all(&line).map_err(lost)?;
    let mut stdout = std::io::stdout().lock();
    loop {
        let mut head = [0u8; 5];
        stream.read_exact(&mut head).map_err(lost)?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if len > CHUNK * 2 {
            return Err(lost(std::io::Error::other("oversized frame")));
        }
        let mut body = vec![0u8; len];
        stream.read_exact(&mut body).map_err(lost)?;
        match head[0] {
            b'o' => stdout.write_all(&body).map_err(|source| Error::Io {
                path: "<stdout>".into(),
                source,
            })?,
            b'x' => {
                stdout.flush().map_err(|source| Error::Io {
                    path: "<stdout>".into(),
                    source,
                })?;
                let end: End = serde_json::from_slice(&body)?;
                return match end.code {
                    0 => Ok(()),
                    _ if !end.problems.is_empty() => Err(Error::Invalid(end.problems)),
                    code => Err(Error::Daemon {
                        code,
                        message: end.message,
                    }),
                };
            }
            _ => return Err(lost(std::io::Error::other("unknown frame"))),
        }
    }
}
