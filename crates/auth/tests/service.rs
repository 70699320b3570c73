//! AuthService on a real SQLite file: bootstrap, users, default role, login, throttling,
//! tokens, invitations, super-admin, persistence across reopening, no plaintext at rest.
//! No assertion here prints a password or a token.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use saker_auth::{
    Action, AuthError, AuthService, Bootstrap, BootstrapAdmin, Clock, HashCost, LoginThrottle,
    Password, Permission, SecurityConfig, ServiceOptions, Subject, ThrottlePolicy, WallClock,
    authorize,
};
use saker_store::SqliteStore;
use serde_json::json;

const COST: HashCost = HashCost {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};
const GOOD: &str = "Str0ng-Passw0rd";

struct FakeTime {
    wall: Mutex<DateTime<Utc>>,
    mono: Mutex<Instant>,
}

impl FakeTime {
    fn new() -> Arc<Self> {
        Arc::new(FakeTime {
            wall: Mutex::new(DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap()),
            mono: Mutex::new(Instant::now()),
        })
    }

    fn advance(&self, by: Duration) {
        *self.wall.lock().unwrap() += by;
        *self.mono.lock().unwrap() += by.to_std().unwrap();
    }
}

impl WallClock for FakeTime {
    fn now(&self) -> DateTime<Utc> {
        *self.wall.lock().unwrap()
    }
}

impl Clock for FakeTime {
    fn now(&self) -> Instant {
        *self.mono.lock().unwrap()
    }
}

fn security() -> serde_json::Value {
    json!({
        "super-admin": {"username": "root", "password": "Root-Passw0rd", "tenant-admin-access": ["main"]},
        "default-role": {"name": "viewer", "permissions": {"FLOW": ["READ"]}},
        "basic-auth": {"password-regexp": "(?:[A-Za-z0-9]|-){10,}"}
    })
}

fn service(path: &Path, time: &Arc<FakeTime>) -> AuthService {
    let store = Arc::new(SqliteStore::open(path).unwrap());
    let policy = ThrottlePolicy {
        max_failures: 3,
        window: StdDuration::from_secs(60),
        lockout: StdDuration::from_secs(30),
        max_lockout: StdDuration::from_secs(300),
    };
    let options = ServiceOptions {
        hash_cost: COST,
        throttle: LoginThrottle::with_clock(policy, time.clone()),
        clock: time.clone(),
    };
    AuthService::new(
        store,
        SecurityConfig::from_value(&security()).unwrap(),
        options,
    )
    .unwrap()
}

fn setup() -> (tempfile::TempDir, Arc<FakeTime>, AuthService) {
    let dir = tempfile::tempdir().unwrap();
    let time = FakeTime::new();
    let svc = service(&dir.path().join("saker.db"), &time);
    (dir, time, svc)
}

fn pw(text: &str) -> Password {
    Password::new(text)
}

fn allowed(s: &Subject, ns: Option<&str>, p: Permission, a: Action) -> bool {
    authorize(s, "main", ns, p, a).is_allowed()
}

#[test]
fn bootstrap_creates_a_tenant_admin_once() {
    let (_dir, _time, svc) = setup();
    let admin =
        BootstrapAdmin::from_value(&json!({"username": "admin@kestra.io", "password": GOOD}))
            .unwrap()
            .unwrap();
    let Bootstrap::Created(user) = svc.bootstrap(&admin).unwrap() else {
        panic!("first bootstrap must create the user");
    };
    let subject = svc
        .authenticate_basic("admin@kestra.io", &pw(GOOD), None)
        .unwrap();
    assert!(allowed(&subject, None, Permission::Binding, Action::Create));
    assert!(allowed(
        &subject,
        Some("any.ns"),
        Permission::Secret,
        Action::Delete
    ));
    assert!(matches!(svc.bootstrap(&admin).unwrap(), Bootstrap::Existing(u) if u.id == user.id));
}

#[test]
fn bootstrap_password_must_satisfy_the_policy() {
    let (_dir, _time, svc) = setup();
    let admin = BootstrapAdmin::from_value(&json!({"username": "admin", "password": "change-me"}))
        .unwrap()
        .unwrap();
    let err = svc.bootstrap(&admin).unwrap_err();
    assert!(matches!(err, AuthError::WeakPassword { .. }));
    assert!(!err.to_string().contains("change-me"));
    assert!(svc.find_user("admin").unwrap().is_none());
}

