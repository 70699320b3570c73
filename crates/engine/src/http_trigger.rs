//! Kestra's HTTP trigger (`io.kestra.plugin.core.http.Trigger`, alias
//! `io.kestra.plugin.fs.http.Trigger`): a polling trigger. Every `interval` (default PT60S)
//! it calls `uri` and renders `responseCondition` (default `{{ response.statusCode < 400 }}`)
//! over `response.statusCode`, `response.body` and `response.headers`; when it holds (and
//! the trigger's `conditions` do), it starts the flow, which sees the answer as
//! `trigger.uri`, `trigger.code`, `trigger.headers` and `trigger.body` (Kestra's Request
//! outputs). `stopAfter` (execution states): once an execution the trigger started ends in
//! one of them, the trigger stops polling.
//!
//! Secrets. Its templates see `flow` and `secret()`, resolved as the SCHEDULER through
//! [`TriggerSecrets`] (like a Webhook trigger's key); each value joins the process-wide mask
//! set. What the trigger logs and what it stores in the execution is masked: the URI with
//! every byte that came from a secret as `****`, and the answer's body and headers with
//! every secret value the request was rendered from masked (a server may echo them).
//!
//! State. When each trigger is next due, the last execution it started and whether
//! `stopAfter` stopped it are kept in this process, not in the store: a restart polls every
//! trigger at once and starts stopped ones again. (The store's trigger states belong to the
//! Schedule triggers, whose scheduler removes any other.) A trigger whose definition changed
//! starts afresh, polling at once.

mod request;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use saker_expr::{Context, Limits, RenderEnv, SecretResolver, Value};
use saker_model::{ExecutionTrigger, Flow, StateType, TriggerDef};
use serde_json::{Map, Value as Json};

use crate::trigger::{TriggerRequester, TriggerSecrets, flow_variables};
use crate::{Engine, EngineError};
use request::{PollRequest, PollResponse, Renderer};

/// The canonical type of the HTTP trigger (its alias is normalised by the parser).
pub const HTTP_TRIGGER: &str = "io.kestra.plugin.core.http.Trigger";

/// Kestra's default `interval`.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Kestra's default `responseCondition`.
const DEFAULT_CONDITION: &str = "{{ response.statusCode < 400 }}";

/// Bounds on a trigger's renders (the condition sees a body of up to 10 MiB).
const LIMITS: Limits = Limits {
    max_output_bytes: 16 * 1024 * 1024,
    max_iterations: 100_000,
    max_range: 100_000,
    max_render_depth: 2,
    ..Limits::DEFAULT
};

/// (tenant, namespace, flow id, trigger id).
type TriggerKey = (String, String, String, String);

/// What this process remembers of one trigger.
struct PollState {
    /// The trigger's properties as written: a change starts it afresh.
    fingerprint: String,
    next: DateTime<Utc>,
    last_execution: Option<String>,
    stopped: bool,
}

/// One execution a poll started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub tenant: String,
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    pub execution_id: String,
}

/// Polls the HTTP triggers of every stored flow of an [`Engine`].
pub struct HttpTriggers {
    engine: Arc<Engine>,
    secrets: Option<Arc<dyn TriggerSecrets>>,
    states: Mutex<HashMap<TriggerKey, PollState>>,
    /// Parsed flows by (tenant, namespace, id, revision).
    flows: Mutex<HashMap<TriggerKey, Arc<Flow>>>,
}

impl HttpTriggers {
    /// `secrets` answers the `secret()` calls of the triggers' properties (as the SCHEDULER);
    /// without it they fail.
    pub fn new(engine: Arc<Engine>, secrets: Option<Arc<dyn TriggerSecrets>>) -> Self {
        Self {
            engine,
            secrets,
            states: Mutex::new(HashMap::new()),
            flows: Mutex::new(HashMap::new()),
        }
    }

