# Where a benchmark keeps the engines' state and run roots (sourced by bench-api.sh).
#
# This project's VM has its root file system as ext4 *without a journal*, and there ext4
# skips every inode freed in the last ~30 s when it allocates one (its `recently_deleted`
# check, made only without a journal): in a loop of container runs, each new file or dir
# scans past the hundreds just deleted. perf showed that scan as 46% of tug's server CPU
# in a loop of `docker run --rm`, about 3.4 ms per run. Its /run is that same file system,
# not a tmpfs. Debian installs ext4 with a journal and mounts a tmpfs on /run, and so do
# the other distributions. So by default (`BENCH_FS=journal`) both engines' state roots
# go on a journaled ext4 made in a sparse file and loop-mounted, and their run roots on a
# tmpfs, the same for both. `BENCH_FS=root` keeps them in the machine's /var/tmp and /run.
#
# bench_fs_setup DIR: sets `bench_state` and `bench_run` (dirs to put the roots in) and
# says on stderr which file systems they are. bench_fs_teardown DIR: unmounts what it
# mounted (call it after both engines stopped).

bench_fs_setup() {
  local dir=$1 mode=${BENCH_FS:-journal}
  case "$mode" in
    root)
      bench_state=$dir
      bench_run=$(mktemp -d /run/tug-bench.XXXXXX)
      ;;
    journal)
      command -v mkfs.ext4 >/dev/null || { echo "bench: mkfs.ext4 missing (e2fsprogs)" >&2; return 1; }
      truncate -s 8G "$dir/fs.img"
      mkfs.ext4 -q -F "$dir/fs.img"
      mkdir -p "$dir/fs" "$dir/run"
      mount -o loop "$dir/fs.img" "$dir/fs"
      mount -t tmpfs -o size=1g,mode=0755 tmpfs "$dir/run"
      bench_state=$dir/fs
      bench_run=$dir/run
      ;;
    *)
      echo "bench: BENCH_FS=$mode: journal or root" >&2
      return 1
      ;;
  esac
  echo "state roots on $(bench_fs_describe "$bench_state"), run roots on $(bench_fs_describe "$bench_run") (BENCH_FS=$mode; the machine's /var/tmp: $(bench_fs_describe /var/tmp), /run: $(bench_fs_describe /run))"
}

# `ext4 with a journal`, `ext4 without a journal`, or the file system's type.
bench_fs_describe() {
  local src typ
  src=$(findmnt -n -o SOURCE -T "$1")
  typ=$(findmnt -n -o FSTYPE -T "$1")
  if [ "$typ" = ext4 ]; then
    # The kernel's journal threads are named after the device (`vda-8`, `loop0-8`,
    # `dm-0-8`: 8 is the journal's inode); its superblock may not be readable here.
    if [ -e "/proc/fs/jbd2/$(basename "$(readlink -f "$src")")-8" ]; then
      echo "ext4 with a journal"
    else
      echo "ext4 without a journal"
    fi
  else
    echo "$typ"
  fi
}

bench_fs_teardown() {
  local dir=$1 m
  for m in "$dir/run" "$dir/fs"; do
    if mountpoint -q "$m" 2>/dev/null; then
      umount "$m" 2>/dev/null || umount -l "$m"
    fi
  done
  rm -f "$dir/fs.img"
  if [ "${BENCH_FS:-journal}" = root ] && [ -n "${bench_run:-}" ]; then
    rm -rf "$bench_run"
  fi
}
