//! Masking speed with 10 to 10,000 secrets over ~1 MB of log-like text,
//! against two baselines written here:
//! (a) a loop of per-literal `str::replace`, as Kestra and the GitHub runner
//!     do (run over the whole text at once, which favours the baseline over
//!     the per-line loop they actually run);
//! (b) one `regex` alternation sorted longest-first, as Jenkins and Airflow do.
//! Both baselines get the same kinds of literals (value, base64 at three
//! offsets in both alphabets, hex, URL and JSON forms), in about the same
//! number as the mask set's patterns (printed at start).
//!
//! The `extend` group measures growing a set of 10,000 and 100,000 values
//! by one (it must not depend on the set's size).
//!
//! Baseline (a) takes seconds per iteration from 1,000 secrets on; it runs
//! with the minimum sample size there and is skipped at 10,000 (it would
//! take minutes). Baseline (b) is skipped when `regex` refuses to compile the
//! alternation.

use std::hint::black_box;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use saker_mask::{BoundedMaskSet, MaskLimits, MaskSet};

/// xorshift64*: deterministic data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn string(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[self.below(alphabet.len())]))
            .collect()
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const PUNCT: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*-_=+/";

/// A mix of what flows hold: API tokens, passwords, connection strings and
/// JSON credentials. With `short_fields`, the JSON credentials have a short
/// `client_id` (5 to 8 characters): masked as a JSON leaf, it forces a dense
/// scan for short patterns, so the benchmark reports both cases.
fn secrets(n: usize, short_fields: bool, rng: &mut Rng) -> Vec<String> {
    (0..n)
        .map(|i| match rng.below(20) {
            0..=10 => {
                let prefix = rng.pick(&["ghp_", "sk_live_", "xoxb-", "AKIA", "glpat-", ""]);
                let len = 20 + rng.below(24);
                format!("{prefix}{}", rng.string(ALNUM, len))
            }
            11..=16 => {
                let len = 10 + rng.below(11);
                rng.string(PUNCT, len)
            }
            17..=18 => format!(
                "postgres://svc_{i}:{}@db-{i}.internal:5432/app",
                rng.string(ALNUM, 16)
            ),
            _ => {
                let id = if short_fields {
                    format!("app-{i}")
                } else {
                    format!("app-{i}-{}", rng.string(ALNUM, 12))
                };
                format!(
                    r#"{{"client_id":"{id}","client_secret":"{}"}}"#,
                    rng.string(ALNUM, 32)
                )
            }
        })
        .collect()
}

/// About 1 MB of log lines; one line in 100 carries a secret, raw or encoded.
fn log_text(secrets: &[String], rng: &mut Rng) -> String {
    let levels = ["INFO ", "DEBUG", "WARN ", "INFO ", "INFO "];
    let words = [
        "task",
        "started",
        "completed",
        "execution",
        "retrying",
        "connection",
        "to",
        "database",
        "request",
        "GET",
        "POST",
        "/api/v1/executions",
        "status=200",
        "bytes",
        "downloaded",
        "file",
        "s3://reports/2026/11/day.csv",
        "rows",
        "processed",
        "in",
        "ms",
        "user",
        "flow",
        "company.team",
        "namespace",
        "{\"level\":\"info\",\"msg\":\"ok\"}",
        "worker",
        "heartbeat",
        "queue",
    ];
    let mut text = String::with_capacity(1 << 20);
    let mut line = 0u64;
    while text.len() < 1 << 20 {
        line += 1;
        let uuid = format!(
            "{:08x}-{:04x}-{:04x}-{:012x}",
            rng.next() as u32,
            rng.next() as u16,
            rng.next() as u16,
            rng.next() >> 16
        );
        text.push_str(&format!(
            "2026-11-22T01:{:02}:{:02}.{:03}Z {} [worker-{}] execution={uuid} ",
            line / 3600 % 60,
            line / 60 % 60,
            line % 1000,
            rng.pick(&levels),
            rng.below(8)
        ));
        for _ in 0..6 + rng.below(10) {
            text.push_str(rng.pick(&words));
            text.push(' ');
        }
        if rng.below(100) == 0 {
            let s = &secrets[rng.below(secrets.len())];
            match rng.below(3) {
                0 => text.push_str(&format!("token={s}")),
                1 => text.push_str(&format!(
                    "Authorization: Basic {}",
                    STANDARD.encode(format!("svc:{s}"))
                )),
                _ => text.push_str(&format!(
                    "json={}",
                    serde_json::to_string(s).unwrap_or_default()
                )),
            }
        }
        text.push('\n');
    }
    text
}

