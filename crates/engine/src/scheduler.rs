//! The scheduler: fires the `Schedule` triggers of every stored flow.
//!
//! Each enabled Schedule trigger has a durable [`TriggerState`]: the next date it is due and
//! a fingerprint of the schedule that date was computed from. A [`Scheduler::tick`] looks at
//! every trigger, and for each one that is due creates the execution and advances the state
//! **in one store transaction**, so a crash between the two can neither lose a scheduled
//! execution nor start it twice.
//!
//! - A trigger seen for the first time (or whose cron, `withSeconds` or `timezone` changed)
//!   starts from now: its first execution is its next occurrence, as in Kestra.
//! - Occurrences that came due while no scheduler ran are recovered as the trigger's
//!   `recoverMissedSchedules` says: `ALL` (the default) starts each of them, oldest first,
//!   at most [`SchedulerConfig::max_per_tick`] per tick so a long outage drains steadily;
//!   `LAST` starts only the latest; `NONE` starts none of those late by more than
//!   [`SchedulerConfig::late_after`].
//! - The execution sees `trigger.date`, `trigger.next` and `trigger.previous` (the
//!   schedule's dates, in its timezone) and gets the trigger's `inputs`, whose strings are
//!   templates over `flow` and `trigger` (`secret()` refused: a rendered input is stored as
//!   given, not as a secret). Inputs that do not render or do not fit the flow skip that
//!   date, with an error in the log.
//! - `conditions` (and the older `scheduleConditions`: DayWeek, DayWeekInMonth,
//!   DateTimeBetween, Weekend, Expression) are decided for each due date, their templates
//!   rendered over `flow` and `trigger`: a date where one does not hold is skipped, and one
//!   that cannot be decided is skipped with an error in the log. Properties Saker does not
//!   implement yet (`stopAfter`, `backfill`) are reported once and ignored. `lateMaximumDelay` skips the
//!   dates reached later than it.
//! - The state of a trigger that is gone (flow deleted or disabled, trigger removed or
//!   disabled) is deleted: enabling it again starts from that moment.
//!
//! One scheduler may run per database: `saker server local` runs it in the process that
//! holds the executor claim.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use saker_expr::{Context, Limits, RenderEnv, Template, Value};
use saker_model::schedule::{RecoverMissed, Schedule, ScheduleError};
use saker_model::{ExecutionTrigger, Flow};
use saker_store::{FlowRecord, TriggerState};
use serde_json::{Map, Value as Json};

use crate::{Engine, EngineError};

/// Listed by the model among the properties to report, but decided here.
const HANDLED: &[&str] = &["conditions", "scheduleConditions"];

/// How the scheduler paces itself.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// How often [`Scheduler::run`] ticks.
    pub interval: Duration,
    /// At most this many executions per trigger per tick when recovering missed dates.
    pub max_per_tick: usize,
    /// Under `recoverMissedSchedules: NONE`, a date later than this is missed, not late.
    pub late_after: chrono::Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            max_per_tick: 100,
            late_after: chrono::Duration::seconds(60),
        }
    }
}

/// A stored flow revision: tenant, namespace, id, revision.
type FlowKey = (String, String, String, u32);

/// A flow revision as the scheduler needs it, computed once per revision: a tick reads every
/// flow, and compiling its crons each second would cost more than the rest of the tick.
struct Parsed {
    flow: Arc<Flow>,
    schedules: Vec<Result<Schedule, (String, ScheduleError)>>,
}

/// One execution a tick started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub tenant: String,
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    /// The scheduled date (`trigger.date`).
    pub date: DateTime<Utc>,
    pub execution_id: String,
}

/// Fires Schedule triggers on an [`Engine`].
pub struct Scheduler {
    engine: Arc<Engine>,
    config: SchedulerConfig,
    /// Parsed flows by (tenant, namespace, id, revision), so a tick does not re-parse them.
    flows: Mutex<HashMap<FlowKey, Arc<Parsed>>>,
    /// What has been reported once (trigger key and reason).
    reported: Mutex<HashSet<String>>,
}

impl Scheduler {
    pub fn new(engine: Arc<Engine>, config: SchedulerConfig) -> Self {
        Self {
            engine,
            config,
            flows: Mutex::new(HashMap::new()),
            reported: Mutex::new(HashSet::new()),
        }
    }

