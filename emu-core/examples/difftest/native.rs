//! Runs a difftest case on the host CPU, sandboxed in a forked child process.
//!
//! Layout (all `MAP_SHARED`, mapped once in the parent before forking so both see the same
//! bytes at the same fixed addresses): the code page at [`CODE_BASE`] (RWX), the state block at
//! [`STATE_BASE`] and the data pages at [`DATA_BASE`] (the child makes [`DATA_RO`] read-only and
//! never maps [`DATA_UNMAPPED`]).
//!
//! The code page holds an entry stub (saves the harness's callee-saved registers, RSP, x87/SSE
//! image and FS/GS bases; `fxrstor64`s the case's image, sets FS/GS bases, loads RFLAGS with
//! `popfq` from a scratch stack, loads the 16 GPRs with RSP last and jumps to [`SNIPPET`]), the
//! snippet, an epilogue right after it (stores the GPRs with absolute disp32 addressing, saves
//! RFLAGS with `pushfq` on the scratch stack, `fxsave64`s, and jumps to the exit stub), and the
//! exit stub (restores the harness and returns). Faults are caught by an `SA_SIGINFO` handler
//! on an alternate stack that records the signal, trap number, error code, CR2, the registers and
//! the FPU image from the ucontext, then points the ucontext's RIP at the exit stub: no longjmp.
//!
//! The parent talks to the child through two pipes (one byte each way per case); a child that
//! dies or hangs is killed and restarted, and the case reports [`Fault::Other`].
#![allow(unsafe_code)] // mmap/fork/signals and jumping into generated machine code.

use std::io;
use std::mem::offset_of;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use iced_x86::code_asm::*;
use iced_x86::IcedError;

use crate::state::{
    CpuState, Fault, Outcome, RunResult, CODE_BASE, DATA_BASE, DATA_LEN, DATA_RO, PAGE, SNIPPET,
    STATE_BASE,
};

/// Offset of the exit stub in the code page.
const EXIT_OFF: u64 = 0x400;
/// Top of the scratch stack (inside the state page) used for pushfq/popfq.
const SCRATCH_TOP: u64 = STATE_BASE + PAGE - 64;
/// How long a case may run natively before the child is declared hung.
const TIMEOUT_MS: i32 = 2000;

/// A 512-byte, 16-byte aligned FXSAVE area.
#[repr(C, align(16))]
struct FxArea([u8; 512]);

/// The state block shared between parent and child at [`STATE_BASE`].
#[repr(C, align(64))]
struct Shared {
    in_gpr: [u64; 16],
    in_rflags: u64,
    in_fs: u64,
    in_gs: u64,
    exit_addr: u64,
    out_gpr: [u64; 16],
    out_rflags: u64,
    saved_rsp: u64,
    saved_fs: u64,
    saved_gs: u64,
    running: u64,
    faulted: u64,
    signo: u64,
    si_code: u64,
    cr2: u64,
    trapno: u64,
    err: u64,
    f_rip: u64,
    f_rflags: u64,
    f_gpr: [u64; 16],
    in_fx: FxArea,
    out_fx: FxArea,
    harness_fx: FxArea,
    fault_fx: FxArea,
}

const _: () = assert!(std::mem::size_of::<Shared>() as u64 + 0x200 <= PAGE);

fn abs(field: usize) -> u64 {
    STATE_BASE + field as u64
}

/// Whether the kernel lets user space use rd/wr{fs,gs}base (HWCAP2_FSGSBASE).
pub fn has_fsgsbase() -> bool {
    // SAFETY: getauxval only reads the auxiliary vector.
    let hw2 = unsafe { libc::getauxval(libc::AT_HWCAP2) };
    hw2 & 2 != 0
}

