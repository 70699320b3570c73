//! The Elasticsearch REST calls the backend uses: index creation, `PUT _create` and
//! `PUT _doc` (with `refresh=true`, so searches see a write at once), `GET _doc`,
//! `DELETE _doc`, and `_search` with term filters paged by `search_after`. Each call goes to
//! the first configured host, and to the next one when a host does not answer.
//!
//! Over the shared reqwest client rather than the official `elasticsearch` crate: that crate
//! has only ever been published as alpha releases (8.19.0-alpha.1, 9.1.0-alpha.1) with
//! native-tls by default, and this backend needs six JSON calls.

use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::Method;
use serde_json::{Value, json};

use super::config::ElasticsearchConfig;
use crate::json_api::{JsonApi, Reply, url_with, with_json};

/// Documents per `_search` page.
const PAGE: usize = 100;

/// Why a call failed. Neither variant holds a document's source: Elasticsearch's errors are
/// reduced to their `type` and `reason`, and transport errors name the host.
#[derive(Debug, Clone)]
pub(crate) enum CallError {
    /// No host answered.
    Transport(String),
    /// Elasticsearch answered an error status.
    Status {
        status: u16,
        kind: String,
        reason: String,
    },
}

impl CallError {
    pub(crate) fn is(&self, kind: &str) -> bool {
        matches!(self, CallError::Status { kind: k, .. } if k == kind)
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Transport(message) => f.write_str(message),
            CallError::Status {
                status,
                kind,
                reason,
            } => write!(f, "Elasticsearch answered {status} {kind}: {reason}"),
        }
    }
}

fn status_error(reply: &Reply) -> CallError {
    let error = &reply.body["error"];
    let (kind, reason) = match error {
        Value::Object(_) => (
            error["type"].as_str().unwrap_or("error").to_owned(),
            error["reason"].as_str().unwrap_or("").to_owned(),
        ),
        Value::String(text) => ("error".to_owned(), text.clone()),
        _ => ("error".to_owned(), String::new()),
    };
    CallError::Status {
        status: reply.status,
        kind,
        reason,
    }
}

/// The mappings of the index: identifiers as keywords (term queries match them exactly),
/// everything else stored but not indexed (the sealed value is never searchable).
fn mappings() -> Value {
    json!({"mappings": {"dynamic": false, "properties": {
        "kind": {"type": "keyword"}, "tenant": {"type": "keyword"},
        "namespace": {"type": "keyword"}, "key": {"type": "keyword"},
        "version": {"type": "long"},
        "value": {"type": "keyword", "index": false, "doc_values": false},
        "meta": {"type": "object", "enabled": false}
    }}})
}

pub(crate) struct EsClient {
    api: JsonApi,
    config: ElasticsearchConfig,
    index_ready: AtomicBool,
}

impl EsClient {
    pub(crate) fn new(config: ElasticsearchConfig) -> Result<Self, crate::StoreError> {
        let api = JsonApi::for_backend(
            "elasticsearch",
            "saker-elasticsearch-secrets",
            config.trust_all_ssl,
        )?;
        Ok(Self {
            api,
            config,
            index_ready: AtomicBool::new(false),
        })
    }

    pub(crate) fn config(&self) -> &ElasticsearchConfig {
        &self.config
    }

    /// Where the backend is, for messages: the first host and the index.
    pub(crate) fn place(&self) -> String {
        format!("{} index {}", self.config.hosts[0], self.config.index)
    }

