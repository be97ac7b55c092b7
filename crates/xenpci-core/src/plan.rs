//! [`Plan`]: an ordered list of host changes, built first and shown or executed second.
//!
//! Every change xenpci makes to a host is one [`Step`]: run a command ([`Action::Run`]), replace a
//! file ([`Action::WriteFile`]), remove a file ([`Action::RemoveFile`]) or write one value into a
//! sysfs attribute ([`Action::WriteSysfs`]). A plan is shown as a dry-run script (its `Display`:
//! commands shell-quoted exactly as they would run, file changes as unified diffs, sysfs writes as
//! `echo -n VALUE > /sys/...`), serialised for `--json`, or executed by [`Plan::execute`] through a
//! [`Runner`] and a [`HostRoot`]: each step becomes a step of the change engine
//! ([`crate::engine`]), which runs them. When a step fails, the steps already done are undone in
//! reverse order (files restored from their old content, commands and sysfs writes reversed where the step
//! names an inverse) and the [`Failure`] says what was undone and what could not be.
//!
//! Read-only commands run while the plan was being built (`xen-cmdline --get-dom0 ...`) are kept
//! as [`Query`]s so the dry run shows what the plan was based on.

use std::cell::RefCell;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::engine::{self, executor, MemJournal, Probe, UndoPolicy, UndoResult};
use crate::exec::{shell_quote, CommandSpec, ExecError, Runner};
use crate::fsutil::{self, WriteError};
use crate::host::HostRoot;
use crate::plan_journal;

/// Why one step of a plan failed.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A command failed or could not run.
    #[error(transparent)]
    Exec(Box<ExecError>),
    /// An atomic file write failed (the file is unchanged).
    #[error(transparent)]
    Write(#[from] WriteError),
    /// SIGINT or SIGTERM arrived: the step was not started ([`crate::interrupt`]).
    #[error("{}", crate::interrupt::STOPPED)]
    Interrupted,
    /// The change's journal could not be written.
    #[error(transparent)]
    Journal(#[from] engine::JournalError),
    /// A file changed between planning and executing.
    #[error("{path} changed since the plan was made; nothing was written (run the command again)")]
    Changed {
        /// The host path.
        path: PathBuf,
    },
    /// A file could not be read or removed.
    #[error("cannot {what} {path}: {source}")]
    Io {
        /// "read", "remove".
        what: &'static str,
        /// The host path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A sysfs attribute could not be written.
    #[error("cannot write {value:?} to {path}: {source}")]
    Sysfs {
        /// The host path.
        path: PathBuf,
        /// The value.
        value: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl From<ExecError> for PlanError {
    fn from(e: ExecError) -> PlanError {
        PlanError::Exec(Box::new(e))
    }
}

/// One change to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run a command; it must exit 0.
    Run(CommandSpec),
    /// Replace a file atomically (with a timestamped backup when it existed).
    WriteFile {
        /// Host path (`/boot/grub/grub.cfg`), mapped through the host root when executed.
        path: PathBuf,
        /// The content the plan was computed from (None: the file did not exist). Executing
        /// refuses to write when the file no longer holds exactly this.
        old: Option<String>,
        /// The new content.
        new: String,
    },
    /// Remove a file (its content is restored if a later step fails).
    RemoveFile {
        /// Host path.
        path: PathBuf,
        /// Its content when planned.
        old: String,
    },
    /// Write one value into an existing sysfs attribute (no newline added, file not created).
    WriteSysfs {
        /// Host path (`/sys/bus/pci/drivers/pciback/new_slot`).
        path: PathBuf,
        /// The bytes written.
        value: String,
    },
}

impl Action {
    /// A one-line description, for reports.
    pub fn summary(&self) -> String {
        match self {
            Action::Run(c) => c.to_string(),
            Action::WriteFile { path, .. } => format!("write {}", path.display()),
            Action::RemoveFile { path, .. } => format!("remove {}", path.display()),
            Action::WriteSysfs { path, value } => sysfs_line(path, value),
        }
    }

    /// The unified diff of a file write or removal (empty for other actions).
    pub fn diff(&self) -> String {
        match self {
            Action::WriteFile { path, old, new } => {
                fsutil::unified_diff(&diff_label(path), old.as_deref().unwrap_or(""), new)
            }
            Action::RemoveFile { path, old } => fsutil::unified_diff(&diff_label(path), old, ""),
            _ => String::new(),
        }
    }
}

fn diff_label(path: &Path) -> String {
    path.to_string_lossy().trim_start_matches('/').to_string()
}

fn sysfs_line(path: &Path, value: &str) -> String {
    format!(
        "echo -n {} > {}",
        shell_quote(value),
        shell_quote(&path.to_string_lossy())
    )
}

/// One step: an action, why it is there, and how to reverse it when a later step fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What to do.
    pub action: Action,
    /// Why, in words (shown as a comment in the dry run).
    pub why: String,
    /// The inverse of a `Run` or `WriteSysfs` action, when one is known. File actions are undone
    /// from their old content and need none.
    pub undo: Option<Action>,
}

/// A read-only command run while planning, and what it printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The command.
    pub command: CommandSpec,
    /// Its stdout.
    pub output: String,
}

/// An ordered list of steps, with the queries it was based on and notes for the admin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// What the plan is for (`hide 0000:05:00.0`).
    pub title: String,
    /// Read-only commands run while planning.
    pub queries: Vec<Query>,
    /// The changes, in order.
    pub steps: Vec<Step>,
    /// Things the admin should know (normalised entries, reboot needed, ...).
    pub notes: Vec<String>,
    /// The request this plan carries out, as its maker records it (hide/unhide: the devices and
    /// options). With one, a plan of two steps or more is journaled even without two files, and
    /// `xenpci resume` finishes an interrupted run by making that request again (planned from
    /// the host as it is then, so what was done is not done twice).
    pub request: Option<serde_json::Value>,
}

