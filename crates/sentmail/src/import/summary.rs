//! Counting what an import did, and reporting it.

use std::collections::BTreeMap;
use std::time::Duration;

use archive_core::ParseFlag;
use serde::Serialize;

use super::sources::Origin;

/// The result of importing one message or input.
pub struct Outcome {
    kind: OutcomeKind,
    flags: Vec<ParseFlag>,
}

enum OutcomeKind {
    Stored,
    AlreadyArchived,
    Failed { origin: Origin, reason: String },
}

impl Outcome {
    pub fn recorded(stored: bool, flags: Vec<ParseFlag>) -> Outcome {
        let kind = if stored {
            OutcomeKind::Stored
        } else {
            OutcomeKind::AlreadyArchived
        };
        Outcome { kind, flags }
    }

    pub fn failed(origin: Origin, reason: String) -> Outcome {
        Outcome {
            kind: OutcomeKind::Failed { origin, reason },
            flags: Vec::new(),
        }
    }
}

/// One input that was not imported.
#[derive(Debug, Serialize)]
pub struct Failure {
    /// The file, and the offset for mbox entries.
    pub file: String,
    /// Byte offset in an mbox file.
    pub offset: Option<u64>,
    /// Why it was not imported.
    pub reason: String,
}

/// What an import did. Printed for people, or as JSON with `--json`.
#[derive(Debug, Serialize)]
pub struct ImportSummary {
    /// Files read.
    pub files: u64,
    /// Messages found: recorded plus failed.
    pub messages: u64,
    /// Messages newly archived.
    pub stored: u64,
    /// Messages that were archived before.
    pub already_archived: u64,
    /// Archived messages (new or not) with at least one parse flag.
    pub flagged: u64,
    /// Inputs that were not imported.
    pub failed: u64,
    /// How many messages carry each parse flag.
    pub flag_counts: BTreeMap<String, u64>,
    /// Every failure with its file and reason.
    pub failures: Vec<Failure>,
    /// Wall-clock duration.
    pub seconds: f64,
    /// Messages per second over the whole run.
    pub messages_per_second: f64,
}

impl ImportSummary {
    pub fn new(files: u64) -> ImportSummary {
        ImportSummary {
            files,
            messages: 0,
            stored: 0,
            already_archived: 0,
            flagged: 0,
            failed: 0,
            flag_counts: BTreeMap::new(),
            failures: Vec::new(),
            seconds: 0.0,
            messages_per_second: 0.0,
        }
    }

    pub fn add(&mut self, outcome: Outcome) {
        self.messages += 1;
        match outcome.kind {
            OutcomeKind::Stored => self.stored += 1,
            OutcomeKind::AlreadyArchived => self.already_archived += 1,
            OutcomeKind::Failed { origin, reason } => {
                self.failed += 1;
                self.failures.push(Failure {
                    file: origin.path.display().to_string(),
                    offset: origin.offset,
                    reason,
                });
            }
        }
        if !outcome.flags.is_empty() {
            self.flagged += 1;
        }
        for flag in outcome.flags {
            let name = serde_json::to_value(flag)
                .ok()
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("{flag:?}"));
            *self.flag_counts.entry(name).or_default() += 1;
        }
    }

    pub fn progress_line(&self, elapsed: Duration) -> String {
        let rate = self.messages as f64 / elapsed.as_secs_f64().max(0.001);
        format!(
            "{} messages ({rate:.0}/s): {} new, {} already archived, {} failed",
            self.messages, self.stored, self.already_archived, self.failed
        )
    }

    pub fn finish(&mut self, elapsed: Duration) {
        self.seconds = elapsed.as_secs_f64();
        self.messages_per_second = self.messages as f64 / self.seconds.max(0.001);
    }

    /// Formats the summary for people.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "Imported {} messages from {} files in {:.1} s ({:.0} messages/s)\n",
            self.messages, self.files, self.seconds, self.messages_per_second
        );
        out += &format!("  stored            {:>8}\n", self.stored);
        out += &format!("  already archived  {:>8}\n", self.already_archived);
        out += &format!("  flagged           {:>8}\n", self.flagged);
        out += &format!("  failed            {:>8}\n", self.failed);
        if !self.flag_counts.is_empty() {
            out += "Parse flags (messages are archived and shown; the flag records a repair or a guess):\n";
            for (flag, count) in &self.flag_counts {
                out += &format!("  {flag:<26} {count:>8}\n");
            }
        }
        if !self.failures.is_empty() {
            out += "Failures:\n";
            for failure in &self.failures {
                match failure.offset {
                    Some(offset) => {
                        out += &format!(
                            "  {} at offset {offset}: {}\n",
                            failure.file, failure.reason
                        )
                    }
                    None => out += &format!("  {}: {}\n", failure.file, failure.reason),
                }
            }
        }
        out
    }
}
