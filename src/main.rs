//! The tcptune command: parse the command line, run the library, map the
//! outcome to the exit code of the contract.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use tcptune::cli::{Cli, ColorWhen};
use tcptune::commands;
use tcptune::error::{Error, exit};
use tcptune::report::Printer;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version print to stdout; a usage error to stderr
            // (exit 2). Output that cannot be written is not success.
            let code = match error.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    if error.kind()
                        == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                    {
                        exit::INVALID_INPUT
                    } else {
                        exit::SUCCESS
                    }
                }
                _ => exit::INVALID_INPUT,
            };
            let printed = error.print().and_then(|()| io::stdout().flush());
            return ExitCode::from(match printed {
                Ok(()) => code,
                Err(_) => exit::SYSTEM,
            });
        }
    };
    tcptune::log::set_verbose(cli.verbose);
    let choice = match cli.color {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    };
    let mut stdout = anstream::AutoStream::new(io::stdout().lock(), choice);
    // Bar charts use block characters only where colour would be shown too:
    // a terminal that did not ask for plain output.
    let fancy = stdout.current_choice() != anstream::ColorChoice::Never;
    // `-q` silences human output only: JSON and Prometheus output is what
    // the caller asked for.
    let mut sink = io::sink();
    let quiet = cli.quiet && cli.format == tcptune::cli::Format::Human;
    // With --output the document is collected and published as a whole
    // at the end, whatever the verdict.
    // A file gets colour only when asked for with --color always.
    let file_choice = match cli.color {
        ColorWhen::Always => anstream::ColorChoice::Always,
        _ => anstream::ColorChoice::Never,
    };
    let mut collected = anstream::AutoStream::new(Vec::new(), file_choice);
    let fancy = if cli.output.is_some() {
        file_choice == anstream::ColorChoice::Always
    } else {
        fancy
    };
    let result = {
        let out: &mut dyn Write = if cli.output.is_some() {
            &mut collected
        } else if quiet {
            &mut sink
        } else {
            &mut stdout
        };
        let mut printer = Printer::new(out, cli.format, fancy);
        // Enter the namespace before anything reads /proc or opens a socket.
        let entered = match &cli.netns {
            Some(target) => tcptune::system::enter_netns(target).map(|_| ()),
            None => Ok(()),
        };
        entered.and_then(|()| commands::run(&cli, &mut printer))
    };
    let result = result.and_then(|code| match &cli.output {
        Some(path) => publish(path, collected.as_inner()).map(|()| code),
        None => Ok(code),
    });
    let code = match result {
        Ok(code) => code,
        // A reader that went away after the verdict was known is handled by
        // the command (it returns the verdict); here any output failure is
        // one: nothing it was asked for was delivered.
        Err(error) => {
            tcptune::report::error(&error);
            // A plugin monitor reads stdout only; the exit code (2 or 3)
            // already says "unknown", this says why. If stdout is gone too,
            // stderr has said it.
            if cli.output.is_none() {
                let _ = Printer::new(&mut stdout, cli.format, fancy).failure(&error);
            }
            error.exit_code()
        }
    };
    // Every document was flushed as it was printed, and its failure
    // decided the code already (after a commit it must not change it).
    let _ = stdout.flush();
    ExitCode::from(code)
}

/// Replaces `path` with the document atomically (a temporary file in the
/// same directory, fsync, rename), so a reader such as node_exporter's
/// textfile collector sees the old document or the new one, never part of
/// one, and never a stale one because the verdict was "findings".
fn publish(path: &std::path::Path, document: &[u8]) -> Result<(), Error> {
    let path = std::path::absolute(path).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })?;
    tcptune::system::write::write_atomic(&path, document, 0o644)
        .map_err(|source| Error::Write { path, source })
}
