//! The device cgroup: which device nodes a container may open. Docker's default set
//! (null, zero, full, random, urandom, tty, console, ptmx, the pts, fuse; `mknod` of any
//! node, which is harmless while opening it is refused), `--device` additions, and
//! `--privileged`'s everything. The rules are the spec's `linux.resources.devices`, in
//! order, the last match deciding. On cgroup v1 they are written to `devices.deny` and
//! `devices.allow`; on v2 they become a `BPF_PROG_TYPE_CGROUP_DEVICE` program attached to
//! the container's cgroup (v2 has no devices files), assembled here.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::Error;

fn rule(
    allow: bool,
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(allow);
    r.set_typ(Some(typ));
    r.set_major(major);
    r.set_minor(minor);
    r.set_access(Some(access.to_string()));
    r
}

/// Docker's default rules: deny everything, allow mknod of any node, and read/write of
/// the nodes every container has.
pub fn docker_default() -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{A, B, C};
    let mut v = vec![
        rule(false, A, None, None, "rwm"),
        rule(true, C, None, None, "m"),
        rule(true, B, None, None, "m"),
    ];
    for (major, minor) in [
        (1, Some(3)),    // null
        (1, Some(5)),    // zero
        (1, Some(7)),    // full
        (1, Some(8)),    // random
        (1, Some(9)),    // urandom
        (5, Some(0)),    // tty
        (5, Some(1)),    // console
        (5, Some(2)),    // ptmx
        (136, None),     // the pts
        (10, Some(229)), // fuse
    ] {
        v.push(rule(true, C, Some(major), minor, "rwm"));
    }
    v
}

/// Parses a `--device-cgroup-rule` (`c 42:* rmw`, `a *:* rwm`, `b 8:0 r`) as Docker
/// does; `None` when it is not one.
pub fn parse_rule(s: &str) -> Option<LinuxDeviceCgroup> {
    let mut words = s.split(' ');
    let (typ, numbers, access) = (words.next()?, words.next()?, words.next()?);
    if words.next().is_some() {
        return None;
    }
    let typ = match typ {
        "a" => LinuxDeviceType::A,
        "c" => LinuxDeviceType::C,
        "b" => LinuxDeviceType::B,
        _ => return None,
    };
    let (major, minor) = numbers.split_once(':')?;
    let number = |n: &str| -> Option<Option<i64>> {
        match n {
            "*" => Some(None),
            _ if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => n.parse().ok().map(Some),
            _ => None,
        }
    };
    let ok_access =
        (1..=3).contains(&access.len()) && access.bytes().all(|b| matches!(b, b'r' | b'w' | b'm'));
    if !ok_access {
        return None;
    }
    Some(rule(true, typ, number(major)?, number(minor)?, access))
}

/// `--privileged`: every device.
pub fn allow_all() -> Vec<LinuxDeviceCgroup> {
    vec![rule(true, LinuxDeviceType::A, None, None, "rwm")]
}

/// A rule for one device node (`--device`): its type, numbers and access (`rwm`).
pub fn allow_node(char_device: bool, major: i64, minor: i64, access: &str) -> LinuxDeviceCgroup {
    let typ = if char_device {
        LinuxDeviceType::C
    } else {
        LinuxDeviceType::B
    };
    rule(true, typ, Some(major), Some(minor), access)
}

/// A rule as cgroup v1 takes it: `c 1:3 rwm`, `a *:* rwm`.
pub fn v1_line(r: &LinuxDeviceCgroup) -> String {
    let n = |x: Option<i64>| x.map_or("*".to_string(), |v| v.to_string());
    let typ = match r.typ().unwrap_or_default() {
        LinuxDeviceType::B => "b",
        LinuxDeviceType::C | LinuxDeviceType::U => "c",
        _ => "a",
    };
    format!(
        "{typ} {}:{} {}",
        n(r.major()),
        n(r.minor()),
        r.access().as_deref().unwrap_or("rwm")
    )
}

/// Writes the rules to a v1 devices cgroup `dir`.
pub fn apply_v1(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), Error> {
    for r in rules {
        let file = if r.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        super::fs::write(&dir.join(file), &v1_line(r))?;
    }
    Ok(())
}