impl Plan {
    /// An empty plan.
    pub fn new(title: impl Into<String>) -> Plan {
        Plan {
            title: title.into(),
            ..Plan::default()
        }
    }

    /// True when the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Records a read-only command and its output.
    pub fn query(&mut self, command: CommandSpec, output: impl Into<String>) {
        self.queries.push(Query {
            command,
            output: output.into(),
        });
    }

    /// Adds a note.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Adds a command, with its inverse when one is known.
    pub fn run(&mut self, command: CommandSpec, why: impl Into<String>, undo: Option<CommandSpec>) {
        self.steps.push(Step {
            action: Action::Run(command),
            why: why.into(),
            undo: undo.map(Action::Run),
        });
    }

    /// Adds a file replacement computed from `old` (None: the file does not exist). Does nothing
    /// when the content does not change.
    pub fn write_file(
        &mut self,
        path: impl Into<PathBuf>,
        old: Option<&str>,
        new: impl Into<String>,
        why: impl Into<String>,
    ) {
        let new = new.into();
        if old == Some(new.as_str()) {
            return;
        }
        self.steps.push(Step {
            action: Action::WriteFile {
                path: path.into(),
                old: old.map(str::to_string),
                new,
            },
            why: why.into(),
            undo: None,
        });
    }

    /// Adds a file removal.
    pub fn remove_file(
        &mut self,
        path: impl Into<PathBuf>,
        old: impl Into<String>,
        why: impl Into<String>,
    ) {
        self.steps.push(Step {
            action: Action::RemoveFile {
                path: path.into(),
                old: old.into(),
            },
            why: why.into(),
            undo: None,
        });
    }

    /// Adds a sysfs write, with the write that reverses it when one is known.
    pub fn write_sysfs(
        &mut self,
        path: impl Into<PathBuf>,
        value: impl Into<String>,
        why: impl Into<String>,
        undo: Option<(PathBuf, String)>,
    ) {
        self.steps.push(Step {
            action: Action::WriteSysfs {
                path: path.into(),
                value: value.into(),
            },
            why: why.into(),
            undo: undo.map(|(path, value)| Action::WriteSysfs { path, value }),
        });
    }

