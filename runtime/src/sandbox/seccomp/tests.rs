//! The default profile resolved and compiled, run through the compiler's own evaluator
//! (the kernel's semantics for the instructions it emits), and a profile parser's errors.

use oci_spec::runtime::LinuxSeccomp;

use super::*;

const ALLOW: u32 = 0x7fff_0000;
const EPERM: u32 = 0x0005_0000 | libc::EPERM as u32;
const ENOSYS: u32 = 0x0005_0000 | libc::ENOSYS as u32;

fn resolved(caps: &[&str]) -> LinuxSeccomp {
    let caps: Vec<String> = caps.iter().map(|c| c.to_string()).collect();
    default_profile()
        .resolve(&Target {
            arch: Target::native_arch(),
            caps: &caps,
            kernel: (6, 1),
        })
        .unwrap()
}

fn run(p: &Program, nr: i64, args: [u64; 6]) -> u32 {
    p.eval(native_arch(), nr as i32, args)
}

const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

#[test]
fn the_default_profile_allows_the_usual_and_refuses_the_dangerous() {
    let p = compile(&resolved(DEFAULT_CAPS)).unwrap();
    assert!(p.len() < 1200, "{} instructions", p.len());
    let z = [0u64; 6];
    for nr in [
        libc::SYS_read,
        libc::SYS_write,
        libc::SYS_openat,
        libc::SYS_execve,
        libc::SYS_exit_group,
        libc::SYS_chroot,
        libc::SYS_arch_prctl,
        libc::SYS_mmap,
    ] {
        assert_eq!(run(&p, nr, z), ALLOW, "syscall {nr}");
    }
    for nr in [
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_unshare,
        libc::SYS_mount,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_kexec_load,
        libc::SYS_open_by_handle_at,
        libc::SYS_init_module,
        libc::SYS_setns,
        libc::SYS_reboot,
        libc::SYS_swapon,
        9999,
    ] {
        assert_eq!(run(&p, nr, z), EPERM, "syscall {nr}");
    }
    // clone: threads and forks yes, namespaces no; clone3 says ENOSYS (libc falls back).
    let thread = (libc::CLONE_VM
        | libc::CLONE_FS
        | libc::CLONE_FILES
        | libc::CLONE_SIGHAND
        | libc::CLONE_THREAD) as u64;
    assert_eq!(run(&p, libc::SYS_clone, [thread, 0, 0, 0, 0, 0]), ALLOW);
    let userns = libc::CLONE_NEWUSER as u64;
    assert_eq!(run(&p, libc::SYS_clone, [userns, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(
        run(
            &p,
            libc::SYS_clone,
            [libc::CLONE_NEWNET as u64 | 17, 0, 0, 0, 0, 0]
        ),
        EPERM
    );
    assert_eq!(run(&p, libc::SYS_clone3, z), ENOSYS);
    // socket: all but AF_VSOCK; the high word counts too.
    assert_eq!(run(&p, libc::SYS_socket, [2, 1, 0, 0, 0, 0]), ALLOW);
    assert_eq!(run(&p, libc::SYS_socket, [40, 1, 0, 0, 0, 0]), EPERM);
    assert_eq!(
        run(&p, libc::SYS_socket, [(1 << 32) | 40, 1, 0, 0, 0, 0]),
        ALLOW
    );
    // personality: the listed values only.
    for v in [0u64, 8, 0x20000, 0x20008, 0xffff_ffff] {
        assert_eq!(
            run(&p, libc::SYS_personality, [v, 0, 0, 0, 0, 0]),
            ALLOW,
            "{v:#x}"
        );
    }
    assert_eq!(
        run(&p, libc::SYS_personality, [0x0040000, 0, 0, 0, 0, 0]),
        EPERM
    );
    // ptrace from 4.8 on.
    assert_eq!(run(&p, libc::SYS_ptrace, z), ALLOW);
    // Another ABI: the default.
    assert_eq!(p.eval(0x4000_0003, libc::SYS_read as i32, z), EPERM);
    #[cfg(target_arch = "x86_64")]
    assert_eq!(run(&p, 0x4000_0000 | libc::SYS_read, z), EPERM);
}

#[test]
fn capabilities_open_their_syscalls() {
    let mut caps = DEFAULT_CAPS.to_vec();
    caps.push("CAP_SYS_ADMIN");
    let p = compile(&resolved(&caps)).unwrap();
    let z = [0u64; 6];
    assert_eq!(run(&p, libc::SYS_mount, z), ALLOW);
    assert_eq!(run(&p, libc::SYS_unshare, z), ALLOW);
    assert_eq!(
        run(
            &p,
            libc::SYS_clone,
            [libc::CLONE_NEWUSER as u64, 0, 0, 0, 0, 0]
        ),
        ALLOW
    );
    assert_eq!(run(&p, libc::SYS_clone3, z), ALLOW);
    assert_eq!(run(&p, libc::SYS_keyctl, z), EPERM);
    let p = compile(&resolved(&[])).unwrap();
    assert_eq!(run(&p, libc::SYS_chroot, z), EPERM, "no CAP_SYS_CHROOT");
}

#[test]
fn every_comparison_works_on_64_bit_values() {
    use oci_spec::runtime::LinuxSeccompOperator::*;
    let ops = [
        ScmpCmpEq, ScmpCmpNe, ScmpCmpLt, ScmpCmpLe, ScmpCmpGe, ScmpCmpGt,
    ];
    let values = [0u64, 1, 5, 0xffff_ffff, 1 << 32, (1 << 32) + 5, u64::MAX];
    for op in ops {
        for v in values {
            let profile = Profile::from_json(
                "test",
                &format!(
                    r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{{"names":["read"],
                    "action":"SCMP_ACT_ALLOW","args":[{{"index":2,"value":{v},"op":"{}"}}]}}]}}"#,
                    serde_json::to_value(op).unwrap().as_str().unwrap()
                ),
            )
            .unwrap();
            let caps = [];
            let t = Target {
                arch: Target::native_arch(),
                caps: &caps,
                kernel: (6, 1),
            };
            let p = compile(&profile.resolve(&t).unwrap()).unwrap();
            for x in values {
                let want = match op {
                    ScmpCmpEq => x == v,
                    ScmpCmpNe => x != v,
                    ScmpCmpLt => x < v,
                    ScmpCmpLe => x <= v,
                    ScmpCmpGe => x >= v,
                    ScmpCmpGt => x > v,
                    ScmpCmpMaskedEq => unreachable!(),
                };
                let got = run(&p, libc::SYS_read, [0, 0, x, 0, 0, 0]) == ALLOW;
                assert_eq!(got, want, "{x} {op:?} {v}");
            }
        }
    }
}

