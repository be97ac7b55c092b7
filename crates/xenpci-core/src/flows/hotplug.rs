//! Hotplug on plain Xen: `xl pci-attach` / `pci-detach` / `pci-list`, with a preflight that
//! refuses up front what xl would refuse (device not assignable, a domain built without an
//! IOMMU context, a PoD guest, `*` without a vslot; xen-xl.md §2.7, §3.4) and a check of the
//! result in XenStore (backend `num_devs`/`dev-N`/`state-N`, xen-xl.md §5) instead of trusting
//! xl's exit status. Without a reachable xenstored (another host, or none running) the result is
//! checked with `xl pci-list`, and the report says so.

use serde::Serialize;

use crate::ids::DomId;
use crate::pci::Bdf;
use crate::syntax::pci_spec::{parse_spec, PciSpec, SpecDefaults};
use crate::xenstore::{verify_pci_backend, GuestKind, Store, Verdict, XsStore};

use super::xl::{DomainInfo, Xl};
use super::FlowError;

/// How a result was checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerifiedBy {
    /// XenStore backend entries (xenstore-rs).
    Xenstore,
    /// `xl pci-list` (no xenstored reachable for this host).
    XlPciList,
    /// Nothing ran (dry run).
    NotRun,
}

/// The outcome of an attach or detach.
#[derive(Debug, Clone, Serialize)]
pub struct HotplugReport {
    /// The host.
    pub host: String,
    /// The domain as given.
    pub domain: String,
    /// The devices (host BDFs).
    pub devices: Vec<Bdf>,
    /// The xl command.
    pub command: String,
    /// How the result was checked.
    pub verified_by: VerifiedBy,
    /// Evidence and remarks.
    pub notes: Vec<String>,
    /// The state asked for was already there (nothing ran; exit 0).
    pub nothing_to_do: bool,
}

/// Parses SPEC as xl does; a malformed one is refused with the parser's reason.
pub fn parse(spec: &str) -> Result<PciSpec, FlowError> {
    parse_spec(spec, &SpecDefaults::default())
        .map(|(s, _)| s)
        .map_err(|e| FlowError::BadInput {
            what: "PCI_SPEC_STRING".into(),
            input: spec.into(),
            expected: e.to_string(),
        })
}

/// The xm/xl habit `pci-attach [-o OPTS] DOM BDF [VSLOT]` as one PCI_SPEC_STRING:
/// `BDF@VSLOT,OPTS`. `spec` may already carry options; a second slot is refused, and the result
/// must parse as xl reads it.
pub fn compose_spec(
    spec: &str,
    vslot: Option<&str>,
    options: Option<&str>,
) -> Result<String, FlowError> {
    let bad = |expected: &str| FlowError::BadInput {
        what: "PCI_SPEC_STRING".into(),
        input: spec.into(),
        expected: expected.into(),
    };
    let (head, rest) = match spec.split_once(',') {
        Some((h, r)) => (h, Some(r)),
        None => (spec, None),
    };
    let mut out = head.to_string();
    if let Some(v) = vslot {
        if head.contains('@') || spec.contains("vslot=") {
            return Err(bad(
                "one guest slot (it has @VSLOT or vslot= already, and VSLOT was given too)",
            ));
        }
        out.push('@');
        out.push_str(v);
    }
    for extra in [rest, options.filter(|o| !o.is_empty())]
        .into_iter()
        .flatten()
    {
        out.push(',');
        out.push_str(extra);
    }
    parse(&out)?;
    Ok(out)
}

/// The XenStore of `host` when it is this machine and a xenstored answers.
pub fn local_store(is_local: bool) -> Option<XsStore> {
    if !is_local || crate::config::get().no_xenstore {
        return None;
    }
    XsStore::open().ok()
}

/// A check run on the resolved device before xl's own conditions (the safety policy, from
/// [`crate::ops`]): Ok(notes) to go on.
pub type Guard<'g> = &'g mut dyn FnMut(&DomainInfo, Bdf) -> Result<Vec<String>, FlowError>;

/// What xl would refuse, checked before calling it. Returns the host BDFs the spec covers.
pub fn preflight_attach(xl: &Xl, dom: &DomainInfo, spec: &PciSpec) -> Result<Bdf, FlowError> {
    preflight_guarded(xl, dom, spec, &mut |_, _| Ok(Vec::new())).map(|(b, _)| b)
}

