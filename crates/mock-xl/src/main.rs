//! mock `xl`: a stateful test double of Xen 4.17's `xl` for the PCI passthrough commands and the
//! domain life cycle the xenpci flows use (info, list, pci-*, create, shutdown, destroy,
//! migrate). Outputs and errors follow docs/reference/xen-xl.md §2.7/§3 and the real outputs
//! recorded in docs/reference/FINDINGS.md (§B, §D). State schema and hooks: crates/mock-xl/README.md.
//!
//! Exit status: what xl returns; a problem of the mock itself (bad state file, unknown command)
//! prints `mock-xl: …` and exits 2... except that xl also uses 2 for usage errors, so mock
//! problems additionally say `mock-xl:` and never look like an xl message.

mod args;
mod domain;
mod hooks;
mod migrate;
mod out;
mod pci;
mod state;
mod xenstore;

use std::io::Write;
use std::process::ExitCode;

use args::getopt;
use domain::{create, info, list, shutdown};
use out::Out;
use pci::{assignable_add, assignable_list, assignable_remove, pci_attach, pci_detach, pci_list};
use state::Locked;
use xenstore::mirror;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(args) {
        Ok(out) => {
            let _ = std::io::stdout().write_all(out.stdout.as_bytes());
            let _ = std::io::stderr().write_all(out.stderr.as_bytes());
            let _ = std::io::stdout().flush();
            ExitCode::from(out.code as u8)
        }
        Err(e) => {
            eprintln!("mock-xl: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<Out, Box<dyn std::error::Error>> {
    // global options before the command
    let mut i = 0;
    let mut dry_run = false;
    while i < args.len() && args[i].starts_with('-') && args[i].len() > 1 {
        match args[i].as_str() {
            "--version" | "-V" => {
                return Ok(Out::ok().out(format!(
                    "mock-xl {} (xenpci test double for Xen 4.17 xl, not the real xl)",
                    env!("CARGO_PKG_VERSION")
                )))
            }
            s if s[1..].chars().all(|c| "vtTfN".contains(c)) => dry_run |= s.contains('N'),
            s => {
                return Ok(Out::ok()
                    .err(format!("option `{}' not supported.", &s[1..]))
                    .code(2))
            }
        }
        i += 1;
    }
    let Some(cmd) = args.get(i).cloned() else {
        return Ok(Out::ok()
            .err("Usage xl [-vfNtT] <subcommand> [args]")
            .code(1));
    };
    let rest: Vec<String> = args[i + 1..].to_vec();
    if dry_run && cmd.starts_with("pci-") {
        return Ok(Out::ok()
            .err("command does not implement -N (dryrun) option")
            .code(1));
    }
    if let Ok(spec) = std::env::var("XL_MOCK_LATENCY_MS") {
        std::thread::sleep(hooks::latency(&spec, &cmd)?);
    }
    let mut locked = Locked::open()?;
    let h = locked.host_index()?;
    let host_name = locked.state.hosts.0[h].0.clone();
    if let Ok(log) = std::env::var("XL_MOCK_LOG") {
        hooks::log_call(&log, &host_name, &args)?;
    }
    if !KNOWN.contains(&cmd.as_str()) {
        return Err(format!("command {cmd:?} is not emulated by the mock").into());
    }
    let count = {
        let c = locked.state.call_counts.entry(cmd.clone()).or_insert(0);
        *c += 1;
        *c
    };
    if let Some(code) = hooks::injected(
        &std::env::var("XL_MOCK_FAIL").unwrap_or_default(),
        &cmd,
        count,
    )? {
        locked.save()?;
        return Ok(Out::ok()
            .err(format!("mock-xl: injected failure of {cmd} call {count}"))
            .code(code));
    }
    let before: Vec<Vec<String>> = locked
        .state
        .hosts
        .0
        .iter()
        .map(|(_, h)| h.domains.iter().map(|d| d.domid.to_string()).collect())
        .collect();
    let _ = before;
    let out = dispatch(&mut locked, h, &cmd, &rest);
    for (_, host) in &locked.state.hosts.0 {
        host.sync_sysfs();
    }
    match std::env::var("XL_MOCK_XENSTORE") {
        Ok(v) if v == "1" || v == host_name => mirror(&locked.state.hosts.0[h].1)?,
        _ => {}
    }
    locked.save()?;
    Ok(out)
}

const KNOWN: &[&str] = &[
    "info",
    "list",
    "domid",
    "domname",
    "pci-attach",
    "pci-detach",
    "pci-list",
    "pci-assignable-add",
    "pci-assignable-remove",
    "pci-assignable-list",
    "create",
    "shutdown",
    "destroy",
    "migrate",
];

fn dispatch(st: &mut Locked, h: usize, cmd: &str, args: &[String]) -> Out {
    let hosts = &mut st.state.hosts.0;
    match cmd {
        "info" => info(&hosts[h].0, &hosts[h].1),
        "list" => list(&hosts[h].1, args),
        "domid" => match getopt(cmd, args, "", "") {
            Err(o) => o,
            Ok((_, pos)) => match hosts[h].1.domains.iter().find(|d| d.name == pos[0]) {
                Some(d) => Out::ok().out(d.domid.to_string()),
                None if pos[0] == "Domain-0" => Out::ok().out("0"),
                None => Out::ok().err(format!("Can't get domid of domain name '{}', maybe this domain does not exist.", pos[0])).code(1),
            },
        },
        "domname" => match args.first().and_then(|a| a.parse::<u32>().ok()) {
            Some(0) => Out::ok().out("Domain-0"),
            Some(id) => match hosts[h].1.domains.iter().find(|d| d.domid == id) {
                Some(d) => Out::ok().out(&d.name),
                None => Out::ok().err(format!("Can't get domain name of domain id '{id}', maybe this domain does not exist.")).code(1),
            },
            None => Out::ok().err("Invalid domain id.").code(1),
        },
        "pci-list" => pci_list(&hosts[h].1, args),
        "pci-assignable-list" => assignable_list(&hosts[h].1, args),
        "pci-assignable-add" => assignable_add(&mut hosts[h].1, args),
        "pci-assignable-remove" => assignable_remove(&mut hosts[h].1, args),
        "pci-attach" => pci_attach(&mut hosts[h].1, args),
        "pci-detach" => pci_detach(&mut hosts[h].1, args),
        "create" => create(&mut hosts[h].1, args),
        "shutdown" | "destroy" => shutdown(&mut hosts[h].1, cmd, args),
        "migrate" => migrate::migrate(hosts, h, args),
        _ => Out::ok().code(2),
    }
}