#[test]
fn new_users_get_the_default_role_and_nothing_more() {
    let (_dir, _time, svc) = setup();
    let user = svc.create_user("ann", Some(&pw(GOOD))).unwrap();
    let bindings = svc.bindings_of_user(&user.id).unwrap();
    assert_eq!(bindings.len(), 1);
    assert_eq!(
        (bindings[0].tenant.as_str(), bindings[0].role.as_str()),
        ("main", "viewer")
    );
    assert_eq!(bindings[0].namespace, None);
    let s = svc.subject(&user.id).unwrap();
    assert!(allowed(
        &s,
        Some("company.team"),
        Permission::Flow,
        Action::Read
    ));
    assert!(!allowed(
        &s,
        Some("company.team"),
        Permission::Flow,
        Action::Update
    ));
    assert!(!allowed(
        &s,
        Some("company.team"),
        Permission::Secret,
        Action::Read
    ));
}

#[test]
fn weak_passwords_are_refused_everywhere_without_echo() {
    let (_dir, _time, svc) = setup();
    let weak = "short-1";
    let err = svc.create_user("ann", Some(&pw(weak))).unwrap_err();
    assert!(matches!(err, AuthError::WeakPassword { .. }));
    assert!(!err.to_string().contains(weak) && !format!("{err:?}").contains(weak));
    let user = svc.create_user("bob", Some(&pw(GOOD))).unwrap();
    let err = svc.set_password(&user.id, &pw(weak)).unwrap_err();
    assert!(matches!(err, AuthError::WeakPassword { .. }));
    svc.set_password(&user.id, &pw("An0ther-Passw0rd")).unwrap();
    assert!(svc.authenticate_basic("bob", &pw(GOOD), None).is_err());
    svc.authenticate_basic("bob", &pw("An0ther-Passw0rd"), None)
        .unwrap();
}

#[test]
fn login_failures_look_alike() {
    let (_dir, _time, svc) = setup();
    let user = svc.create_user("ann", Some(&pw(GOOD))).unwrap();
    svc.create_user("tok", None).unwrap();
    for (name, password) in [
        ("ann", "Wrong-Passw0rd"),
        ("nobody", GOOD),
        ("tok", GOOD),
        ("ann", ""),
    ] {
        let err = svc
            .authenticate_basic(name, &pw(password), None)
            .unwrap_err();
        assert!(
            matches!(err, AuthError::InvalidCredentials),
            "user {name}: {err}"
        );
    }
    svc.set_disabled(&user.id, true).unwrap();
    let err = svc.authenticate_basic("ann", &pw(GOOD), None).unwrap_err();
    assert!(matches!(err, AuthError::InvalidCredentials));
}

#[test]
fn repeated_failures_are_throttled_per_user_and_address_and_per_address() {
    let (_dir, time, svc) = setup();
    svc.create_user("ann", Some(&pw(GOOD))).unwrap();
    svc.create_user("bob", Some(&pw(GOOD))).unwrap();
    for _ in 0..3 {
        assert!(
            svc.authenticate_basic("ann", &pw("Wrong-Passw0rd"), Some("10.0.0.1"))
                .is_err()
        );
    }
    // Locked from the guessing address: even the right password is refused there.
    let err = svc
        .authenticate_basic("ann", &pw(GOOD), Some("10.0.0.1"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            AuthError::Throttled {
                retry_after_secs: 30
            }
        ),
        "{err}"
    );
    // The guessing address is locked for other users too.
    let err = svc
        .authenticate_basic("bob", &pw(GOOD), Some("10.0.0.1"))
        .unwrap_err();
    assert!(matches!(err, AuthError::Throttled { .. }));
    // The owner is not locked out from an address that did not fail, in any case.
    svc.authenticate_basic("ann", &pw(GOOD), Some("10.0.0.2"))
        .unwrap();
    svc.authenticate_basic("ANN", &pw(GOOD), Some("10.0.0.3"))
        .unwrap();
    svc.authenticate_basic("bob", &pw(GOOD), Some("10.0.0.3"))
        .unwrap();
    time.advance(Duration::seconds(30));
    svc.authenticate_basic("ann", &pw(GOOD), Some("10.0.0.1"))
        .unwrap();
}

#[test]
fn api_tokens_work_while_their_user_is_throttled() {
    let (_dir, _time, svc) = setup();
    let user = svc.create_user("ann", Some(&pw(GOOD))).unwrap();
    let (_, token) = svc.create_token(&user.id, "ci", None).unwrap();
    for _ in 0..3 {
        assert!(
            svc.authenticate_basic("ann", &pw("Wrong-Passw0rd"), Some("10.0.0.1"))
                .is_err()
        );
    }
    assert!(matches!(
        svc.authenticate_basic("ann", &pw(GOOD), Some("10.0.0.1")),
        Err(AuthError::Throttled { .. })
    ));
    svc.authenticate_token(&token.reveal()).unwrap();
}