/// Assembles the entry stub (at [`CODE_BASE`]) and the exit stub (at `CODE_BASE + EXIT_OFF`).
fn stubs(fsgs: bool) -> Result<(Vec<u8>, Vec<u8>), IcedError> {
    let mut a = CodeAssembler::new(64)?;
    for r in [rbp, rbx, r12, r13, r14, r15] {
        a.push(r)?;
    }
    a.mov(qword_ptr(abs(offset_of!(Shared, saved_rsp))), rsp)?;
    a.fxsave64(ptr(abs(offset_of!(Shared, harness_fx))))?;
    if fsgs {
        a.rdfsbase(rax)?;
        a.mov(qword_ptr(abs(offset_of!(Shared, saved_fs))), rax)?;
        a.rdgsbase(rax)?;
        a.mov(qword_ptr(abs(offset_of!(Shared, saved_gs))), rax)?;
        a.mov(rax, qword_ptr(abs(offset_of!(Shared, in_fs))))?;
        a.wrfsbase(rax)?;
        a.mov(rax, qword_ptr(abs(offset_of!(Shared, in_gs))))?;
        a.wrgsbase(rax)?;
    }
    a.fxrstor64(ptr(abs(offset_of!(Shared, in_fx))))?;
    a.mov(rsp, SCRATCH_TOP as i64)?;
    a.push(qword_ptr(abs(offset_of!(Shared, in_rflags))))?;
    a.popfq()?;
    let regs = [
        rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15,
    ];
    for (i, r) in regs.iter().enumerate() {
        if i != 4 {
            a.mov(*r, qword_ptr(abs(offset_of!(Shared, in_gpr) + 8 * i)))?;
        }
    }
    a.mov(rsp, qword_ptr(abs(offset_of!(Shared, in_gpr) + 8 * 4)))?;
    a.jmp(SNIPPET)?;
    let entry = a.assemble(CODE_BASE)?;

    let mut x = CodeAssembler::new(64)?;
    x.mov(rsp, qword_ptr(abs(offset_of!(Shared, saved_rsp))))?;
    x.push(0x202)?;
    x.popfq()?;
    x.fxrstor64(ptr(abs(offset_of!(Shared, harness_fx))))?;
    if fsgs {
        x.mov(rax, qword_ptr(abs(offset_of!(Shared, saved_fs))))?;
        x.wrfsbase(rax)?;
        x.mov(rax, qword_ptr(abs(offset_of!(Shared, saved_gs))))?;
        x.wrgsbase(rax)?;
    }
    for r in [r15, r14, r13, r12, rbx, rbp] {
        x.pop(r)?;
    }
    x.ret()?;
    let exit = x.assemble(CODE_BASE + EXIT_OFF)?;
    Ok((entry, exit))
}

/// Assembles the position-independent epilogue placed right after each snippet.
fn epilogue() -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(64)?;
    let regs = [
        rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15,
    ];
    for (i, r) in regs.iter().enumerate() {
        a.mov(qword_ptr(abs(offset_of!(Shared, out_gpr) + 8 * i)), *r)?;
    }
    a.mov(rsp, SCRATCH_TOP as i64)?;
    a.pushfq()?;
    a.pop(qword_ptr(abs(offset_of!(Shared, out_rflags))))?;
    a.fxsave64(ptr(abs(offset_of!(Shared, out_fx))))?;
    a.jmp(qword_ptr(abs(offset_of!(Shared, exit_addr))))?;
    // Absolute addressing only, so the bytes do not depend on where they are placed.
    a.assemble(0)
}

/// Maps `len` bytes at the fixed address `addr`, shared with the child.
fn map_fixed(addr: u64, len: usize, prot: i32) -> io::Result<()> {
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping; the region is owned by
    // this module for the life of the process.
    let p = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            len,
            prot,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED || p as u64 != addr {
        return Err(io::Error::other(format!(
            "cannot map {addr:#x}: {}",
            io::Error::last_os_error()
        )));
    }
    Ok(())
}

static MAPPED: AtomicBool = AtomicBool::new(false);
/// One runner at a time per process (the regions are at fixed addresses); tests wait here.
static IN_USE: Mutex<()> = Mutex::new(());

fn shared() -> *mut Shared {
    STATE_BASE as *mut Shared
}

/// The native side of the differential tester: a forked child executing cases on the host.
#[derive(Debug)]
pub struct NativeRunner {
    pid: libc::pid_t,
    cmd_w: i32,
    resp_r: i32,
    epilogue: Vec<u8>,
    /// Whether FS/GS bases can be set for a case (else cases must not use fs:/gs:).
    pub fsgsbase: bool,
    _exclusive: MutexGuard<'static, ()>,
}

