//! `xenpci evacuate HOST --to HOST2 -j N` against the two-host mock xl: every guest is moved with
//! the right mode, failures and rollbacks are reported per VM in the summary table, and nothing
//! is left half-done.

mod flows_support;

use flows_support::Scenario;

#[test]
fn evacuate_moves_every_guest_and_reports_each() {
    let s = Scenario::lab();
    s.xl("h1", &["pci-attach", "hvmvm", "0000:03:00.0@5"]).ok();
    s.xl("h1", &["pci-attach", "pvvm", "0000:04:00.0"]).ok(); // PV with a device, no xl.cfg given
    let r = s.xenpci(&["evacuate", "h1", "--to", "h2", "-j", "2"]);
    assert_eq!(
        r.code,
        Some(1),
        "one VM cannot move: {}\n{}",
        r.stdout,
        r.stderr
    );
    let table = &r.stdout;
    assert!(table.starts_with("VM "), "{table}");
    let row = |vm: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{vm} ")))
            .unwrap_or_else(|| panic!("{vm} in {table}"))
            .to_string()
    };
    assert!(row("hvmvm").contains("moved") && row("hvmvm").contains("hot"));
    assert!(row("plain").contains("moved") && row("plain").contains("live"));
    assert!(row("pod").contains("moved"));
    assert!(
        row("pvvm").contains("failed") && row("pvvm").contains("give --config"),
        "{}",
        row("pvvm")
    );
    assert!(
        table.contains("moved 3, rolled back 0, failed 1"),
        "{table}"
    );
    // progress lines on stderr (not a terminal: plain lines)
    assert!(
        r.stderr.contains("hvmvm: hot move, 3 steps"),
        "{}",
        r.stderr
    );
    assert_eq!(
        s.xl("h2", &["pci-list", "hvmvm"]).stdout,
        "Vdev Device\n05.0 0000:81:00.0\n"
    );
    assert_eq!(
        s.devices_of("h1", "pvvm"),
        Some(vec!["0000:04:00.0".to_string()]),
        "the refused VM is untouched"
    );
}

#[test]
fn a_failing_migration_is_rolled_back_and_listed() {
    let s = Scenario::lab();
    s.xl("h1", &["pci-attach", "hvmvm", "0000:03:00.0@5"]).ok();
    // xl list order: pvvm, hvmvm, plain, pod; with -j 1 hvmvm's migrate is the 2nd migrate call
    let r = s.xenpci_env(
        &[("XL_MOCK_FAIL", "migrate:2")],
        &["evacuate", "h1", "--to", "h2", "-j", "1"],
    );
    assert_eq!(r.code, Some(1));
    let line = r.stdout.lines().find(|l| l.starts_with("hvmvm ")).unwrap();
    assert!(
        line.contains("rolled-back") && line.contains("injected failure of migrate"),
        "{line}"
    );
    assert!(
        r.stdout.contains("moved 3, rolled back 1, failed 0"),
        "{}",
        r.stdout
    );
    assert_eq!(
        s.xl("h1", &["pci-list", "hvmvm"]).stdout,
        "Vdev Device\n05.0 0000:03:00.0\n"
    );
    assert!(s.xenpci(&["status"]).stdout.contains("no half-done flow"));
}

#[test]
fn evacuate_dry_run_plans_every_vm() {
    let s = Scenario::lab();
    s.xl("h1", &["pci-attach", "hvmvm", "0000:03:00.0@5"]).ok();
    let r = s.xenpci(&["evacuate", "h1", "--to", "h2", "--dry-run"]);
    r.ok();
    assert!(r.stdout.contains("plan: hot move of hvmvm from h1 to h2"));
    assert!(r.stdout.contains("plan: live move of plain from h1 to h2"));
    assert!(!s.xl_log().contains(" migrate "));
}

#[test]
fn evacuate_an_xapi_host_moves_pci_vms_cold() {
    let s = Scenario::lab();
    s.xapi();
    let r = s.xenpci(&["evacuate", "h1", "--to", "h2", "--toolstack", "xapi"]);
    r.ok();
    assert!(
        r.stdout.contains("moved 1, rolled back 0, failed 0"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l.contains("33333333-3333-3333-3333-333333333333") && l.contains("cold")),
        "{}",
        r.stdout
    );
    assert_eq!(s.xe_get("other-config"), "pci: 0/0000:81:00.0");
}
