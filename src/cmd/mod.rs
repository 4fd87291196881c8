//! One module per top-level command.

pub mod devices;
pub mod run;

/// An error for the user: a message that says what went wrong and, where it can, what to do.
pub type CliResult = Result<(), Box<dyn std::error::Error>>;
