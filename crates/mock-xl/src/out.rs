//! What one mock `xl` call produced ([`Out`]: stdout, stderr, exit status) and the message
//! shapes libxl prints.

use xenpci::pci::Bdf;

/// What a command produced.
pub(crate) struct Out {
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) code: i32,
}

impl Out {
    pub(crate) fn ok() -> Out {
        Out {
            stdout: String::new(),
            stderr: String::new(),
            code: 0,
        }
    }
    pub(crate) fn out(mut self, s: impl AsRef<str>) -> Out {
        self.stdout.push_str(s.as_ref());
        self.stdout.push('\n');
        self
    }
    pub(crate) fn err(mut self, s: impl AsRef<str>) -> Out {
        self.stderr.push_str(s.as_ref());
        self.stderr.push('\n');
        self
    }
    pub(crate) fn code(mut self, c: i32) -> Out {
        self.code = c;
        self
    }
}

/// `libxl: error: FILE:LINE:FUNC: [Domain N:]MSG` (4.17 line numbers where FINDINGS has them).
pub(crate) fn libxl(level: &str, place: &str, dom: Option<u32>, msg: &str) -> String {
    match dom {
        Some(d) => format!("libxl: {level}: {place}: Domain {d}:{msg}"),
        None => format!("libxl: {level}: {place}: {msg}"),
    }
}

/// `%x:%x:%x.%x` (libxl's not-zero-padded form).
pub(crate) fn short(b: Bdf) -> String {
    format!(
        "{:x}:{:x}:{:x}.{:x}",
        b.segment, b.bus, b.device, b.function
    )
}

impl Out {
    pub(crate) fn err_front(mut self, s: String) -> Out {
        self.stderr = s + "\n" + &self.stderr;
        self
    }
}
