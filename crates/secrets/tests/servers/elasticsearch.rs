//! An Elasticsearch test server following Elasticsearch 8's REST API for what Saker's
//! backend and the checks use: `GET /` (cluster info), `HEAD|PUT /{index}` (index exists,
//! create: 400 `resource_already_exists_exception`), `PUT|POST /{index}/_doc/{id}`,
//! `PUT|POST /{index}/_create/{id}` (409 `version_conflict_engine_exception`),
//! `GET|DELETE /{index}/_doc/{id}` (404 with `found: false` / `result: not_found`, or
//! `index_not_found_exception`), `POST|GET /{index}/_search` with `term` and `bool.filter`
//! queries, `sort`, `size` and `search_after`, and `POST /{index}/_refresh`. Every answer
//! carries `X-Elastic-Product: Elasticsearch` (the official clients refuse a server without
//! it); errors have Elasticsearch's `{"error": {"root_cause", "type", "reason"}, "status"}`
//! shape; with a user configured, requests need HTTP basic auth (401 `security_exception`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

/// The version this server declares (the Python client must be 8.x).
pub const VERSION: &str = "8.15.0";

#[derive(Default)]
struct Index {
    mappings: Value,
    /// id → (version, seq_no, source).
    docs: BTreeMap<String, (u64, u64, Value)>,
}

#[derive(Default)]
struct Inner {
    indices: BTreeMap<String, Index>,
    seq_no: u64,
    user: Option<(String, String)>,
    /// While true, every request answers 503 (a cluster without a master).
    unavailable: bool,
}

#[derive(Clone)]
pub struct EsServer {
    inner: Arc<Mutex<Inner>>,
    pub address: String,
}

fn answer(status: StatusCode, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert("x-elastic-product", "Elasticsearch".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    response
}

fn error(status: StatusCode, kind: &str, reason: &str, index: Option<&str>) -> Response {
    let mut cause = json!({"type": kind, "reason": reason});
    if let Some(index) = index {
        cause["index"] = json!(index);
        cause["index_uuid"] = json!("_na_");
    }
    let mut body = cause.clone();
    body["root_cause"] = json!([cause]);
    answer(status, json!({"error": body, "status": status.as_u16()}))
}

fn no_index(index: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "index_not_found_exception",
        &format!("no such index [{index}]"),
        Some(index),
    )
}

fn shards() -> Value {
    json!({"total": 2, "successful": 1, "failed": 0})
}

