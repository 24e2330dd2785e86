//! Errors in our words (issue 15): each message a newcomer meets, with its exit code.

mod common;

use common::Project;

/// Rust's and serde's words that must never reach a user.
fn assert_no_rust_words(stderr: &str) {
    for word in [
        "f64",
        "u64",
        "usize",
        "u32",
        "struct Raw",
        "invalid type",
        "unknown field",
    ] {
        assert!(!stderr.contains(word), "`{word}` in: {stderr}");
    }
}

#[test]
fn every_config_problem_is_listed_with_its_place_and_a_suggestion() {
    let p = Project::new();
    p.config(
        "schedul = \"*/30 * * * *\"\n\
         [fetch]\n\
         allow_private = true\n\
         timout_secs = 5.0\n\
         [discord]\n\
         token = \"abc.def\"\n\
         chanel = 123\n",
    );
    p.watchlist("team.toml", "name = \"team\"\n");
    let (code, _, stderr) = p.run(&["validate"]);
    assert_eq!(code, Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{stderr}");
    assert!(
        lines[0].starts_with("policywatch.toml:1:1: unknown key `schedul` in the config file (top level) (did you mean `schedule`?); allowed keys: schedule, timezone,"),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("policywatch.toml:4:1: unknown key `timout_secs` in [fetch] (did you mean `timeout_secs`?); allowed keys: user_agent,"),
        "{stderr}"
    );
    assert!(
        lines[2].starts_with("policywatch.toml:6:1: the Discord bot token does not go in the config file: set it in the environment as POLICYWATCH_DISCORD_TOKEN, or give it to the service as the systemd credential `discord-token`"),
        "{stderr}"
    );
    assert!(!stderr.contains("abc.def"), "the token is not repeated");
    assert!(
        lines[3].starts_with(
            "policywatch.toml:7:1: unknown key `chanel` in [discord] (did you mean `channel`?)"
        ),
        "{stderr}"
    );
    assert_no_rust_words(&stderr);
}

#[test]
fn a_value_out_of_bounds_points_at_its_key() {
    let p = Project::new();
    p.config("timezone = \"Europe/Lundon\"\n[fetch]\nallow_private = true\n");
    p.watchlist("team.toml", "name = \"team\"\n");
    let (code, _, stderr) = p.run(&["validate"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "policywatch.toml:1:1: timezone: unknown time zone `Europe/Lundon`: use an IANA name such as `Europe/London` or `UTC`\n"
    );
    p.config("[fetch]\nallow_private = true\nconcurrency = 0\n");
    let (code, _, stderr) = p.run(&["validate"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "policywatch.toml:3:1: fetch.concurrency must be at least 1\n"
    );
}

#[test]
fn values_of_the_wrong_type_are_all_named_in_words() {
    let p = Project::new();
    p.config(
        "[fetch]\nallow_private = \"yes\"\ntimeout_secs = \"30\"\nretries = -1\n[store]\ncache_capacity_bytes = 1.5\n",
    );
    p.watchlist("team.toml", "name = \"team\"\n");
    let (code, _, stderr) = p.run(&["validate"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "policywatch.toml:2:1: `fetch.allow_private`: expected `true` or `false`, found string \"yes\"\n\
         policywatch.toml:3:1: `fetch.timeout_secs`: expected a number (e.g. 30.0), found string \"30\"\n\
         policywatch.toml:4:1: `fetch.retries`: expected a whole number, 0 or more, found integer `-1`\n\
         policywatch.toml:6:1: `store.cache_capacity_bytes`: expected a whole number, 0 or more, found floating point `1.5`\n"
    );
}

/// A value of the wrong type does not hide a bad value elsewhere: one run lists both, in
/// the order of the file.
#[test]
fn mistakes_of_type_and_of_value_are_listed_together() {
    let p = Project::new();
    p.config("[fetch]\nconcurrency = \"lots\"\ntimeout_secs = -5\nuser_agent = 7\n");
    p.watchlist("team.toml", "name = \"team\"\n");
    let (code, _, stderr) = p.run(&["validate"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "policywatch.toml:2:1: `fetch.concurrency`: expected a whole number, 0 or more, found string \"lots\"\n\
         policywatch.toml:3:1: fetch.timeout_secs: `-5` is not a number of seconds, 0 or more\n\
         policywatch.toml:4:1: `fetch.user_agent`: expected a string, found integer `7`\n"
    );
}

#[test]
fn a_cron_mistake_names_the_field_and_its_range_in_the_users_expression() {
    let p = Project::new();
    p.watchlist(
        "team.toml",
        "name = \"team\"\nschedule = \"0 25 * * *\"\n\n[[watch]]\nid = \"a\"\nkind = \"page\"\nurl = \"https://example.org/\"\nschedule = \"*/15 9-17 * * Mon-Fry\"\n",
    );
    let (code, _, stderr) = p.run(&["validate"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "watchlists/team.toml:2:12: hour field `25` in `0 25 * * *`: `25` is out of range; hours are 0–23\n\
         watchlists/team.toml:8:12: day-of-week field `Mon-Fry` in `*/15 9-17 * * Mon-Fry`: `Fry` is not a number or a name; days of the week are Sun–Sat (names, e.g. `Mon-Fri`)\n"
    );
    assert!(!stderr.contains("must be less than"));
}

#[test]
fn a_bad_css_selector_says_which_part_is_wrong() {
    let p = Project::new();
    p.watchlist(
        "team.toml",
        "name = \"team\"\n\n[[watch]]\nid = \"a\"\nkind = \"page\"\nurl = \"https://example.org/\"\nselect = [\"main\", \"main > p[\"]\nignore_selectors = [\"a:hover\"]\n",
    );
    let (code, _, stderr) = p.run(&["validate"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "watchlists/team.toml:7:19: bad CSS selector `main > p[`: in `p[`, `[` is never closed (an attribute test looks like `[name]` or `[name=\"value\"]`)\n\
         watchlists/team.toml:8:21: bad CSS selector `a:hover`: `:hover` is not a pseudo-class or pseudo-element that can be matched on a fetched page (states such as :hover or :visited never apply)\n"
    );
}

#[test]
fn a_file_where_the_data_directory_belongs_is_named() {
    let p = Project::new();
    p.watchlist("team.toml", "name = \"team\"\n");
    std::fs::write(p.data(), "not a store").unwrap();
    let (code, _, stderr) = p.run(&["history"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "policywatch: cannot open the store at data: it is a file, not a directory. Point --data \
         (POLICYWATCH_DATA) at a directory; to start a new store, move the file aside\n"
    );
}

#[test]
fn an_empty_watchlists_directory_is_a_warning_in_validate() {
    let p = Project::new();
    let (code, stdout, stderr) = p.run(&["validate"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "0 watchlists, 0 watches: OK\n");
    assert_eq!(
        stderr,
        "policywatch: warning: no watchlists in watchlists (no *.toml files): nothing will be \
         checked; see `watchlists/` in the README, or point --watchlists at yours\n"
    );
}

#[test]
fn with_json_logs_every_stderr_line_is_json() {
    let p = Project::new();
    let json = |stderr: &str| -> Vec<serde_json::Value> {
        assert!(!stderr.trim().is_empty());
        stderr
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
            .collect()
    };
    // A warning.
    let (code, _, stderr) = p.run(&["--log-format", "json", "validate"]);
    assert_eq!(code, Some(0));
    let lines = json(&stderr);
    assert_eq!(lines[0]["level"], "WARN");
    assert!(lines[0]["fields"]["message"]
        .as_str()
        .unwrap()
        .starts_with("warning: no watchlists in watchlists"));

    // Every problem of a config file, and the exit code.
    p.config("[fetch]\nallow_private = true\ntimout_secs = 1.0\n[discord]\ntoken = \"x\"\n");
    let (code, _, stderr) = p.run(&["--log-format", "json", "validate"]);
    assert_eq!(code, Some(2));
    let lines = json(&stderr);
    assert_eq!(lines.len(), 2, "{stderr}");
    assert_eq!(lines[0]["level"], "ERROR");
    assert_eq!(lines[0]["fields"]["exit_code"], 2);
    assert!(lines[0]["fields"]["message"]
        .as_str()
        .unwrap()
        .starts_with("policywatch.toml:3:1: unknown key `timout_secs`"));

    // A usage mistake, before the command line is even accepted.
    let (code, _, stderr) = p.run(&["--log-format", "json", "show"]);
    assert_eq!(code, Some(2));
    assert_eq!(json(&stderr)[0]["fields"]["exit_code"], 2);
}

#[test]
fn a_store_held_by_another_process_is_named_with_its_pid_and_status_says_starting() {
    let p = Project::new();
    p.watchlist("team.toml", "name = \"team\"\n");
    // This test process holds the store, as a daemon would.
    let _held = policywatch::store::SledStore::open(&p.data(), 1 << 20).unwrap();
    let (code, _, stderr) = p.run(&["history"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "policywatch: cannot open the store at data: it is in use by another policywatch process (pid {})",
            std::process::id()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("Nothing is wrong with the store"),
        "{stderr}"
    );
    assert!(!stderr.contains("doctor"), "{stderr}");

    // Before the daemon's first report, `status` says it is starting.
    let (code, stdout, stderr) = p.run(&["status"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout,
        "starting: the daemon holds the store and has not finished its first cycle yet; its \
         report follows each cycle\n"
    );
}

#[test]
fn every_bad_value_in_the_config_is_listed_with_its_place() {
    let p = Project::new();
    p.config(
        "timezone = \"Europe/Lundon\"\n\
         schedule = \"0 25 * * *\"\n\
         [sources]\n\
         govuk = \"www.gov.uk\"\n\
         [fetch]\n\
         allow_private = true\n\
         concurrency = 0\n\
         timeout_secs = -1.0\n",
    );
    p.watchlist("team.toml", "name = \"team\"\n");
    let (code, _, stderr) = p.run(&["validate"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "policywatch.toml:1:1: timezone: unknown time zone `Europe/Lundon`: use an IANA name such as `Europe/London` or `UTC`\n\
         policywatch.toml:2:1: schedule: hour field `25` in `0 25 * * *`: `25` is out of range; hours are 0–23\n\
         policywatch.toml:4:1: sources.govuk: bad URL `www.gov.uk`: relative URL without a base; it must be an absolute http(s) URL\n\
         policywatch.toml:7:1: fetch.concurrency must be at least 1\n\
         policywatch.toml:8:1: fetch.timeout_secs: `-1` is not a number of seconds, 0 or more\n"
    );
    assert_no_rust_words(&stderr);
}