    /// Ticks every `every` until `shutdown` resolves; each trigger polls at its own interval.
    pub async fn run(self: Arc<Self>, every: Duration, shutdown: impl Future<Output = ()>) {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = interval.tick() => {}
            }
            if let Err(e) = self.tick(Utc::now()).await {
                tracing::error!(error = %e, "HTTP trigger tick failed");
            }
        }
    }

    /// Polls every HTTP trigger due at `now`; returns the executions it started.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Vec<Fired>, EngineError> {
        let mut fired = Vec::new();
        for (tenant, revision, flow) in self.flows_with_triggers().await? {
            for trigger in flow.triggers.iter() {
                if trigger.type_name != HTTP_TRIGGER || trigger.disabled {
                    continue;
                }
                let key = (
                    tenant.clone(),
                    flow.namespace.clone(),
                    flow.id.clone(),
                    trigger.id.clone(),
                );
                if !self.due(&key, trigger, now).await? {
                    continue;
                }
                let interval = interval_of(trigger);
                let started = self.poll(&tenant, &flow, revision, trigger).await;
                let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(state) = states.get_mut(&key) {
                    state.next = now + chrono::Duration::from_std(interval).unwrap_or_default();
                    if let Some(execution_id) = started? {
                        state.last_execution = Some(execution_id.clone());
                        fired.push(Fired {
                            tenant: tenant.clone(),
                            namespace: flow.namespace.clone(),
                            flow_id: flow.id.clone(),
                            trigger_id: trigger.id.clone(),
                            execution_id,
                        });
                    }
                }
            }
        }
        Ok(fired)
    }

    /// Whether `trigger` polls now: new or changed, or its interval passed, and not stopped
    /// (checking `stopAfter` against the last execution it started).
    async fn due(
        &self,
        key: &TriggerKey,
        trigger: &TriggerDef,
        now: DateTime<Utc>,
    ) -> Result<bool, EngineError> {
        let fingerprint = serde_json::to_string(&trigger.properties).unwrap_or_default();
        let last = {
            let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
            let state = states.entry(key.clone()).or_insert_with(|| PollState {
                fingerprint: fingerprint.clone(),
                next: now,
                last_execution: None,
                stopped: false,
            });
            if state.fingerprint != fingerprint {
                *state = PollState {
                    fingerprint,
                    next: now,
                    last_execution: None,
                    stopped: false,
                };
            }
            if state.stopped || state.next > now {
                return Ok(false);
            }
            state.last_execution.clone()
        };
        let stop_after = stop_after(trigger);
        let (Some(last), false) = (last, stop_after.is_empty()) else {
            return Ok(true);
        };
        let store = self.engine.store().clone();
        let execution = tokio::task::spawn_blocking(move || store.get_execution(&last))
            .await
            .map_err(|_| EngineError::Stopped)??;
        let ended_in = execution
            .map(|e| e.state.current)
            .filter(|s| s.is_terminated() && stop_after.contains(s));
        if let Some(state) = ended_in {
            tracing::info!(
                trigger = %key.3, flow = %key.2, namespace = %key.1,
                "an execution this HTTP trigger started ended {state}, which is in its \
                 stopAfter: the trigger stops polling"
            );
            let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(s) = states.get_mut(key) {
                s.stopped = true;
            }
            return Ok(false);
        }
        Ok(true)
    }

    /// Every stored flow (latest revision) that has an enabled HTTP trigger.
    async fn flows_with_triggers(&self) -> Result<Vec<(String, u32, Arc<Flow>)>, EngineError> {
        let store = self.engine.store().clone();
        let records = tokio::task::spawn_blocking(move || {
            let mut records = Vec::new();
            for tenant in store.flow_tenants()? {
                records.extend(store.list_flows(&tenant, None)?);
            }
            Ok::<_, saker_store::StoreError>(records)
        })
        .await
        .map_err(|_| EngineError::Stopped)??;
        let mut out = Vec::new();
        let mut flows = self.flows.lock().unwrap_or_else(|e| e.into_inner());
        for record in records {
            // A cheap look before parsing: most flows have no HTTP trigger.
            if !record.source.contains("http.Trigger") {
                continue;
            }
            let key = (
                record.tenant.clone(),
                record.namespace.clone(),
                record.id.clone(),
                record.revision.to_string(),
            );
            let flow = match flows.get(&key) {
                Some(flow) => flow.clone(),
                None => match saker_model::parse_flow(&record.source) {
                    Ok(flow) => {
                        let flow = Arc::new(flow);
                        // Only the latest revision matters: forget the older ones.
                        flows
                            .retain(|(t, n, i, _), _| !(t == &key.0 && n == &key.1 && i == &key.2));
                        flows.insert(key, flow.clone());
                        flow
                    }
                    Err(_) => continue,
                },
            };
            if !flow.disabled {
                out.push((record.tenant, record.revision, flow));
            }
        }
        Ok(out)
    }

    /// Polls once; the id of the execution started, if the conditions held. A poll that
    /// fails (bad property, no answer, a condition that does not render) is logged, masked,
    /// and starts nothing.
    async fn poll(
        &self,
        tenant: &str,
        flow: &Arc<Flow>,
        revision: u32,
        trigger: &TriggerDef,
    ) -> Result<Option<String>, EngineError> {
        let resolver = self
            .secrets
            .as_deref()
            .map(|source| crate::trigger::KeySecrets {
                source,
                requester: TriggerRequester {
                    tenant_id: tenant.to_owned(),
                    namespace: flow.namespace.clone(),
                    flow_id: flow.id.clone(),
                    trigger_id: trigger.id.clone(),
                },
            });
        let mut ctx = Context::new();
        ctx.insert("flow", flow_variables(tenant, flow));
        let mut renderer = Renderer {
            ctx,
            env: RenderEnv {
                secrets: resolver.as_ref().map(|r| r as &dyn SecretResolver),
                allow_secrets: true,
                limits: LIMITS,
                ..RenderEnv::default()
            },
            tainted: Vec::new(),
        };
        let label = format!("{tenant}/{}/{}/{}", flow.namespace, flow.id, trigger.id);
        let request = match PollRequest::from_properties(&trigger.properties, &mut renderer) {
            Ok(request) => request,
            Err(problem) => {
                let problem = renderer.masks().mask(&problem).into_owned();
                tracing::error!(trigger = %label, %problem, "the HTTP trigger cannot poll");
                return Ok(None);
            }
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(problem) => {
                let problem = renderer.masks().mask(&problem).into_owned();
                tracing::warn!(
                    trigger = %label, uri = %request.shown_uri(), %problem,
                    "the HTTP trigger's call failed"
                );
                return Ok(None);
            }
        };
        let masks = renderer.masks();
        let response = masked(response, &masks);
        tracing::debug!(
            trigger = %label, uri = %request.shown_uri(), status = response.status,
            "the HTTP trigger's call answered"
        );
        match condition_holds(&mut renderer, trigger, &response) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(problem) => {
                let problem = masks.mask(&problem).into_owned();
                tracing::error!(trigger = %label, %problem, "the HTTP trigger's condition failed");
                return Ok(None);
            }
        }
        let mut variables = Map::new();
        variables.insert("uri".into(), Json::String(request.shown_uri()));
        variables.insert("code".into(), Json::from(response.status));
        variables.insert("headers".into(), Json::Object(response.headers));
        variables.insert(
            "body".into(),
            response.body.map(Json::String).unwrap_or(Json::Null),
        );
        let engine = self.engine.clone();
        let (tenant, flow, trigger_id) = (tenant.to_owned(), flow.clone(), trigger.id.clone());
        let started = tokio::task::spawn_blocking(move || {
            engine.create_execution_triggered(
                &tenant,
                flow,
                revision,
                Map::new(),
                ExecutionTrigger {
                    id: trigger_id,
                    type_name: HTTP_TRIGGER.to_owned(),
                    variables,
                },
            )
        })
        .await
        .map_err(|_| EngineError::Stopped)?;
        match started {
            Ok(execution) => {
                tracing::info!(trigger = %label, execution = %execution.id, "HTTP trigger started an execution");
                Ok(Some(execution.id))
            }
            Err(e @ (EngineError::Store(_) | EngineError::Stopped)) => Err(e),
            Err(e) => {
                tracing::error!(trigger = %label, problem = %e, "HTTP trigger execution not started");
                Ok(None)
            }
        }
    }
}

