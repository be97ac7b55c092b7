//! `xenpci demo`: the bundled demo host. Without options it writes the seed's Supermicro X9DRW
//! (XCP-ng, dom0's root on the onboard AHCI at 00:1f.2, an LSI SAS2308 HBA at 05:00.0) to a
//! temporary directory and runs `list` and `check 05:00.0 00:1f.2` on it. `--write DIR` only
//! writes a fixture host root (any shape, e.g. `--shape big-1000` for the benchmark).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use xenpci::host::fixture;

use super::{assign, assigned, check, hidden, hide, list, Globals};

/// Arguments of `xenpci demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Write the fixture host root into DIR (created; must be empty or absent) and stop.
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,
    /// Which host: x9drw, gpu-pair, sriov-nic, legacy-bridge, big-N (N functions, N <= 8000).
    #[arg(long, default_value = "x9drw", value_name = "SHAPE")]
    pub shape: String,
}

pub fn run(a: DemoArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let fx = fixture::shape(&a.shape).with_context(|| {
        format!(
            "unknown shape {:?} (expected one of: {})",
            a.shape,
            fixture::SHAPES.join(", ")
        )
    })?;
    if let Some(dir) = a.write {
        if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
            anyhow::bail!(
                "{} is not empty; give a new or empty directory",
                dir.display()
            );
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        fx.write(&dir)
            .with_context(|| format!("writing the {} host into {}", a.shape, dir.display()))?;
        println!("wrote the {} host root to {}", a.shape, dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    fx.write(tmp.path()).context("writing the demo host")?;
    // The --root contract holds for the demo's own root too: on a real Xen host, its hide must
    // not run the host's xl on the host's devices.
    xenpci::exec::confine_to_root(tmp.path());
    let g = Globals {
        root: Some(tmp.path().to_path_buf()),
        ..g.clone()
    };
    println!("$ xenpci --root <{} demo host> list\n", a.shape);
    list::run(
        list::ListArgs {
            filter: None,
            json: false,
            slot: None,
        },
        &g,
    )?;
    if a.shape == "x9drw" {
        println!("\n$ xenpci --root <x9drw demo host> check 05:00.0 00:1f.2\n");
        check::run(
            check::CheckArgs {
                bdfs: vec!["05:00.0".parse()?, "00:1f.2".parse()?],
                json: false,
            },
            &g,
        )?;
        seed_flow(tmp.path(), &g)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The rest of the seed-000 flow on the demo host: hide the HBA (a dry run, then for real in the
/// temporary copy), see the dom0 disk controller refused, and try to give the HBA to the Ceph VM
/// through the mock `xe`. XCP-ng's `xen-cmdline` is not on a machine without XCP-ng, so the
/// demo uses the project's test double for it (it edits the demo host's grub.cfg the way the
/// real one does); the mock `xe` is the one built next to this binary.
fn seed_flow(root: &Path, g: &Globals) -> anyhow::Result<()> {
    let doubles = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/doubles");
    let xen_cmdline = doubles.join("xen-cmdline");
    if std::env::var_os("XENPCI_XEN_CMDLINE").is_none() {
        if !xen_cmdline.is_file() {
            println!(
                "\n(the rest of the demo needs tests/doubles/xen-cmdline from the source tree)"
            );
            return Ok(());
        }
        // Only this process and its children see these (the demo runs nothing else).
        std::env::set_var("XENPCI_XEN_CMDLINE", &xen_cmdline);
    }
    std::env::set_var("XENPCI_ROOT", root);
    let hide_args = |bdf: &str, dry_run: bool| -> anyhow::Result<hide::HideArgs> {
        Ok(hide::HideArgs {
            common: hide::CommonArgs {
                bdfs: vec![bdf.parse()?],
                persistent: false,
                now: false,
                method: None,
                live: None,
                dry_run,
                json: false,
                force: false,
            },
            with_group: false,
        })
    };
    println!("\n$ xenpci --root <x9drw demo host> hide 05:00.0 --dry-run\n");
    println!(
        "# (xen-cmdline is {}: a stand-in editing the demo host's grub.cfg)",
        xen_cmdline.display()
    );
    hide::run_hide(hide_args("05:00.0", true)?, g)?;
    println!("\n$ xenpci --root <x9drw demo host> hide 00:1f.2 --dry-run\n");
    let code = hide::run_hide(hide_args("00:1f.2", true)?, g)?;
    println!(
        "# exit status: {} (refused)",
        if code == ExitCode::SUCCESS { "0" } else { "1" }
    );

    let xe = std::env::current_exe()?.with_file_name("xe");
    if !xe.is_file() {
        println!(
            "\n(the assignment step needs the mock xe next to this binary: `cargo build --release` builds it)"
        );
        return Ok(());
    }
    let state = root.join("xe-state.json");
    std::fs::write(
        &state,
        serde_json::json!({
            "hosts": [{"uuid": "8f7e0c2a-0000-4000-8000-000000000001", "name-label": "x9drw",
                       "devices": [{"bdf": "0000:05:00.0", "class": "0107", "driver": "mpt3sas",
                                    "vendor-name": "Broadcom / LSI", "device-name": "SAS2308"}]}],
            "vms": [{"uuid": "0a3e6c1e-0000-4000-8000-00000000c0f1", "name-label": "ceph-osd-1",
                     "power-state": "running", "resident-on": "8f7e0c2a-0000-4000-8000-000000000001",
                     "domid": 7, "other-config": {"mac_seed": "7f1c"}}]
        })
        .to_string(),
    )?;
    std::env::set_var("XENPCI_XE", &xe);
    std::env::set_var("XE_MOCK_STATE", &state);
    let assign_args = |dry_run: bool| -> anyhow::Result<assign::AssignArgs> {
        Ok(assign::AssignArgs {
            bdfs: vec!["05:00.0".parse()?],
            vm: "ceph-osd-1".into(),
            restart: true,
            order: Vec::new(),
            steal: false,
            force: false,
            rewrite_misread: false,
            dry_run,
            json: false,
        })
    };
    println!(
        "\n$ xenpci assign 05:00.0 --vm ceph-osd-1 --restart --dry-run   # xe: the mock, {}\n",
        xe.display()
    );
    match assign::run(assign_args(true)?, g) {
        Ok(_) => {}
        Err(e) => {
            println!("xenpci: error: {e}\n# (refused, as it should be: the HBA is still dom0's)")
        }
    }

    println!("\n$ xenpci hide 05:00.0        # for real, on the demo host's temporary copy\n");
    hide::run_hide(hide_args("05:00.0", false)?, g)?;
    println!("\n$ xenpci hidden\n");
    hidden::run(
        hidden::HiddenArgs {
            method: None,
            json: false,
        },
        g,
    )?;

    println!(
        "\n# ... the host reboots (simulated: dom0's command line now comes from grub.cfg, and"
    );
    println!("# pciback holds 0000:05:00.0 in the demo host's sysfs and in the mock xe's state)");
    simulate_reboot(root, &state)?;
    println!("\n$ xenpci hidden\n");
    hidden::run(
        hidden::HiddenArgs {
            method: None,
            json: false,
        },
        g,
    )?;
    println!("\n$ xenpci assign 05:00.0 --vm ceph-osd-1 --restart\n");
    match assign::run(assign_args(false)?, g) {
        Ok(_) => {}
        Err(e) => println!("xenpci: error: {e}"),
    }
    println!("\n$ xenpci assigned\n");
    assigned::run(assigned::AssignedArgs { json: false }, g)?;
    Ok(())
}

/// What a reboot does to the demo host: dom0's command line becomes the default grub entry's
/// dom0 line, and pciback (built in on XCP-ng) seizes the devices listed in its hide= list.
fn simulate_reboot(root: &Path, xe_state: &Path) -> anyhow::Result<()> {
    let grub = std::fs::read_to_string(root.join("boot/grub/grub.cfg"))?;
    let dom0_line = grub
        .lines()
        .map(str::trim_start)
        .find(|l| l.starts_with("module2 /boot/vmlinuz"))
        .and_then(|l| l.split_once(' ').map(|(_, rest)| rest))
        .and_then(|rest| rest.split_once(' ').map(|(_, args)| args))
        .unwrap_or("");
    std::fs::write(root.join("proc/cmdline"), format!("{dom0_line}\n"))?;
    let dev = root.join("sys/devices/pci0000:00/0000:00:01.0/0000:05:00.0");
    let drivers = root.join("sys/bus/pci/drivers");
    std::fs::create_dir_all(drivers.join("pciback"))?;
    let _ = std::fs::remove_file(dev.join("driver"));
    let _ = std::fs::remove_file(drivers.join("mpt3sas/0000:05:00.0"));
    std::os::unix::fs::symlink(
        "../../../../../sys/bus/pci/drivers/pciback",
        dev.join("driver"),
    )?;
    std::os::unix::fs::symlink(
        "../../../../devices/pci0000:00/0000:00:01.0/0000:05:00.0",
        drivers.join("pciback/0000:05:00.0"),
    )?;
    let mut st: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(xe_state)?)?;
    st["hosts"][0]["devices"][0]["driver"] = "pciback".into();
    std::fs::write(xe_state, st.to_string())?;
    Ok(())
}