    /// Ticks every [`SchedulerConfig::interval`] until `shutdown` resolves. Store calls run
    /// on the blocking pool; an error is logged and the next tick tries again.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        let mut interval = tokio::time::interval(self.config.interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = interval.tick() => {}
            }
            let this = self.clone();
            match tokio::task::spawn_blocking(move || this.tick(Utc::now())).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "scheduler tick failed"),
                Err(e) => tracing::error!(error = %e, "scheduler tick panicked"),
            }
        }
    }

    /// Fires what is due at `now` and returns what it started.
    pub fn tick(&self, now: DateTime<Utc>) -> Result<Vec<Fired>, EngineError> {
        let store = self.engine.store().clone();
        let mut fired = Vec::new();
        // Tenants with flows, and those with states only (their last flow was deleted).
        let mut tenants = store.flow_tenants()?;
        tenants.extend(store.trigger_state_tenants()?);
        tenants.sort();
        tenants.dedup();
        for tenant in tenants {
            let mut states: HashMap<(String, String, String), TriggerState> = store
                .trigger_states(&tenant)?
                .into_iter()
                .map(|s| {
                    let key = (s.namespace.clone(), s.flow_id.clone(), s.trigger_id.clone());
                    (key, s)
                })
                .collect();
            for record in store.list_flows(&tenant, None)? {
                let Some(parsed) = self.parsed(&record) else {
                    continue;
                };
                let flow = &parsed.flow;
                if flow.disabled {
                    continue;
                }
                for schedule in &parsed.schedules {
                    let key_of = |trigger: &str| {
                        (flow.namespace.clone(), flow.id.clone(), trigger.to_owned())
                    };
                    match schedule {
                        Err((trigger_id, e)) => {
                            states.remove(&key_of(trigger_id));
                            self.report_once(
                                &format!("{tenant}/{}/{}/{trigger_id}", flow.namespace, flow.id),
                                &e.to_string(),
                            );
                        }
                        Ok(schedule) => {
                            let state = states.remove(&key_of(&schedule.trigger_id));
                            self.fire_due(&record, flow, schedule, state, now, &mut fired)?;
                        }
                    }
                }
            }
            // What is left belongs to triggers that are gone.
            for ((namespace, flow_id, trigger_id), _) in states {
                store.delete_trigger_state(&tenant, &namespace, &flow_id, &trigger_id)?;
            }
        }
        Ok(fired)
    }

    /// Starts what is due of one trigger of `record`'s flow and advances its state.
    fn fire_due(
        &self,
        record: &FlowRecord,
        flow: &Arc<Flow>,
        schedule: &Schedule,
        state: Option<TriggerState>,
        now: DateTime<Utc>,
        fired: &mut Vec<Fired>,
    ) -> Result<(), EngineError> {
        let store = self.engine.store();
        let tenant = record.tenant.as_str();
        let label = format!(
            "{tenant}/{}/{}/{}",
            flow.namespace, flow.id, schedule.trigger_id
        );
        let fingerprint = schedule.fingerprint();
        let state_at = |next_date: DateTime<Utc>| TriggerState {
            tenant: tenant.to_owned(),
            namespace: flow.namespace.clone(),
            flow_id: flow.id.clone(),
            trigger_id: schedule.trigger_id.clone(),
            next_date,
            fingerprint: fingerprint.clone(),
            updated_at: now,
        };
        // Waits for the first date after now, starting nothing.
        let resume_after_now = || match schedule.next_after(now) {
            Some(next) => store.save_trigger_state(&state_at(next)),
            None => {
                self.report_once(&label, "the schedule has no future date");
                Ok(())
            }
        };
        let state = match state {
            Some(s) if s.fingerprint == fingerprint => s,
            // New or changed: start from now.
            _ => return Ok(resume_after_now()?),
        };
        if state.next_date > now {
            return Ok(());
        }
        for ignored in schedule.unsupported.iter().filter(|p| !HANDLED.contains(p)) {
            self.report_once(
                &format!("{label}/{ignored}"),
                &format!("'{ignored}' on a Schedule trigger is not yet available and is ignored"),
            );
        }

        let due = self.dates_to_fire(schedule, state.next_date, now);
        if due.is_empty() {
            // Everything due was missed (NONE, lateMaximumDelay).
            return Ok(resume_after_now()?);
        }
        for date in due {
            // Under ALL the state moves date by date; LAST and NONE fire one date, the latest.
            let next = match schedule.recover {
                RecoverMissed::All => schedule.next_after(date),
                RecoverMissed::Last | RecoverMissed::None => schedule.next_after(now),
            };
            let Some(next) = next else {
                self.report_once(&label, "the schedule has no future date");
                return Ok(());
            };
            let variables = trigger_variables(schedule, date);
            let holds = conditions_hold(&schedule.conditions, tenant, flow, &variables);
            if holds != Ok(true) {
                if let Err(problem) = holds {
                    tracing::error!(
                        trigger = %label,
                        date = %schedule.format_date(date),
                        %problem,
                        "the trigger's conditions could not be decided; the date is skipped"
                    );
                }
                store.save_trigger_state(&state_at(next))?;
                continue;
            }
            let started = match render_inputs(&schedule.inputs, tenant, flow, &variables) {
                Err(problem) => Err(problem),
                Ok(inputs) => match self.engine.create_execution_scheduled(
                    tenant,
                    flow.clone(),
                    record.revision,
                    inputs,
                    ExecutionTrigger {
                        id: schedule.trigger_id.clone(),
                        type_name: Schedule::TYPE.to_owned(),
                        variables,
                    },
                    &state_at(next),
                ) {
                    Ok(execution) => Ok(execution),
                    // The store or the engine is gone: the next tick tries again.
                    Err(e @ (EngineError::Store(_) | EngineError::Stopped)) => return Err(e),
                    Err(e) => Err(e.to_string()),
                },
            };
            match started {
                Ok(execution) => {
                    tracing::info!(
                        trigger = %label,
                        date = %schedule.format_date(date),
                        execution = %execution.id,
                        "scheduled execution started"
                    );
                    fired.push(Fired {
                        tenant: tenant.to_owned(),
                        namespace: flow.namespace.clone(),
                        flow_id: flow.id.clone(),
                        trigger_id: schedule.trigger_id.clone(),
                        date,
                        execution_id: execution.id,
                    });
                }
                // This flow cannot start from this date (inputs that do not render or fit, a
                // SECRET input without encryption.secret-key, ...): retrying each second
                // would not help. Skip the date, say why, and go on with the other triggers.
                Err(problem) => {
                    tracing::error!(
                        trigger = %label,
                        date = %schedule.format_date(date),
                        %problem,
                        "scheduled execution not started"
                    );
                    store.save_trigger_state(&state_at(next))?;
                }
            }
        }
        Ok(())
    }

    /// The dates to start now, oldest first, given the first due date `first` (≤ `now`).
    fn dates_to_fire(
        &self,
        schedule: &Schedule,
        first: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        // `lateMaximumDelay`: a date reached later than this is skipped, whatever the
        // recovery says; under ALL, the recovery starts at the first date still in time.
        let Some(delay) = schedule
            .late_maximum_delay
            .and_then(|d| chrono::Duration::from_std(d).ok())
        else {
            return self.recovered_dates(schedule, first, now);
        };
        let earliest = now - delay;
        let first = if first >= earliest {
            first
        } else {
            match schedule.next_after(earliest - chrono::Duration::milliseconds(1)) {
                Some(date) if date <= now => date,
                _ => return Vec::new(),
            }
        };
        let mut dates = self.recovered_dates(schedule, first, now);
        dates.retain(|date| *date >= earliest);
        dates
    }

    fn recovered_dates(
        &self,
        schedule: &Schedule,
        first: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        match schedule.recover {
            RecoverMissed::All => {
                let mut dates = vec![first];
                dates.extend(schedule.occurrences(
                    first,
                    now,
                    self.config.max_per_tick.saturating_sub(1),
                ));
                dates
            }
            RecoverMissed::Last | RecoverMissed::None => {
                // The latest occurrence at or before now; `first` is one, so there is one.
                let latest = schedule
                    .previous_before(now + chrono::Duration::milliseconds(1))
                    .filter(|d| *d >= first)
                    .unwrap_or(first);
                let late = now - latest > self.config.late_after;
                if schedule.recover == RecoverMissed::None && late {
                    Vec::new()
                } else {
                    vec![latest]
                }
            }
        }
    }

    /// The flow of a stored revision and its schedules, parsed once. A stored flow that no longer parses (the
    /// parser grew stricter) is reported once and skipped.
    fn parsed(&self, record: &FlowRecord) -> Option<Arc<Parsed>> {
        let key = (
            record.tenant.clone(),
            record.namespace.clone(),
            record.id.clone(),
            record.revision,
        );
        let mut flows = self.flows.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(flow) = flows.get(&key) {
            return Some(flow.clone());
        }
        // Only the latest revision matters: forget the older ones of this flow.
        flows.retain(|(t, n, i, _), _| !(t == &key.0 && n == &key.1 && i == &key.2));
        match saker_model::parse_flow(&record.source) {
            Ok(flow) => {
                let parsed = Arc::new(Parsed {
                    schedules: saker_model::schedule::schedules(&flow),
                    flow: Arc::new(flow),
                });
                flows.insert(key, parsed.clone());
                Some(parsed)
            }
            Err(_) => {
                drop(flows);
                self.report_once(
                    &format!(
                        "{}/{}/{}@{}",
                        record.tenant, record.namespace, record.id, record.revision
                    ),
                    "the stored flow no longer validates; its triggers do not fire",
                );
                None
            }
        }
    }

    fn report_once(&self, what: &str, why: &str) {
        let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        if reported.insert(format!("{what}\n{why}")) {
            tracing::warn!(trigger = %what, "{why}");
        }
    }
}

