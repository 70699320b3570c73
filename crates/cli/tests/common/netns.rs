//! A network namespace of its own for one process of a test, linked to this machine by a
//! veth pair, so that the test can cut that process off the network (a partition) and
//! restore it, while every other process goes on. Needs root and `ip` (iproute2).
//!
//! The pair is a /30: this machine's side is [`Netns::host_address`], the namespace's side
//! [`Netns::inner_address`]. A server that the cut-off process must reach listens on the
//! host address (which stays this machine's own address while the link is down, so local
//! processes reach it all along). [`Netns::cut`] takes the host side of the link down:
//! packets are dropped, no connection is reset, as when a cable is pulled; TCP connections
//! open across the link stall and resume after [`Netns::restore`].
#![allow(dead_code)] // each test binary uses a part

use std::process::Command;

/// A namespace and its link, removed when dropped.
pub struct Netns {
    name: String,
    host_link: String,
    subnet: u8,
}

/// Runs `ip <args>`, panicking with what it said when it fails.
fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("run ip (iproute2)");
    assert!(
        out.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Netns {
    /// Whether this machine lets the tests make namespaces (root, `ip netns` available);
    /// the reason when not.
    pub fn unavailable() -> Option<String> {
        let probe = format!("saker-probe-{}", std::process::id());
        match Command::new("ip").args(["netns", "add", &probe]).output() {
            Err(error) => Some(format!("cannot run ip (iproute2): {error}")),
            Ok(out) if !out.status.success() => Some(format!(
                "ip netns add failed (root and CAP_SYS_ADMIN needed): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Ok(_) => {
                let _ = Command::new("ip").args(["netns", "del", &probe]).status();
                None
            }
        }
    }

    /// A new namespace with its loopback up and a veth link to this machine, both ends up
    /// and addressed. `tag` (a few letters) tells concurrent tests' namespaces apart.
    pub fn create(tag: &str) -> Netns {
        let pid = std::process::id();
        // A /30 per test run, in 10.213.0.0/16, from the process id and the tag.
        let subnet = (pid
            .wrapping_mul(31)
            .wrapping_add(tag.bytes().map(u32::from).sum::<u32>())
            % 63) as u8;
        let short = pid % 100_000;
        let netns = Netns {
            name: format!("saker-{tag}-{pid}"),
            // Interface names have at most 15 characters.
            host_link: format!("sk{tag:.3}h{short}"),
            subnet,
        };
        let inner_link = format!("sk{tag:.3}w{short}");
        ip(&["netns", "add", &netns.name]);
        ip(&[
            "link",
            "add",
            &netns.host_link,
            "type",
            "veth",
            "peer",
            "name",
            &inner_link,
        ]);
        ip(&["link", "set", &inner_link, "netns", &netns.name]);
        let host_cidr = format!("{}/30", netns.host_address());
        let inner_cidr = format!("{}/30", netns.inner_address());
        ip(&["addr", "add", &host_cidr, "dev", &netns.host_link]);
        ip(&["link", "set", &netns.host_link, "up"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &netns.name, "ip"];
            all.extend_from_slice(args);
            ip(&all);
        };
        inside(&["addr", "add", &inner_cidr, "dev", &inner_link]);
        inside(&["link", "set", &inner_link, "up"]);
        inside(&["link", "set", "lo", "up"]);
        netns
    }

    /// This machine's side of the link.
    pub fn host_address(&self) -> String {
        format!("10.213.{}.{}", self.subnet, 1)
    }

    /// The namespace's side of the link (where its processes' connections come from).
    pub fn inner_address(&self) -> String {
        format!("10.213.{}.{}", self.subnet, 2)
    }

    /// The link's /30, for a server's list of trusted clients.
    pub fn cidr(&self) -> String {
        format!("10.213.{}.0/30", self.subnet)
    }

    /// A command that runs `program` inside the namespace (`ip netns exec` then execs it:
    /// the child's process id is the program's).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.name])
            .arg(program.as_ref());
        command
    }

    /// Cuts the link: from now on nothing passes between the namespace and this machine.
    pub fn cut(&self) {
        ip(&["link", "set", &self.host_link, "down"]);
    }

    /// Restores the link cut by [`Netns::cut`].
    pub fn restore(&self) {
        ip(&["link", "set", &self.host_link, "up"]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace deletes its end of the pair, and with it this machine's.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
