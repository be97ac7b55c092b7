//! xl's argument handling: each command's usage line (`USAGE`), its getopt, `help` and the
//! invalid-domain message.

use crate::out::Out;

pub(crate) const USAGE: &[(&str, &str, &str, usize)] = &[
    (
        "pci-attach",
        "Usage: xl [-vtTf] pci-attach <Domain> <PCI_SPEC_STRING>",
        "Insert a new pass-through pci device",
        2,
    ),
    (
        "pci-detach",
        "Usage: xl [-vtTf] pci-detach <Domain> <PCI_SPEC_STRING>",
        "Remove a domain's pass-through pci device",
        2,
    ),
    (
        "pci-list",
        "Usage: xl [-vtT] pci-list <Domain>",
        "List pass-through pci devices for a domain",
        1,
    ),
    (
        "pci-assignable-add",
        "Usage: xl [-vtTf] pci-assignable-add [options] <BDF>",
        "Make a device assignable for pci-passthru",
        1,
    ),
    (
        "pci-assignable-remove",
        "Usage: xl [-vtTf] pci-assignable-remove [options] <BDF>|NAME",
        "Remove a device from being assignable",
        1,
    ),
    (
        "pci-assignable-list",
        "Usage: xl [-vtT] pci-assignable-list [options]",
        "List all the assignable pci devices",
        0,
    ),
    (
        "create",
        "Usage: xl [-vfN] create <ConfigFile> [options] [vars]",
        "Create a domain from config file <filename>",
        1,
    ),
    (
        "shutdown",
        "Usage: xl [-vf] shutdown [options] <-a|Domain>",
        "Issue a shutdown signal to a domain",
        1,
    ),
    (
        "destroy",
        "Usage: xl [-vf] destroy <Domain>",
        "Terminate a domain immediately",
        1,
    ),
    (
        "migrate",
        "Usage: xl [-vf] migrate <Domain> <host>",
        "Migrate a domain to another host",
        2,
    ),
    (
        "list",
        "Usage: xl [-v] list [options] [Domain]",
        "List information about all/some domains",
        0,
    ),
    (
        "info",
        "Usage: xl [-v] info [-n|--numa]",
        "Get information about Xen host",
        0,
    ),
    (
        "domid",
        "Usage: xl domid <DomainName>",
        "Convert a domain name to domain id",
        1,
    ),
];

/// Options (letter, value) and positional arguments.
pub(crate) type Parsed = (Vec<(char, String)>, Vec<String>);

/// getopt_long-style split: options (with their value when `with_value` lists them) anywhere.
pub(crate) fn getopt(
    cmd: &str,
    args: &[String],
    flags: &str,
    with_value: &str,
) -> Result<Parsed, Out> {
    let mut opts = Vec::new();
    let mut pos = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            pos.extend(args[i + 1..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, val) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            match name {
                "help" => opts.push(('h', String::new())),
                "name" if with_value.contains('n') => {
                    let v = match val {
                        Some(v) => v,
                        None => {
                            i += 1;
                            args.get(i).cloned().unwrap_or_default()
                        }
                    };
                    opts.push(('n', v));
                }
                "show-names" if flags.contains('n') => opts.push(('n', String::new())),
                "long" if flags.contains('l') => opts.push(('l', String::new())),
                _ => {
                    return Err(Out::ok()
                        .err(format!("option `{name}' not supported."))
                        .code(2))
                }
            }
        } else if a.len() > 1 && a.starts_with('-') {
            let chars: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                if with_value.contains(c) {
                    let rest: String = chars[j + 1..].iter().collect();
                    let v = if rest.is_empty() {
                        i += 1;
                        args.get(i).cloned().unwrap_or_default()
                    } else {
                        rest
                    };
                    opts.push((c, v));
                    break;
                } else if flags.contains(c) || c == 'h' {
                    opts.push((c, String::new()));
                } else {
                    return Err(Out::ok()
                        .err(format!("option `{c}' not supported."))
                        .code(2));
                }
                j += 1;
            }
        } else {
            pos.push(a.clone());
        }
        i += 1;
    }
    if opts.iter().any(|(c, _)| *c == 'h') {
        return Err(help(cmd).code(0));
    }
    let need = USAGE.iter().find(|u| u.0 == cmd).map_or(0, |u| u.3);
    if pos.len() < need {
        let s = if need == 1 { "argument" } else { "arguments" };
        return Err(help(cmd)
            .code(2)
            .err_front(format!("'xl {cmd}' requires at least {need} {s}.\n")));
    }
    Ok((opts, pos))
}

pub(crate) fn help(cmd: &str) -> Out {
    match USAGE.iter().find(|u| u.0 == cmd) {
        Some((_, usage, desc, _)) => Out::ok().out(format!("{usage}\n\n{desc}.\n")),
        None => Out::ok(),
    }
}

pub(crate) fn invalid_domain(arg: &str) -> Out {
    Out::ok()
        .err(format!("{arg} is an invalid domain identifier (rc=-6)"))
        .code(1)
}