/// `trigger.date`, `trigger.next` and `trigger.previous` for the execution of `date`.
fn trigger_variables(schedule: &Schedule, date: DateTime<Utc>) -> Map<String, Json> {
    let mut variables = Map::new();
    variables.insert("date".into(), schedule.format_date(date).into());
    if let Some(next) = schedule.next_after(date) {
        variables.insert("next".into(), schedule.format_date(next).into());
    }
    if let Some(previous) = schedule.previous_before(date) {
        variables.insert("previous".into(), schedule.format_date(previous).into());
    }
    variables
}

/// Bounds on rendering one input of a trigger: short values, rendered once per date.
const INPUT_LIMITS: Limits = Limits {
    max_output_bytes: 64 * 1024,
    max_iterations: 10_000,
    max_range: 10_000,
    max_render_depth: 2,
    ..Limits::DEFAULT
};

/// The trigger's `inputs`, their strings rendered as templates (at any depth) against
/// `flow` (`id`, `namespace`, `tenantId`) and `trigger` (`date`, `next`, `previous`).
/// `secret()` is refused: a rendered input would be stored as given, not as a secret; a
/// SECRET input's value belongs in the secret store, read by the tasks that need it.
/// Whether every condition of a Schedule trigger holds for a date (`trigger` holds its
/// variables), their templates rendered like the inputs'.
fn conditions_hold(
    conditions: &[saker_model::Condition],
    tenant: &str,
    flow: &Flow,
    trigger: &Map<String, Json>,
) -> Result<bool, String> {
    if conditions.is_empty() {
        return Ok(true);
    }
    let mut render = |template: &str| -> Result<String, String> {
        let mut wrapped = Map::new();
        wrapped.insert("value".into(), Json::String(template.to_owned()));
        let rendered = render_inputs(&wrapped, tenant, flow, trigger)?;
        Ok(rendered
            .get("value")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned())
    };
    saker_model::condition::all_hold(conditions, None, &mut render).map_err(|e| e.to_string())
}