    /// Appends another plan's queries, steps and notes.
    pub fn extend(&mut self, other: Plan) {
        self.queries.extend(other.queries);
        self.steps.extend(other.steps);
        self.notes.extend(other.notes);
    }

    /// [`Plan::execute_journaled`] unless this is a dry run (then nothing runs and there is no
    /// report): the one way an operation that shows its plan with `--dry-run` carries it out.
    pub fn run_unless_dry(
        &self,
        dry_run: bool,
        runner: &dyn Runner,
        root: &HostRoot,
    ) -> Result<Option<Report>, Box<Failure>> {
        if dry_run {
            return Ok(None);
        }
        self.execute_journaled(runner, root).map(Some)
    }

    /// [`Plan::execute`], with the file changes journaled ([`crate::plan_journal`]) when the plan
    /// changes two files or more, so a run killed between them is rolled back by the next one,
    /// or when it has two steps or more and a [`Plan::request`], so `xenpci resume` can finish it.
    /// The journal is removed when the plan is done or fully undone. The caller holds the lock
    /// that serialises plans on this host.
    pub fn execute_journaled(
        &self,
        runner: &dyn Runner,
        root: &HostRoot,
    ) -> Result<Report, Box<Failure>> {
        let files: Vec<plan_journal::FileChange> = self
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::WriteFile { path, old, new } => Some(plan_journal::FileChange {
                    path: path.clone(),
                    old: old.clone(),
                    new: Some(new.clone()),
                }),
                Action::RemoveFile { path, old } => Some(plan_journal::FileChange {
                    path: path.clone(),
                    old: Some(old.clone()),
                    new: None,
                }),
                _ => None,
            })
            .collect();
        // Resuming an interrupted plan: its journal stays the record of how the files were
        // before it, so this plan's journal takes every file's content from there (and the
        // files only it changed), and is removed only when this plan is done.
        let resuming = plan_journal::resuming();
        let files = match &resuming {
            Some(prior) => merged(prior, files),
            None => files,
        };
        let journaled = resuming.is_some()
            || files.len() >= 2
            || (self.request.is_some() && self.steps.len() >= 2);
        let fail = |e: WriteError| {
            Box::new(Failure {
                step: 0,
                action: format!("write the journal {}", plan_journal::PATH),
                error: PlanError::Write(e),
                undone: Vec::new(),
                not_undone: Vec::new(),
            })
        };
        let r = if journaled {
            let mut journal = plan_journal::begin(
                root,
                &self.title,
                &files,
                self.steps.len(),
                self.request.as_ref(),
            )
            .map_err(fail)?;
            self.execute_in(runner, root, &mut journal)
        } else {
            self.execute(runner, root)
        };
        let settled = match &r {
            Ok(_) => true,
            Err(f) => f.not_undone.is_empty() && resuming.is_none(),
        };
        if journaled && settled {
            plan_journal::end(root).map_err(fail)?;
        }
        if resuming.is_some() && r.is_ok() {
            plan_journal::resumed_done();
        }
        r
    }

    /// Executes the steps in order on the change engine ([`crate::engine`]). On the first
    /// failure (or SIGINT/SIGTERM between steps), undoes the completed steps in reverse order —
    /// every one, even past an undo that fails — and returns what failed and what was undone.
    pub fn execute(&self, runner: &dyn Runner, root: &HostRoot) -> Result<Report, Box<Failure>> {
        self.execute_in(runner, root, &mut MemJournal::new(self.steps.len()))
    }

    /// [`Plan::execute`], journaling every step's state through `journal`.
    fn execute_in(
        &self,
        runner: &dyn Runner,
        root: &HostRoot,
        journal: &mut dyn engine::Journal,
    ) -> Result<Report, Box<Failure>> {
        let steps: Vec<EngineStep> = self.steps.iter().map(EngineStep::new).collect();
        let host = Host { runner, root };
        let opts = engine::Options::new(UndoPolicy::ContinuePastFailure);
        let out = executor::execute(&steps, &host, journal, &opts).map_err(|e| {
            Box::new(Failure {
                step: 0,
                action: "write the change's journal".into(),
                error: PlanError::Journal(e),
                undone: Vec::new(),
                not_undone: Vec::new(),
            })
        })?;
        let Some(failed) = out.failure else {
            return Ok(Report {
                done: steps
                    .into_iter()
                    .map(|s| Done {
                        action: s.step.action.summary(),
                        backup: s.backup.into_inner(),
                    })
                    .collect(),
            });
        };
        let mut undone = Vec::new();
        let mut not_undone = Vec::new();
        for u in &out.undos {
            let s = &self.steps[u.step];
            match &u.result {
                UndoResult::Undone => undone.push(undone_text(s)),
                UndoResult::NoInverse => not_undone.push(format!(
                    "{} (no known inverse; check it by hand)",
                    s.action.summary()
                )),
                UndoResult::Failed(e) => not_undone.push(format!("{}: {e}", s.action.summary())),
            }
        }
        Err(Box::new(Failure {
            step: failed.step + 1,
            action: self.steps[failed.step].action.summary(),
            error: failed.error.unwrap_or(PlanError::Interrupted),
            undone,
            not_undone,
        }))
    }
}

