//! Exit codes a script can use (issue 15): 3 when every watch of a `check` failed, with
//! what the failures share; 2 for a `--config` file that does not exist.

mod common;

use common::Project;

#[test]
fn check_exits_3_when_every_watch_failed_and_says_why() {
    // A loopback port nobody listens on: every fetch is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = Project::new();
    p.config("[fetch]\nallow_private = true\nretries = 0\ntimeout_secs = 2.0\n");
    p.watchlist(
        "team.toml",
        &format!(
            "name = \"team\"\n[[watch]]\nid = \"a\"\nkind = \"page\"\nurl = \"http://127.0.0.1:{port}/a\"\n\n[[watch]]\nid = \"b\"\nkind = \"feed\"\nurl = \"http://127.0.0.1:{port}/b\"\n"
        ),
    );
    let out = p.cmd().arg("check").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.ends_with(
            "policywatch: 2 of 2 watches failed: connections refused — are the sources (or the [sources] mirrors) up?\n"
        ),
        "{stderr}"
    );
}

#[test]
fn a_missing_config_file_is_a_usage_error() {
    let p = Project::new();
    std::fs::remove_file(p.path().join("policywatch.toml")).unwrap();
    let out = p.cmd().arg("validate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "policywatch: config file `policywatch.toml` does not exist (named by --config or POLICYWATCH_CONFIG)\n"
    );
}
