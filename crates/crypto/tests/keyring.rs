//! Behaviour of the keyring as the secret store and execution storage will use it.

use proptest::prelude::*;
use saker_crypto::{Aad, CryptoError, Keyring, MIN_ENVELOPE_LEN, SecretKey};

fn row(tenant: &str, namespace: &str, key: &str, version: u64) -> Aad {
    Aad::new("secret")
        .field("tenant", tenant)
        .field("namespace", namespace)
        .field("key", key)
        .field_u64("version", version)
}

fn keyring() -> Keyring {
    Keyring::new(SecretKey::generate())
}

#[test]
fn round_trip() {
    let ring = keyring();
    let aad = row("main", "company.team", "API_TOKEN", 1);
    for plaintext in [&b""[..], b"x", b"myPrivateCode", &[0u8; 1000]] {
        let sealed = ring.seal(plaintext, &aad);
        assert_eq!(sealed.len(), MIN_ENVELOPE_LEN + plaintext.len());
        assert_eq!(ring.open(&sealed, &aad).unwrap().as_slice(), plaintext);
    }
}

#[test]
fn ciphertext_does_not_contain_plaintext_and_nonces_differ() {
    let ring = keyring();
    let aad = row("main", "company", "K", 1);
    let plaintext = b"a-very-recognisable-plaintext-value";
    let a = ring.seal(plaintext, &aad);
    let b = ring.seal(plaintext, &aad);
    assert_ne!(a, b, "each seal must use a fresh nonce");
    for sealed in [&a, &b] {
        assert!(
            !sealed
                .windows(8)
                .any(|w| plaintext.windows(8).any(|p| p == w))
        );
    }
}

#[test]
fn wrong_aad_fails_as_wrong_context() {
    let ring = keyring();
    let sealed = ring.seal(b"value", &row("main", "company", "K", 1));
    let other = Aad::new("secret").field("tenant", "main");
    assert_eq!(ring.open(&sealed, &other), Err(CryptoError::WrongContext));
    // Same fields, other purpose.
    let purpose = Aad::new("execution-input")
        .field("tenant", "main")
        .field("namespace", "company")
        .field("key", "K")
        .field("version", "1");
    assert_eq!(ring.open(&sealed, &purpose), Err(CryptoError::WrongContext));
}

#[test]
fn swapped_rows_fail() {
    let ring = keyring();
    let original = row("main", "company.team", "DB_PASSWORD", 3);
    let sealed = ring.seal(b"hunter2", &original);
    let elsewhere = [
        row("other", "company.team", "DB_PASSWORD", 3),
        row("main", "company", "DB_PASSWORD", 3),
        row("main", "company.team", "API_TOKEN", 3),
        row("main", "company.team", "DB_PASSWORD", 2),
    ];
    for aad in &elsewhere {
        assert_eq!(
            ring.open(&sealed, aad),
            Err(CryptoError::WrongContext),
            "{aad:?}"
        );
    }
    assert!(ring.open(&sealed, &original).is_ok());
}

#[test]
fn every_tampered_byte_fails() {
    let ring = keyring();
    let aad = row("main", "company", "K", 1);
    let sealed = ring.seal(b"some secret", &aad);
    for index in 0..sealed.len() {
        let mut copy = sealed.clone();
        copy[index] ^= 0x01;
        let err = ring.open(&copy, &aad).unwrap_err();
        // Byte 0 is the version, 1..9 the key id, 9..13 the fingerprint; each region fails
        // with its own diagnosis, and the rest fails authentication.
        let expected = match index {
            0 => matches!(err, CryptoError::UnsupportedVersion { .. }),
            1..=8 => matches!(err, CryptoError::UnknownKey { .. }),
            9..=12 => err == CryptoError::WrongContext,
            _ => err == CryptoError::Tampered,
        };
        assert!(expected, "byte {index}: {err:?}");
    }
}

#[test]
fn truncation_is_an_error() {
    let ring = keyring();
    let aad = row("main", "company", "K", 1);
    let sealed = ring.seal(b"some secret", &aad);
    for len in 0..sealed.len() {
        let err = ring.open(&sealed[..len], &aad).unwrap_err();
        if len < MIN_ENVELOPE_LEN {
            assert!(
                matches!(err, CryptoError::Truncated { len: l, .. } if l == len),
                "{len}: {err:?}"
            );
        } else {
            // Long enough to parse, but the tag is now taken from ciphertext bytes.
            assert_eq!(err, CryptoError::Tampered, "{len}");
        }
    }
}