/// This plan's file changes with each file's content from before the resumed plan (`prior`)
/// where it recorded one, followed by the files only the resumed plan changed.
fn merged(
    prior: &[plan_journal::FileChange],
    mut files: Vec<plan_journal::FileChange>,
) -> Vec<plan_journal::FileChange> {
    for f in &mut files {
        if let Some(p) = prior.iter().find(|p| p.path == f.path) {
            f.old = p.old.clone();
        }
    }
    for p in prior {
        if !files.iter().any(|f| f.path == p.path) {
            files.push(p.clone());
        }
    }
    files
}

/// What plan steps run against.
struct Host<'a> {
    runner: &'a dyn Runner,
    root: &'a HostRoot,
}

/// A plan step as the change engine runs it, keeping the backup its file write made.
struct EngineStep<'s> {
    step: &'s Step,
    backup: RefCell<Option<PathBuf>>,
}

impl EngineStep<'_> {
    fn new(step: &Step) -> EngineStep<'_> {
        EngineStep {
            step,
            backup: RefCell::new(None),
        }
    }
}

impl engine::Step<Host<'_>> for EngineStep<'_> {
    type Error = PlanError;

    fn describe(&self) -> String {
        self.step.action.summary()
    }

    fn preview(&self) -> String {
        self.step.action.diff()
    }

    fn perform(&self, h: &Host) -> Result<(), PlanError> {
        let backup = apply(&self.step.action, h.runner, h.root)?;
        *self.backup.borrow_mut() = backup;
        Ok(())
    }

    /// A file step is done when the file holds (or, removed, lacks) what the step leaves; a
    /// command or sysfs write cannot be checked afterwards.
    fn probe(&self, h: &Host) -> Probe {
        match &self.step.action {
            Action::WriteFile { path, new, .. } => match fsutil::read_text(&h.root.path(path)) {
                Ok(Some(now)) if now == *new => Probe::Done,
                Ok(_) => Probe::NotDone,
                Err(_) => Probe::Unknown,
            },
            Action::RemoveFile { path, .. } => match fsutil::read_text(&h.root.path(path)) {
                Ok(None) => Probe::Done,
                Ok(Some(_)) => Probe::NotDone,
                Err(_) => Probe::Unknown,
            },
            Action::Run(_) | Action::WriteSysfs { .. } => Probe::Unknown,
        }
    }

