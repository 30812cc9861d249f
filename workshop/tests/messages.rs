//! What the grader tells a learner when the answer goes wrong on the host, not in it.

use tug_workshop::{Answer, grade, load_all, repo_dir};

/// The 06-echo solution while another program holds host port 45678: the container is
/// created but never starts, and the failure shows tug's own reason from commands.sh's
/// error output, not only the container's (empty) logs.
#[test]
fn a_container_that_never_started_is_explained_by_what_tug_printed() {
    let all = load_all(&repo_dir()).expect("load the exercises");
    let echo = all.iter().find(|e| e.name == "06-echo").expect("06-echo");
    // Held for the whole grading (this test runs alone: .config/nextest.toml).
    let _held = std::net::TcpListener::bind("0.0.0.0:45678").expect("hold port 45678");
    let report = grade(echo, &Answer::Solution).expect("grade");
    let failure = report
        .failure
        .expect("the solution fails while its port is taken");
    assert!(
        failure.got.contains("not running (created)")
            && failure.got.contains("commands.sh printed on stderr:")
            && failure
                .got
                .contains("45678 failed: port is already allocated"),
        "{}",
        failure.got
    );
}
