//! A confined process, for real (needs bubblewrap, which `scripts/test.sh` installs): what it
//! sees of the host, of Saker's process and of the paths Saker hides.

use std::path::PathBuf;

use saker_confine::{ConfinedCommand, Confinement, SANDBOX_WORK_DIR, Settings, Status};

async fn output_of(mut command: ConfinedCommand) -> std::process::Output {
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    command
        .spawn()
        .await
        .unwrap()
        .wait_with_output()
        .await
        .unwrap()
}

async fn run(confinement: &Confinement, script: &str) -> (bool, String) {
    let sandbox = confinement.attempt("exec-1", "run-1", 1);
    let dir = sandbox.work_dir().unwrap();
    let command = sandbox
        .command(&dir, "/bin/sh", &["-c".into(), script.into()], &[])
        .unwrap();
    let output = output_of(command).await;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confined_process_sees_only_what_it_was_handed() {
    let host = tempfile::tempdir().unwrap();
    let data = host.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("encryption.key"), "KEY-CANARY-1234").unwrap();
    let config = host.path().join("saker.yml");
    std::fs::write(&config, "CONFIG-CANARY-5678").unwrap();
    std::fs::write(host.path().join("visible.txt"), "VISIBLE-OK").unwrap();
    let mut settings = Settings {
        work_root: Some(host.path().join("work")),
        network: false,
        ..Settings::default()
    };
    // The host directory is bound like a system directory, so hiding has to cover what
    // lies under it.
    settings.read_only.push(host.path().to_path_buf());
    settings.hide(&data);
    settings.hide(&config);
    let confinement = Confinement::new(settings);
    assert_eq!(confinement.status(), &Status::Confined);

    let root = host.path().display();
    let script = format!(
        "echo pid=$$ ppid=$PPID; ls /proc | grep -E '^[0-9]+$' | wc -l; \
         cat /proc/$PPID/environ | tr '\\0' '\\n'; \
         cat {root}/visible.txt; cat {root}/saker.yml; ls {root}/data; cat {root}/data/encryption.key; \
         echo home=$HOME wd=$WORKING_DIR; ls /sys; cat /sys/class/net/*/address; \
         touch /usr/x; echo written > $WORKING_DIR/f && cat f; \
         printf 'pid1=%s\\n' \"$(tr '\\0' ' ' < /proc/1/cmdline)\"; \
         echo ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ,); true"
    );
    let (ok, out) = run(&confinement, &script).await;
    assert!(ok, "{out}");
    assert!(out.contains("VISIBLE-OK"), "{out}");
    assert!(
        !out.contains("KEY-CANARY") && !out.contains("CONFIG-CANARY"),
        "{out}"
    );
    assert!(!out.contains("encryption.key\n"), "{out}");
    // Its own PID namespace: the shell is PID 2 under bubblewrap's PID 1.
    assert!(out.contains("pid=2 ppid=1"), "{out}");
    for (name, value) in std::env::vars() {
        let allowed =
            ["PATH", "LANG", "LANGUAGE", "TZ"].contains(&name.as_str()) || name.starts_with("LC_");
        if !allowed && value.len() >= 4 {
            assert!(
                !out.contains(&format!("{name}={value}")),
                "the sandbox's PID 1 shows Saker's {name}"
            );
        }
    }
    assert!(
        out.contains(&format!("home={SANDBOX_WORK_DIR} wd={SANDBOX_WORK_DIR}")),
        "{out}"
    );
    assert!(out.contains("written"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    // The sandbox's PID 1 (bubblewrap) took its arguments over stdin: its command line shows
    // nothing of the mount layout, which names host paths.
    let pid1 = out.lines().find(|l| l.starts_with("pid1=")).unwrap();
    assert!(pid1.contains("--args 0 -- /bin/sh"), "{pid1}");
    for option in ["--ro-bind", "--tmpfs", "--bind"] {
        assert!(!pid1.contains(option), "{pid1}");
    }
    // `network: false`: a network namespace of its own, loopback only.
    assert!(out.contains("ifaces=lo,\n"), "{out}");
    // No /sys at all (nothing of the host's devices or network interfaces).
    assert!(out.contains("cannot access '/sys'"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_attempt_has_its_own_directory_removed_when_done() {
    let host = tempfile::tempdir().unwrap();
    let settings = Settings {
        work_root: Some(host.path().to_path_buf()),
        ..Settings::default()
    };
    let confinement = Confinement::new(settings);
    let first = confinement.attempt("exec-a", "run-1", 1);
    let dir = first.work_dir().unwrap();
    std::fs::write(dir.host_path().join("mine.txt"), "A-ONLY").unwrap();
    let other = confinement.attempt("exec-b", "run-1", 1);
    let other_dir = other.work_dir().unwrap();
    let hunt = format!(
        "cat {0}/exec-a/run-1-1/mine.txt; ls {0}; find /tmp /work -name mine.txt 2>/dev/null; true",
        host.path().display()
    );
    let output = output_of(
        other
            .command(&other_dir, "/bin/sh", &["-c".into(), hunt], &[])
            .unwrap(),
    )
    .await;
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        !text.contains("A-ONLY") && !text.contains("mine.txt"),
        "{text}"
    );
    let path: PathBuf = dir.host_path().to_path_buf();
    drop(dir);
    assert!(!path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_path_that_is_a_link_shows_what_it_points_to() {
    let host = tempfile::tempdir().unwrap();
    let tools = host.path().join("tools-1.2");
    std::fs::create_dir(&tools).unwrap();
    std::fs::write(tools.join("tool.txt"), "TOOL-OK").unwrap();
    std::fs::write(tools.join("license.key"), "LICENSE-CANARY").unwrap();
    let link = host.path().join("tools");
    std::os::unix::fs::symlink(&tools, &link).unwrap();
    let mut settings = Settings {
        work_root: Some(host.path().join("work")),
        ..Settings::default()
    };
    settings.read_only.push(link.clone());
    // Hidden by its real path; covered where the task sees it, under the link's name.
    settings.hide(tools.join("license.key"));
    let confinement = Confinement::new(settings);
    let script = format!("cat {0}/tool.txt {0}/license.key; true", link.display());
    let (_, out) = run(&confinement, &script).await;
    assert!(out.contains("TOOL-OK"), "{out}");
    assert!(!out.contains("LICENSE-CANARY"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mounts_are_seen_at_their_host_path_and_nothing_beside_them() {
    let host = tempfile::tempdir().unwrap();
    let tools = host.path().join("tools");
    let env = host.path().join("env");
    let beside = host.path().join("beside");
    for dir in [&tools, &env, &beside] {
        std::fs::create_dir(dir).unwrap();
    }
    std::fs::write(tools.join("tool.txt"), "TOOL-OK").unwrap();
    std::fs::write(beside.join("other.txt"), "BESIDE-CANARY").unwrap();
    let confinement = Confinement::new(Settings {
        work_root: Some(host.path().join("work")),
        network: false,
        ..Settings::default()
    });
    assert_eq!(confinement.status(), &Status::Confined);
    let sandbox = confinement.attempt("exec-1", "run-1", 1);
    let dir = sandbox.work_dir().unwrap();
    let script = format!(
        "cat {tools}/tool.txt; echo; touch {tools}/new && echo tools-writable; \
         touch {env}/built && echo env-writable; cat {beside}/other.txt",
        tools = tools.display(),
        env = env.display(),
        beside = beside.display()
    );
    let mounts = [
        saker_confine::Mount::read_only(&tools),
        saker_confine::Mount::writable(&env),
    ];
    let command = sandbox
        .command_with_mounts(&dir, "/bin/sh", &["-c".into(), script], &[], &mounts)
        .unwrap();
    let output = output_of(command).await;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("TOOL-OK"), "{text}");
    assert!(!text.contains("tools-writable"), "{text}");
    assert!(text.contains("env-writable"), "{text}");
    assert!(env.join("built").exists(), "{text}");
    assert!(!text.contains("BESIDE-CANARY"), "{text}");
}