impl NativeRunner {
    /// Maps the fixed regions (once per process) and starts the child. Only one runner exists
    /// at a time in a process: this waits until any other is dropped.
    pub fn new() -> io::Result<Self> {
        let exclusive = IN_USE.lock().unwrap_or_else(|e| e.into_inner());
        let fsgsbase = has_fsgsbase();
        if !MAPPED.swap(true, Ordering::SeqCst) {
            let rwx = libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC;
            let rw = libc::PROT_READ | libc::PROT_WRITE;
            map_fixed(CODE_BASE, PAGE as usize, rwx)?;
            map_fixed(STATE_BASE, PAGE as usize, rw)?;
            map_fixed(DATA_BASE, DATA_LEN, rw)?;
        }
        let (entry, exit) = stubs(fsgsbase).map_err(io::Error::other)?;
        let epilogue = epilogue().map_err(io::Error::other)?;
        // SAFETY: the code page is mapped RWX above and owned by this module; the stubs fit
        // in their slots (entry < EXIT_OFF, exit < SNIPPET - EXIT_OFF).
        unsafe {
            assert!(entry.len() < EXIT_OFF as usize && exit.len() < 0x400);
            std::ptr::copy_nonoverlapping(entry.as_ptr(), CODE_BASE as *mut u8, entry.len());
            std::ptr::copy_nonoverlapping(
                exit.as_ptr(),
                (CODE_BASE + EXIT_OFF) as *mut u8,
                exit.len(),
            );
            (*shared()).exit_addr = CODE_BASE + EXIT_OFF;
        }
        let mut r = Self {
            pid: 0,
            cmd_w: -1,
            resp_r: -1,
            epilogue,
            fsgsbase,
            _exclusive: exclusive,
        };
        r.spawn()?;
        Ok(r)
    }

    fn spawn(&mut self) -> io::Result<()> {
        let mut cmd = [0i32; 2];
        let mut resp = [0i32; 2];
        // SAFETY: pipe writes two fds into the arrays.
        if unsafe { libc::pipe2(cmd.as_mut_ptr(), libc::O_CLOEXEC) } != 0
            // SAFETY: as above.
            || unsafe { libc::pipe2(resp.as_mut_ptr(), libc::O_CLOEXEC) } != 0
        {
            return Err(io::Error::last_os_error());
        }
        // Allocated before fork: the child must not allocate (another thread may hold the
        // allocator lock at fork time).
        let altstack = vec![0u8; 64 * 1024].leak();
        // SAFETY: fork; the child only runs `child_main`, which makes raw syscalls and never
        // returns.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            child_main(cmd[0], resp[1], altstack);
        }
        // SAFETY: closing the child's ends of the pipes in the parent.
        unsafe {
            libc::close(cmd[0]);
            libc::close(resp[1]);
        }
        self.pid = pid;
        self.cmd_w = cmd[1];
        self.resp_r = resp[0];
        Ok(())
    }

    fn kill_child(&mut self) {
        if self.pid > 0 {
            // SAFETY: signalling and reaping our own child by pid; closing our fds.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
                libc::close(self.cmd_w);
                libc::close(self.resp_r);
            }
            self.pid = 0;
        }
    }

    /// Runs `code` at [`SNIPPET`] from `init` with the data pages holding `mem`.
    pub fn run(&mut self, code: &[u8], init: &CpuState, mem: &[u8]) -> RunResult {
        let end = SNIPPET + code.len() as u64;
        let sh = shared();
        // SAFETY: the code, state and data regions are mapped for the life of the process and
        // the child is blocked in read() while the parent writes them.
        unsafe {
            let dst = SNIPPET as *mut u8;
            std::ptr::copy_nonoverlapping(code.as_ptr(), dst, code.len());
            std::ptr::copy_nonoverlapping(
                self.epilogue.as_ptr(),
                dst.add(code.len()),
                self.epilogue.len(),
            );
            std::ptr::copy_nonoverlapping(
                mem.as_ptr(),
                DATA_BASE as *mut u8,
                DATA_LEN.min(mem.len()),
            );
            (*sh).in_gpr = init.gpr;
            (*sh).in_rflags = init.rflags;
            (*sh).in_fs = init.fs_base;
            (*sh).in_gs = init.gs_base;
            (*sh).in_fx.0 = init.fx;
            (*sh).faulted = 0;
        }
        let outcome = self.round_trip().err();
        let mut state = init.clone();
        let mut out_mem = vec![0u8; DATA_LEN];
        // SAFETY: as above; the child is blocked again (or dead).
        let outcome = unsafe {
            std::ptr::copy_nonoverlapping(DATA_BASE as *const u8, out_mem.as_mut_ptr(), DATA_LEN);
            if let Some(msg) = outcome {
                Outcome::Fault(Fault::Other(msg))
            } else if (*sh).faulted != 0 {
                state.gpr = (*sh).f_gpr;
                state.rip = (*sh).f_rip;
                state.rflags = (*sh).f_rflags;
                state.fx = (*sh).fault_fx.0;
                Outcome::Fault(map_fault(&*sh))
            } else {
                state.gpr = (*sh).out_gpr;
                state.rip = end;
                state.rflags = (*sh).out_rflags;
                state.fx = (*sh).out_fx.0;
                Outcome::Completed
            }
        };
        RunResult {
            outcome,
            state,
            mem: out_mem,
        }
    }

    /// Tells the child to run the prepared case and waits for it.
    fn round_trip(&mut self) -> Result<(), String> {
        let one = [1u8];
        // SAFETY: writing one byte from a valid buffer to our pipe.
        let w = unsafe { libc::write(self.cmd_w, one.as_ptr().cast(), 1) };
        let res = if w != 1 {
            Err("native child gone (write)".to_string())
        } else {
            let mut pfd = libc::pollfd {
                fd: self.resp_r,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: polling one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, TIMEOUT_MS) };
            if n == 0 {
                Err("native timeout".to_string())
            } else {
                let mut b = [0u8];
                // SAFETY: reading one byte into a valid buffer.
                let r = unsafe { libc::read(self.resp_r, b.as_mut_ptr().cast(), 1) };
                if r == 1 {
                    Ok(())
                } else {
                    Err("native child died".to_string())
                }
            }
        };
        if res.is_err() {
            self.kill_child();
            if let Err(e) = self.spawn() {
                return Err(format!(
                    "{}; respawn failed: {e}",
                    res.err().unwrap_or_default()
                ));
            }
        }
        res
    }
}

