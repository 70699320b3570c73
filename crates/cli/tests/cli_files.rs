//! Files through the real binary: `saker flow run --input name=@path`, `saker namespace files
//! update NS DIR [TO]`, and the API's file routes (an execution's file downloaded, a path
//! that climbs out or names another execution refused, a file holding a secret never given,
//! namespace files uploaded, listed, read and deleted). Who may call each route is in
//! `api_matrix/files.yaml`.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

const K: &str = "files-secret-Qm4x9Zt7";

fn cli(data: &Path, args: &[&str]) -> (bool, String, String) {
    let config = data.with_extension("yml");
    if !config.exists() {
        std::fs::write(&config, "saker: {}\n").unwrap();
    }
    saker_cli(data, &config, args, "")
}

/// `saker namespace files update NAMESPACE TREE EXTRA...`.
fn update(data: &Path, namespace: &str, tree: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec![
        "namespace",
        "files",
        "update",
        namespace,
        tree.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    cli(data, &args)
}

#[test]
fn flow_run_uploads_a_file_input_and_namespace_files_update_uploads_a_tree() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("conf")).unwrap();
    std::fs::write(tree.join("conf/app.txt"), "from the tree").unwrap();
    std::fs::write(tree.join("top.txt"), "top").unwrap();

    let (ok, _, err) = update(&data, "company.team", &tree, &[]);
    assert!(ok, "{err}");
    assert!(err.contains("2 file(s) uploaded"), "{err}");
    let (ok, _, err) = update(&data, "company.team", &tree, &["/sub"]);
    assert!(ok, "{err}");
    let stored = data.join("storage/main/company/team/_files");
    assert!(stored.join("conf/app.txt").is_file());
    assert!(stored.join("sub/conf/app.txt").is_file());

    // A TO that climbs out, and a namespace that is not one, are refused.
    let (ok, _, err) = update(&data, "company.team", &tree, &["../escape"]);
    assert!(!ok);
    assert!(err.contains("'..'"), "{err}");
    let (ok, _, err) = update(&data, "company..team", &tree, &[]);
    assert!(!ok);
    assert!(err.contains("namespace 'company..team'"), "{err}");

    // --delete removes what the tree no longer has.
    std::fs::remove_file(tree.join("top.txt")).unwrap();
    let (ok, _, err) = update(&data, "company.team", &tree, &["sub", "--delete"]);
    assert!(ok, "{err}");
    assert!(err.contains("1 deleted"), "{err}");
    assert!(!stored.join("sub/top.txt").exists());
    assert!(stored.join("top.txt").is_file());

    let input = dir.path().join("input.csv");
    std::fs::write(&input, "a,b\n1,2").unwrap();
    let flow = dir.path().join("f.yml");
    std::fs::write(
        &flow,
        "id: f\nnamespace: company.team\ninputs:\n  - id: data\n    type: FILE\n  - id: note\n    type: STRING\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message:\n      - \"input: {{ read(inputs.data) | replace({'\\n': ' '}) }}\"\n      - \"ns: {{ read('conf/app.txt') }} / {{ read('sub/conf/app.txt') }}\"\n      - \"note: {{ inputs.note }}\"\n",
    )
    .unwrap();
    let file_arg = format!("data=@{}", input.display());
    let (ok, out, err) = cli(
        &data,
        &[
            "flow",
            "run",
            flow.to_str().unwrap(),
            "--input",
            &file_arg,
            "--input",
            "note=@not-a-file",
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("input: a,b 1,2"), "{out}");
    assert!(out.contains("ns: from the tree / from the tree"), "{out}");
    // `@` starts a path only for FILE inputs.
    assert!(out.contains("note: @not-a-file"), "{out}");

    let missing = format!("data=@{}", dir.path().join("missing.csv").display());
    let (ok, _, err) = cli(
        &data,
        &[
            "flow",
            "run",
            flow.to_str().unwrap(),
            "--input",
            &missing,
            "--input",
            "note=x",
        ],
    );
    assert!(!ok);
    assert!(err.contains("cannot read"), "{err}");
    let (ok, _, err) = cli(
        &data,
        &["flow", "run", flow.to_str().unwrap(), "--input", "note=x"],
    );
    assert!(!ok);
    assert!(
        err.contains("input 'data' is required: upload a file"),
        "{err}"
    );
}

/// A multipart body with one file part.
fn multipart(name: &str, file_name: &str, content: &str) -> String {
    format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\r\n{content}\r\n--XyZ--\r\n"
    )
}

const MULTIPART: &str = "multipart/form-data; boundary=XyZ";

