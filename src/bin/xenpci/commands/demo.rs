//! `xenpci demo`: the bundled demo host. Without options it writes the seed's Supermicro X9DRW
//! (XCP-ng, dom0's root on the onboard AHCI at 00:1f.2, an LSI SAS2308 HBA at 05:00.0) to a
//! temporary directory and runs `list` and `check 05:00.0 00:1f.2` on it. `--write DIR` only
//! writes a fixture host root (any shape, e.g. `--shape big-1000` for the benchmark).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use xenpci::host::fixture;

use super::{check, list, Globals};

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
    let g = Globals {
        root: Some(tmp.path().to_path_buf()),
        ..g.clone()
    };
    println!("$ xenpci --root <{} demo host> list\n", a.shape);
    list::run(
        list::ListArgs {
            filter: None,
            json: false,
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
    }
    Ok(ExitCode::SUCCESS)
}