/// Literals for the baselines: the main forms of each secret, close in
/// number to the mask set's patterns.
fn baseline_literals(secrets: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for s in secrets {
        out.push(s.clone());
        for engine in [&STANDARD, &URL_SAFE] {
            for offset in 0..3 {
                let mut buf = vec![0u8; offset];
                buf.extend_from_slice(s.as_bytes());
                let enc = engine.encode(&buf);
                let start = (8 * offset).div_ceil(6);
                out.push(enc[start..8 * buf.len() / 6].to_owned());
                out.push(enc[start..(8 * buf.len()).div_ceil(6)].to_owned());
                out.push(enc[start..].to_owned());
            }
        }
        let hex: String = s.bytes().map(|b| format!("{b:02x}")).collect();
        out.push(hex.to_uppercase());
        out.push(hex);
        out.push(
            serde_json::to_string(s)
                .unwrap_or_default()
                .trim_matches('"')
                .to_owned(),
        );
        for (plus, upper) in [(false, true), (true, true), (false, false)] {
            let url: String = s
                .bytes()
                .map(|b| match b {
                    b' ' if plus => "+".to_owned(),
                    b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => {
                        char::from(b).to_string()
                    }
                    b if upper => format!("%{b:02X}"),
                    b => format!("%{b:02x}"),
                })
                .collect();
            out.push(url);
        }
        out.push(
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;"),
        );
        out.push(s.replace('\'', "'\\''"));
    }
    out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out.dedup();
    out
}

fn bench(c: &mut Criterion) {
    for n in [10usize, 100, 1_000, 10_000] {
        let mut rng = Rng(0x5EED_0000 + n as u64);
        let secrets = secrets(n, true, &mut rng);
        let text = log_text(&secrets, &mut rng);
        let t = Instant::now();
        let set = MaskSet::from_values(&secrets);
        let built = t.elapsed();
        let literals = baseline_literals(&secrets);
        let masked = set.mask(&text);
        eprintln!(
            "{n} secrets: {} patterns (baselines: {} literals), built in {built:?}; \
             text {} bytes, {} masked runs",
            set.pattern_count(),
            literals.len(),
            text.len(),
            masked.matches(saker_mask::MASK).count()
        );

        let mut g = c.benchmark_group(format!("mask/{n}"));
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function("saker", |b| b.iter(|| set.mask(black_box(&text)).len()));
        g.bench_function("saker_stream_64k", |b| {
            b.iter(|| {
                let mut m = set.stream();
                let mut out = Vec::with_capacity(64 * 1024 + 64);
                let mut total = 0;
                for chunk in text.as_bytes().chunks(64 * 1024) {
                    m.push(chunk, &mut out);
                    total += out.len();
                    out.clear();
                }
                m.finish(&mut out);
                total + out.len()
            })
        });

        let t = Instant::now();
        let alternation = literals
            .iter()
            .map(|l| regex::escape(l))
            .collect::<Vec<_>>()
            .join("|");
        let regex = regex::RegexBuilder::new(&alternation)
            .size_limit(1 << 30)
            .dfa_size_limit(1 << 30)
            .build();
        match regex {
            Ok(re) => {
                eprintln!("{n} secrets: regex compiled in {:?}", t.elapsed());
                g.bench_function("regex_alternation", |b| {
                    b.iter(|| re.replace_all(black_box(&text), "****").len())
                });
            }
            Err(e) => eprintln!("{n} secrets: regex baseline skipped: {e}"),
        }

        if n < 10_000 {
            if n >= 1_000 {
                g.sample_size(10);
            }
            g.bench_function("str_replace_loop", |b| {
                b.iter(|| {
                    let mut t = black_box(&text).clone();
                    for l in &literals {
                        if t.contains(l.as_str()) {
                            t = t.replace(l.as_str(), "****");
                        }
                    }
                    t.len()
                })
            });
        } else {
            eprintln!("{n} secrets: str_replace_loop skipped (minutes per iteration)");
        }
        g.finish();
    }

    // The same 1,000 secrets without short JSON fields.
    let mut rng = Rng(0x5EED_0000 + 1_000);
    let long_only = secrets(1_000, false, &mut rng);
    let text = log_text(&long_only, &mut rng);
    let set = MaskSet::from_values(&long_only);
    let mut g = c.benchmark_group("mask/1000-no-short-fields");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("saker", |b| b.iter(|| set.mask(black_box(&text)).len()));
    g.finish();

    let mut rng = Rng(0xB111D);
    let mixed = secrets(1_000, true, &mut rng);
    c.bench_with_input(BenchmarkId::new("build", 1_000), &mixed, |b, s| {
        b.iter(|| MaskSet::from_values(s).pattern_count())
    });
}

