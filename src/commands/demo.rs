//! `xenpci demo`: the bundled demo host as one story on stdout. Without options it writes the
//! seed's Supermicro X9DRW (XCP-ng, dom0's root on the onboard AHCI at 00:1f.2, an LSI SAS2308
//! HBA at 05:00.0) to a kept temporary directory and runs xenpci itself on it, step by step:
//! list, check, hide (dry run, a refusal with its reason, for real), a simulated reboot, assign
//! to the Ceph VM through the mock `xe`, the undo (unassign, unhide) and an xl hot-plug through
//! the mock `xl`; with `--keep` the root stays and each step's command line can be pasted after
//! the printed `export`. It ends
//! saying whether every step did what it said (exit 1 if not). `--write DIR` only writes a
//! bundled host root (`--shape`: the seed's X9DRW, or one of the other bundled shapes,
//! [`demo_hosts`]); bigger hosts (`big-N`, for the benchmark) are written by the dev-only
//! `xenpci-fixture write SHAPE DIR`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::demo_hosts;
use super::Globals;

/// Arguments of `xenpci demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Write the bundled host root into DIR (created; must be empty or absent) and stop.
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,
    /// Which bundled host: x9drw, gpu-pair, sriov-nic, legacy-bridge, kvm-debian, kvm-fedora.
    #[arg(long, default_value = "x9drw", value_name = "SHAPE")]
    pub shape: String,
    /// Keep the demo's host root after the story (it is removed otherwise), to type its
    /// commands yourself after the printed `export` line.
    #[arg(long)]
    pub keep: bool,
}

