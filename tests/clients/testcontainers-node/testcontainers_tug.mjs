// testcontainers-node (npm), unchanged, on tug's Docker API.
//
// Run by tests/tests/api_clients.rs with DOCKER_HOST at a `tug system service` socket and
// TESTCONTAINERS_RYUK_DISABLED=true (Ryuk's image cannot be pulled offline), from a copy
// next to the node_modules that `npm ci` made from this dir's lockfile. Prints `ok` when
// every step worked; any failure throws, and node exits non-zero with the stack.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as nodenet from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { GenericContainer, Network, Wait } from "testcontainers";

const SERVER =
  "mkdir -p /www && echo hello-from-tug > /www/index.html && " +
  "echo serving && exec httpd -f -p 8080 -h /www";

// GET / from host:port over HTTP/1.0: the whole answer.
function get(host, port) {
  return new Promise((resolve, reject) => {
    const s = nodenet.connect(port, host, () => s.write("GET / HTTP/1.0\r\nHost: x\r\n\r\n"));
    const chunks = [];
    s.setTimeout(10000, () => s.destroy(new Error(`no answer from ${host}:${port}`)));
    s.on("data", (d) => chunks.push(d));
    s.on("end", () => resolve(Buffer.concat(chunks).toString()));
    s.on("error", reject);
  });
}

// The container's log, read from its stream until `want` shows (or 10 s pass).
async function logUntil(container, want) {
  const stream = await container.logs();
  let text = "";
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${want} in the log: ${text}`)), 10000);
      stream.on("data", (d) => {
        text += d.toString();
        if (text.includes(want)) {
          clearTimeout(timer);
          resolve();
        }
      });
      stream.on("error", reject);
    });
  } finally {
    stream.destroy();
  }
  return text;
}

// A server with a log wait, labels, an environment variable and a file copied in before
// the start; its mapped port from the host; exec with output and exit code; its log.
const web = await new GenericContainer("busybox:latest")
  .withCommand(["sh", "-c", SERVER])
  .withExposedPorts(8080)
  .withEnvironment({ GREETING: "hi" })
  .withLabels({ "tug.test": "node" })
  .withCopyContentToContainer([{ content: "copied-in", target: "/tmp/copied.txt" }])
  .withWaitStrategy(Wait.forLogMessage("serving"))
  .start();
const answer = await get(web.getHost(), web.getMappedPort(8080));
assert.match(answer, /hello-from-tug/);
let r = await web.exec(["sh", "-c", "echo $GREETING; cat /tmp/copied.txt; exit 3"]);
assert.equal(r.exitCode, 3);
assert.equal(r.output, "hi\ncopied-in");
r = await web.exec(["sh", "-c", "echo to-stderr >&2"]);
assert.equal(r.exitCode, 0);
assert.equal(r.stderr.trim(), "to-stderr");
assert.match(await logUntil(web, "serving"), /serving/);
assert.equal(web.getLabels()["tug.test"], "node");

// A network the client makes, a peer found there by its alias, a one-shot container
// whose exit code is its wait strategy.
const network = await new Network().start();
const named = await new GenericContainer("busybox:latest")
  .withCommand(["sh", "-c", SERVER])
  .withExposedPorts(8080)
  .withNetwork(network)
  .withNetworkAliases("site")
  .withWaitStrategy(Wait.forListeningPorts())
  .start();
const client = await new GenericContainer("busybox:latest")
  .withNetwork(network)
  .withCommand(["wget", "-qO-", "http://site:8080/"])
  .withWaitStrategy(Wait.forOneShotStartup())
  .start();
assert.match(await logUntil(client, "hello-from-tug"), /hello-from-tug/);
await client.stop();

// A health check, waited for.
const healthy = await new GenericContainer("busybox:latest")
  .withCommand(["sleep", "600"])
  .withHealthCheck({ test: ["CMD-SHELL", "true"], interval: 100, timeout: 1000, retries: 3 })
  .withWaitStrategy(Wait.forHealthCheck())
  .start();

// An image built from a Dockerfile with a build argument (the API's classic `/build`),
// then run with a bind mount, a tmpfs, a user and limits; a file copied in while it runs
// and read back as an archive; a restart.
const context = fs.mkdtempSync(path.join(os.tmpdir(), "tc-node-"));
fs.writeFileSync(
  path.join(context, "Dockerfile"),
  'FROM busybox:latest\nARG WHO=nobody\nRUN echo "built for $WHO" > /built.txt\n',
);
fs.writeFileSync(path.join(context, "bound.txt"), "bound");
const built = await GenericContainer.fromDockerfile(context)
  .withBuildArgs({ WHO: "node" })
  .build("tug-node-built:1", { deleteOnExit: false });
const limited = await built
  .withCommand(["sleep", "600"])
  .withBindMounts([{ source: path.join(context, "bound.txt"), target: "/bound.txt", mode: "ro" }])
  .withTmpFs({ "/scratch": "rw,size=1m" })
  .withUser("1000:1000")
  .withResourcesQuota({ memory: 0.5, cpu: 0.5 })
  .start();
r = await limited.exec(["sh", "-c", "cat /built.txt /bound.txt; echo; id -u; df -k /scratch | tail -1"]);
assert.match(r.output, /^built for node\nbound\n1000\ntmpfs +1024 /);
await limited.copyContentToContainer([{ content: "later", target: "/tmp/later.txt" }]);
const archive = await limited.copyArchiveFromContainer("/tmp/later.txt");
let tar = Buffer.alloc(0);
for await (const chunk of archive) tar = Buffer.concat([tar, chunk]);
assert.equal(tar.subarray(0, 9).toString(), "later.txt");
assert.equal(tar.subarray(512, 517).toString(), "later");
await limited.restart();
assert.equal((await limited.exec(["cat", "/tmp/later.txt"])).output, "later");
await limited.stop();

// Stopped containers are removed; the network goes once empty.
await healthy.stop();
await named.stop();
await web.stop();
await network.stop();
console.log("ok");