    /// Every action either happens or not: a file is replaced atomically, a command or a sysfs
    /// write that fails is taken as not done.
    fn atomic(&self) -> bool {
        true
    }

    fn reversible(&self) -> bool {
        matches!(
            self.step.action,
            Action::WriteFile { .. } | Action::RemoveFile { .. }
        ) || self.step.undo.is_some()
    }

    fn undo(&self, h: &Host) -> Result<(), PlanError> {
        match &self.step.action {
            Action::WriteFile { path, old, .. } => restore(h.root, path, old.as_deref()),
            Action::RemoveFile { path, old } => restore(h.root, path, Some(old)),
            _ => match &self.step.undo {
                Some(inverse) => apply(inverse, h.runner, h.root).map(drop),
                None => Ok(()),
            },
        }
    }
}

/// What the undo of a completed step did, in words.
fn undone_text(step: &Step) -> String {
    match &step.action {
        Action::WriteFile {
            path, old: None, ..
        } => format!("removed {} again", path.display()),
        Action::WriteFile { path, .. } | Action::RemoveFile { path, .. } => {
            format!("restored {}", path.display())
        }
        _ => step.undo.as_ref().map_or_else(String::new, Action::summary),
    }
}

/// Makes a file hold `content` again (None: removes it), under the file's lock.
fn restore(root: &HostRoot, path: &Path, content: Option<&str>) -> Result<(), PlanError> {
    let real = root.path(path);
    let _lock = fsutil::lock_file(&real)?;
    match content {
        Some(content) => {
            fsutil::atomic_write(&real, content.as_bytes(), false)?;
        }
        None => fs::remove_file(&real).map_err(|source| PlanError::Io {
            what: "remove",
            path: path.to_path_buf(),
            source,
        })?,
    }
    Ok(())
}

fn read_opt(path: &Path) -> Result<Option<String>, PlanError> {
    Ok(fsutil::read_text(path)?)
}

/// Does one action; returns the backup (host path) a file replacement made.
fn apply(
    action: &Action,
    runner: &dyn Runner,
    root: &HostRoot,
) -> Result<Option<PathBuf>, PlanError> {
    match action {
        Action::Run(cmd) => {
            runner.run(cmd)?;
            Ok(None)
        }
        Action::WriteFile { path, old, new } => {
            let real = root.path(path);
            if old.is_none() {
                if let Some(dir) = real.parent() {
                    if !dir.exists() {
                        fs::create_dir_all(dir).map_err(|source| PlanError::Io {
                            what: "create the directory of",
                            path: path.clone(),
                            source,
                        })?;
                    }
                }
            }
            // the file's own lock too (xlcfg and the flows take it), checked and written under it
            let _lock = fsutil::lock_file(&real)?;
            let now = read_opt(&real)?;
            if now != *old {
                return Err(PlanError::Changed { path: path.clone() });
            }
            let backup = fsutil::atomic_write(&real, new.as_bytes(), true)?;
            Ok(backup.map(|b| root.host_path(&b)))
        }
        Action::RemoveFile { path, old } => {
            let real = root.path(path);
            let _lock = fsutil::lock_file(&real)?;
            let now = read_opt(&real)?;
            if now.as_deref() != Some(old.as_str()) {
                return Err(PlanError::Changed { path: path.clone() });
            }
            fs::remove_file(&real).map_err(|source| PlanError::Io {
                what: "remove",
                path: path.clone(),
                source,
            })?;
            Ok(None)
        }
        Action::WriteSysfs { path, value } => {
            write_attr(&root.path(path), value).map_err(|source| PlanError::Sysfs {
                path: path.clone(),
                value: value.clone(),
                source,
            })?;
            Ok(None)
        }
    }
}

/// Writes a sysfs attribute the way `echo -n` does: one write of the value to an existing file.
fn write_attr(path: &Path, value: &str) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking: a FIFO in place of an attribute fails (ENXIO) instead of waiting for a reader.
    let mut f = OpenOptions::new()
        .write(true)
        .truncate(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    f.write_all(value.as_bytes())
}

