//! `kv()`: values from the caller's resolver, the flow's namespace by default, a clear error
//! naming key and namespace when a key is missing (or null with `errorOnMissing=false`), and
//! values derived from a secret tainted through everything computed from them.

use std::collections::HashMap;

use saker_expr::{Context, KvLookupError, KvResolver, RenderEnv, Template, Value};

struct Store(HashMap<(String, String), Value>);

impl KvResolver for Store {
    fn default_namespace(&self) -> &str {
        "company.team"
    }

    fn get(&self, namespace: &str, key: &str) -> Result<Option<Value>, KvLookupError> {
        if key == "broken" {
            return Err(KvLookupError::new("the store is unavailable"));
        }
        Ok(self.0.get(&(namespace.to_owned(), key.to_owned())).cloned())
    }
}

fn store() -> Store {
    let mut entries = HashMap::new();
    let mut put = |ns: &str, key: &str, value: Value| {
        entries.insert((ns.to_owned(), key.to_owned()), value);
    };
    put("company.team", "greeting", Value::from("hello"));
    put("company", "greeting", Value::from("from the parent"));
    put(
        "company.team",
        "config",
        Value::from_json(&serde_json::json!({"retries": 3, "hosts": ["a", "b"]})),
    );
    put(
        "company.team",
        "copied",
        Value::from("s3cr3t-t0ken").tainted(),
    );
    Store(entries)
}

fn render(source: &str) -> Result<saker_expr::Rendered, String> {
    let kv = store();
    let env = RenderEnv {
        kv: Some(&kv),
        ..RenderEnv::default()
    };
    Template::compile(source)
        .unwrap()
        .render(&Context::new(), &env)
        .map_err(|e| e.to_string())
}

#[test]
fn values_come_from_the_flow_namespace_unless_one_is_named() {
    assert_eq!(render("{{ kv('greeting') }}").unwrap().text, "hello");
    assert_eq!(
        render("{{ kv('greeting', namespace='company') }}")
            .unwrap()
            .text,
        "from the parent"
    );
    assert_eq!(
        render("{{ kv('config').retries + 1 }} {{ kv('config').hosts | join(',') }}")
            .unwrap()
            .text,
        "4 a,b"
    );
}

#[test]
fn a_missing_key_is_an_error_naming_key_and_namespace_unless_asked_for_null() {
    let e = render("{{ kv('nope') }}").unwrap_err();
    assert!(
        e.contains("no key 'nope' in namespace 'company.team'") && e.contains("errorOnMissing"),
        "{e}"
    );
    let e = render("{{ kv('nope', namespace='other') }}").unwrap_err();
    assert!(e.contains("namespace 'other'"), "{e}");
    assert_eq!(
        render("{{ kv('nope', errorOnMissing=false) is null }}")
            .unwrap()
            .text,
        "true"
    );
    assert_eq!(
        render("{{ kv('nope', 'company.team', false) ?? 'fallback' }}")
            .unwrap()
            .text,
        "fallback"
    );
}

#[test]
fn bad_arguments_and_store_failures_say_what_is_wrong() {
    let e = render("{{ kv(42) }}").unwrap_err();
    assert!(e.contains("argument 'key' must be a string"), "{e}");
    let e = render("{{ kv('k', errorOnMissing='no') }}").unwrap_err();
    assert!(e.contains("'errorOnMissing' must be a boolean"), "{e}");
    let e = render("{{ kv('broken') }}").unwrap_err();
    assert!(
        e.contains(
            "cannot read key 'broken' in namespace 'company.team': the store is unavailable"
        ),
        "{e}"
    );
    let e = Template::compile("{{ kv('k') }}")
        .unwrap()
        .render(&Context::new(), &RenderEnv::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("no KV store is available here"), "{e}");
}

#[test]
fn a_value_derived_from_a_secret_taints_what_is_computed_from_it() {
    let r = render("token={{ kv('copied') | upper }} plain={{ kv('greeting') }}").unwrap();
    assert_eq!(r.masked("****"), "token=**** plain=hello");
    assert!(r.tainted_strings.contains(&"s3cr3t-t0ken".to_owned()));
    assert!(r.tainted_strings.contains(&"S3CR3T-T0KEN".to_owned()));
    // A key read through a secret value is not echoed in the error.
    let e = render("{{ kv(kv('copied')) }}").unwrap_err();
    assert!(!e.contains("s3cr3t"), "{e}");
}
