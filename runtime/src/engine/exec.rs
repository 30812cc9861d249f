//! The [`Engine`]'s commands that run or read inside a running container: `exec` (relayed
//! or with captured output), `top`, healthchecks, and `cp` in and out.

use crate::Engine;
use crate::container::top::TopOutput;
use crate::container::{
    CopyIn, CopyOptions, CopyOut, ExecOptions, ExecOutput, Health, HealthState, Healthcheck,
};

impl Engine {
    /// `tug exec`: runs `opts.command` in the running container `name`, relaying the
    /// caller's stdin (`-i`), stdout, stderr, window size and signals, and returns its
    /// exit code (0 once it runs with `detach`). The command's own failures map to
    /// Docker's codes: 127 not found, 126 not executable.
    pub fn exec_container(&self, name: &str, opts: &ExecOptions) -> crate::Result<i32> {
        Ok(self.cx().exec_container(name, opts)?)
    }

    /// Runs `opts.command` in running container `name` (never detached) and returns the
    /// shim's connection once it runs, for a caller that relays the stream itself (the
    /// Docker API's exec start): read with [`split_output`](crate::container::split_output),
    /// which ends with the exit code.
    pub fn exec_stream(
        &self,
        name: &str,
        opts: &ExecOptions,
    ) -> crate::Result<std::os::unix::net::UnixStream> {
        Ok(self.cx().exec_stream(name, opts)?)
    }

    /// Runs `opts.command` in the running container `name` with its stdout and stderr
    /// captured in memory (no stdin, no tty, not detached), from any thread of any
    /// process: the container's shim runs it.
    pub fn exec_output(&self, name: &str, opts: &ExecOptions) -> crate::Result<ExecOutput> {
        Ok(self.cx().exec_output(name, opts)?)
    }

    /// `tug top CONTAINER [ps OPTIONS]`.
    pub fn top(&self, name: &str, ps_args: &[String]) -> crate::Result<TopOutput> {
        Ok(self.cx().top(name, ps_args)?)
    }

    /// The health of container `name` (Docker's `State.Health`, also in
    /// [`Engine::container`]'s `state.health`) as its shim's monitor last wrote it:
    /// `status` (`Starting`, `Healthy`, `Unhealthy`), `failing_streak` and the last five
    /// results. `None` when the container has no healthcheck to run (none, `NONE`) or
    /// never started with one; a container that does not run reads `Unhealthy`.
    ///
    /// The shim runs the check (from the image's `HEALTHCHECK` under
    /// [`CreateOptions::healthcheck`](crate::container::CreateOptions::healthcheck)) with
    /// Docker's timings while the container runs; this only reads a small file, with no
    /// call to the shim, so waiting for `healthy` (compose's `service_healthy`,
    /// `up --wait`, the testkit's `WaitFor::healthcheck`) is a poll of this call every
    /// few tens of milliseconds until `Healthy`, giving up on `Unhealthy` or an exit.
    pub fn health(&self, name: &str) -> crate::Result<Option<HealthState>> {
        Ok(self.cx().container(name)?.state.health)
    }

    /// The healthcheck of the image container `name` was made from; `None` when the
    /// image has none.
    pub fn image_healthcheck(&self, name: &str) -> crate::Result<Option<Healthcheck>> {
        Ok(self.cx().image_healthcheck(name)?)
    }

    /// Runs `check` once in running container `name`, now, as an exec (outside the
    /// shim's monitor, whose state it does not change); an error when the test has no
    /// command (`NONE`).
    pub fn run_healthcheck(&self, name: &str, check: &Healthcheck) -> crate::Result<Health> {
        Ok(self.cx().run_healthcheck(name, check)?)
    }

    /// Copies `src` (a path in container `name`) to `dest`, as `docker cp` does: to a
    /// host path with Docker's rules (the copy owned by the caller), or as a tar stream
    /// (with the container's owners). With `follow_link`, a symlink at `src` is copied as
    /// what it points to (inside the container). Returns the size of the tar copied.
    pub fn copy_from_container(
        &self,
        name: &str,
        src: &str,
        dest: CopyOut<'_>,
        opts: CopyOptions,
    ) -> crate::Result<u64> {
        Ok(self.cx().copy_from_container(name, src, dest, opts)?)
    }

    /// What is at `path` in container `name` (resolved inside its root; a final symlink
    /// not followed unless the path ends in `/`), for the archive API's stat.
    pub fn stat_container_path(
        &self,
        name: &str,
        path: &str,
    ) -> crate::Result<crate::container::PathStat> {
        Ok(self.cx().stat_container_path(name, path)?)
    }

    /// Copies `src` (a host path, or a tar stream) into container `name` at `dest`, as
    /// `docker cp` does; ownership as [`CopyOptions::archive`] says. Returns the size of
    /// the tar copied.
    pub fn copy_to_container(
        &self,
        name: &str,
        src: CopyIn<'_>,
        dest: &str,
        opts: CopyOptions,
    ) -> crate::Result<u64> {
        Ok(self.cx().copy_to_container(name, src, dest, opts)?)
    }

    /// A connection to the unix socket at `path` in running container `name` (a
    /// database's local socket, say), without going through its network: the path is
    /// looked up with the container's root as `/`, so no symlink of the image can lead
    /// the caller to a socket of the host.
    pub fn connect_unix(
        &self,
        name: &str,
        path: &str,
    ) -> crate::Result<std::os::unix::net::UnixStream> {
        Ok(self.cx().connect_unix(name, path)?)
    }
}
