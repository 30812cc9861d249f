//! The async runner: a network the crate makes, a name resolved on it, a file copied in
//! before the start, exec, the container's address.

use testcontainers::core::{ExecCommand, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{GenericImage, ImageExt};
use tug_testcontainers_rs::SERVER;

#[tokio::test]
async fn async_runner_with_a_network_and_a_copied_file() {
    let net = format!("tug-tc-{}", std::process::id());
    let server = GenericImage::new("busybox", "latest")
        .with_wait_for(WaitFor::message_on_stdout("serving"))
        .with_cmd(["sh", "-c", SERVER])
        .with_network(&net)
        .with_container_name(format!("{net}-web"))
        .start()
        .await
        .expect("start the server");
    let client = GenericImage::new("busybox", "latest")
        .with_wait_for(WaitFor::message_on_stdout("copied"))
        .with_cmd(["sh", "-c", "cat /data/note.txt; echo copied; exec sleep 60"])
        .with_network(&net)
        .with_copy_to("/data/note.txt", b"a note\n".to_vec())
        .start()
        .await
        .expect("start the client");
    let logs = client.stdout_to_vec().await.expect("logs");
    assert!(String::from_utf8_lossy(&logs).contains("a note"));
    let url = format!("http://{net}-web:8080/");
    let mut exec = client
        .exec(ExecCommand::new(["wget", "-q", "-O-", &url]))
        .await
        .expect("exec wget");
    let body = exec.stdout_to_vec().await.expect("wget output");
    assert_eq!(String::from_utf8_lossy(&body), "hello-from-tug\n");
    let ip = server
        .get_bridge_ip_address()
        .await
        .expect("the server's address");
    assert!(!ip.is_unspecified());
    client.rm().await.expect("remove the client");
    server.rm().await.expect("remove the server");
}