pub fn run(a: DemoArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let fx = demo_hosts::find(&a.shape).with_context(|| {
        let also = if a.shape.starts_with("big-") {
            "; big-N hosts are written by the dev-only `xenpci-fixture write big-N DIR` \
             (`cargo run -p xenpci-fixtures -- write big-1000 DIR` in the source tree)"
        } else {
            ""
        };
        format!(
            "unknown shape {:?} (expected one of: {}){also}",
            a.shape,
            demo_hosts::names().join(", ")
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
        report!("wrote the {} host root to {}", a.shape, dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let tmp = tempfile::Builder::new()
        .prefix("xenpci-demo.")
        .tempdir()
        .context("creating a temporary directory")?;
    fx.write(tmp.path()).context("writing the demo host")?;
    let story = Story::new(tmp.path(), &a.shape, a.keep, g)?;
    let code = story.run();
    if a.keep {
        let _ = tmp.keep();
    }
    code
}

/// The stand-ins the demo drives instead of the real host tools: the mock `xe` and `xl` built
/// next to this binary, and XCP-ng's `xen-cmdline` test double (next to the binary, or in the
/// source tree when this binary was built from it). Absent ones are said, with what is skipped.
struct Tools {
    xe: Option<PathBuf>,
    xl: Option<PathBuf>,
    xen_cmdline: Option<PathBuf>,
}

impl Tools {
    fn find() -> anyhow::Result<Tools> {
        let exe = std::env::current_exe().context("finding this program")?;
        // Only xenpci's own mocks: next to an installed xenpci (/usr/bin) an `xe` or `xl` may
        // be the host's real one, which the demo must never run. A mock is recognised by the
        // words of its --version, read from the file, not by running it.
        let beside = |name: &str| {
            let marker: &[u8] = match name {
                "xe" => b"xenpci's mock of the XAPI xe CLI",
                "xl" => b"not the real xl",
                _ => b"Test double for XCP-ng's",
            };
            Some(exe.with_file_name(name)).filter(|p| is_mock(p, marker))
        };
        // The source tree only when this binary is inside its target/ directory.
        let tree = Path::new(env!("CARGO_MANIFEST_DIR"));
        let from_tree = exe.starts_with(tree.join("target"));
        let xen_cmdline = beside("xen-cmdline").or_else(|| {
            Some(tree.join("tests/doubles/xen-cmdline"))
                .filter(|p| from_tree && is_mock(p, b"Test double for XCP-ng's"))
        });
        Ok(Tools {
            xe: beside("xe"),
            xl: beside("xl"),
            xen_cmdline,
        })
    }
}

/// True when `path` is a regular file (at most 256 MiB) containing `marker`.
fn is_mock(path: &Path, marker: &[u8]) -> bool {
    xenpci::bounded_read::read(path, 256 << 20)
        .ok()
        .flatten()
        .is_some_and(|bytes| bytes.windows(marker.len()).any(|w| w == marker))
}

/// One run of the demo: the host root (kept, so the printed commands can be pasted), the
/// environment every step runs in, and whether every step did what the story says.
struct Story {
    dir: PathBuf,
    shape: String,
    env: Vec<(&'static str, PathBuf)>,
    tools: Tools,
    verbose: u8,
    keep: bool,
    as_expected: std::cell::Cell<bool>,
    n: std::cell::Cell<usize>,
}

const HOST_UUID: &str = "8f7e0c2a-0000-4000-8000-000000000001";
const OSD_UUID: &str = "0a3e6c1e-0000-4000-8000-00000000c0f1";

impl Story {
    fn new(dir: &Path, shape: &str, keep: bool, g: &Globals) -> anyhow::Result<Story> {
        let tools = Tools::find()?;
        let mut env = vec![("XENPCI_ROOT", dir.to_path_buf())];
        if let Some(xe) = &tools.xe {
            env.push(("XENPCI_XE", xe.clone()));
            env.push(("XE_MOCK_STATE", dir.join("xe-state.json")));
        }
        if let Some(xl) = &tools.xl {
            env.push(("XENPCI_XL", xl.clone()));
            env.push(("XL_MOCK_STATE", dir.join("xl-state.json")));
        }
        if let Some(c) = &tools.xen_cmdline {
            env.push(("XENPCI_XEN_CMDLINE", c.clone()));
        }
        Ok(Story {
            dir: dir.to_path_buf(),
            shape: shape.to_string(),
            env,
            tools,
            verbose: g.verbose,
            keep,
            as_expected: std::cell::Cell::new(true),
            n: std::cell::Cell::new(0),
        })
    }

    /// A section title.
    fn section(&self, title: &str) {
        self.n.set(self.n.get() + 1);
        outln!("\n## {}. {title}", self.n.get());
    }

    /// Runs `xenpci ARGS` in the demo's environment, prints the command line and everything it
    /// printed (stdout and stderr interleaved, as on a terminal), and its exit status when not 0.
    /// A status other than `expect` is said and makes the demo fail.
    fn step(&self, args: &[&str], expect: u8) -> anyhow::Result<String> {
        outln!("\n$ xenpci {}", args.join(" "));
        let (reader, writer) = std::io::pipe().context("creating a pipe")?;
        let mut cmd = std::process::Command::new(std::env::current_exe()?);
        cmd.args(args)
            .stdin(std::process::Stdio::null())
            .stdout(writer.try_clone()?)
            .stderr(writer);
        for k in [
            "XENPCI_XE",
            "XENPCI_XL",
            "XENPCI_XEN_CMDLINE",
            "XENPCI_MAP",
            "XENPCI_STATE_DIR",
            "XENPCI_TOOLSTACK",
            "XE_MOCK_FAIL",
            "XL_MOCK_FAIL",
        ] {
            cmd.env_remove(k);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        if self.verbose > 0 {
            cmd.arg(format!("-{}", "v".repeat(self.verbose.into())));
        }
        let mut child = cmd.spawn().context("running xenpci")?;
        drop(cmd);
        let mut out = String::new();
        std::io::Read::read_to_string(&mut &reader, &mut out)?;
        let code = child.wait()?.code().unwrap_or(-1);
        out!("{out}");
        if code != 0 {
            outln!(
                "# exit status {code}{}",
                if code == 1 {
                    " (refused: nothing was changed)"
                } else {
                    ""
                }
            );
        }
        if code != i32::from(expect) {
            self.as_expected.set(false);
            outln!("# NOT AS EXPECTED: this step should have exited {expect}");
        }
        Ok(out)
    }

    /// A check of what a step printed; a failed one is said and makes the demo fail.
    fn expect(&self, ok: bool, what: &str) {
        if !ok {
            self.as_expected.set(false);
            outln!("# NOT AS EXPECTED: {what}");
        }
    }

    fn say(&self, text: &str) {
        for l in text.lines() {
            outln!("# {l}");
        }
    }

    fn run(&self) -> anyhow::Result<ExitCode> {
        let d = self.dir.display();
        outln!("# xenpci demo: the {} host, written to {d}", self.shape);
        outln!("# Every step below is xenpci itself, run against that host root. To type them");
        if self.keep {
            outln!("# yourself, first:");
        } else {
            outln!("# yourself, run `xenpci demo --keep` (the root is removed at the end), then:");
        }
        let exports: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", v.display()))
            .collect();
        outln!("export {}", exports.join(" "));
        self.section("What is in this host, grouped by what must move together");
        self.step(&["list"], 0)?;
        if self.shape != "x9drw" {
            return self.end();
        }
        self.say_missing();
        if self.tools.xe.is_some() {
            self.write_xe_state()?;
        }
        if self.tools.xl.is_some() {
            self.write_xl_state()?;
        }
        self.section(
            "Preflight: the SAS HBA for the Ceph VM, and the disk controller dom0 boots from",
        );
        self.step(&["check", "05:00.0", "00:1f.2"], 1)?;
        let method: &[&str] = if self.tools.xen_cmdline.is_some() {
            &[]
        } else {
            &["--method", "grub"]
        };
        let with = |base: &[&'static str]| -> Vec<&str> {
            base.iter().copied().chain(method.iter().copied()).collect()
        };
        self.section("Hide the HBA from dom0 at the next boot: first the dry run");
        self.step(&with(&["hide", "05:00.0", "--persistent", "--dry-run"]), 0)?;
        self.section("The same for dom0's own disk controller is refused, with the reason");
        self.step(&with(&["hide", "00:1f.2", "--persistent", "--dry-run"]), 1)?;
        if self.tools.xe.is_none() {
            self.step(&with(&["hide", "05:00.0", "--persistent"]), 0)?;
            self.step(&with(&["hidden"]), 0)?;
            return self.end();
        }
        self.section("Giving the HBA to the VM before it is hidden is refused");
        self.step(
            &[
                "assign",
                "05:00.0",
                "--vm",
                "ceph-osd-1",
                "--restart",
                "--dry-run",
            ],
            1,
        )?;
        self.section("Hide it for real (the boot configuration; a backup is kept)");
        self.step(&with(&["hide", "05:00.0", "--persistent"]), 0)?;
        self.step(&with(&["hidden"]), 0)?;
        self.section("Reboot the host");
        self.say("(simulated: dom0's command line now comes from grub.cfg, and pciback holds");
        self.say("0000:05:00.0 in the demo host's sysfs and in the mock xe's state)");
        simulate_reboot(&self.dir, &self.dir.join("xe-state.json"))?;
        self.step(&with(&["hidden"]), 0)?;
        self.section("Give it to the Ceph VM: the dry run prints exactly what the run executes");
        self.step(
            &[
                "assign",
                "05:00.0",
                "--vm",
                "ceph-osd-1",
                "--restart",
                "--dry-run",
            ],
            0,
        )?;
        self.step(&["assign", "05:00.0", "--vm", "ceph-osd-1", "--restart"], 0)?;
        self.step(&["assigned"], 0)?;
        self.section("Undo: take it back from the VM");
        self.step(&["unassign", "--all", "--vm", "ceph-osd-1", "--restart"], 0)?;
        if self.tools.xl.is_some() {
            self.section("On an xl host: hot-plug it into a running guest, checked and verified");
            self.step(&["attach", "guest1", "05:00.0", "--dry-run"], 0)?;
            let attached = self.step(&["attach", "guest1", "05:00.0"], 0)?;
            self.expect(attached.contains("verified with"), "the attach is verified");
            self.step(&["attached", "guest1"], 0)?;
            let detached = self.step(&["detach", "guest1", "05:00.0"], 0)?;
            self.expect(detached.contains("verified with"), "the detach is verified");
        }
        self.section("Undo: give it back to dom0 from the next boot");
        self.step(&with(&["unhide", "05:00.0", "--persistent"]), 0)?;
        self.step(&with(&["hidden"]), 0)?;
        self.end()
    }

    /// Says which stand-ins are missing and what is skipped without them.
    fn say_missing(&self) {
        if self.tools.xen_cmdline.is_none() {
            self.say("No xen-cmdline stand-in next to this binary (XCP-ng's own is");
            self.say(
                "/opt/xensource/libexec/xen-cmdline, never run here): hide, unhide and hidden",
            );
            self.say("use --method grub, editing the demo host's grub.cfg as xen-cmdline would.");
        }
        if self.tools.xe.is_none() {
            self.say("No mock xe next to this binary (`cargo build` builds it): the XAPI steps");
            self.say("(assign, assigned, unassign) are skipped.");
        }
        if self.tools.xl.is_none() {
            self.say("No mock xl next to this binary (`cargo build` builds it): the xl hot-plug");
            self.say("steps (attach, attached, detach) are skipped.");
        }
    }

    fn end(&self) -> anyhow::Result<ExitCode> {
        outln!();
        if self.as_expected.get() {
            self.say("Verified: every step above exited as the story says (the refusals refused,");
            self.say("nothing changed by a dry run, every change made and read back, the hot-plug");
            self.say("checked with xl pci-list), and the host is back where it started at the next boot.");
        } else {
            self.say("Some steps did NOT go as expected (marked above).");
        }
        if self.keep {
            self.say(&format!(
                "The demo host stays in {}: try more commands there, then `rm -r {}`.",
                self.dir.display(),
                self.dir.display()
            ));
        } else {
            self.say("(the demo host root is removed now: `xenpci demo --keep` keeps it)");
        }
        Ok(if self.as_expected.get() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    }

    fn write_xe_state(&self) -> anyhow::Result<()> {
        std::fs::write(
            self.dir.join("xe-state.json"),
            serde_json::json!({
                "hosts": [{"uuid": HOST_UUID, "name-label": "x9drw",
                           "devices": [{"bdf": "0000:05:00.0", "class": "0107", "driver": "mpt3sas",
                                        "vendor-name": "Broadcom / LSI", "device-name": "SAS2308"}]}],
                "vms": [{"uuid": OSD_UUID, "name-label": "ceph-osd-1",
                         "power-state": "running", "resident-on": HOST_UUID,
                         "domid": 7, "other-config": {"mac_seed": "7f1c"}}]
            })
            .to_string(),
        )
        .context("writing the mock xe's state")
    }

    fn write_xl_state(&self) -> anyhow::Result<()> {
        std::fs::write(
            self.dir.join("xl-state.json"),
            serde_json::json!({
                "hosts": {"x9drw": {
                    "devices": [{"bdf": "0000:05:00.0", "driver": "pciback"}],
                    "domains": [{"domid": 1, "name": "guest1", "type": "hvm",
                                 "passthrough": "sync_pt"}],
                    "next-domid": 2
                }}
            })
            .to_string(),
        )
        .context("writing the mock xl's state")
    }
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
