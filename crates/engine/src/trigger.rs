//! Triggers, on the scheduler's side. For now the Webhook trigger: the flow's enabled webhook
//! triggers, and the rendering of their `key`, which may name a secret
//! (`key: "{{ secret('WEBHOOK_KEY') }}"`). Triggers belong to the SCHEDULER, so such a secret
//! is resolved through a [`TriggerSecrets`] that acts as the scheduler (isolation, audit),
//! whoever receives the HTTP request. Comparing a presented key with the rendered one is the
//! caller's job, in constant time.

use saker_expr::{Context, Limits, RenderEnv, SecretLookupError, SecretResolver, Template, Value};
use saker_model::{Flow, TriggerDef};
use serde_json::{Map, Value as Json};
use zeroize::Zeroizing;

/// The canonical type of the Webhook trigger (its aliases are normalised by the parser).
pub const WEBHOOK: &str = "io.kestra.plugin.core.trigger.Webhook";

/// Bounds on rendering a key: it is a short string, and anyone who knows a flow's name may
/// make the server render it.
const KEY_LIMITS: Limits = Limits {
    max_output_bytes: 4096,
    max_iterations: 1000,
    max_range: 1000,
    max_render_depth: 2,
    ..Limits::DEFAULT
};

/// Which trigger of which flow asks for a secret, for isolation and the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerRequester {
    pub tenant_id: String,
    /// The namespace of the flow; `secret()` looks here, then in its parents.
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
}

/// Resolves the secrets a trigger's properties name, as the SCHEDULER.
pub trait TriggerSecrets: Send + Sync {
    /// The value of `key` for `requester`; `namespace` is the one the template named with
    /// `secret(key, namespace=...)`. The error message is logged: it must name what is
    /// wrong, never hold a value.
    fn resolve(
        &self,
        requester: &TriggerRequester,
        key: &str,
        namespace: Option<&str>,
    ) -> Result<Zeroizing<String>, String>;
}

/// The enabled Webhook triggers of `flow`, in the order written; none when the flow is
/// disabled.
pub fn webhook_triggers(flow: &Flow) -> impl Iterator<Item = &TriggerDef> {
    flow.triggers
        .iter()
        .filter(|t| !flow.disabled && t.type_name == WEBHOOK && !t.disabled)
}

/// The `key` of a Webhook trigger, rendered. The template sees only `flow` (`id`,
/// `namespace`, `tenantId`); `secret()` goes through `secrets` (and fails without one). The
/// error names the problem, never a value.
pub fn render_webhook_key(
    tenant: &str,
    flow: &Flow,
    trigger: &TriggerDef,
    secrets: Option<&dyn TriggerSecrets>,
) -> Result<Zeroizing<String>, String> {
    let source = match trigger.properties.get("key") {
        Some(Json::String(s)) => s.clone(),
        Some(v @ (Json::Number(_) | Json::Bool(_))) => v.to_string(),
        _ => return Err("'key' must be a string".to_owned()),
    };
    let template = Template::compile(&source).map_err(|e| format!("'key': {e}"))?;
    let mut ctx = Context::new();
    ctx.insert("flow", flow_variables(tenant, flow));
    let resolver = secrets.map(|source| KeySecrets {
        source,
        requester: TriggerRequester {
            tenant_id: tenant.to_owned(),
            namespace: flow.namespace.clone(),
            flow_id: flow.id.clone(),
            trigger_id: trigger.id.clone(),
        },
    });
    let env = RenderEnv {
        secrets: resolver.as_ref().map(|r| r as &dyn SecretResolver),
        allow_secrets: true,
        now: None,
        limits: KEY_LIMITS,
        ..RenderEnv::default()
    };
    let rendered = template
        .render(&ctx, &env)
        .map_err(|e| format!("'key': {e}"))?;
    let text = Zeroizing::new(rendered.text);
    for tainted in rendered.tainted_strings {
        drop(Zeroizing::new(tainted));
    }
    Ok(text)
}

/// What a trigger's templates see as `flow`: its `id`, `namespace` and `tenantId` (a
/// trigger renders before any execution exists, so nothing more).
pub(crate) fn flow_variables(tenant: &str, flow: &Flow) -> Value {
    let mut vars = Map::new();
    vars.insert("id".into(), flow.id.clone().into());
    vars.insert("namespace".into(), flow.namespace.clone().into());
    vars.insert("tenantId".into(), tenant.into());
    Value::from_json(&Json::Object(vars))
}

/// Adapts a [`TriggerSecrets`] to the template engine for one trigger; every value it hands
/// out joins the process-wide mask set.
pub(crate) struct KeySecrets<'a> {
    pub(crate) source: &'a dyn TriggerSecrets,
    pub(crate) requester: TriggerRequester,
}