/// One eBPF instruction (struct bpf_insn).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const AND_K: u8 = 0x57; // BPF_ALU64 | BPF_AND | BPF_K
const RSH_K: u8 = 0x77; // BPF_ALU64 | BPF_RSH | BPF_K
const MOV_X: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
const MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JNE_X: u8 = 0x5d; // BPF_JMP | BPF_JNE | BPF_X
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0xf),
        off,
        imm,
    }
}

/// The access bits of `struct bpf_cgroup_dev_ctx`: mknod 1, read 2, write 4.
fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |a, c| {
        a | match c {
            'm' => 1,
            'r' => 2,
            'w' => 4,
            _ => 0,
        }
    })
}

/// The program for `rules`: the context's type, access, major and minor are loaded into
/// r2..r5, then the rules are tried from the last to the first; the first that matches
/// returns 1 (allow) or 0 (deny); no match denies.
pub fn program(rules: &[LinuxDeviceCgroup]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),      // r2 = ctx->access_type
        insn(AND_K, 2, 0, 0, 0xffff), // r2 = type (1 block, 2 char)
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH_K, 3, 0, 0, 16), // r3 = access
        insn(LDX_W, 4, 1, 4, 0),  // r4 = major
        insn(LDX_W, 5, 1, 8, 0),  // r5 = minor
    ];
    for r in rules.iter().rev() {
        let mut block: Vec<Insn> = Vec::new();
        // Each check jumps to the end of the block; offsets are patched below.
        let mut jumps = Vec::new();
        match r.typ().unwrap_or_default() {
            LinuxDeviceType::B => {
                jumps.push(block.len());
                block.push(insn(JNE_K, 2, 0, 0, 1));
            }
            LinuxDeviceType::C | LinuxDeviceType::U => {
                jumps.push(block.len());
                block.push(insn(JNE_K, 2, 0, 0, 2));
            }
            _ => {}
        }
        let bits = access_bits(r.access().as_deref().unwrap_or("rwm"));
        if bits != 7 {
            // The access asked for must be within the rule's.
            block.push(insn(MOV_X, 1, 3, 0, 0));
            block.push(insn(AND_K, 1, 0, 0, bits));
            jumps.push(block.len());
            block.push(insn(JNE_X, 1, 3, 0, 0));
        }
        if let Some(m) = r.major() {
            jumps.push(block.len());
            block.push(insn(JNE_K, 4, 0, 0, m as i32));
        }
        if let Some(m) = r.minor() {
            jumps.push(block.len());
            block.push(insn(JNE_K, 5, 0, 0, m as i32));
        }
        block.push(insn(MOV_K, 0, 0, 0, i32::from(r.allow())));
        block.push(insn(EXIT, 0, 0, 0, 0));
        let end = block.len();
        let always = jumps.is_empty();
        for j in jumps {
            block[j].off = (end - j - 1) as i16;
        }
        p.extend(block);
        if always {
            // A rule that matches everything ends the program: the verifier refuses
            // code that cannot be reached.
            return p;
        }
    }
    p.push(insn(MOV_K, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The part of `union bpf_attr` that BPF_PROG_LOAD reads.
#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

/// The part of `union bpf_attr` that BPF_PROG_ATTACH reads.
#[repr(C)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

fn bpf<T>(cmd: libc::c_int, attr: &T) -> std::io::Result<libc::c_long> {
    // SAFETY: bpf(2) reads `size_of::<T>()` bytes of `attr`, a #[repr(C)] prefix of
    // union bpf_attr that lives across the call (the kernel zero-fills the rest).
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *const T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Loads the program for `rules` and attaches it to the v2 cgroup `dir`. The kernel
/// keeps it as long as the cgroup lives; a program a parent holds still applies too
/// (BPF_F_ALLOW_MULTI: every one must allow).
pub fn apply_v2(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), Error> {
    let insns = program(rules);
    let load = |log: &mut [u8]| {
        let attr = ProgLoad {
            prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
            insn_cnt: insns.len() as u32,
            insns: insns.as_ptr() as u64,
            license: c"Apache-2.0".as_ptr() as u64,
            log_level: u32::from(!log.is_empty()),
            log_size: log.len() as u32,
            log_buf: if log.is_empty() {
                0
            } else {
                log.as_mut_ptr() as u64
            },
            ..ProgLoad::default()
        };
        bpf(BPF_PROG_LOAD, &attr)
    };
    // Without a log (it costs); on failure once more with one, for the message.
    let prog = load(&mut []).map_err(|e| {
        let mut log = vec![0u8; 1 << 16];
        let _ = load(&mut log);
        let end = log.iter().position(|b| *b == 0).unwrap_or(0);
        let why = String::from_utf8_lossy(&log[..end]);
        let last = why.trim().lines().last().unwrap_or("").to_string();
        Error::Io(format!("loading the device filter (verifier: {last})"), e)
    })?;
    // SAFETY: BPF_PROG_LOAD returned a new fd that nothing else owns.
    let prog = unsafe { OwnedFd::from_raw_fd(prog as i32) };
    let cg = std::fs::File::open(dir).map_err(|e| Error::io(dir, e))?;
    let attach = ProgAttach {
        target_fd: cg.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &attach).map_err(|e| {
        Error::Io(
            format!("attaching the device filter to {}", dir.display()),
            e,
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program on one access as the kernel would (the few opcodes it emits).
    fn eval(p: &[Insn], typ: u32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [(access << 16) | typ, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => r[dst] = ctx[i.off as usize / 4] as u64,
                AND_K => r[dst] &= i.imm as u64,
                RSH_K => r[dst] >>= i.imm,
                MOV_X => r[dst] = r[src],
                MOV_K => r[dst] = i.imm as u64,
                JNE_K => {
                    if r[dst] != i.imm as u64 {
                        pc += i.off as usize
                    }
                }
                JNE_X => {
                    if r[dst] != r[src] {
                        pc += i.off as usize
                    }
                }
                EXIT => return r[0],
                c => panic!("opcode {c:#x}"),
            }
        }
    }

    const CHAR: u32 = 2;
    const BLOCK: u32 = 1;
    const M: u32 = 1;
    const R: u32 = 2;
    const W: u32 = 4;

    #[test]
    fn dockers_default_allows_its_list_and_mknod_only() {
        let p = program(&docker_default());
        assert_eq!(eval(&p, CHAR, R | W, 1, 3), 1, "null");
        assert_eq!(eval(&p, CHAR, R, 1, 9), 1, "urandom");
        assert_eq!(eval(&p, CHAR, R | W, 136, 7), 1, "a pts");
        assert_eq!(eval(&p, CHAR, R | W, 10, 229), 1, "fuse");
        assert_eq!(eval(&p, CHAR, W, 1, 11), 0, "kmsg");
        assert_eq!(eval(&p, CHAR, R, 4, 0), 0, "tty0");
        assert_eq!(eval(&p, CHAR, R, 10, 183), 0, "hwrng");
        assert_eq!(eval(&p, BLOCK, R, 8, 0), 0, "sda");
        assert_eq!(eval(&p, BLOCK, M, 8, 0), 1, "mknod sda");
        assert_eq!(eval(&p, CHAR, M, 1, 11), 1, "mknod kmsg");
        assert_eq!(eval(&p, CHAR, M | R, 1, 11), 0, "mknod and read kmsg");
    }

    #[test]
    fn privileged_and_added_devices() {
        let p = program(&allow_all());
        assert_eq!(eval(&p, BLOCK, R | W, 8, 0), 1);
        let mut rules = docker_default();
        rules.push(allow_node(true, 10, 200, "rw"));
        let p = program(&rules);
        assert_eq!(eval(&p, CHAR, R | W, 10, 200), 1);
        assert_eq!(
            eval(&p, CHAR, M, 10, 200),
            1,
            "mknod still from the default rule"
        );
        assert_eq!(eval(&p, CHAR, R, 10, 201), 0);
    }

    #[test]
    fn v1_lines_are_the_kernels_syntax() {
        let lines: Vec<String> = docker_default().iter().map(v1_line).collect();
        assert_eq!(lines[0], "a *:* rwm");
        assert_eq!(lines[1], "c *:* m");
        assert_eq!(lines[3], "c 1:3 rwm");
        assert!(lines.contains(&"c 136:* rwm".to_string()));
    }
}
