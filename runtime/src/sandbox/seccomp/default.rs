//! tug's default seccomp profile: Docker's default, rule for rule (moby's
//! `profiles/seccomp/default.json`), written as tables. Everything not listed fails with
//! EPERM; among what that blocks: `keyctl`, `add_key` and `request_key` (the kernel's
//! keyrings are not namespaced), new user namespaces (`unshare`/`clone` with
//! CLONE_NEWUSER, `clone3`), `bpf`, `perf_event_open`, `mount`, `kexec_*`, modules,
//! `open_by_handle_at` (each unless the container holds the capability that makes it
//! safe to allow).

use oci_spec::runtime::{LinuxSeccompAction, LinuxSeccompOperator};

use super::profile::{Arg, Filter, Profile, Rule};

/// Allowed for every container.
const ALLOWED: &str = "
accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32
clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect
copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir
fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr
flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync
ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu getcwd getdents
getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32
getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname
getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch
inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents
io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit
io_uring_enter io_uring_register io_uring_setup ipc kill landlock_add_rule
landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat
listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise
membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2
mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget
msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat
_newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc
pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64
process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead
readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg
remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq
rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity
sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min
sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity
sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl semget
semop semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto
setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer
setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32
setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area
set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack
signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs
statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time
timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat
utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
";

/// Allowed to a container that holds the capability: (capability, syscalls).
const BY_CAPABILITY: &[(&str, &str)] = &[
    ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
    (
        "CAP_SYS_ADMIN",
        "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount \
         mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname \
         sethostname setns syslog umount umount2 unshare",
    ),
    ("CAP_SYS_BOOT", "reboot"),
    ("CAP_SYS_CHROOT", "chroot"),
    ("CAP_SYS_MODULE", "delete_module init_module finit_module"),
    ("CAP_SYS_PACCT", "acct"),
    (
        "CAP_SYS_PTRACE",
        "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
    ),
    ("CAP_SYS_RAWIO", "iopl ioperm"),
    (
        "CAP_SYS_TIME",
        "settimeofday stime clock_settime clock_settime64",
    ),
    ("CAP_SYS_TTY_CONFIG", "vhangup"),
    (
        "CAP_SYS_NICE",
        "get_mempolicy mbind set_mempolicy set_mempolicy_home_node",
    ),
    ("CAP_SYSLOG", "syslog"),
    ("CAP_BPF", "bpf"),
    ("CAP_PERFMON", "perf_event_open"),
];

/// Allowed on these architectures only (Go's names).
const BY_ARCH: &[(&str, &str)] = &[
    ("amd64 x32", "arch_prctl"),
    ("amd64 x32 x86", "modify_ldt"),
    (
        "arm arm64",
        "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls",
    ),
    ("ppc64le", "sync_file_range2 swapcontext"),
    (
        "s390 s390x",
        "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr",
    ),
    ("riscv64", "riscv_flush_icache"),
];

/// The namespace flags that `clone` may not carry without CAP_SYS_ADMIN: CLONE_NEWNS,
/// NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET (Docker's 2114060288).
const CLONE_NAMESPACES: u64 = 0x7E02_0000;

/// `personality` values allowed: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32,
/// and the query 0xffffffff.
const PERSONALITIES: &[u64] = &[0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn allow(names: &str) -> Rule {
    Rule {
        names: Some(words(names)),
        action: LinuxSeccompAction::ScmpActAllow,
        ..Rule::default()
    }
}

fn arg(index: usize, op: LinuxSeccompOperator, value: u64) -> Arg {
    Arg {
        index,
        value,
        value_two: 0,
        op,
    }
}

fn caps(list: &str) -> Option<Filter> {
    Some(Filter {
        caps: Some(words(list)),
        ..Filter::default()
    })
}

fn arches(list: &str) -> Option<Filter> {
    Some(Filter {
        arches: Some(words(list)),
        ..Filter::default()
    })
}

/// The profile every container gets unless `--security-opt seccomp=...` says otherwise.
pub fn default_profile() -> Profile {
    use LinuxSeccompOperator::*;
    let mut rules = vec![allow(ALLOWED)];
    rules.push(Rule {
        includes: Some(Filter {
            min_kernel: Some("4.8".into()),
            ..Filter::default()
        }),
        ..allow("process_vm_readv process_vm_writev ptrace")
    });
    // Every socket family but AF_VSOCK (40): the host's vsock is not namespaced.
    rules.push(Rule {
        args: Some(vec![arg(0, ScmpCmpNe, 40)]),
        ..allow("socket")
    });
    for p in PERSONALITIES {
        rules.push(Rule {
            args: Some(vec![arg(0, ScmpCmpEq, *p)]),
            ..allow("personality")
        });
    }
    for (a, names) in BY_ARCH {
        rules.push(Rule {
            includes: arches(a),
            ..allow(names)
        });
    }
    for (c, names) in BY_CAPABILITY {
        rules.push(Rule {
            includes: caps(c),
            ..allow(names)
        });
    }
    // Without CAP_SYS_ADMIN: clone without namespace flags (s390 swaps the arguments),
    // and clone3 fails with ENOSYS so that libc falls back to clone, where the flags are
    // visible to the filter.
    rules.push(Rule {
        args: Some(vec![Arg {
            value_two: 0,
            ..arg(0, ScmpCmpMaskedEq, CLONE_NAMESPACES)
        }]),
        excludes: Some(Filter {
            caps: Some(words("CAP_SYS_ADMIN")),
            arches: Some(words("s390 s390x")),
            ..Filter::default()
        }),
        ..allow("clone")
    });
    rules.push(Rule {
        args: Some(vec![arg(1, ScmpCmpMaskedEq, CLONE_NAMESPACES)]),
        includes: arches("s390 s390x"),
        excludes: caps("CAP_SYS_ADMIN"),
        ..allow("clone")
    });
    rules.push(Rule {
        names: Some(words("clone3")),
        action: LinuxSeccompAction::ScmpActErrno,
        errno_ret: Some(libc::ENOSYS as u32),
        excludes: caps("CAP_SYS_ADMIN"),
        ..Rule::default()
    });
    Profile {
        default_action: LinuxSeccompAction::ScmpActErrno,
        default_errno_ret: Some(libc::EPERM as u32),
        architectures: None,
        arch_map: None,
        syscalls: Some(rules),
        flags: None,
        listener_path: None,
    }
}
