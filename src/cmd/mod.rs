//! One module per top-level command.

pub mod bench;
pub mod compare;
pub mod devices;
pub mod explore;
pub mod hits;
pub mod merge;
pub mod replay;
pub mod run;

/// An error for the user: a message that says what went wrong and, where it can, what to do.
pub type CliResult = Result<(), Box<dyn std::error::Error>>;

/// Stdout could not be written: a reader that went away (EPIPE) ends the program quietly with
/// success; anything else is an error.
pub fn stdout_failed(error: std::io::Error) -> ! {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("dmsim: error: cannot write to standard output: {error}");
    std::process::exit(1);
}
