//! `xenpci apply FILE [--dry-run] [--json]` and `xenpci export [--output FILE]`: the host's
//! passthrough state as a file naming devices by identity (see `xenpci::ops::apply`). `apply`
//! exits 0 whether or not it changed anything (`--json`'s `changed` says which); a refusal or a
//! file that does not resolve changes nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use xenpci::exec::SystemRunner;
use xenpci::hide::Ctx;
use xenpci::ops::apply;

use super::Globals;

/// Arguments of `xenpci apply`.
#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// The desired-state file (TOML; `xenpci export` writes one).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Show what would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// JSON output (`changed` says whether anything was changed).
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `xenpci export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write the file here (atomically) instead of printing it.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// JSON instead of TOML.
    #[arg(long)]
    pub json: bool,
}

/// `xenpci apply`.
pub fn run_apply(a: ApplyArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let root = g.host_root()?;
    let text = match xenpci::fsutil::read_text(&a.file) {
        Ok(Some(t)) => t,
        Ok(None) => {
            let e = xenpci::ops::OpError::BadInput {
                what: "desired-state file".into(),
                input: a.file.display().to_string(),
                expected: "an existing file".into(),
            };
            return Ok(super::report_op_error(&e, a.json));
        }
        Err(e) => anyhow::bail!("{}: {e}", a.file.display()),
    };
    let runner = SystemRunner;
    let ctx = Ctx {
        root: &root,
        runner: &runner,
    };
    let r = match apply::apply(ctx, &text, &a.file.display().to_string(), a.dry_run) {
        Ok(r) => r,
        Err(e) => return Ok(super::report_op_error(&e, a.json)),
    };
    for w in &r.warnings {
        eprintln!("xenpci: warning: {w}");
    }
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    let would = if r.dry_run { "would " } else { "" };
    for d in &r.devices {
        if d.changes.is_empty() {
            outln!("{} ({}): as the file says", d.device, d.bdf);
        }
        for c in &d.changes {
            outln!("{} ({}): {would}{c}", d.device, d.bdf);
        }
    }
    outln!(
        "{}",
        match (r.changed, r.dry_run) {
            (false, _) => "nothing to change",
            (true, true) => "dry run: nothing was changed",
            (true, false) => "the host now matches the file",
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// `xenpci export`.
pub fn run_export(a: ExportArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let root = g.host_root()?;
    let runner = SystemRunner;
    let ctx = Ctx {
        root: &root,
        runner: &runner,
    };
    let d = match apply::export(ctx) {
        Ok(d) => d,
        Err(e) => return Ok(super::report_op_error(&e, a.json)),
    };
    let text = if a.json {
        serde_json::to_string_pretty(&d)? + "\n"
    } else {
        d.to_text()
    };
    match &a.output {
        Some(p) => {
            xenpci::fsutil::atomic_write(p, text.as_bytes(), true)?;
            report!("{}: {} device(s)", p.display(), d.devices.len());
        }
        None => out!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