impl Drop for NativeRunner {
    fn drop(&mut self) {
        self.kill_child();
    }
}

/// Maps the recorded trap to a normalized fault (Linux: arch/x86/kernel/traps.c, fault.c).
fn map_fault(sh: &Shared) -> Fault {
    let err = sh.err as u32;
    match sh.trapno {
        0 => Fault::DivideError,
        1 => Fault::Debug,
        3 => Fault::Breakpoint,
        6 => Fault::InvalidOpcode,
        7 => Fault::DeviceNotAvailable,
        12 => Fault::StackFault(err),
        13 => Fault::GeneralProtection(err),
        14 => Fault::PageFault {
            addr: sh.cr2,
            err: err & 0x1f,
        },
        16 => Fault::X87Float,
        17 => Fault::AlignmentCheck,
        19 => Fault::SimdFloat,
        t => Fault::Other(format!(
            "signal {} code {} trap {t} err {err:#x}",
            sh.signo, sh.si_code
        )),
    }
}

/// The fault handler of the child: records the fault and resumes at the exit stub.
extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let sh = shared();
    // SAFETY: the kernel passes valid siginfo/ucontext pointers to an SA_SIGINFO handler; the
    // state block is mapped. Only plain loads/stores, no TLS, no allocation.
    unsafe {
        if (*sh).running == 0 {
            // A fault in the harness itself: restore the default action and let it kill us.
            libc::signal(sig, libc::SIG_DFL);
            return;
        }
        let uc = ctx.cast::<libc::ucontext_t>();
        let g = &mut (*uc).uc_mcontext.gregs;
        let s = &mut *sh;
        s.faulted = 1;
        s.signo = sig as u64;
        s.si_code = (*info).si_code as u64;
        s.cr2 = g[libc::REG_CR2 as usize] as u64;
        s.trapno = g[libc::REG_TRAPNO as usize] as u64;
        s.err = g[libc::REG_ERR as usize] as u64;
        s.f_rip = g[libc::REG_RIP as usize] as u64;
        s.f_rflags = g[libc::REG_EFL as usize] as u64;
        let order = [
            libc::REG_RAX,
            libc::REG_RCX,
            libc::REG_RDX,
            libc::REG_RBX,
            libc::REG_RSP,
            libc::REG_RBP,
            libc::REG_RSI,
            libc::REG_RDI,
            libc::REG_R8,
            libc::REG_R9,
            libc::REG_R10,
            libc::REG_R11,
            libc::REG_R12,
            libc::REG_R13,
            libc::REG_R14,
            libc::REG_R15,
        ];
        for (i, r) in order.iter().enumerate() {
            s.f_gpr[i] = g[*r as usize] as u64;
        }
        let fp = (*uc).uc_mcontext.fpregs;
        if !fp.is_null() {
            std::ptr::copy_nonoverlapping(fp.cast::<u8>(), s.fault_fx.0.as_mut_ptr(), 512);
        }
        g[libc::REG_RIP as usize] = s.exit_addr as i64;
        g[libc::REG_EFL as usize] = 0x202;
    }
}