/// The answer with every secret value of the request masked in its body and headers.
fn masked(response: PollResponse, masks: &saker_mask::MaskSet) -> PollResponse {
    let mask = |text: String| masks.mask(&text).into_owned();
    let headers = response
        .headers
        .into_iter()
        .map(|(name, values)| {
            let values = match values {
                Json::Array(items) => Json::Array(
                    items
                        .into_iter()
                        .map(|v| match v {
                            Json::String(s) => Json::String(mask(s)),
                            other => other,
                        })
                        .collect(),
                ),
                other => other,
            };
            (name, values)
        })
        .collect();
    PollResponse {
        status: response.status,
        headers,
        body: response.body.map(mask),
    }
}

/// `responseCondition` over `response`, then the trigger's `conditions` over `flow`.
fn condition_holds(
    renderer: &mut Renderer<'_>,
    trigger: &TriggerDef,
    response: &PollResponse,
) -> Result<bool, String> {
    let source = match trigger.properties.get("responseCondition") {
        None | Some(Json::Null) => DEFAULT_CONDITION.to_owned(),
        Some(Json::String(s)) => s.clone(),
        Some(v @ (Json::Bool(_) | Json::Number(_))) => v.to_string(),
        Some(_) => return Err("'responseCondition' must be a string".to_owned()),
    };
    let mut vars = Map::new();
    vars.insert("statusCode".into(), Json::from(response.status));
    vars.insert("headers".into(), Json::Object(response.headers.clone()));
    vars.insert(
        "body".into(),
        response
            .body
            .clone()
            .map(Json::String)
            .unwrap_or(Json::Null),
    );
    renderer
        .ctx
        .insert("response", Value::from_json(&Json::Object(vars)));
    let rendered = renderer.render("responseCondition", &source)?;
    if !crate::task_context::is_truthy(&rendered.text) {
        return Ok(false);
    }
    if trigger.conditions.is_empty() {
        return Ok(true);
    }
    let mut render = |template: &str| renderer.render("conditions", template).map(|r| r.text);
    saker_model::condition::all_hold(&trigger.conditions, None, &mut render)
        .map_err(|e| e.to_string())
}

/// `interval`, Kestra's ISO-8601 duration (PT60S when absent or unreadable).
fn interval_of(trigger: &TriggerDef) -> Duration {
    match trigger.properties.get("interval") {
        Some(Json::String(text)) => saker_model::duration::parse(text)
            .ok()
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_INTERVAL),
        _ => DEFAULT_INTERVAL,
    }
}

/// `stopAfter`: execution states.
fn stop_after(trigger: &TriggerDef) -> Vec<StateType> {
    match trigger.properties.get("stopAfter") {
        Some(Json::Array(items)) => items
            .iter()
            .filter_map(Json::as_str)
            .filter_map(StateType::parse)
            .collect(),
        Some(Json::String(one)) => StateType::parse(one).into_iter().collect(),
        _ => Vec::new(),
    }
}