/// [`preflight_attach`] with `guard` run as soon as the device is known (so its answer comes
/// first, whatever the spec's `seize`). Returns the device and the guard's notes.
pub fn preflight_guarded(
    xl: &Xl,
    dom: &DomainInfo,
    spec: &PciSpec,
    guard: Guard<'_>,
) -> Result<(Bdf, Vec<String>), FlowError> {
    let refuse = |reason: String| FlowError::Refused {
        action: format!("attach to {} on {}", dom.name, xl.host),
        reason,
    };
    if spec.all_functions && spec.vslot.is_none() {
        return Err(refuse(
            "a multi-function device (`*`) needs a guest slot: add @VSLOT (xl: `Must specify a v-slot for multi-function devices`)".into(),
        ));
    }
    if dom.kind == "pvh" {
        return Err(refuse("Xen 4.17 has no passthrough for PVH guests".into()));
    }
    if dom.passthrough.as_deref() == Some("disabled") {
        let why = if dom.pod {
            "it is an HVM guest with populate-on-demand (memory < maxmem), which cannot have an IOMMU context"
        } else {
            "it was created without passthrough=\"enabled\" and without pci=, so it has no IOMMU context"
        };
        let xl_says = if dom.kind == "hvm" {
            "cannot be assigned - no IOMMU?"
        } else {
            "xc_assign_device failed"
        };
        return Err(refuse(format!(
            "domain {} cannot take PCI devices: {why} (xl would fail with `{xl_says}`); recreate it with passthrough=\"enabled\"{}",
            dom.name,
            if dom.pod { " and memory = maxmem" } else { "" }
        )));
    }
    let assignable = xl.assignable()?;
    let bdf = match (&spec.name, spec.bdf) {
        (Some(n), _) => assignable
            .iter()
            .find(|(_, name)| name.as_deref() == Some(n))
            .map(|(b, _)| *b)
            .ok_or_else(|| {
                refuse(format!(
                    "no assignable device is named {n:?} (xl pci-assignable-add -n NAME BDF)"
                ))
            })?,
        (None, Some(b)) => b,
        (None, None) => return Err(refuse("the spec names no device".into())),
    };
    let notes = guard(dom, bdf)?;
    if !spec.seize && !assignable.iter().any(|(b, _)| *b == bdf) {
        let attached_elsewhere = "or it is attached to a guest already";
        return Err(refuse(format!(
            "{bdf} is not assignable on {}: it is not bound to pciback ({attached_elsewhere}); hide it first (`xenpci hide {bdf}`)",
            xl.host
        )));
    }
    Ok((bdf, notes))
}

