//! The runtime spec's `linux.seccomp` compiled to a classic BPF program for
//! `seccomp(SECCOMP_SET_MODE_FILTER)`: the architecture checked first, then the syscall
//! number found by a binary search over the numbers that have rules, then each rule's
//! argument conditions (64-bit values compared as two 32-bit words).

use std::collections::BTreeMap;
use std::str::FromStr;

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompOperator};

use crate::sandbox::StepError;

/// A compiled filter, ready to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub(super) insns: Vec<libc::sock_filter>,
}

impl Program {
    /// The number of instructions.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// Runs the filter on a syscall as the kernel would (for tests): the action's value.
    pub fn eval(&self, arch: u32, nr: i32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_ne_bytes());
        data[4..8].copy_from_slice(&arch.to_ne_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
        }
        let word = |k: u32| {
            let k = k as usize;
            u32::from_ne_bytes([data[k], data[k + 1], data[k + 2], data[k + 3]])
        };
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let i = self.insns[pc];
            pc += 1;
            match i.code {
                LD_W_ABS => a = word(i.k),
                ALU_AND_K => a &= i.k,
                RET_K => return i.k,
                JA => pc += i.k as usize,
                JEQ_K | JGE_K | JGT_K => {
                    let taken = match i.code {
                        JEQ_K => a == i.k,
                        JGE_K => a >= i.k,
                        _ => a > i.k,
                    };
                    pc += if taken { i.jt } else { i.jf } as usize;
                }
                other => panic!("instruction {other:#x} is not one this compiler emits"),
            }
        }
    }
}

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const ALU_AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
const JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const JGT_K: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;

/// struct seccomp_data: nr at 0, arch at 4, args from 16.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
fn off_arg(index: usize, high: bool) -> u32 {
    // Little-endian: the low word first.
    16 + 8 * index as u32
        + if high == cfg!(target_endian = "little") {
            4
        } else {
            0
        }
}

/// The native architecture's audit number and the x32 bit to refuse on x86_64.
#[cfg(target_arch = "x86_64")]
const NATIVE: (u32, Option<u32>) = (0xc000_003e, Some(0x4000_0000));
#[cfg(target_arch = "aarch64")]
const NATIVE: (u32, Option<u32>) = (0xc000_00b7, None);
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("seccomp: add this architecture's AUDIT_ARCH value");

/// The native architecture's audit number (`AUDIT_ARCH_X86_64`...).
pub fn native_arch() -> u32 {
    NATIVE.0
}

type Label = usize;

/// Where a jump goes: a fixed number of instructions ahead, or a label.
#[derive(Clone, Copy)]
enum To {
    Next(u8),
    L(Label),
}

enum Op {
    Stmt(u16, u32),
    Jump(u16, u32, To, To),
    Ja(Label),
    Mark(Label),
}

#[derive(Default)]
struct Asm {
    ops: Vec<Op>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> Label {
        self.labels += 1;
        self.labels - 1
    }
    fn stmt(&mut self, code: u16, k: u32) {
        self.ops.push(Op::Stmt(code, k));
    }
    fn jump(&mut self, code: u16, k: u32, jt: To, jf: To) {
        self.ops.push(Op::Jump(code, k, jt, jf));
    }
    fn ja(&mut self, l: Label) {
        self.ops.push(Op::Ja(l));
    }
    fn mark(&mut self, l: Label) {
        self.ops.push(Op::Mark(l));
    }

    fn finish(self) -> Result<Vec<libc::sock_filter>, StepError> {
        let mut at = vec![usize::MAX; self.labels];
        let mut n = 0;
        for op in &self.ops {
            match op {
                Op::Mark(l) => at[*l] = n,
                _ => n += 1,
            }
        }
        if n > libc::BPF_MAXINSNS as usize {
            return Err(StepError::msg(format!(
                "the seccomp filter needs {n} instructions, more than the kernel's {}",
                libc::BPF_MAXINSNS
            )));
        }
        let mut out = Vec::with_capacity(n);
        for op in self.ops {
            let pc = out.len();
            let rel = |to: To| -> Result<u8, StepError> {
                match to {
                    To::Next(k) => Ok(k),
                    To::L(l) => u8::try_from(at[l] - pc - 1)
                        .map_err(|_| StepError::msg("a seccomp rule is too long to compile")),
                }
            };
            let insn = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
            match op {
                Op::Mark(_) => continue,
                Op::Stmt(code, k) => out.push(insn(code, 0, 0, k)),
                Op::Jump(code, k, jt, jf) => out.push(insn(code, rel(jt)?, rel(jf)?, k)),
                Op::Ja(l) => out.push(insn(JA, 0, 0, (at[l] - pc - 1) as u32)),
            }
        }
        Ok(out)
    }
}

/// The action's return value for the filter.
fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<u32, StepError> {
    match a {
        LinuxSeccompAction::ScmpActNotify => Err(StepError::msg(
            "the seccomp action SCMP_ACT_NOTIFY is not supported",
        )),
        LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace => {
            Ok(a.as_u32(Some(errno.unwrap_or(libc::EPERM as u32) & 0xffff)))
        }
        other => Ok(other.as_u32(None)),
    }
}

/// One rule of one syscall: its conditions and what it returns.
struct Rule<'a> {
    args: &'a [LinuxSeccompArg],
    ret: u32,
}