    /// One call to `/{index}/{path...}`, tried host after host until one answers.
    fn call(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Reply, CallError> {
        let mut failures = Vec::new();
        for host in &self.config.hosts {
            let mut segments = vec![self.config.index.as_str()];
            segments.extend_from_slice(path);
            let mut url = url_with(host, &segments);
            if !query.is_empty() {
                url.query_pairs_mut().extend_pairs(query);
            }
            let mut request = self.api.request(method.clone(), url);
            if let Some((user, password)) = &self.config.basic_auth {
                request = request.basic_auth(user, Some(password.as_str()));
            }
            for (name, value) in &self.config.headers {
                request = request.header(name.as_str(), value.as_str());
            }
            if let Some(body) = body {
                request = with_json(request, body);
            }
            match self.api.send(request) {
                Ok(reply) => return Ok(reply),
                Err(message) => failures.push(format!("{host}: {message}")),
            }
        }
        Err(CallError::Transport(failures.join("; ")))
    }

    fn ok(reply: Reply) -> Result<Value, CallError> {
        if reply.is_success() {
            Ok(reply.body)
        } else {
            Err(status_error(&reply))
        }
    }

    /// Elasticsearch's own "no such document" (`found: false`, `result: not_found`) or "no
    /// such index". Any other 404 (a proxy's, a wrong `path-prefix`) is an error: read as
    /// "absent" it would let resolution fall back to a parent namespace.
    fn is_missing(reply: &Reply) -> bool {
        reply.status == 404
            && (reply.body["found"] == false
                || reply.body["result"] == "not_found"
                || status_error(reply).is("index_not_found_exception"))
    }

    /// Creates the index with its mappings once per process (an existing one is kept).
    fn ensure_index(&self) -> Result<(), CallError> {
        if self.index_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let reply = self.call(Method::PUT, &[], &[], Some(&mappings()))?;
        if !reply.is_success() {
            let err = status_error(&reply);
            if !err.is("resource_already_exists_exception") {
                return Err(err);
            }
        }
        self.index_ready.store(true, Ordering::Release);
        Ok(())
    }

    /// `_source` of document `id`, `None` when it (or the index) does not exist.
    pub(crate) fn get(&self, id: &str) -> Result<Option<Value>, CallError> {
        let reply = self.call(Method::GET, &["_doc", id], &[], None)?;
        if Self::is_missing(&reply) {
            return Ok(None);
        }
        let body = Self::ok(reply)?;
        Ok(body["found"]
            .as_bool()
            .unwrap_or(false)
            .then(|| body["_source"].clone()))
    }

    /// Writes document `id`; with `create`, only if it does not exist yet (`Ok(false)` when
    /// it does: Elasticsearch's 409 `version_conflict_engine_exception`).
    pub(crate) fn put(&self, id: &str, source: &Value, create: bool) -> Result<bool, CallError> {
        self.ensure_index()?;
        let endpoint = if create { "_create" } else { "_doc" };
        let reply = self.call(
            Method::PUT,
            &[endpoint, id],
            &[("refresh", "true")],
            Some(source),
        )?;
        if create && reply.status == 409 {
            return Ok(false);
        }
        Self::ok(reply).map(|_| true)
    }

    /// Deletes document `id`; `Ok(false)` when there was none.
    pub(crate) fn delete(&self, id: &str) -> Result<bool, CallError> {
        let reply = self.call(Method::DELETE, &["_doc", id], &[("refresh", "true")], None)?;
        if Self::is_missing(&reply) {
            return Ok(false);
        }
        Self::ok(reply).map(|_| true)
    }

    /// `_source` of every document matching all `terms` (field, value), in `sort` order
    /// (field, `asc`/`desc`), page after page through `search_after`.
    pub(crate) fn search(
        &self,
        terms: &[(&str, Value)],
        sort: (&str, &str),
    ) -> Result<Vec<Value>, CallError> {
        let filter: Vec<Value> = terms
            .iter()
            .map(|(field, value)| json!({"term": {*field: value}}))
            .collect();
        let mut found = Vec::new();
        let mut after: Option<Value> = None;
        loop {
            let mut body = json!({"size": PAGE, "query": {"bool": {"filter": filter}},
                "sort": [{sort.0: {"order": sort.1}}]});
            if let Some(after) = &after {
                body["search_after"] = after.clone();
            }
            let reply = self.call(Method::POST, &["_search"], &[], Some(&body))?;
            if reply.status == 404 && status_error(&reply).is("index_not_found_exception") {
                return Ok(found);
            }
            let page = Self::ok(reply)?;
            let hits = page["hits"]["hits"].as_array().cloned().unwrap_or_default();
            let full = hits.len() == PAGE;
            for hit in &hits {
                found.push(hit["_source"].clone());
                after = Some(hit["sort"].clone());
            }
            if !full {
                return Ok(found);
            }
        }
    }
}