/// Growing a set that already holds 10,000 and 100,000 values by one value:
/// it must cost the new value's forms, not a rebuild of the set. Measured as
/// an insertion and a removal on a `MaskSet` (so the set keeps its size),
/// and as an insertion into a full `BoundedMaskSet` (which evicts the
/// oldest value), against copying the set to add one (`with_added`, what a
/// rebuild costs at least) at 10,000.
fn extend(c: &mut Criterion) {
    let mut g = c.benchmark_group("extend");
    for n in [10_000usize, 100_000] {
        let mut rng = Rng(0xE87E_0000 + n as u64);
        // Built on first use only, so that a filter that skips these
        // benchmarks skips their (long) setup too.
        let mut full: Option<MaskSet> = None;
        let build = |rng: &mut Rng| {
            let values = secrets(n, false, rng);
            let t = Instant::now();
            let set = MaskSet::from_values(&values);
            eprintln!(
                "extend: {n} values, {} patterns, built in {:?}; {} MiB of forms, {} MiB of indexes",
                set.pattern_count(),
                t.elapsed(),
                set.held_bytes() >> 20,
                set.index_bytes() >> 20,
            );
            set
        };
        let mut i = 0u64;
        g.bench_function(BenchmarkId::new("insert_remove_one", n), |b| {
            let set = full.get_or_insert_with(|| build(&mut rng));
            b.iter(|| {
                i += 1;
                let v = format!("ghp_{i:012}{}", rng.string(ALNUM, 24));
                set.insert(&v);
                set.remove(&v)
            })
        });
        if n == 10_000 {
            g.sample_size(10);
            g.bench_function(BenchmarkId::new("copy_and_add_one", n), |b| {
                let set = full.get_or_insert_with(|| build(&mut rng));
                b.iter(|| set.with_added(["one-more-secret-value"]).len())
            });
            g.sample_size(100);
        }
        drop(full);

        let mut recent: Option<BoundedMaskSet> = None;
        g.bench_function(BenchmarkId::new("bounded_insert_evicting", n), |b| {
            let recent = recent.get_or_insert_with(|| {
                let recent = BoundedMaskSet::new(MaskLimits {
                    max_values: n,
                    max_bytes: usize::MAX,
                });
                for v in secrets(n, false, &mut rng) {
                    recent.insert(v);
                }
                recent
            });
            b.iter(|| {
                i += 1;
                recent.insert(format!("sk_live_{i:012}{}", rng.string(ALNUM, 20)))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench, extend);
criterion_main!(benches);