#[test]
fn profiles_in_dockers_format_parse_and_bad_ones_say_why() {
    let p = Profile::from_json(
        "p.json",
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
            "syscalls":[{"name":"mkdir","action":"SCMP_ACT_ERRNO","errnoRet":13},
                        {"names":["chown32","fchown"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
    )
    .unwrap();
    let t = Target {
        arch: Target::native_arch(),
        caps: &[],
        kernel: (6, 1),
    };
    let prog = compile(&p.resolve(&t).unwrap()).unwrap();
    assert_eq!(run(&prog, libc::SYS_mkdir, [0; 6]), 0x0005_0000 | 13);
    assert_eq!(run(&prog, libc::SYS_fchown, [0; 6]), 0x8000_0000);
    assert_eq!(run(&prog, libc::SYS_read, [0; 6]), ALLOW);
    for (bad, why) in [
        ("{", "p.json"),
        (r#"{"defaultAction":"SCMP_ACT_NOPE"}"#, "SCMP_ACT_NOPE"),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ALLOW"}]}"#,
            "neither name",
        ),
        (r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#, "not supported"),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"read","action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
            "out of range",
        ),
    ] {
        let e = crate::report(&Profile::from_json("p.json", bad).unwrap_err());
        assert!(e.contains(why) && e.contains("p.json"), "{bad}: {e}");
    }
}

#[test]
fn kernel_versions_parse() {
    assert_eq!(parse_kernel("6.18.44-fc-v669"), Some((6, 18)));
    assert_eq!(parse_kernel("4.8"), Some((4, 8)));
    assert_eq!(parse_kernel("5"), Some((5, 0)));
    assert_eq!(parse_kernel("x"), None);
}

proptest::proptest! {
    /// Any number and arguments: the filter ends on a return, never panics or loops.
    #[test]
    fn the_filter_always_returns(nr in proptest::prelude::any::<i32>(), a in proptest::prelude::any::<[u64; 6]>()) {
        let p = compile(&resolved(DEFAULT_CAPS)).unwrap();
        let r = p.eval(native_arch(), nr, a);
        proptest::prop_assert!(r == ALLOW || r == EPERM || r == ENOSYS);
    }
}
