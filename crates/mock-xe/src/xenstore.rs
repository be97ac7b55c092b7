//! Optional XenStore side effects (`XE_MOCK_XENSTORE=1`): what xenopsd writes for a VM's PCI
//! devices, so a tool verifying through XenStore sees the same as in dom0. For every plugged
//! device xenopsd writes `/local/domain/0/backend/pci/<domid>/0/dev-<index>` = `DDDD:BB:SS.F`
//! (`device.ml` `PCI.add`, `device_model_pci_device_path`); when the domain goes away the
//! backend directory goes with it. The daemon is the one `XENSTORED_PATH` names (xenstore-rs).

use xenstore_rs::unix::XsUnix;
use xenstore_rs::Xs;

use crate::state::State;

/// A XenStore request that failed (a broken test set-up, reported as the mock's error).
#[derive(Debug, thiserror::Error)]
pub enum XenStoreError {
    #[error("XE_MOCK_XENSTORE=1 but cannot connect to xenstored (XENSTORED_PATH={socket})")]
    Connect {
        socket: String,
        source: std::io::Error,
    },
    #[error("xenstore {op} {path} failed")]
    Request {
        op: &'static str,
        path: String,
        source: std::io::Error,
    },
}

/// The per-VM facts the backend nodes depend on.
pub type Snapshot = Vec<(String, i64, Vec<String>)>;

pub fn snapshot(state: &State) -> Snapshot {
    state
        .vms
        .iter()
        .map(|v| (v.uuid.clone(), v.domid, v.attached_pcis.clone()))
        .collect()
}

fn backend(domid: i64) -> String {
    format!("/local/domain/0/backend/pci/{domid}")
}

/// The removals and writes that turn `before` into `after`.
pub fn changes(before: &Snapshot, after: &Snapshot) -> (Vec<String>, Vec<(String, String)>) {
    let mut rm = Vec::new();
    let mut write = Vec::new();
    for (uuid, domid, devs) in after {
        let old = before.iter().find(|(u, _, _)| u == uuid);
        if let Some((_, od, odevs)) = old {
            if od == domid && odevs == devs {
                continue;
            }
            if *od > 0 && !odevs.is_empty() {
                rm.push(backend(*od));
            }
        }
        if *domid > 0 {
            for (i, d) in devs.iter().enumerate() {
                write.push((format!("{}/0/dev-{i}", backend(*domid)), d.clone()));
            }
        }
    }
    (rm, write)
}

pub fn apply(before: &Snapshot, after: &Snapshot) -> Result<(), XenStoreError> {
    let (rm, write) = changes(before, after);
    if rm.is_empty() && write.is_empty() {
        return Ok(());
    }
    let socket = std::env::var("XENSTORED_PATH").unwrap_or_else(|_| "/run/xenstored/socket".into());
    let xs = XsUnix::new().map_err(|source| XenStoreError::Connect { socket, source })?;
    for path in rm {
        match xs.rm(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(XenStoreError::Request {
                    op: "rm",
                    path,
                    source: e,
                })
            }
            _ => {}
        }
    }
    for (path, value) in write {
        xs.write(&path, &value)
            .map_err(|source| XenStoreError::Request {
                op: "write",
                path,
                source,
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_writes_and_shutdown_removes() {
        let halted: Snapshot = vec![("a".into(), -1, vec![])];
        let running: Snapshot = vec![(
            "a".into(),
            5,
            vec!["0000:07:00.0".into(), "0000:06:00.0".into()],
        )];
        let (rm, write) = changes(&halted, &running);
        assert!(rm.is_empty());
        assert_eq!(
            write,
            [
                (
                    "/local/domain/0/backend/pci/5/0/dev-0".to_string(),
                    "0000:07:00.0".to_string()
                ),
                (
                    "/local/domain/0/backend/pci/5/0/dev-1".to_string(),
                    "0000:06:00.0".to_string()
                )
            ]
        );
        assert_eq!(
            changes(&running, &halted),
            (vec!["/local/domain/0/backend/pci/5".to_string()], vec![])
        );
        assert_eq!(changes(&running, &running), (vec![], vec![]));
    }
}
