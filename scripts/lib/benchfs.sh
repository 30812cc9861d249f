# Where a benchmark keeps the engines' state and run roots (sourced by bench-api.sh).
#
# This project's VM has its root file system as ext4 *without a journal*, and its /run is
# that file system, not a tmpfs. Without a journal ext4 skips every inode freed in the
# last ~30 s when it allocates one (its `recently_deleted` check): in a loop of container
# runs each new file or dir scans past the hundreds just deleted. perf showed that scan as
# 46% of tug's server CPU in a loop of `docker run --rm`, about 3.4 ms per run.
#
# The run roots (sockets, pid files, a running container's state) go on a tmpfs made for
# the run, as Debian's /run is and as tug's default /run/tug then is; they need no disk.
# The state roots go, by default (`BENCH_FS=root`), in the machine's /var/tmp, as before.
# `BENCH_FS=journal` puts them on a journaled ext4 made in a sparse file and
# loop-mounted instead: no such scan, but each fsync costs about 0.9 ms there against
# 0.3-0.5 ms on the VM's own disk (the loop device adds a flush of its backing file), so
# it penalizes durable writes (tug's create of a container that is not `--rm`). Neither
# is the journaled ext4 on a real disk that most users have; both engines always get the
# same.
#
# bench_fs_setup DIR: sets `bench_state` and `bench_run` (dirs to put the roots in) and
# says which file systems they are. bench_fs_teardown DIR: unmounts what it mounted
# (call it after both engines stopped).

bench_fs_setup() {
  local dir=$1 mode=${BENCH_FS:-root}
  mkdir -p "$dir/run"
  mount -t tmpfs -o size=1g,mode=0755 tmpfs "$dir/run"
  bench_run=$dir/run
  case "$mode" in
    root)
      bench_state=$dir
      ;;
    journal)
      command -v mkfs.ext4 >/dev/null || { echo "bench: mkfs.ext4 missing (e2fsprogs)" >&2; return 1; }
      truncate -s 8G "$dir/fs.img"
      mkfs.ext4 -q -F "$dir/fs.img"
      mkdir -p "$dir/fs"
      mount -o loop "$dir/fs.img" "$dir/fs"
      bench_state=$dir/fs
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
}
