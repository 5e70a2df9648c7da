//! The `llm-router` binary. Everything it does lives in [`llm_router::cli`]: the clap tree,
//! the commands, and the mapping of errors to exit codes.

use std::process::ExitCode;

fn main() -> ExitCode {
    llm_router::cli::run()
}
