//! The README's offline quick start, step by step, so it stays true: the example site in
//! `examples/site` served on loopback (here by an in-process server instead of python),
//! `check`, an edit, `check`, `history`, `show`.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::http::{header, StatusCode, Uri};
use axum::response::IntoResponse;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Serves the files of `dir` as they are on disk at each request, like
/// `python3 -m http.server`.
async fn serve_dir(dir: PathBuf) -> SocketAddr {
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let path = dir.join(uri.path().trim_start_matches('/'));
        async move {
            match std::fs::read(&path) {
                Ok(bytes) => {
                    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], bytes).into_response()
                }
                Err(_) => StatusCode::NOT_FOUND.into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{} has no `{from}`", file.display());
    std::fs::write(file, text.replace(from, to)).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_offline_quick_start_works_as_the_readme_says() {
    let root = tempfile::tempdir().unwrap();
    let site = root.path().join("pw-site");
    copy_dir(&examples().join("site"), &site);
    let addr = serve_dir(site.clone()).await;

    // The example's own config and watchlist, pointed at this server's port.
    std::fs::copy(
        examples().join("policywatch.toml"),
        root.path().join("policywatch.toml"),
    )
    .unwrap();
    std::fs::create_dir(root.path().join("watchlists")).unwrap();
    let list = std::fs::read_to_string(examples().join("watchlists/example.toml")).unwrap();
    assert!(list.contains("127.0.0.1:8089"), "the README's port");
    std::fs::write(
        root.path().join("watchlists/example.toml"),
        list.replace("127.0.0.1:8089", &addr.to_string()),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = common::process(root.path())
            .env("POLICYWATCH_LOG", "warn")
            .args(args)
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            out.status,
            text(&out.stderr)
        );
        (text(&out.stdout), text(&out.stderr))
    };

    assert_eq!(run(&["validate"]).0, "1 watchlist, 2 watches: OK\n");
    let (stdout, stderr) = run(&["check"]);
    assert_eq!(stdout, "", "the first check only records baselines");
    assert!(
        stderr.contains("checked 2 watches: 2 baseline, 0 changed, 0 failed"),
        "{stderr}"
    );

    // The README's edits: a new closing date, and a new report on the publications page.
    edit(
        &site.join("guidance.html"),
        "31 March 2027",
        "30 April 2027",
    );
    edit(
        &site.join("index.html"),
        "<li><a href=\"/guidance.html\">",
        "<li><a href=\"/reports/progress-2026.pdf\">Progress report 2026</a></li>\n  <li><a href=\"/guidance.html\">",
    );
    let (stdout, stderr) = run(&["check"]);
    assert!(
        stderr.contains("checked 2 watches: 0 baseline, 2 changed, 0 failed"),
        "{stderr}"
    );
    assert!(
        stdout.contains("[page.changed] example-guidance — Statutory guidance on victim support"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+The consultation on this guidance closes on 30 April 2027."),
        "{stdout}"
    );
    assert!(stdout.contains("Progress report 2026"), "{stdout}");

    let (history, _) = run(&["history"]);
    assert_eq!(history.lines().count(), 2, "{history}");
    let guidance = history
        .lines()
        .find(|l| l.contains("example-guidance"))
        .unwrap();
    let id = guidance.split_whitespace().next().unwrap();
    let (show, _) = run(&["show", id]);
    assert!(show.starts_with(&format!("#{id} ")), "{show}");
    assert!(
        show.contains("-The consultation on this guidance closes on 31 March 2027."),
        "{show}"
    );
    assert!(
        show.contains("+The consultation on this guidance closes on 30 April 2027."),
        "{show}"
    );
}
