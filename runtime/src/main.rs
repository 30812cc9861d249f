//! The `tug` command: parse, call the engine, map errors to Docker's exit codes.

fn main() {
    std::process::exit(tug::cli::main());
}