#[test]
fn api_tokens_are_shown_once_stored_hashed_and_expire() {
    let (dir, time, svc) = setup();
    let user = svc.create_user("ann", Some(&pw(GOOD))).unwrap();
    let expires = time.as_ref().now_wall() + Duration::days(1);
    let (info, secret) = svc.create_token(&user.id, "ci", Some(expires)).unwrap();
    assert_eq!(format!("{secret:?}"), "[REDACTED]");
    let text = secret.reveal();
    assert!(text.starts_with("sak_"));
    assert_eq!(svc.list_tokens(&user.id).unwrap(), vec![info.clone()]);
    let subject = svc.authenticate_token(&text).unwrap();
    assert!(matches!(&subject, Subject::User(p) if p.user_id == user.id));

    // A changed secret part, a malformed text: refused.
    let mut tampered = text.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'a' { 'b' } else { 'a' });
    assert!(matches!(
        svc.authenticate_token(&tampered),
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        svc.authenticate_token("Bearer nonsense"),
        Err(AuthError::InvalidCredentials)
    ));

    // Nothing at rest holds the token.
    assert!(!file_contains(&dir.path().join("saker.db"), &text));

    time.advance(Duration::days(1));
    assert!(matches!(
        svc.authenticate_token(&text),
        Err(AuthError::Expired { .. })
    ));
    assert!(svc.revoke_token(&info.id).unwrap());
    assert!(matches!(
        svc.authenticate_token(&text),
        Err(AuthError::InvalidCredentials)
    ));
    // An already expired token cannot be created.
    assert!(
        svc.create_token(&user.id, "old", Some(time.as_ref().now_wall()))
            .is_err()
    );
}

#[test]
fn tokens_of_deleted_or_disabled_users_stop_working() {
    let (_dir, _time, svc) = setup();
    let user = svc.create_user("ann", Some(&pw(GOOD))).unwrap();
    let text = svc.create_token(&user.id, "t", None).unwrap().1.reveal();
    svc.set_disabled(&user.id, true).unwrap();
    assert!(svc.authenticate_token(&text).is_err());
    svc.set_disabled(&user.id, false).unwrap();
    svc.authenticate_token(&text).unwrap();
    assert!(svc.delete_user(&user.id).unwrap());
    assert!(svc.authenticate_token(&text).is_err());
    assert!(matches!(
        svc.create_token("missing", "t", None),
        Err(AuthError::NotFound { .. })
    ));
}

#[test]
fn invitations_expire_after_the_configured_duration_and_work_once() {
    let (_dir, time, svc) = setup();
    let (inv, code) = svc.invite("main", "ann@example.com", &[]).unwrap();
    assert_eq!(
        inv.expires_at - inv.created_at,
        Duration::days(7),
        "default P7D"
    );
    let code = code.reveal();
    // A weak password does not spend the code.
    assert!(matches!(
        svc.accept_invitation("main", &code, Some("ann"), &pw("weak")),
        Err(AuthError::WeakPassword { .. })
    ));
    let (accepted, user) = svc
        .accept_invitation("main", &code, Some("ann"), &pw(GOOD))
        .unwrap();
    assert!(accepted.accepted_at.is_some());
    assert_eq!(svc.bindings_of_user(&user.id).unwrap()[0].role, "viewer");
    assert!(matches!(
        svc.accept_invitation("main", &code, Some("ann2"), &pw(GOOD)),
        Err(AuthError::InvalidCredentials)
    ));

    let (_, late) = svc.invite("main", "bob@example.com", &[]).unwrap();
    time.advance(Duration::days(7));
    assert!(matches!(
        svc.accept_invitation("main", &late.reveal(), Some("bob"), &pw(GOOD)),
        Err(AuthError::Expired { .. })
    ));
    assert_eq!(svc.list_invitations("main").unwrap().len(), 2);
}

#[test]
fn the_super_admin_comes_from_configuration() {
    let (_dir, _time, svc) = setup();
    let s = svc
        .authenticate_basic("root", &pw("Root-Passw0rd"), None)
        .unwrap();
    assert!(matches!(&s, Subject::User(p) if p.super_admin));
    assert!(authorize(&s, "other", None, Permission::Tenant, Action::Create).is_allowed());
    assert!(
        allowed(&s, Some("x"), Permission::Secret, Action::Read),
        "tenant-admin-access: main"
    );
    assert!(!authorize(&s, "other", Some("x"), Permission::Secret, Action::Read).is_allowed());
    assert!(matches!(
        svc.authenticate_basic("root", &pw("Root-Passw0rd-"), None),
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        svc.create_user("root", Some(&pw(GOOD))),
        Err(AuthError::AlreadyExists { .. })
    ));
}

