//! `S3Storage` against moto's S3 server (`scripts/peers/moto.sh`): the round trip of every
//! trait call, Kestra's key layout seen in the bucket, a large file and the size bound, a
//! missing key, wrong credentials and an endpoint that is down, each failing with an error
//! naming the bucket and the key and never a credential.

mod moto;

use moto::{free_port, moto, raw};
use saker_storage::{FileKind, S3Config, S3Storage, Storage, StorageError, StorageUri};
use serde_json::json;

const SECRET_KEY: &str = "s3-secret-key-Vq81zPm";
const SESSION_TOKEN: &str = "s3-session-token-Lw02xRb";

fn storage(port: u16, bucket: &str) -> S3Storage {
    let config = S3Config::from_section(
        &json!({"bucket": bucket, "endpoint": format!("http://127.0.0.1:{port}"),
            "accessKey": "AKIDSAKERTEST", "secretKey": SECRET_KEY,
            "sessionToken": SESSION_TOKEN, "forcePathStyle": true}),
        &|_| None,
    )
    .unwrap();
    S3Storage::new(config).unwrap()
}

fn uri(text: &str) -> StorageUri {
    StorageUri::parse(text).unwrap()
}

/// The error names the bucket and the key, and no credential.
fn names_the_object_not_the_credentials(err: &StorageError, bucket: &str, key: &str) {
    let text = err.to_string();
    println!("{text}");
    assert!(text.contains(&format!("s3://{bucket}/{key}")), "{text}");
    assert!(
        !text.contains(SECRET_KEY) && !text.contains(SESSION_TOKEN),
        "{text}"
    );
    assert!(!format!("{err:?}").contains(SECRET_KEY));
}

#[test]
fn files_round_trip_in_kestras_layout() {
    let Some(moto) = moto(false) else { return };
    assert_eq!(raw(moto.port, "PUT", "/saker-files").0, 200);
    let storage = storage(moto.port, "saker-files");

    let file = StorageUri::task_run("company.team", "f", "E1", "t", "R1")
        .unwrap()
        .join("out/a b.txt")
        .unwrap();
    let info = storage.put("main", &file, b"hello").unwrap();
    assert_eq!((info.size, info.kind), (5, FileKind::File));
    assert_eq!(storage.get("main", &file).unwrap(), b"hello");
    // The object is where Kestra's S3 storage puts it: {tenant}/{uri path}.
    let (status, body) = raw(
        moto.port,
        "GET",
        "/saker-files/main/company/team/f/executions/E1/tasks/t/R1/out/a%20b.txt",
    );
    assert_eq!((status, body.as_slice()), (200, b"hello".as_slice()));
    // Replaced in place; another tenant has its own keys.
    storage.put("main", &file, b"hello again").unwrap();
    assert_eq!(storage.get("main", &file).unwrap(), b"hello again");
    assert!(storage.get("other", &file).unwrap_err().is_not_found());

    storage
        .put(
            "main",
            &uri("kestra:///company/team/f/executions/E1/inputs/data/in.csv"),
            b"a,b",
        )
        .unwrap();
    let execution = StorageUri::execution("company.team", "f", "E1").unwrap();
    let top = storage.list("main", &execution).unwrap();
    let names: Vec<_> = top.iter().map(|i| (i.uri.file_name(), i.kind)).collect();
    assert_eq!(
        names,
        [
            ("inputs", FileKind::Directory),
            ("tasks", FileKind::Directory)
        ]
    );
    let files = storage.list_files("main", &execution).unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[1].uri, file);
    assert_eq!(files[1].size, 11);
    let folder = storage.stat("main", &execution).unwrap().unwrap();
    assert_eq!(folder.kind, FileKind::Directory);
    assert_eq!(storage.stat("main", &file).unwrap().unwrap().size, 11);

    // A folder is not read as a file, nor a file listed as a folder.
    let e = storage.get("main", &execution).unwrap_err();
    assert!(matches!(e, StorageError::WrongKind { .. }), "{e}");
    let e = storage.list("main", &file).unwrap_err();
    assert!(matches!(e, StorageError::WrongKind { .. }), "{e}");

    // An empty folder exists once created; its marker is never listed.
    let empty = uri("kestra:///company/team/_files/empty");
    assert!(storage.stat("main", &empty).unwrap().is_none());
    storage.create_dir("main", &empty).unwrap();
    assert_eq!(
        storage.stat("main", &empty).unwrap().unwrap().kind,
        FileKind::Directory
    );
    assert!(storage.list("main", &empty).unwrap().is_empty());
    assert!(storage.list_files("main", &empty).unwrap().is_empty());

    // Deleting a folder deletes its tree.
    assert!(storage.delete("main", &execution).unwrap());
    assert!(storage.stat("main", &file).unwrap().is_none());
    assert!(storage.list_files("main", &execution).unwrap().is_empty());
    assert!(!storage.delete("main", &execution).unwrap());
    assert!(storage.delete("main", &empty).unwrap());
    assert!(storage.stat("main", &empty).unwrap().is_none());

    // URIs and tenants that could climb out never reach the client.
    assert!(storage.put("..", &file, b"x").is_err());
    assert!(storage.put("a/b", &file, b"x").is_err());
}

