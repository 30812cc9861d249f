//! `tug-workshop`: the learner's face of the grader (list, check, hint, reset, watch).

mod cli;
mod watch;

use clap::Parser;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by SIGINT or SIGTERM: the grading under way finishes (and cleans up its root), then
/// the program ends.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

fn main() {
    let args = cli::Args::parse();
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe; SIG_DFL
    // installs no code.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        // `tug-workshop list | head` ends quietly, as other tools do (sockets are written
        // with MSG_NOSIGNAL by std, so a peer's reset is still an error, not a signal).
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let code = match cli::run(args) {
        Ok(_) if interrupted() => 130,
        Ok(code) => code,
        Err(e) => {
            eprintln!("tug-workshop: {e}");
            2
        }
    };
    std::process::exit(code);
}
