"""testcontainers-python (PyPI), unchanged, on tug's Docker API.

Run by tests/tests/api.rs with DOCKER_HOST at a `tug system service` socket and
TESTCONTAINERS_RYUK_DISABLED=true (Ryuk's image cannot be pulled offline). Exits 0 and
prints `ok` when every step worked; any failure raises, with the client's traceback.
"""

import socket
import sys
import time

from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

SERVER = (
    "mkdir -p /www && echo hello-from-tug > /www/index.html && "
    "echo serving && exec httpd -f -p 8080 -h /www"
)


def get(host: str, port: int, deadline: float) -> bytes:
    """GET / on host:port, retried until the server answers or the deadline passes."""
    last = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=5) as s:
                s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                chunks = []
                while True:
                    b = s.recv(4096)
                    if not b:
                        break
                    chunks.append(b)
                answer = b"".join(chunks)
                if answer:
                    return answer
        except OSError as e:
            last = e
        time.sleep(0.05)
    raise TimeoutError(f"no answer from {host}:{port}: {last}")


def main() -> None:
    container = (
        DockerContainer("busybox")
        .with_command(["sh", "-c", SERVER])
        .with_exposed_ports(8080)
        .with_env("GREETING", "hi")
        .with_kwargs(labels={"tug.test": "testcontainers-python"})
        .waiting_for(LogMessageWaitStrategy("serving").with_startup_timeout(30))
    )
    with container as c:
        host = c.get_container_host_ip()
        port = c.get_exposed_port(8080)
        assert port != 8080 and port > 0, port
        answer = get(host, port, time.monotonic() + 30)
        assert b"hello-from-tug" in answer, answer
        code, output = c.exec(["sh", "-c", "echo $GREETING; exit 3"])
        assert (code, output) == (3, b"hi\n"), (code, output)
        stdout, _ = c.get_logs()
        assert b"serving" in stdout, stdout
        wrapped = c.get_wrapped_container()
        wrapped.reload()
        assert wrapped.status == "running", wrapped.status
        assert wrapped.labels.get("tug.test") == "testcontainers-python", wrapped.labels
        cid = c.get_container_id()
    # Leaving the block removed the container (force, with its volumes).
    client = container.get_docker_client().client
    left = [x.id for x in client.containers.list(all=True) if x.id == cid]
    assert not left, left
    # A container that exits: its code through wait().
    with DockerContainer("busybox").with_command(["sh", "-c", "exit 7"]) as c:
        assert c.wait() == 7
    print("ok")


if __name__ == "__main__":
    main()
    sys.exit(0)
