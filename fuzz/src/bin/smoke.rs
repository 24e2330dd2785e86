//! A fuzzer for stable Rust and machines without cargo-fuzz: feeds every target its seeds,
//! then mutations of them (bit flips, byte edits, chunk copies, splices between seeds,
//! tag soup) for a time budget each. No coverage guidance, so it finds less than
//! `cargo fuzz`, but it needs nothing beyond cargo. A panic is a finding: the input is
//! saved under `artifacts/<target>/` and the run fails.
//!
//!   cargo run --release --bin smoke -- [--seconds N] [--seed N] [TARGET...]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use policywatch_fuzz::{SEPARATOR, TARGETS};

/// Seeded, so a run can be replayed with `--seed`.
struct Rng(fastrand::Rng);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.u64(..)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0.usize(..n.max(1))
    }
}

/// Fragments that reach deeper than random bytes do.
const TOKENS: &[&[u8]] = &[
    b"<",
    b">",
    b"</",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"&amp;",
    b"&#x10FFFF;",
    b"&#0;",
    b"<script>",
    b"<style>",
    b"<table><tr><td>",
    b"<main>",
    b"<a href=\"",
    b"javascript:",
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"null",
    b"-1",
    b"4294967296",
    b"1e309",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"<?xml version=\"1.0\" encoding=\"",
    b"<!ENTITY a \"",
    b"<item>",
    b"<entry>",
    b"<guid>",
    b"@everyone",
    b"<@123>",
    b"```",
    b"\x01",
    b"\x02",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xe2\x80\xae",
    SEPARATOR,
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    for _ in 0..1 + rng.below(8) {
        let len = input.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                input.insert(i, rng.next() as u8);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                input.drain(i..i + n);
            }
            4 if len > 0 => {
                // Copy a chunk elsewhere: repeats and nesting.
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(256));
                let chunk = input[i..i + n].to_vec();
                let at = rng.below(len + 1);
                input.splice(at..at, chunk);
            }
            5 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let at = rng.below(len + 1);
                input.splice(at..at, t.iter().copied());
            }
            6 if !seeds.is_empty() => {
                // Splice: our head, another seed's tail.
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
            7 if len > 0 => {
                let cut = rng.below(len);
                input.truncate(cut);
            }
            8 => {
                // Deep nesting, which recursive code does not survive.
                let open = TOKENS[rng.below(6)];
                let at = rng.below(len + 1);
                let n = 1 + rng.below(2000);
                let deep: Vec<u8> = open.iter().copied().cycle().take(open.len() * n).collect();
                input.splice(at..at, deep);
            }
            _ => {}
        }
    }
    // Keep inputs in a range where each run stays fast.
    input.truncate(256 * 1024);
}

fn seeds(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
}

fn main() {
    let mut seconds = 10u64;
    let mut seed = 1u64;
    let mut chosen: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => {
                seconds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--seconds N")
            }
            "--seed" => seed = args.next().and_then(|v| v.parse().ok()).expect("--seed N"),
            name => chosen.push(name.to_string()),
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Findings are reported here, not as a panic trace per input.
    std::panic::set_hook(Box::new(|_| {}));
    let mut failed = false;
    for (name, target) in TARGETS {
        if !chosen.is_empty() && !chosen.iter().any(|c| c == name) {
            continue;
        }
        let seeds = seeds(&root.join("seeds").join(name));
        let mut rng = Rng(fastrand::Rng::with_seed(seed));
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut runs = 0u64;
        let mut slowest = Duration::ZERO;
        let mut finding = None;
        let mut queue: Vec<Vec<u8>> = seeds.clone();
        while finding.is_none() && Instant::now() < deadline {
            let input = match queue.pop() {
                Some(s) => s,
                None => {
                    let mut input = if seeds.is_empty() {
                        Vec::new()
                    } else {
                        seeds[rng.below(seeds.len())].clone()
                    };
                    mutate(&mut rng, &mut input, &seeds);
                    input
                }
            };
            let started = Instant::now();
            let outcome = std::panic::catch_unwind(|| target(&input));
            slowest = slowest.max(started.elapsed());
            runs += 1;
            if let Err(panic) = outcome {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                finding = Some((input, message));
            }
        }
        match finding {
            None => println!(
                "{name}: {runs} runs in {seconds}s from {} seeds, no crash (slowest {:.1} ms)",
                seeds.len(),
                slowest.as_secs_f64() * 1000.0
            ),
            Some((input, message)) => {
                failed = true;
                let dir = root.join("artifacts").join(name);
                std::fs::create_dir_all(&dir).expect("artifacts dir");
                let file = dir.join(format!("crash-seed{seed}-run{runs}"));
                std::fs::write(&file, &input).expect("write artifact");
                println!(
                    "{name}: CRASH after {runs} runs: {message}\n  input saved to {}",
                    file.display()
                );
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