fn render_inputs(
    inputs: &Map<String, Json>,
    tenant: &str,
    flow: &Flow,
    trigger: &Map<String, Json>,
) -> Result<Map<String, Json>, String> {
    let mut ctx = Context::new();
    ctx.insert("flow", crate::trigger::flow_variables(tenant, flow));
    ctx.insert("trigger", Value::from_json(&Json::Object(trigger.clone())));
    let env = RenderEnv {
        secrets: None,
        allow_secrets: false,
        now: None,
        limits: INPUT_LIMITS,
        ..RenderEnv::default()
    };
    fn render(value: &Json, ctx: &Context, env: &RenderEnv<'_>, at: &str) -> Result<Json, String> {
        Ok(match value {
            Json::String(text) if text.contains("{{") || text.contains("{%") => {
                let template = Template::compile(text).map_err(|e| format!("'{at}': {e}"))?;
                let rendered = template
                    .render(ctx, env)
                    .map_err(|e| format!("'{at}': {e}"))?;
                Json::String(rendered.text)
            }
            Json::Array(items) => Json::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| render(v, ctx, env, &format!("{at}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            Json::Object(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), render(v, ctx, env, &format!("{at}.{k}"))?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }
    inputs
        .iter()
        .map(|(k, v)| Ok((k.clone(), render(v, &ctx, &env, &format!("inputs.{k}"))?)))
        .collect()
}
