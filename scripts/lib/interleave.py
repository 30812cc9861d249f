"""Times the docker CLI against two daemons, interleaved (used by bench-api.sh).

    interleave.py RUNS OUT.json LABEL=DOCKER_HOST...

For each daemon (in the order given), three commands: `docker run --rm busybox true`,
`docker run -d busybox sleep 600` then `docker rm -f` on its id, and `docker version`.
The RUNS timed runs of each command on each daemon come in ROUNDS (4) short blocks, a
round running every block once in an order that turns by one each round: a slow spell
of the machine then falls on all of them alike rather than on one long series, and a
ratio of two medians compares the daemons under the same conditions. Each block begins
with a run that is not timed: what the command before left to finish (dockerd's
clean-up of a container goes on after its answer) falls on that one. Each command is
spawned directly (no shell), timed from before its spawn to its reaping.

Writes OUT.json in hyperfine's shape (`results`: `command`, `median`, `mean`, `stddev`,
`times`, in seconds), tug's commands first, and prints a summary like hyperfine's.
"""

import json
import os
import statistics
import sys
import time

ROUNDS = 4

WHAT = [
    "docker run --rm busybox true",
    "docker run -d + docker rm -f",
    "docker version",
]


def run(argv, env, capture=False):
    """Runs argv to its end; its stdout when `capture`. Fails on a non-zero exit."""
    if capture:
        r, w = os.pipe()
        fa = [(os.POSIX_SPAWN_DUP2, w, 1), (os.POSIX_SPAWN_CLOSE, r)]
    else:
        fa = [(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0)]
    pid = os.posix_spawnp(argv[0], argv, env, file_actions=fa)
    out = b""
    if capture:
        os.close(w)
        with os.fdopen(r, "rb") as f:
            out = f.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"interleave.py: {' '.join(argv)} failed ({status})")
    return out.decode().strip()


def one(what, env):
    """Runs command `what` against the daemon of `env`; its time in seconds."""
    t = time.perf_counter()
    if what == WHAT[0]:
        run(["docker", "run", "--rm", "busybox", "true"], env)
    elif what == WHAT[1]:
        cid = run(["docker", "run", "-d", "busybox", "sleep", "600"], env, capture=True)
        run(["docker", "rm", "-f", cid], env)
    else:
        run(["docker", "version", "--format", "{{.Server.Version}}"], env)
    return time.perf_counter() - t


def main():
    runs, out, daemons = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    envs = []
    for d in daemons:
        label, host = d.split("=", 1)
        envs.append((label, dict(os.environ, DOCKER_HOST=host)))
    jobs = [(label, env, what) for label, env in envs for what in WHAT]
    times = {(label, what): [] for label, _, what in jobs}
    rounds = min(ROUNDS, runs)
    for r in range(rounds):
        # This round's share of the runs (the rest spread over the first rounds).
        n = runs // rounds + (1 if r < runs % rounds else 0)
        turn = r % len(jobs)
        for label, env, what in jobs[turn:] + jobs[:turn]:
            one(what, env)
            for _ in range(n):
                times[(label, what)].append(one(what, env))
    results = []
    for label, _, what in jobs:
        v = times[(label, what)]
        results.append({
            "command": f"{label}: {what}",
            "median": statistics.median(v),
            "mean": statistics.mean(v),
            "stddev": statistics.stdev(v) if len(v) > 1 else 0.0,
            "min": min(v),
            "max": max(v),
            "times": v,
        })
        ms = [x * 1000 for x in v]
        print(f"{label}: {what}: median {statistics.median(ms):.1f} ms, "
              f"mean {statistics.mean(ms):.1f} ± {results[-1]['stddev'] * 1000:.1f} ms, "
              f"range {min(ms):.1f} … {max(ms):.1f} ms ({len(v)} runs)")
    with open(out, "w") as f:
        json.dump({"results": results}, f)


if __name__ == "__main__":
    main()