fn verify(
    store: &dyn Store,
    dom: &DomainInfo,
    bdf: Bdf,
    want_attached: bool,
) -> Result<Vec<String>, FlowError> {
    let kind = if dom.kind == "hvm" {
        GuestKind::Hvm
    } else {
        GuestKind::Pv
    };
    // xl returns before the guest side is done: on real Xen 4.17 the backend of a PV attach is
    // still at state 1 when `xl pci-attach` exits (pcifront connects a moment later), and a
    // detach can return while dev-N is still listed with state-N = 5 (tests/xen-e2e). So a
    // half-done verdict is polled until it settles, up to XENPCI_VERIFY_SECS (default 60).
    let limit = crate::config::get().verify;
    let start = std::time::Instant::now();
    let (v, ok) = loop {
        let v = verify_pci_backend(store, DomId(dom.domid), bdf, kind).map_err(|e| {
            FlowError::NotVerified {
                detail: format!("reading XenStore for {bdf} in domain {}: {e}", dom.domid),
            }
        })?;
        let ok = if want_attached {
            v.is_attached()
        } else {
            matches!(
                v,
                Verdict::NotAttached { .. } | Verdict::MissingBackend { .. }
            )
        };
        let settling = if want_attached {
            matches!(v, Verdict::HalfAttached { .. })
        } else {
            // still listed (being torn down), or listed after libxl dropped its bookkeeping
            matches!(
                v,
                Verdict::Attached { .. } | Verdict::HalfAttached { .. } | Verdict::Stale { .. }
            )
        };
        if ok || !settling || start.elapsed() >= limit {
            break (v, ok);
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    if ok {
        let mut notes = v.reasons().to_vec();
        if start.elapsed().as_millis() > 300 {
            notes.push(format!(
                "XenStore settled after {:.1} s",
                start.elapsed().as_secs_f64()
            ));
        }
        Ok(notes)
    } else {
        Err(FlowError::NotVerified {
            detail: format!(
                "xl reported success but XenStore says {} for {bdf} in domain {} (after {:.0} s): {}",
                v.label(),
                dom.domid,
                start.elapsed().as_secs_f64(),
                v.explanation()
            ),
        })
    }
}

/// Checks that `bdf` is (or is no longer) attached to `dom`, in XenStore when this host's
/// xenstored answers, else with `xl pci-list`.
pub fn check(
    xl: &Xl,
    dom: &DomainInfo,
    bdf: Bdf,
    want_attached: bool,
) -> Result<(VerifiedBy, Vec<String>), FlowError> {
    if let Some(store) = local_store(xl.site.is_local(xl.host)) {
        return Ok((
            VerifiedBy::Xenstore,
            verify(&store, dom, bdf, want_attached)?,
        ));
    }
    let listed = xl.pci_list(&dom.name)?.iter().any(|e| e.bdf == bdf);
    if listed != want_attached {
        return Err(FlowError::NotVerified {
            detail: format!(
                "xl pci-list {} {} {bdf} after the {}",
                dom.name,
                if listed {
                    "still lists"
                } else {
                    "does not list"
                },
                if want_attached { "attach" } else { "detach" }
            ),
        });
    }
    Ok((
        VerifiedBy::XlPciList,
        vec![format!(
            "no xenstored reachable for {}: checked with xl pci-list",
            xl.host
        )],
    ))
}

/// Looks the domain up, or says it does not exist on this host: bad input (exit 2), as an
/// unknown VM is for the XAPI commands.
pub fn domain(xl: &Xl, dom: &str) -> Result<DomainInfo, FlowError> {
    xl.domain(dom)?.ok_or_else(|| FlowError::BadInput {
        what: "domain".into(),
        input: dom.into(),
        expected: format!(
            "a domain on {}: {dom} is not a domain there (xl list -l {dom} failed)",
            xl.host
        ),
    })
}

/// `xenpci attach` without a guard (re-attaching what a flow itself detached): preflight,
/// `xl pci-attach`, verify.
pub fn attach(
    xl: &Xl,
    dom: &str,
    spec_text: &str,
    dry_run: bool,
) -> Result<HotplugReport, FlowError> {
    attach_guarded(xl, dom, spec_text, dry_run, &mut |_, _| Ok(Vec::new()))
}

/// [`attach`] with `guard` asked about the device first; its notes open the report's.
pub fn attach_guarded(
    xl: &Xl,
    dom: &str,
    spec_text: &str,
    dry_run: bool,
    guard: Guard<'_>,
) -> Result<HotplugReport, FlowError> {
    let spec = parse(spec_text)?;
    let info = domain(xl, dom)?;
    let (bdf, guard_notes) = preflight_guarded(xl, &info, &spec, guard)?;
    let command = xl
        .site
        .xl(xl.host, &["pci-attach", dom, spec_text])
        .to_string();
    let mut report = HotplugReport {
        host: xl.host.to_string(),
        domain: dom.to_string(),
        devices: vec![bdf],
        command,
        verified_by: VerifiedBy::NotRun,
        notes: guard_notes,
        nothing_to_do: false,
    };
    if dry_run {
        return Ok(report);
    }
    xl.run(&["pci-attach", dom, spec_text])?;
    if info.kind != "hvm" && xl.site.is_local(xl.host) {
        remember_pv_device(&xl.site.root, &info, bdf);
    }
    let (by, notes) = check(xl, &info, bdf, true)?;
    report.verified_by = by;
    report.notes.extend(notes);
    Ok(report)
}

/// `xenpci detach`: `xl pci-detach [-f]` and verify, when the device is attached (pci-list);
/// when it is not, a report saying there was nothing to do.
pub fn detach(
    xl: &Xl,
    dom: &str,
    bdf: Bdf,
    force: bool,
    dry_run: bool,
) -> Result<HotplugReport, FlowError> {
    let info = domain(xl, dom)?;
    if !xl.pci_list(dom)?.iter().any(|e| e.bdf == bdf) {
        // Nothing to do is not an error (exit 0), as everywhere.
        return Ok(HotplugReport {
            host: xl.host.to_string(),
            domain: dom.to_string(),
            devices: vec![bdf],
            command: String::new(),
            verified_by: VerifiedBy::NotRun,
            notes: vec![format!(
                "nothing to do: {bdf} is not attached to {dom} on {} (xl pci-list)",
                xl.host
            )],
            nothing_to_do: true,
        });
    }
    let b = bdf.to_string();
    let mut args = vec!["pci-detach"];
    if force {
        args.push("-f");
    }
    args.extend([dom, b.as_str()]);
    let mut report = HotplugReport {
        host: xl.host.to_string(),
        domain: dom.to_string(),
        devices: vec![bdf],
        command: xl.site.xl(xl.host, &args).to_string(),
        verified_by: VerifiedBy::NotRun,
        notes: Vec::new(),
        nothing_to_do: false,
    };
    if dry_run {
        return Ok(report);
    }
    xl.run(&args)?;
    let (by, notes) = check(xl, &info, bdf, false)?;
    report.verified_by = by;
    report.notes = notes;
    Ok(report)
}

/// Where xenpci notes that a PV domain has had a passthrough device (one file per domid, under
/// `/run`, so the notes die with the domains at host reboot).
pub fn pv_history_path(root: &crate::host::HostRoot, domid: u32) -> std::path::PathBuf {
    root.path(format!("/run/xenpci/pv-had-pci/{domid}"))
}

/// Records that PV domain `info` got `bdf`. Real Xen 4.17 removes the whole PCI backend and the
/// guest's pcifront directory from XenStore when the last device is detached (tests/xen-e2e):
/// after a detach, this note is the only trace left of the guest's device history, which
/// `xenpci migrate` reports. Best effort: a failure to write it is not a failure of the attach.
fn remember_pv_device(root: &crate::host::HostRoot, info: &DomainInfo, bdf: Bdf) {
    let p = pv_history_path(root, info.domid);
    if let Some(dir) = p.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = crate::fsutil::atomic_write(&p, format!("{} {bdf}\n", info.name).as_bytes(), false);
}

/// True when xenpci attached a device to PV domain `domid` on this host since boot.
pub fn pv_had_device(root: &crate::host::HostRoot, domid: u32) -> bool {
    pv_history_path(root, domid).is_file()
}
