//! Micro-benchmarks of the per-message work that is not I/O: cleaning a body with ammonia and
//! sealing contact data. `cargo bench --bench clean_and_seal` (add `--features bench-internals`
//! for unsealing too); numbers in BENCHMARKS.md.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sealpost::domain::{EmailAddress, MessageBody};
use sealpost::seal::Sealer;
use uuid::Uuid;

fn html_body(target_len: usize) -> String {
    let paragraph = "<p>Hello, I ordered <b>two</b> items on <em>Monday</em> and only one arrived. \
                     Details: <a href=\"https://example.org/order/1234\">order 1234</a>.</p>\n";
    paragraph.repeat(target_len / paragraph.len() + 1)[..target_len].to_owned()
}

fn hostile_body() -> String {
    let payloads = [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<svg><g/onload=alert(2)//<p>",
        "<iframe srcdoc=\"<script>alert(3)</script>\"></iframe>",
        "<math><mtext><table><mglyph><style><!--</style><img title=\"--&gt;&lt;img src=1 onerror=alert(1)&gt;\">",
        "<p style=\"background:url(javascript:alert(1))\">x</p>",
    ];
    payloads.join("\n").repeat(40)
}

fn bench_clean(c: &mut Criterion) {
    let mut group = c.benchmark_group("clean");
    for (name, body) in [
        ("html_2kb", html_body(2 * 1024)),
        ("html_19kb", html_body(19 * 1000)),
        ("hostile_12kb", hostile_body()),
        ("plain_2kb", "Hello, where is my order? ".repeat(80)),
    ] {
        assert!(
            MessageBody::parse(&body).is_ok(),
            "{name} must be within the limits"
        );
        group.bench_function(name, |b| b.iter(|| MessageBody::parse(black_box(&body))));
    }
    group.finish();
}

fn bench_seal(c: &mut Criterion) {
    let sealer = Sealer::new("bench", &[7; 32], &[9; 32]).expect("keys");
    let email = EmailAddress::parse("anna.karenina@example.org")
        .expect("valid")
        .expect("present");
    let owner = Uuid::now_v7();
    c.bench_function("seal_address", |b| {
        b.iter(|| sealer.seal(black_box(&email), owner))
    });
    // Opening is crate-private by design (only audited paths unseal); the benchmark kit
    // builds with `--features bench-internals` to measure it.
    #[cfg(feature = "bench-internals")]
    {
        let sealed = sealer.seal(&email, owner);
        c.bench_function("unseal_address", |b| {
            b.iter(|| sealer.open_for_benchmark(black_box(&sealed), owner))
        });
    }
    c.bench_function("blind_index_address", |b| {
        b.iter(|| sealer.email_index(black_box(&email)))
    });
}

criterion_group!(benches, bench_clean, bench_seal);
criterion_main!(benches);