/// Compiles `seccomp` for the native architecture. Syscall names this architecture does
/// not have are skipped (as runc does with profiles written for many).
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Program, StepError> {
    let default = action(seccomp.default_action(), seccomp.default_errno_ret())?;
    let mut by_nr: BTreeMap<u32, Vec<Rule>> = BTreeMap::new();
    for s in seccomp.syscalls().iter().flatten() {
        let ret = action(s.action(), s.errno_ret())?;
        let args = s.args().as_deref().unwrap_or_default();
        if let Some(a) = args.iter().find(|a| a.index() > 5) {
            return Err(StepError::msg(format!(
                "seccomp: argument index {} is out of range",
                a.index()
            )));
        }
        for name in s.names() {
            let Ok(nr) = syscalls::Sysno::from_str(name) else {
                continue;
            };
            by_nr
                .entry(nr.id() as u32)
                .or_default()
                .push(Rule { args, ret });
        }
    }

    let mut asm = Asm::default();
    let l_default = asm.label();
    // Another architecture (a 32-bit binary) or the x32 ABI: the default action.
    asm.stmt(LD_W_ABS, OFF_ARCH);
    asm.jump(JEQ_K, NATIVE.0, To::Next(1), To::Next(0));
    asm.stmt(RET_K, default);
    asm.stmt(LD_W_ABS, OFF_NR);
    if let Some(bit) = NATIVE.1 {
        asm.jump(JGE_K, bit, To::Next(0), To::Next(1));
        asm.stmt(RET_K, default);
    }
    // Syscalls whose one rule has no condition share one `ret` per action.
    let mut shared: BTreeMap<u32, Label> = BTreeMap::new();
    let mut blocks: Vec<(Label, &Vec<Rule>)> = Vec::new();
    let targets: Vec<(u32, Label)> = by_nr
        .iter()
        .map(|(nr, rules)| {
            let l = match rules.as_slice() {
                [r] if r.args.is_empty() => *shared.entry(r.ret).or_insert_with(|| asm.label()),
                _ => {
                    let l = asm.label();
                    blocks.push((l, rules));
                    l
                }
            };
            (*nr, l)
        })
        .collect();
    search(&mut asm, &targets, l_default);
    for (l, rules) in blocks {
        asm.mark(l);
        for r in rules {
            let next = asm.label();
            for a in r.args {
                condition(&mut asm, a, next);
            }
            asm.stmt(RET_K, r.ret);
            asm.mark(next);
        }
        asm.ja(l_default);
    }
    for (ret, l) in shared {
        asm.mark(l);
        asm.stmt(RET_K, ret);
    }
    asm.mark(l_default);
    asm.stmt(RET_K, default);
    Ok(Program {
        insns: asm.finish()?,
    })
}

/// A binary search for the syscall number (in the accumulator) over `targets`, sorted.
fn search(asm: &mut Asm, targets: &[(u32, Label)], miss: Label) {
    if targets.len() <= 4 {
        for (nr, l) in targets {
            asm.jump(JEQ_K, *nr, To::Next(0), To::Next(1));
            asm.ja(*l);
        }
        asm.ja(miss);
        return;
    }
    let mid = targets.len() / 2;
    let right = asm.label();
    asm.jump(JGE_K, targets[mid].0, To::Next(0), To::Next(1));
    asm.ja(right);
    search(asm, &targets[..mid], miss);
    asm.mark(right);
    search(asm, &targets[mid..], miss);
}

/// Falls through when argument condition `a` holds, jumps to `fail` otherwise.
fn condition(asm: &mut Asm, a: &LinuxSeccompArg, fail: Label) {
    use LinuxSeccompOperator::*;
    let (i, v) = (a.index(), a.value());
    let (hi, lo) = ((v >> 32) as u32, v as u32);
    let pass = asm.label();
    let (f, p) = (To::L(fail), To::L(pass));
    let load_hi = |asm: &mut Asm| asm.stmt(LD_W_ABS, off_arg(i, true));
    let load_lo = |asm: &mut Asm| asm.stmt(LD_W_ABS, off_arg(i, false));
    match a.op() {
        ScmpCmpEq => {
            load_hi(asm);
            asm.jump(JEQ_K, hi, To::Next(0), f);
            load_lo(asm);
            asm.jump(JEQ_K, lo, To::Next(0), f);
        }
        ScmpCmpNe => {
            load_hi(asm);
            asm.jump(JEQ_K, hi, To::Next(0), p);
            load_lo(asm);
            asm.jump(JEQ_K, lo, f, To::Next(0));
        }
        ScmpCmpMaskedEq => {
            let want = a.value_two().unwrap_or(0);
            load_hi(asm);
            asm.stmt(ALU_AND_K, hi);
            asm.jump(JEQ_K, (want >> 32) as u32, To::Next(0), f);
            load_lo(asm);
            asm.stmt(ALU_AND_K, lo);
            asm.jump(JEQ_K, want as u32, To::Next(0), f);
        }
        ScmpCmpGt | ScmpCmpGe => {
            load_hi(asm);
            asm.jump(JGT_K, hi, p, To::Next(0));
            asm.jump(JEQ_K, hi, To::Next(0), f);
            load_lo(asm);
            let code = if a.op() == ScmpCmpGt { JGT_K } else { JGE_K };
            asm.jump(code, lo, To::Next(0), f);
        }
        ScmpCmpLt | ScmpCmpLe => {
            load_hi(asm);
            asm.jump(JGE_K, hi, To::Next(0), p);
            asm.jump(JEQ_K, hi, To::Next(0), f);
            load_lo(asm);
            // lo < v: fail when lo >= v; lo <= v: fail when lo > v.
            let code = if a.op() == ScmpCmpLt { JGE_K } else { JGT_K };
            asm.jump(code, lo, f, To::Next(0));
        }
    }
    asm.mark(pass);
}