/// What a successful execution did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The steps done, in order.
    pub done: Vec<Done>,
}

/// One step done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Done {
    /// The step, in one line.
    pub action: String,
    /// The backup of the replaced file (host path), when one was made.
    pub backup: Option<PathBuf>,
}

/// A failed execution: which step failed, why, and how far the undo got.
#[derive(Debug, thiserror::Error)]
#[error("step {step} failed ({action}): {error}")]
pub struct Failure {
    /// 1-based number of the failing step.
    pub step: usize,
    /// The failing step in one line.
    pub action: String,
    /// Why it failed.
    #[source]
    pub error: PlanError,
    /// The steps undone, most recent first.
    pub undone: Vec<String>,
    /// Completed steps that could not be undone, with why.
    pub not_undone: Vec<String>,
}

impl Serialize for Failure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Failure", 5)?;
        st.serialize_field("step", &self.step)?;
        st.serialize_field("action", &self.action)?;
        st.serialize_field("error", &self.error.to_string())?;
        st.serialize_field("undone", &self.undone)?;
        st.serialize_field("not_undone", &self.not_undone)?;
        st.end()
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Action::Run(c) => {
                let mut st = s.serialize_struct("Action", 3)?;
                st.serialize_field("kind", "run")?;
                st.serialize_field("argv", &c.argv())?;
                st.serialize_field("command", &c.to_string())?;
                st.end()
            }
            Action::WriteFile { path, old, new } => {
                let mut st = s.serialize_struct("Action", 5)?;
                st.serialize_field("kind", "write_file")?;
                st.serialize_field("path", path)?;
                st.serialize_field("created", &old.is_none())?;
                st.serialize_field("diff", &self.diff())?;
                st.serialize_field("content", new)?;
                st.end()
            }
            Action::RemoveFile { path, .. } => {
                let mut st = s.serialize_struct("Action", 3)?;
                st.serialize_field("kind", "remove_file")?;
                st.serialize_field("path", path)?;
                st.serialize_field("diff", &self.diff())?;
                st.end()
            }
            Action::WriteSysfs { path, value } => {
                let mut st = s.serialize_struct("Action", 3)?;
                st.serialize_field("kind", "write_sysfs")?;
                st.serialize_field("path", path)?;
                st.serialize_field("value", value)?;
                st.end()
            }
        }
    }
}

impl Serialize for Step {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Step", 3)?;
        st.serialize_field("action", &self.action)?;
        st.serialize_field("why", &self.why)?;
        st.serialize_field("undo", &self.undo)?;
        st.end()
    }
}

impl Serialize for Query {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Query", 3)?;
        st.serialize_field("argv", &self.command.argv())?;
        st.serialize_field("command", &self.command.to_string())?;
        st.serialize_field("output", &self.output)?;
        st.end()
    }
}

impl Serialize for Plan {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Plan", 4)?;
        st.serialize_field("title", &self.title)?;
        st.serialize_field("queries", &self.queries)?;
        st.serialize_field("steps", &self.steps)?;
        st.serialize_field("notes", &self.notes)?;
        st.end()
    }
}

