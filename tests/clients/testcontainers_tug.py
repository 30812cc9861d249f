"""testcontainers-python (PyPI), unchanged, on tug's Docker API.

Run by tests/tests/api_clients.rs with DOCKER_HOST at a `tug system service` socket and
TESTCONTAINERS_RYUK_DISABLED=true (Ryuk's image cannot be pulled offline). Exits 0 and
prints `ok` when every step worked; any failure raises, with the client's traceback.

Its compose module drives a compose CLI (`docker compose ...`); here that is `tug
compose` (docker_command_path=$TUG_BIN), on the same state root as the server.
"""

import os
import socket
import sys
import tempfile
import time

from testcontainers.compose import DockerCompose
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
    compose()
    print("ok")


COMPOSE = """
services:
  web:
    image: busybox
    command: ["sh", "-c", "%s"]
    environment:
      GREETING: from-compose
    ports:
      - "8080"
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 1s
      start_interval: 50ms
      start_period: 10s
  client:
    image: busybox
    command: ["sh", "-c", "wget -q -O - http://web:8080/ && sleep 60"]
    depends_on:
      web:
        condition: service_healthy
""" % SERVER


def compose() -> None:
    """DockerCompose: up --wait, a service's published port, exec, logs, down -v."""
    with tempfile.TemporaryDirectory() as workdir:
        with open(os.path.join(workdir, "compose.yml"), "w") as f:
            f.write(COMPOSE)
        project = DockerCompose(
            workdir,
            compose_file_name="compose.yml",
            docker_command_path=os.environ["TUG_BIN"],
            wait=True,
        )
        with project as p:
            host, port = p.get_service_host_and_port("web", 8080)
            answer = get(host or "127.0.0.1", int(port), time.monotonic() + 30)
            assert b"hello-from-tug" in answer, answer
            out, _, code = p.exec_in_container(["sh", "-c", "echo $GREETING"], service_name="web")
            assert (code, out.strip()) == (0, "from-compose"), (code, out)
            names = sorted(c.Service for c in p.get_containers())
            assert names == ["client", "web"], names
            deadline = time.monotonic() + 30
            while True:
                stdout, _ = p.get_logs("client")
                if "hello-from-tug" in stdout or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert "hello-from-tug" in stdout, stdout
        # Leaving the block ran `down --volumes`: nothing of the project is left.
        client = DockerContainer("busybox").get_docker_client().client
        left = [x.name for x in client.containers.list(all=True)]
        assert not left, left


if __name__ == "__main__":
    main()
    sys.exit(0)