impl EsServer {
    /// Starts on a free port; with `user`, every request needs that basic auth.
    pub fn start(user: Option<(&str, &str)>) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            user: user.map(|(u, p)| (u.to_owned(), p.to_owned())),
            ..Inner::default()
        }));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let address = super::serve(app);
        Self { inner, address }
    }

    /// Every document of `index` as stored: (id, source).
    pub fn documents(&self, index: &str) -> Vec<(String, Value)> {
        let inner = self.inner.lock().unwrap();
        inner
            .indices
            .get(index)
            .map(|i| {
                i.docs
                    .iter()
                    .map(|(id, (_, _, s))| (id.clone(), s.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Replaces the source of document `id` (to show tampering is detected).
    pub fn overwrite(&self, index: &str, id: &str, source: Value) {
        let mut inner = self.inner.lock().unwrap();
        let doc = inner
            .indices
            .get_mut(index)
            .and_then(|i| i.docs.get_mut(id))
            .expect("document exists");
        doc.2 = source;
    }

    /// The mappings `index` was created with.
    pub fn mappings(&self, index: &str) -> Option<Value> {
        let inner = self.inner.lock().unwrap();
        inner.indices.get(index).map(|i| i.mappings.clone())
    }

    pub fn set_unavailable(&self, unavailable: bool) {
        self.inner.lock().unwrap().unavailable = unavailable;
    }
}

fn authorized(inner: &Inner, headers: &HeaderMap) -> bool {
    let Some((user, password)) = &inner.user else {
        return true;
    };
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        == Some(expected.as_str())
}

/// Whether `source` matches a `term`, `bool.filter`/`bool.must` of terms, or `match_all`.
fn matches(query: &Value, source: &Value) -> bool {
    if query.is_null() || query.get("match_all").is_some() {
        return true;
    }
    if let Some(term) = query.get("term").and_then(Value::as_object) {
        return term.iter().all(|(field, wanted)| {
            let wanted = wanted.get("value").unwrap_or(wanted);
            &source[field] == wanted
        });
    }
    if let Some(boolean) = query.get("bool") {
        return ["filter", "must"]
            .iter()
            .all(|clause| match &boolean[*clause] {
                Value::Array(queries) => queries.iter().all(|q| matches(q, source)),
                Value::Null => true,
                single => matches(single, source),
            });
    }
    false
}

fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Null, Value::Null) => std::cmp::Ordering::Equal,
        (Value::Null, _) => std::cmp::Ordering::Greater,
        (_, Value::Null) => std::cmp::Ordering::Less,
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// `(field, descending)` of each entry of a `sort`.
fn sort_fields(sort: &Value) -> Vec<(String, bool)> {
    let entries = match sort {
        Value::Array(entries) => entries.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    };
    entries
        .iter()
        .filter_map(|entry| match entry {
            Value::String(field) => Some((field.clone(), false)),
            Value::Object(map) => {
                let (field, order) = map.iter().next()?;
                let order = order.get("order").unwrap_or(order);
                Some((field.clone(), order == "desc"))
            }
            _ => None,
        })
        .collect()
}

fn search(index_name: &str, index: &Index, body: &Value) -> Response {
    let fields = sort_fields(&body["sort"]);
    let mut hits: Vec<(&String, &Value, Vec<Value>)> = index
        .docs
        .iter()
        .filter(|(_, (_, _, source))| matches(&body["query"], source))
        .map(|(id, (_, _, source))| {
            let keys = fields.iter().map(|(f, _)| source[f].clone()).collect();
            (id, source, keys)
        })
        .collect();
    let order = |a: &[Value], b: &[Value]| {
        for ((x, y), (_, desc)) in a.iter().zip(b).zip(&fields) {
            let ord = compare(x, y);
            let ord = if *desc { ord.reverse() } else { ord };
            if ord.is_ne() {
                return ord;
            }
        }
        std::cmp::Ordering::Equal
    };
    hits.sort_by(|a, b| order(&a.2, &b.2).then(a.0.cmp(b.0)));
    let total = hits.len();
    if let Some(after) = body["search_after"].as_array() {
        hits.retain(|h| order(&h.2, after).is_gt());
    }
    let size = body["size"].as_u64().unwrap_or(10) as usize;
    let page: Vec<Value> = hits
        .into_iter()
        .take(size)
        .map(|(id, source, keys)| {
            let mut hit = json!({"_index": index_name, "_id": id, "_score": null,
                "_source": source});
            if !fields.is_empty() {
                hit["sort"] = Value::Array(keys);
            }
            hit
        })
        .collect();
    answer(
        StatusCode::OK,
        json!({"took": 1, "timed_out": false, "_shards": shards(),
            "hits": {"total": {"value": total, "relation": "eq"}, "max_score": null,
                "hits": page}}),
    )
}

fn write_doc(
    inner: &mut Inner,
    index_name: &str,
    id: &str,
    source: Value,
    create: bool,
) -> Response {
    inner.seq_no += 1;
    let seq_no = inner.seq_no;
    let index = inner.indices.entry(index_name.to_owned()).or_default();
    let (status, result, version) = match index.docs.get(id) {
        Some((version, _, _)) if create => {
            return error(
                StatusCode::CONFLICT,
                "version_conflict_engine_exception",
                &format!(
                    "[{id}]: version conflict, document already exists (current version \
                     [{version}])"
                ),
                Some(index_name),
            );
        }
        Some((version, _, _)) => (StatusCode::OK, "updated", version + 1),
        None => (StatusCode::CREATED, "created", 1),
    };
    index.docs.insert(id.to_owned(), (version, seq_no, source));
    answer(
        status,
        json!({"_index": index_name, "_id": id, "_version": version, "result": result,
            "_shards": shards(), "_seq_no": seq_no, "_primary_term": 1}),
    )
}

async fn handle(
    State(state): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = state.lock().unwrap();
    if inner.unavailable {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "cluster_block_exception",
            "blocked by: [SERVICE_UNAVAILABLE/2/no master];",
            None,
        );
    }
    if !authorized(&inner, &headers) {
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            "security_exception",
            "missing authentication credentials for REST request",
            None,
        );
        response.headers_mut().insert(
            "www-authenticate",
            "Basic realm=\"security\" charset=\"UTF-8\""
                .parse()
                .unwrap(),
        );
        return response;
    }
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(body) => body,
            Err(err) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "parse_exception",
                    &format!("request body is not JSON: {err}"),
                    None,
                );
            }
        }
    };
    let segments = super::segments(&uri);
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", []) => answer(
            StatusCode::OK,
            json!({"name": "saker-test", "cluster_name": "saker",
                "cluster_uuid": "0123456789abcdefABCDEF", "version": {"number": VERSION,
                "build_flavor": "default", "build_type": "docker", "lucene_version": "9.11.1",
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0"},
                "tagline": "You Know, for Search"}),
        ),
        ("HEAD", [index]) => {
            let status = if inner.indices.contains_key(*index) {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            };
            answer(status, Value::Null)
        }
        ("PUT", [index]) => {
            if inner.indices.contains_key(*index) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "resource_already_exists_exception",
                    &format!("index [{index}/0123456789] already exists"),
                    Some(index),
                );
            }
            inner.indices.insert(
                (*index).to_owned(),
                Index {
                    mappings: body["mappings"].clone(),
                    docs: BTreeMap::new(),
                },
            );
            answer(
                StatusCode::OK,
                json!({"acknowledged": true, "shards_acknowledged": true, "index": index}),
            )
        }
        ("PUT" | "POST", [index, "_doc", id]) => write_doc(&mut inner, index, id, body, false),
        ("PUT" | "POST", [index, "_create", id]) => write_doc(&mut inner, index, id, body, true),
        ("GET", [index, "_doc", id]) => match inner.indices.get(*index) {
            None => no_index(index),
            Some(i) => match i.docs.get(*id) {
                Some((version, seq_no, source)) => answer(
                    StatusCode::OK,
                    json!({"_index": index, "_id": id, "_version": version,
                        "_seq_no": seq_no, "_primary_term": 1, "found": true,
                        "_source": source}),
                ),
                None => answer(
                    StatusCode::NOT_FOUND,
                    json!({"_index": index, "_id": id, "found": false}),
                ),
            },
        },
        ("DELETE", [index, "_doc", id]) => {
            inner.seq_no += 1;
            let seq_no = inner.seq_no;
            match inner.indices.get_mut(*index) {
                None => no_index(index),
                Some(i) => {
                    let (status, result, version) = match i.docs.remove(*id) {
                        Some((version, _, _)) => (StatusCode::OK, "deleted", version + 1),
                        None => (StatusCode::NOT_FOUND, "not_found", 1),
                    };
                    answer(
                        status,
                        json!({"_index": index, "_id": id, "_version": version,
                            "result": result, "_shards": shards(), "_seq_no": seq_no,
                            "_primary_term": 1}),
                    )
                }
            }
        }
        ("GET" | "POST", [index, "_search"]) => match inner.indices.get(*index) {
            None => no_index(index),
            Some(i) => search(index, i, &body),
        },
        ("POST" | "GET", [index, "_refresh"]) => match inner.indices.get(*index) {
            None => no_index(index),
            Some(_) => answer(StatusCode::OK, json!({"_shards": shards()})),
        },
        _ => error(
            StatusCode::BAD_REQUEST,
            "illegal_argument_exception",
            &format!(
                "request [{}] contains unrecognized parameters or an unsupported method [{method}]",
                uri.path()
            ),
            None,
        ),
    }
}