impl fmt::Display for Plan {
    /// The dry-run script: queries and notes as comments, then each step under a numbered comment.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "# plan: {}", self.title)?;
        for q in &self.queries {
            writeln!(f, "# read: {}", q.command)?;
            let out = q.output.trim_end_matches('\n');
            if out.is_empty() {
                writeln!(f, "#   => (empty)")?;
            }
            for line in out.lines() {
                writeln!(f, "#   => {line}")?;
            }
        }
        if self.steps.is_empty() {
            writeln!(f, "# nothing to change")?;
        }
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f, "# {}. {}", i + 1, step.why)?;
            match &step.action {
                Action::Run(c) => writeln!(f, "{c}")?,
                Action::WriteSysfs { path, value } => writeln!(f, "{}", sysfs_line(path, value))?,
                Action::WriteFile { path, old, .. } => {
                    let how = if old.is_some() {
                        "atomic replace, timestamped backup kept"
                    } else {
                        "new file"
                    };
                    writeln!(f, "# write {} ({how}):", path.display())?;
                    f.write_str(&step.action.diff())?;
                }
                Action::RemoveFile { path, .. } => {
                    writeln!(f, "rm -- {}", shell_quote(&path.to_string_lossy()))?;
                }
            }
        }
        for n in &self.notes {
            writeln!(f, "# note: {n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Output, RecordingRunner};

    fn root() -> (tempfile::TempDir, HostRoot) {
        let d = tempfile::tempdir().unwrap();
        let r = HostRoot::new(d.path());
        (d, r)
    }

    #[test]
    fn display_is_a_script_with_quoted_argv_diffs_and_sysfs_writes() {
        let mut p = Plan::new("hide 0000:05:00.0");
        p.query(
            CommandSpec::new("xen-cmdline").args(["--get-dom0", "xen-pciback.hide"]),
            "\n",
        );
        p.run(
            CommandSpec::new("xen-cmdline").args(["--set-dom0", "xen-pciback.hide=(0000:05:00.0)"]),
            "persistent",
            None,
        );
        p.write_file("/etc/x.conf", Some("a\nb\n"), "a\nc\n", "edit x");
        p.write_sysfs(
            "/sys/bus/pci/drivers/pciback/new_slot",
            "0000:05:00.0",
            "slot",
            None,
        );
        let s = p.to_string();
        assert!(s.contains("# read: xen-cmdline --get-dom0 xen-pciback.hide\n#   => (empty)\n"));
        assert!(s.contains(
            "# 1. persistent\nxen-cmdline --set-dom0 'xen-pciback.hide=(0000:05:00.0)'\n"
        ));
        assert!(s.contains("--- a/etc/x.conf\n+++ b/etc/x.conf\n"), "{s}");
        assert!(s.contains("-b\n+c\n"));
        assert!(s.contains("echo -n 0000:05:00.0 > /sys/bus/pci/drivers/pciback/new_slot\n"));
        let j = serde_json::to_value(&p).unwrap();
        assert_eq!(j["steps"][0]["action"]["kind"], "run");
        assert_eq!(
            j["steps"][0]["action"]["argv"][2],
            "xen-pciback.hide=(0000:05:00.0)"
        );
        assert_eq!(j["steps"][1]["action"]["kind"], "write_file");
        assert_eq!(j["steps"][2]["action"]["value"], "0000:05:00.0");
    }

    #[test]
    fn unchanged_file_adds_no_step() {
        let mut p = Plan::new("t");
        p.write_file("/f", Some("x"), "x", "same");
        assert!(p.is_empty());
    }

    #[test]
    fn execute_writes_files_and_sysfs_and_runs_commands() {
        let (_d, r) = root();
        fs::create_dir_all(r.path("/etc")).unwrap();
        fs::write(r.path("/etc/a"), "old\n").unwrap();
        fs::create_dir_all(r.path("/sys/x")).unwrap();
        fs::write(r.path("/sys/x/bind"), "").unwrap();
        let runner = RecordingRunner::new().on(|_| Some(Output::ok("")));
        let mut p = Plan::new("t");
        p.write_file("/etc/a", Some("old\n"), "new\n", "a");
        p.write_file("/var/lib/n/b", None, "b\n", "b");
        p.write_sysfs("/sys/x/bind", "0000:05:00.0", "bind", None);
        p.run(CommandSpec::new("xl").arg("info"), "c", None);
        let rep = p.execute(&runner, &r).unwrap();
        assert_eq!(fs::read_to_string(r.path("/etc/a")).unwrap(), "new\n");
        assert_eq!(fs::read_to_string(r.path("/var/lib/n/b")).unwrap(), "b\n");
        assert_eq!(
            fs::read_to_string(r.path("/sys/x/bind")).unwrap(),
            "0000:05:00.0"
        );
        assert_eq!(runner.calls(), vec!["xl info"]);
        let b = rep.done[0].backup.as_ref().unwrap();
        assert!(b.starts_with("/etc/"), "{b:?}");
        assert_eq!(fs::read_to_string(r.path(b)).unwrap(), "old\n");
    }

    #[test]
    fn failure_undoes_completed_steps_in_reverse() {
        let (_d, r) = root();
        fs::create_dir_all(r.path("/etc")).unwrap();
        fs::write(r.path("/etc/a"), "old\n").unwrap();
        fs::create_dir_all(r.path("/sys/drv")).unwrap();
        fs::write(r.path("/sys/drv/unbind"), "").unwrap();
        fs::write(r.path("/sys/drv/bind"), "").unwrap();
        let runner = RecordingRunner::new().on(|c| {
            (c.args[0] == "fail").then(|| Output {
                status: Some(1),
                stdout: String::new(),
                stderr: "boom".into(),
            })
        });
        let runner = runner.on(|_| Some(Output::ok("")));
        let mut p = Plan::new("t");
        p.write_file("/etc/a", Some("old\n"), "new\n", "a");
        p.write_file("/etc/created", None, "c\n", "c");
        p.write_sysfs(
            "/sys/drv/unbind",
            "0000:05:00.0",
            "unbind",
            Some(("/sys/drv/bind".into(), "0000:05:00.0".into())),
        );
        p.run(
            CommandSpec::new("xl").arg("ok"),
            "ok",
            Some(CommandSpec::new("xl").arg("undo-ok")),
        );
        p.run(CommandSpec::new("xl").arg("noinverse"), "n", None);
        p.run(CommandSpec::new("xl").arg("fail"), "fails", None);
        let f = p.execute(&runner, &r).unwrap_err();
        assert_eq!(f.step, 6);
        assert!(f.to_string().contains("boom"), "{f}");
        assert_eq!(fs::read_to_string(r.path("/etc/a")).unwrap(), "old\n");
        assert!(!r.path("/etc/created").exists());
        assert_eq!(
            fs::read_to_string(r.path("/sys/drv/bind")).unwrap(),
            "0000:05:00.0"
        );
        assert_eq!(
            runner.calls(),
            vec!["xl ok", "xl noinverse", "xl fail", "xl undo-ok"]
        );
        assert_eq!(f.undone.len(), 4, "{:?}", f.undone);
        assert_eq!(f.undone[0], "xl undo-ok");
        assert_eq!(f.not_undone.len(), 1);
        assert!(f.not_undone[0].contains("xl noinverse"));
    }

    #[test]
    fn a_file_changed_since_planning_is_not_written() {
        let (_d, r) = root();
        fs::create_dir_all(r.path("/etc")).unwrap();
        fs::write(r.path("/etc/a"), "someone else\n").unwrap();
        let mut p = Plan::new("t");
        p.write_file("/etc/a", Some("old\n"), "new\n", "a");
        let f = p.execute(&RecordingRunner::new(), &r).unwrap_err();
        assert!(matches!(f.error, PlanError::Changed { .. }));
        assert_eq!(
            fs::read_to_string(r.path("/etc/a")).unwrap(),
            "someone else\n"
        );
    }

    #[test]
    fn remove_file_is_restored_on_failure() {
        let (_d, r) = root();
        fs::create_dir_all(r.path("/var")).unwrap();
        fs::write(r.path("/var/rec"), "igb\n").unwrap();
        let mut p = Plan::new("t");
        p.remove_file("/var/rec", "igb\n", "forget");
        p.write_sysfs("/sys/missing", "x", "fails", None);
        let f = p.execute(&RecordingRunner::new(), &r).unwrap_err();
        assert!(matches!(f.error, PlanError::Sysfs { .. }), "{f}");
        assert_eq!(fs::read_to_string(r.path("/var/rec")).unwrap(), "igb\n");
    }
}
