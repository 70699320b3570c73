//! Cost of sealing and opening one small secret (64 bytes), the common case for a
//! `secret()` call that misses the cache.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use saker_crypto::{Aad, Keyring, SecretKey};

fn bench(c: &mut Criterion) {
    let ring = Keyring::new(SecretKey::generate());
    let aad = Aad::new("secret")
        .field("tenant", "main")
        .field("namespace", "company.team")
        .field("key", "API_TOKEN")
        .field("version", "3");
    let plaintext = [0x5Au8; 64];
    let sealed = ring.seal(&plaintext, &aad);

    c.bench_function("seal 64 B", |b| {
        b.iter(|| ring.seal(black_box(&plaintext), black_box(&aad)))
    });
    c.bench_function("open 64 B", |b| {
        b.iter(|| ring.open(black_box(&sealed), black_box(&aad)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