#[test]
fn a_large_file_round_trips_and_the_size_bound_holds() {
    let Some(moto) = moto(false) else { return };
    assert_eq!(raw(moto.port, "PUT", "/big-files").0, 200);
    let storage = storage(moto.port, "big-files");
    let big: Vec<u8> = (0..24 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let file = uri("kestra:///ns/f/big.bin");
    storage.put("main", &file, &big).unwrap();
    assert!(storage.get("main", &file).unwrap() == big);
    assert_eq!(
        storage.stat("main", &file).unwrap().unwrap().size,
        big.len() as u64
    );

    let mut bounded = self::storage(moto.port, "big-files");
    bounded.max_file_bytes = 1024 * 1024;
    let e = bounded
        .put("main", &uri("kestra:///ns/f/other.bin"), &big)
        .unwrap_err();
    assert!(
        matches!(e, StorageError::TooLarge { max: 1048576, .. }),
        "{e}"
    );
    assert!(
        storage
            .stat("main", &uri("kestra:///ns/f/other.bin"))
            .unwrap()
            .is_none()
    );
    // A stored file larger than the bound is refused on reading too.
    let e = bounded.get("main", &file).unwrap_err();
    assert!(
        matches!(e, StorageError::TooLarge { size, .. } if size == big.len() as u64),
        "{e}"
    );
}

#[test]
fn a_missing_key_or_bucket_is_said_plainly() {
    let Some(moto) = moto(false) else { return };
    assert_eq!(raw(moto.port, "PUT", "/present").0, 200);
    let storage = storage(moto.port, "present");
    let missing = uri("kestra:///ns/f/nothing.txt");
    let e = storage.get("main", &missing).unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert_eq!(e.to_string(), "kestra:///ns/f/nothing.txt does not exist");
    assert!(storage.stat("main", &missing).unwrap().is_none());
    assert!(!storage.delete("main", &missing).unwrap());
    assert!(storage.list("main", &missing).unwrap().is_empty());

    let absent = self::storage(moto.port, "no-such-bucket");
    let e = absent.put("main", &missing, b"x").unwrap_err();
    names_the_object_not_the_credentials(&e, "no-such-bucket", "main/ns/f/nothing.txt");
    assert!(e.to_string().contains("NoSuchBucket"), "{e}");
}

#[test]
fn wrong_credentials_fail_naming_the_object_never_the_keys() {
    let Some(moto) = moto(true) else { return };
    let storage = storage(moto.port, "guarded");
    let file = uri("kestra:///ns/f/a.txt");
    for err in [
        storage.put("main", &file, b"x").unwrap_err(),
        storage.get("main", &file).unwrap_err(),
        storage.list_files("main", &file).unwrap_err(),
    ] {
        names_the_object_not_the_credentials(&err, "guarded", "main/ns/f/a.txt");
        assert!(err.to_string().contains("403"), "{err}");
    }
}

#[test]
fn an_endpoint_that_is_down_fails_the_call_instead_of_hanging_it() {
    let port = free_port();
    let storage = storage(port, "anywhere");
    let file = uri("kestra:///ns/f/a.txt");
    for err in [
        storage.put("main", &file, b"x").unwrap_err(),
        storage.get("main", &file).unwrap_err(),
        storage.stat("main", &file).unwrap_err(),
    ] {
        names_the_object_not_the_credentials(&err, "anywhere", "main/ns/f/a.txt");
        assert!(
            err.to_string()
                .contains(&format!("endpoint http://127.0.0.1:{port}/anywhere")),
            "{err}"
        );
    }
}