impl SecretResolver for KeySecrets<'_> {
    fn resolve(
        &self,
        key: &str,
        namespace: Option<&str>,
    ) -> Result<Zeroizing<String>, SecretLookupError> {
        let value = self
            .source
            .resolve(&self.requester, key, namespace)
            .map_err(|message| SecretLookupError { message })?;
        // Saker's own log masks it, as it does every secret the worker resolves.
        if !value.is_empty() {
            crate::masks::process_masks().extend([value.as_str()]);
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Holds one secret, `WEBHOOK_KEY` in `company`, and records who asked.
    #[derive(Default)]
    struct OneSecret {
        asked: Mutex<Vec<(TriggerRequester, String)>>,
    }

    impl TriggerSecrets for OneSecret {
        fn resolve(
            &self,
            requester: &TriggerRequester,
            key: &str,
            _namespace: Option<&str>,
        ) -> Result<Zeroizing<String>, String> {
            self.asked
                .lock()
                .unwrap()
                .push((requester.clone(), key.to_owned()));
            if key == "WEBHOOK_KEY" {
                Ok(Zeroizing::new("s3cr3t-hook".to_owned()))
            } else {
                Err(format!("secret '{key}' not found"))
            }
        }
    }

    fn flow(triggers: &str) -> Flow {
        saker_model::parse_flow(&format!(
            "id: f\nnamespace: company.team\ntasks:\n  - id: t\n    type: Log\n    message: hi\ntriggers:\n{triggers}"
        ))
        .unwrap()
    }

    #[test]
    fn only_enabled_webhook_triggers_are_listed() {
        let f = flow(
            "  - id: a\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: k1\n  - id: b\n    type: Webhook\n    key: k2\n    disabled: true\n  - id: c\n    type: Schedule\n    cron: '* * * * *'\n  - id: d\n    type: io.kestra.core.models.triggers.types.Webhook\n    key: k3\n",
        );
        let ids: Vec<&str> = webhook_triggers(&f).map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["a", "d"]);

        let mut disabled = f.clone();
        disabled.disabled = true;
        assert_eq!(webhook_triggers(&disabled).count(), 0);
    }

    #[test]
    fn plain_and_templated_keys_render() {
        let f = flow(
            "  - id: plain\n    type: Webhook\n    key: abc\n  - id: templ\n    type: Webhook\n    key: \"{{ flow.namespace }}-{{ flow.id }}\"\n",
        );
        let keys: Vec<String> = webhook_triggers(&f)
            .map(|t| render_webhook_key("main", &f, t, None).unwrap().to_string())
            .collect();
        assert_eq!(keys, ["abc", "company.team-f"]);
    }

    #[test]
    fn secret_keys_resolve_as_the_trigger() {
        let f = flow("  - id: hook\n    type: Webhook\n    key: \"{{ secret('WEBHOOK_KEY') }}\"\n");
        let secrets = OneSecret::default();
        let trigger = webhook_triggers(&f).next().unwrap();
        let key = render_webhook_key("main", &f, trigger, Some(&secrets)).unwrap();
        assert_eq!(key.as_str(), "s3cr3t-hook");
        // Saker's own log would mask it.
        let masked = crate::masks::process_masks()
            .snapshot()
            .mask("key s3cr3t-hook")
            .into_owned();
        assert!(!masked.contains("s3cr3t-hook"), "{masked}");
        let asked = secrets.asked.lock().unwrap();
        assert_eq!(
            asked.as_slice(),
            [(
                TriggerRequester {
                    tenant_id: "main".into(),
                    namespace: "company.team".into(),
                    flow_id: "f".into(),
                    trigger_id: "hook".into(),
                },
                "WEBHOOK_KEY".to_owned()
            )]
        );
    }

    #[test]
    fn failures_name_the_problem_and_never_the_value() {
        let secrets = OneSecret::default();
        let f = flow("  - id: hook\n    type: Webhook\n    key: \"{{ secret('OTHER') }}\"\n");
        let t = webhook_triggers(&f).next().unwrap();
        let err = render_webhook_key("main", &f, t, Some(&secrets)).unwrap_err();
        assert!(err.contains("secret 'OTHER' not found"), "{err}");
        // Without a secret source, secret() fails.
        assert!(render_webhook_key("main", &f, t, None).is_err());

        // A failure after the secret was read does not repeat it.
        let f = flow(
            "  - id: hook\n    type: Webhook\n    key: \"{{ secret('WEBHOOK_KEY') | number }}\"\n",
        );
        let t = webhook_triggers(&f).next().unwrap();
        let err = render_webhook_key("main", &f, t, Some(&secrets)).unwrap_err();
        assert!(!err.contains("s3cr3t-hook"), "{err}");

        // Only `flow` is visible.
        let f = flow("  - id: hook\n    type: Webhook\n    key: \"{{ envs.home }}\"\n");
        let t = webhook_triggers(&f).next().unwrap();
        assert!(render_webhook_key("main", &f, t, None).is_err());
    }
}
