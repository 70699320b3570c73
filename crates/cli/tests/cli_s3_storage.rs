//! `storage.type: s3` through the real binary, against moto's S3 server
//! (`scripts/peers/moto.sh`): namespace files uploaded and pruned, a flow with a FILE input,
//! a script task's `outputFiles` read by a later task, and a file written from a secret. Every file lands in the bucket in Kestra's
//! layout, nothing in the data directory, and the secret's file is there sealed: neither the
//! secret nor any encoding of it is in any object.

mod common;
#[path = "../../storage/tests/moto/mod.rs"]
mod moto;

use common::*;

const K: &str = "s3-stored-secret-Rk7v2Qx";
const ACCESS_SECRET: &str = "s3-access-secret-Np4w8Zt";

const FLOW: &str = r#"id: s3flow
namespace: company.team
inputs:
  - id: data
    type: FILE
tasks:
  - id: shape
    type: io.kestra.plugin.scripts.shell.Commands
    outputFiles:
      - upper.txt
    commands:
      - printf '%s' "{{ read(inputs.data) }}" | tr a-z A-Z > upper.txt
  - id: sealed
    type: io.kestra.plugin.core.storage.Write
    content: "{{ secret('K') }}"
    extension: .txt
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "read back: {{ read(outputs.shape.outputFiles['upper.txt']) }}, {{ read('conf/app.txt') }}"
"#;

#[test]
fn a_flow_stores_its_files_in_the_bucket_and_a_secrets_file_sealed() {
    let Some(moto) = moto::moto(false) else {
        return;
    };
    assert_eq!(moto::raw(moto.port, "PUT", "/saker-e2e").0, 200);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(
        dir.path(),
        &format!(
            "saker:\n  storage:\n    type: s3\n    s3:\n      bucket: saker-e2e\n      \
             endpoint: http://127.0.0.1:{}\n      forcePathStyle: true\n      \
             accessKey: AKIDSAKERE2E\n      secretKey: {ACCESS_SECRET}\n",
            moto.port
        ),
    );
    let (ok, _, err) = saker_cli(&data, &config, &["secret", "set", "company.team", "K"], K);
    assert!(ok, "{err}");
    remember_secret(K);
    // Namespace files: uploaded to the bucket, read by the flow, pruned with --delete.
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("conf")).unwrap();
    std::fs::write(tree.join("conf/app.txt"), "from the tree").unwrap();
    std::fs::write(tree.join("old.txt"), "to be pruned").unwrap();
    let tree_arg = tree.to_str().unwrap();
    let (ok, _, err) = saker_cli(
        &data,
        &config,
        &["namespace", "files", "update", "company.team", tree_arg],
        "",
    );
    assert!(ok, "{err}");
    let namespace_files = "main/company/team/_files/";
    assert_eq!(
        moto::object(moto.port, "saker-e2e", &format!("{namespace_files}old.txt")),
        b"to be pruned"
    );
    std::fs::remove_file(tree.join("old.txt")).unwrap();
    let (ok, _, err) = saker_cli(
        &data,
        &config,
        &[
            "namespace",
            "files",
            "update",
            "company.team",
            tree_arg,
            "--delete",
        ],
        "",
    );
    assert!(ok, "{err}");
    assert!(err.contains("1 deleted"), "{err}");
    assert_eq!(
        moto::keys(moto.port, "saker-e2e"),
        [format!("{namespace_files}conf/app.txt")]
    );

    let input = dir.path().join("input.txt");
    std::fs::write(&input, "uploaded content").unwrap();
    let flow = dir.path().join("flow.yml");
    std::fs::write(&flow, FLOW).unwrap();
    let file_arg = format!("data=@{}", input.display());
    let (ok, out, err) = saker_cli(
        &data,
        &config,
        &["flow", "run", flow.to_str().unwrap(), "--input", &file_arg],
        "",
    );
    assert!(ok, "{out}{err}");
    // The later task read the script's output file back from the bucket.
    assert!(
        out.contains("read back: UPLOADED CONTENT, from the tree"),
        "{out}"
    );
    assert_no_secret("the run's output", &format!("{out}{err}"));
    assert!(!out.contains(ACCESS_SECRET) && !err.contains(ACCESS_SECRET));

    let keys = moto::keys(moto.port, "saker-e2e");
    let execution_prefix = "main/company/team/s3flow/executions/";
    assert!(
        keys.iter()
            .all(|k| k.starts_with(execution_prefix) || k.starts_with(namespace_files)),
        "{keys:?}"
    );
    let find = |part: &str| {
        keys.iter()
            .find(|k| k.contains(part))
            .unwrap_or_else(|| panic!("no object with {part} in {keys:?}"))
    };
    let stored = |key: &str| moto::object(moto.port, "saker-e2e", key);
    assert!(find("/inputs/data/").ends_with("/input.txt"));
    assert_eq!(stored(find("/inputs/data/")), b"uploaded content");
    assert_eq!(stored(find("/tasks/shape/")), b"UPLOADED CONTENT");
    // The secret's file is sealed: Saker's sealed-file header, then ciphertext.
    let sealed = stored(find("/tasks/sealed/"));
    assert!(
        sealed.starts_with(b"\0saker-sealed-file-v1\n"),
        "{}",
        String::from_utf8_lossy(&sealed)
    );
    for key in &keys {
        assert_no_secret(key, &String::from_utf8_lossy(&stored(key)));
    }
    // Nothing of the storage went to the data directory.
    assert!(!data.join("storage").exists());
}

#[test]
fn a_bad_storage_section_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flow = dir.path().join("flow.yml");
    std::fs::write(
        &flow,
        "id: f\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    )
    .unwrap();
    let cases = [
        (
            "saker:\n  storage:\n    type: s3\n    s3:\n      region: eu-west-1\n".to_owned(),
            "storage.s3.bucket",
        ),
        (
            format!(
                "saker:\n  storage:\n    type: s3\n    s3:\n      bucket: b-1\n      \
                 region: r\n      accessKey: A\n      secret-key: [{ACCESS_SECRET}]\n"
            ),
            "storage.s3.secret-key",
        ),
        (
            "saker:\n  storage:\n    type: gcs\n".to_owned(),
            "storage.type `gcs`",
        ),
    ];
    for (body, expected) in cases {
        let config = write_config(dir.path(), &body);
        let (ok, out, err) =
            saker_cli(&data, &config, &["flow", "run", flow.to_str().unwrap()], "");
        assert!(!ok, "{out}");
        assert!(err.contains(expected), "{err}");
        assert!(!err.contains(ACCESS_SECRET), "{err}");
    }
}
