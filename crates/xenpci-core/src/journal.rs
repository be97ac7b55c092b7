//! The flow journal's public path, kept for library users: the journal lives with the flows
//! ([`crate::flows::journal`]), its states with the change engine ([`crate::engine`]).

pub use crate::flows::journal::*;
