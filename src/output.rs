//! Everything the CLI writes on stdout goes through here instead of `println!`, which panics
//! when stdout is closed (`xenpci list | head -1`) or full.
//!
//! A closed stdout (EPIPE) is not an error: the reader has gone, so the rest of the output is
//! dropped and the command runs to its end, quietly, with its own exit status. Any other write
//! error (ENOSPC, EIO) is remembered and turned into exit 2 by `main` ([`failure`]). The report
//! of a change already made ([`report!`]) must not be lost with the pipe: when stdout is closed
//! it goes to stderr instead.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Set once a write to stdout has met EPIPE: nothing more is written there.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// The first write error other than EPIPE.
static FAILED: Mutex<Option<io::Error>> = Mutex::new(None);

/// Writes to stdout and flushes; returns false when stdout is closed (now or before).
fn write_stdout(args: fmt::Arguments) -> bool {
    if CLOSED.load(Ordering::Relaxed) {
        return false;
    }
    let mut out = io::stdout().lock();
    match out.write_fmt(args).and_then(|()| out.flush()) {
        Ok(()) => true,
        Err(e) => {
            note_error(e);
            !CLOSED.load(Ordering::Relaxed)
        }
    }
}

fn note_error(e: io::Error) {
    if e.kind() == io::ErrorKind::BrokenPipe {
        CLOSED.store(true, Ordering::Relaxed);
        return;
    }
    let mut failed = FAILED.lock().unwrap_or_else(|p| p.into_inner());
    failed.get_or_insert(e);
}

/// Prints to stdout (the body of [`out!`] and [`outln!`]).
pub fn print(args: fmt::Arguments) {
    write_stdout(args);
}

/// Prints the report of something done to stdout, or to stderr when stdout is closed (the
/// body of [`report!`]).
pub fn print_report(args: fmt::Arguments) {
    if !write_stdout(args) {
        let _ = io::stderr().lock().write_fmt(args);
    }
}

/// The first write error other than a closed stdout, for `main` to report (exit 2).
pub fn failure() -> Option<io::Error> {
    FAILED.lock().unwrap_or_else(|p| p.into_inner()).take()
}

/// stdout as an [`io::Write`] for generators that want a writer (completions, the man page,
/// `serde_json::to_writer`). It never fails: errors are kept as above for `main` (some
/// generators panic on a write error).
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !CLOSED.load(Ordering::Relaxed) {
            if let Err(e) = io::stdout().lock().write_all(buf) {
                note_error(e);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !CLOSED.load(Ordering::Relaxed) {
            if let Err(e) = io::stdout().lock().flush() {
                note_error(e);
            }
        }
        Ok(())
    }
}

/// `print!` that never panics.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::print(format_args!($($arg)*)) };
}

/// `println!` that never panics.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::print(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `println!` for the report of a change already made: on stderr when stdout is closed.
#[macro_export]
macro_rules! report {
    ($($arg:tt)*) => { $crate::output::print_report(format_args!("{}\n", format_args!($($arg)*))) };
}