#[test]
fn the_api_downloads_an_executions_files_and_manages_namespace_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, _, err) = saker_cli(
        &data,
        &write_config(dir.path(), "saker: {}\n"),
        &["secret", "set", "company.team", "K"],
        K,
    );
    assert!(ok, "{err}");
    remember_secret(K);
    let port = free_port();
    let server = start_server(&data, port);
    deploy(
        port,
        "id: f\nnamespace: company.team\ninputs:\n  - id: data\n    type: FILE\ntasks:\n  - id: write\n    type: io.kestra.plugin.scripts.shell.Commands\n    env:\n      TOKEN: \"{{ secret('K') }}\"\n    outputFiles:\n      - secret.txt\n    commands:\n      - printf '%s' \"$TOKEN\" > secret.txt\n",
    );
    let (status, execution) = json(
        port,
        "POST",
        "/api/v1/main/executions/company.team/f?wait=true",
        Some((MULTIPART, &multipart("data", "in.txt", "uploaded content"))),
    );
    assert_eq!(status, 200, "{execution}");
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    let id = execution["id"].as_str().unwrap();
    let input = execution["inputs"]["data"].as_str().unwrap().to_owned();
    assert_eq!(
        input,
        format!("kestra:///company/team/f/executions/{id}/inputs/data/in.txt")
    );
    let file = |path: &str| {
        http(
            port,
            "GET",
            &format!("/api/v1/main/executions/{id}/file?path={path}"),
            None,
        )
        .unwrap()
    };
    assert_eq!(file(&input), (200, "uploaded content".to_owned()));

    // The output file holds the secret: stored sealed, never given.
    let written = execution["taskRunList"][0]["outputs"]["outputFiles"]["secret.txt"].clone();
    // The task handed a secret to its process: its string outputs are sealed, shown ****.
    assert_eq!(written, Value::String("****".into()), "{execution}");
    let run_id = execution["taskRunList"][0]["id"].as_str().unwrap();
    let sealed =
        format!("kestra:///company/team/f/executions/{id}/tasks/write/{run_id}/secret.txt");
    let (status, body) = file(&sealed);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("holds a secret"), "{body}");

    // Paths that climb out, name another execution or are not storage URIs.
    let (status, body) = file(&format!(
        "kestra:///company/team/f/executions/{id}/../OTHER/inputs/data/in.txt"
    ));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("'..'"), "{body}");
    let (status, body) = file("kestra:///company/team/f/executions/OTHER/inputs/data/in.txt");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("is not a file of execution"), "{body}");
    let (status, _) = file("/etc/passwd");
    assert_eq!(status, 400);

    // Namespace files: upload, read, list, stat, delete; traversal refused.
    let files = "/api/v1/main/namespaces/company.team/files";
    let (status, body) = http(
        port,
        "POST",
        &format!("{files}?path=/scripts/run.sh"),
        Some((MULTIPART, &multipart("fileContent", "run.sh", "echo hi"))),
    )
    .unwrap();
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        http(port, "GET", &format!("{files}?path=/scripts/run.sh"), None).unwrap(),
        (200, "echo hi".to_owned())
    );
    let (status, listing) = json(
        port,
        "GET",
        &format!("{files}/directory?path=/scripts"),
        None,
    );
    assert_eq!(status, 200, "{listing}");
    assert_eq!(listing[0]["fileName"], "run.sh", "{listing}");
    assert_eq!(listing[0]["type"], "File");
    assert_eq!(listing[0]["size"], 7);
    let (status, root) = json(port, "GET", &format!("{files}/directory"), None);
    assert_eq!(status, 200);
    assert_eq!(root[0]["type"], "Directory", "{root}");
    let (status, stats) = json(
        port,
        "GET",
        &format!("{files}/stats?path=/scripts/run.sh"),
        None,
    );
    assert_eq!(
        (status, stats["size"].clone()),
        (200, Value::from(7)),
        "{stats}"
    );
    for bad in ["/../escape.txt", "/a/../../b"] {
        let (status, body) = http(
            port,
            "POST",
            &format!("{files}?path={bad}"),
            Some((MULTIPART, &multipart("fileContent", "x", "x"))),
        )
        .unwrap();
        assert_eq!(status, 400, "{bad}: {body}");
        let (status, _) = http(port, "GET", &format!("{files}?path={bad}"), None).unwrap();
        assert_eq!(status, 400, "{bad}");
    }
    let (status, body) = http(
        port,
        "POST",
        &format!("{files}?path=/x.txt"),
        Some((MULTIPART, &multipart("other", "x", "x"))),
    )
    .unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("fileContent"), "{body}");
    let (status, _) = http(port, "DELETE", &format!("{files}?path=/scripts"), None).unwrap();
    assert_eq!(status, 204);
    let (status, _) = http(port, "GET", &format!("{files}?path=/scripts/run.sh"), None).unwrap();
    assert_eq!(status, 404);
    let (status, _) = http(port, "DELETE", &format!("{files}?path=/scripts"), None).unwrap();
    assert_eq!(status, 404);
    stop(server);

    // Nothing under the data directory holds the secret in plaintext.
    for path in walk(&data) {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(K.len()).any(|w| w == K.as_bytes()),
            "{} holds the secret",
            path.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
