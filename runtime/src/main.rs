//! The `tug` command: parse, call the engine, map errors to Docker's exit codes.
//!
//! The command line (`cli`) is the binary's own: it reaches the library only through its
//! public API (the [`tug::Engine`] and the types of its methods), so a library user (the
//! testkit) compiles none of it, nor clap, tabwriter, gotmpl or indicatif.

mod api;
mod cli;

fn main() {
    std::process::exit(cli::main());
}