#[test]
fn roles_and_bindings_round_trip_through_a_reopened_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    let time = FakeTime::new();
    let (user_id, token) = {
        let svc = service(&path, &time);
        let permissions = saker_auth::permission::parse_permissions(
            &json!({"FLOW": ["READ", "UPDATE"], "SECRET": ["READ"]}),
        )
        .unwrap();
        let role = saker_auth::Role::new("dev", "developers", permissions).unwrap();
        svc.put_role("main", &role).unwrap();
        let user = svc.create_user("ann", Some(&pw(GOOD))).unwrap();
        svc.bind("main", &user.id, "dev", Some("company.team"))
            .unwrap();
        assert!(matches!(
            svc.bind("main", &user.id, "nope", None),
            Err(AuthError::NotFound { .. })
        ));
        assert!(matches!(
            svc.bind("main", "nobody", "dev", None),
            Err(AuthError::NotFound { .. })
        ));
        assert!(svc.bind("main", &user.id, "dev", Some("bad..ns")).is_err());
        let token = svc.create_token(&user.id, "ci", None).unwrap().1.reveal();
        (user.id, token)
    };
    assert!(!file_contains(&path, GOOD));
    let svc = service(&path, &time);
    let role = svc.get_role("main", "dev").unwrap().unwrap();
    assert_eq!(role.description(), "developers");
    assert!(
        role.allows(Permission::Flow, Action::Update)
            && !role.allows(Permission::Flow, Action::Delete)
    );
    let s = svc.authenticate_basic("ann", &pw(GOOD), None).unwrap();
    assert_eq!(svc.authenticate_token(&token).unwrap(), s);
    assert!(allowed(
        &s,
        Some("company.team.x"),
        Permission::Flow,
        Action::Update
    ));
    assert!(!allowed(
        &s,
        Some("company.other"),
        Permission::Flow,
        Action::Update
    ));
    assert_eq!(
        svc.list_bindings("main").unwrap().len(),
        2,
        "default role + dev"
    );
    // Deleting the role removes its bindings.
    assert!(svc.delete_role("main", "dev").unwrap());
    assert_eq!(svc.bindings_of_user(&user_id).unwrap().len(), 1);
    let s = svc.subject(&user_id).unwrap();
    assert!(!allowed(
        &s,
        Some("company.team"),
        Permission::Flow,
        Action::Update
    ));
    let names: Vec<String> = svc
        .list_users()
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["ann"]);
}

trait NowWall {
    fn now_wall(&self) -> DateTime<Utc>;
}

impl NowWall for FakeTime {
    fn now_wall(&self) -> DateTime<Utc> {
        WallClock::now(self)
    }
}

/// True if the database file (or its WAL) holds `needle`. Prints nothing.
fn file_contains(db: &Path, needle: &str) -> bool {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    [db.to_path_buf(), wal.into()].iter().any(|path| {
        std::fs::read(path)
            .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
    })
}

#[test]
fn a_weak_super_admin_password_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("saker.db")).unwrap());
    let config = SecurityConfig::from_value(&json!({
        "super-admin": {"username": "root", "password": "weak"},
        "basic-auth": {"password-regexp": ".{10,}"}
    }))
    .unwrap();
    let options = ServiceOptions {
        hash_cost: COST,
        ..ServiceOptions::default()
    };
    let err = AuthService::new(store, config, options).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("security.super-admin.password"), "{text}");
    assert!(!text.contains("weak"));
}

#[test]
fn usernames_compare_without_regard_to_case() {
    let (_dir, _time, svc) = setup();
    let user = svc.create_user("ADMIN@x.io", Some(&pw(GOOD))).unwrap();
    let err = svc.create_user("admin@x.io", Some(&pw(GOOD))).unwrap_err();
    assert!(
        matches!(&err, AuthError::AlreadyExists { kind: "user", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("without regard to case"), "{err}");
    // Lookup and login find the one user, whatever the spelling.
    assert_eq!(svc.find_user("Admin@X.io").unwrap().unwrap().id, user.id);
    let subject = svc
        .authenticate_basic("admin@X.IO", &pw(GOOD), None)
        .unwrap();
    assert!(matches!(&subject, Subject::User(p) if p.user_id == user.id));
    // An invitation cannot create a second spelling either, and its code is not spent.
    let (_, code) = svc.invite("main", "admin@x.io", &[]).unwrap();
    let code = code.reveal();
    assert!(matches!(
        svc.accept_invitation("main", &code, None, &pw(GOOD)),
        Err(AuthError::AlreadyExists { .. })
    ));
    svc.accept_invitation("main", &code, Some("other@x.io"), &pw(GOOD))
        .unwrap();
    // The configured super-admin's name is taken in every spelling.
    assert!(matches!(
        svc.create_user("ROOT", Some(&pw(GOOD))),
        Err(AuthError::AlreadyExists { .. })
    ));
    svc.authenticate_basic("Root", &pw("Root-Passw0rd"), None)
        .unwrap();
}