#[test]
fn rotation_keeps_old_envelopes_readable() {
    let old = SecretKey::generate();
    let new = SecretKey::generate();
    let aad = row("main", "company", "K", 1);
    let sealed_old = Keyring::new(old.clone()).seal(b"before rotation", &aad);

    let rotated = Keyring::new(new.clone()).with_older(old.clone());
    assert_eq!(rotated.key_ids(), vec![new.id(), old.id()]);
    assert!(rotated.needs_rekey(&sealed_old));
    assert_eq!(
        rotated.open(&sealed_old, &aad).unwrap().as_slice(),
        b"before rotation"
    );

    let resealed = rotated.rekey(&sealed_old, &aad).unwrap().unwrap();
    assert!(!rotated.needs_rekey(&resealed));
    assert_eq!(rotated.rekey(&resealed, &aad).unwrap(), None);
    assert_eq!(
        Keyring::envelope_key_id(&resealed).unwrap(),
        rotated.primary_id()
    );

    // Once the old key is dropped, old envelopes name the missing key.
    let new_only = Keyring::new(new);
    assert_eq!(
        new_only.open(&sealed_old, &aad),
        Err(CryptoError::UnknownKey { key_id: old.id() })
    );
    let msg = new_only.open(&sealed_old, &aad).unwrap_err().to_string();
    assert!(msg.contains(&old.id().to_string()), "{msg}");
    assert!(new_only.open(&resealed, &aad).is_ok());
}

#[test]
fn needs_rekey_is_true_for_garbage() {
    let ring = keyring();
    assert!(ring.needs_rekey(b""));
    assert!(ring.needs_rekey(b"definitely not an envelope, but long enough to parse"));
    assert!(!ring.needs_rekey(&ring.seal(b"x", &Aad::new("p"))));
}

#[test]
fn duplicate_older_key_is_ignored() {
    let key = SecretKey::generate();
    let ring = Keyring::new(key.clone()).with_older(key.clone());
    assert_eq!(ring.key_ids(), vec![key.id()]);
}

#[test]
fn string_helpers_round_trip_and_report_bad_text() {
    let ring = keyring();
    let aad = row("main", "company", "K", 1);
    let text = ring.seal_to_string(b"value", &aad);
    assert_eq!(ring.open_str(&text, &aad).unwrap().as_slice(), b"value");
    assert_eq!(
        ring.open_str(&format!("{text}\n"), &aad)
            .unwrap()
            .as_slice(),
        b"value"
    );
    assert_eq!(
        ring.open_str("%%% not base64 %%%", &aad),
        Err(CryptoError::NotBase64)
    );
}

#[test]
fn debug_output_never_shows_key_material() {
    let key = SecretKey::generate();
    let encoded = key.to_base64();
    let ring = Keyring::new(key.clone()).with_older(SecretKey::generate());
    for debug in [
        format!("{key:?}"),
        format!("{ring:?}"),
        format!("{ring:#?}"),
    ] {
        assert!(!debug.contains(encoded.as_str()), "{debug}");
        assert!(debug.contains(&key.id().to_string()), "{debug}");
    }
    assert!(format!("{key:?}").contains("[REDACTED]"));
}

#[test]
fn errors_never_contain_plaintext() {
    let ring = keyring();
    let aad = row("main", "company", "K", 1);
    let sealed = ring.seal(b"plaintext-marker", &aad);
    let mut tampered = sealed.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xFF;
    let err = ring.open(&tampered, &aad).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("plaintext-marker"));
}

proptest! {
    #[test]
    fn random_bytes_never_panic_and_never_open(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let ring = keyring();
        let aad = row("main", "company", "K", 1);
        prop_assert!(ring.open(&bytes, &aad).is_err());
        let _ = ring.needs_rekey(&bytes);
    }

    #[test]
    fn random_versioned_bytes_never_open(tail in proptest::collection::vec(any::<u8>(), 0..200)) {
        // Starting with the right version byte gets past the first check.
        let ring = keyring();
        let mut bytes = vec![saker_crypto::ENVELOPE_VERSION];
        bytes.extend(tail);
        prop_assert!(ring.open(&bytes, &row("main", "c", "K", 1)).is_err());
    }

    #[test]
    fn any_plaintext_round_trips(plaintext in proptest::collection::vec(any::<u8>(), 0..300)) {
        let ring = keyring();
        let aad = row("t", "n", "k", 7);
        let sealed = ring.seal(&plaintext, &aad);
        let opened = ring.open(&sealed, &aad).unwrap();
        prop_assert_eq!(opened.as_slice(), plaintext.as_slice());
    }
}

#[test]
fn one_keyring_serves_many_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Keyring>();
    assert_send_sync::<SecretKey>();

    let ring = std::sync::Arc::new(keyring());
    let handles: Vec<_> = (0..4u64)
        .map(|thread| {
            let ring = ring.clone();
            std::thread::spawn(move || {
                for n in 0..50u64 {
                    let aad = row("main", "company", "K", thread * 1000 + n);
                    let plaintext = format!("value {thread}/{n}");
                    let sealed = ring.seal(plaintext.as_bytes(), &aad);
                    assert_eq!(
                        ring.open(&sealed, &aad).unwrap().as_slice(),
                        plaintext.as_bytes()
                    );
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}