/// The child's main loop: waits for a command byte, runs the case, answers with a byte.
fn child_main(cmd_r: i32, resp_w: i32, altstack: &mut [u8]) -> ! {
    // SAFETY: plain syscalls on our own process; the handler is async-signal-safe; the entry
    // stub follows the sysv64 ABI (it saves and restores callee-saved state, DF, MXCSR/FCW).
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::mprotect(DATA_RO as *mut libc::c_void, PAGE as usize, libc::PROT_READ);
        let alt = libc::stack_t {
            ss_sp: altstack.as_mut_ptr().cast(),
            ss_flags: 0,
            ss_size: altstack.len(),
        };
        libc::sigaltstack(&alt, std::ptr::null_mut());
        for sig in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGFPE,
            libc::SIGILL,
            libc::SIGTRAP,
        ] {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_fault as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
        let entry: extern "sysv64" fn() = std::mem::transmute(CODE_BASE as usize);
        let sh = shared();
        loop {
            let mut b = [0u8];
            if libc::read(cmd_r, b.as_mut_ptr().cast(), 1) != 1 {
                libc::_exit(0);
            }
            // Keep the read-only page's PTE present so writes to it report P=1 like the
            // emulator's always-present mapping.
            std::ptr::read_volatile(DATA_RO as *const u8);
            std::ptr::write_volatile(&mut (*sh).running, 1);
            entry();
            std::ptr::write_volatile(&mut (*sh).running, 0);
            if libc::write(resp_w, b.as_ptr().cast(), 1) != 1 {
                libc::_exit(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{fl, DATA_UNMAPPED};

    fn run(code: &[u8], f: impl FnOnce(&mut CpuState)) -> RunResult {
        let mut r = NativeRunner::new().expect("runner");
        let mut s = CpuState::default();
        f(&mut s);
        r.run(code, &s, &vec![0u8; DATA_LEN])
    }

    #[test]
    fn native_runner_add_sets_result_and_flags_and_faults() {
        // add rax, rbx
        let res = run(&[0x48, 0x01, 0xd8], |s| {
            s.gpr[0] = u64::MAX;
            s.gpr[3] = 1;
        });
        assert_eq!(res.outcome, Outcome::Completed);
        assert_eq!(res.state.gpr[0], 0);
        assert_eq!(res.state.rflags & (fl::CF | fl::ZF), fl::CF | fl::ZF);
        assert_eq!(res.state.rip, SNIPPET + 3);
        drop(res);
        // mov [rax], rbx with rax unmapped -> #PF W|U
        let res = run(&[0x48, 0x89, 0x18], |s| s.gpr[0] = DATA_UNMAPPED + 8);
        assert_eq!(
            res.outcome,
            Outcome::Fault(Fault::PageFault {
                addr: DATA_UNMAPPED + 8,
                err: 6
            })
        );
        assert_eq!(res.state.rip, SNIPPET);
        // div rcx with rcx = 0 -> #DE
        let res = run(&[0x48, 0xf7, 0xf1], |_| {});
        assert_eq!(res.outcome, Outcome::Fault(Fault::DivideError));
        // ud2
        let res = run(&[0x0f, 0x0b], |_| {});
        assert_eq!(res.outcome, Outcome::Fault(Fault::InvalidOpcode));
        // mov [rax], bl into the read-only page -> #PF P|W|U
        let res = run(&[0x88, 0x18], |s| s.gpr[0] = DATA_RO);
        assert_eq!(
            res.outcome,
            Outcome::Fault(Fault::PageFault {
                addr: DATA_RO,
                err: 7
            })
        );
        // std; stosb with rdi in data page
        let res = run(&[0xfd, 0xaa], |s| {
            s.gpr[0] = 0x5a;
            s.gpr[7] = DATA_BASE + 10;
        });
        assert_eq!(res.outcome, Outcome::Completed);
        assert_eq!(res.mem[10], 0x5a);
        assert_eq!(res.state.gpr[7], DATA_BASE + 9);
        assert_ne!(res.state.rflags & fl::DF, 0);
    }
}
