//! [`Plan`]: the steps of one change, built first and shown or executed second, with the facts
//! (read-only queries and their answers) it was based on, why each step is there, and notes.

use serde::{Deserialize, Serialize};

/// Something read while planning, and what it gave (a command and its output, a file's value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    /// What was read (`xe vm-param-get ...`).
    pub query: String,
    /// What came back.
    pub answer: String,
}

/// A step and why it is in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned<S> {
    /// The step.
    pub step: S,
    /// Why, in words (a comment in the dry run).
    pub why: String,
}

/// The steps of one change, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan<S> {
    /// What the change is for (`hide 0000:05:00.0`).
    pub title: String,
    /// What the plan was based on.
    pub facts: Vec<Fact>,
    /// The steps, in the order they run (undone in reverse).
    pub steps: Vec<Planned<S>>,
    /// Things the admin should know.
    pub notes: Vec<String>,
}

impl<S> Plan<S> {
    /// An empty plan.
    pub fn new(title: impl Into<String>) -> Plan<S> {
        Plan {
            title: title.into(),
            facts: Vec::new(),
            steps: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Records a fact the plan is based on.
    pub fn fact(&mut self, query: impl Into<String>, answer: impl Into<String>) {
        self.facts.push(Fact {
            query: query.into(),
            answer: answer.into(),
        });
    }

    /// Appends a step.
    pub fn push(&mut self, step: S, why: impl Into<String>) {
        self.steps.push(Planned {
            step,
            why: why.into(),
        });
    }

    /// The steps alone, in order.
    pub fn step_list(&self) -> Vec<&S> {
        self.steps.iter().map(|p| &p.step).collect()
    }

    /// True when the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}
