//! The built-in demo: assembles a small x86-64 program with iced-x86, runs it
//! on the emulated CPU, and explains what happened.

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result};
use emu_core::{Cpu, CpuConfig, Exception, Exit, Gpr, Prot, RunLimit, TraceRecord, Tracer};
use iced_x86::code_asm::*;

const CODE: u64 = 0x40_0000;
const DATA: u64 = 0x60_0000;
const STACK_TOP: u64 = 0x7fff_f000;

/// A tracer that keeps the first `limit` records as text.
struct FirstLines {
    lines: std::rc::Rc<std::cell::RefCell<Vec<String>>>,
    limit: usize,
}

impl Tracer for FirstLines {
    fn instruction(&mut self, record: &TraceRecord) {
        let mut lines = self.lines.borrow_mut();
        if lines.len() < self.limit {
            lines.push(record.to_string());
        }
    }
}

/// The demo program: an xorshift64 mixing loop over `rdi` iterations that
/// stores its state to memory, then a division by zero to show a precise fault.
fn program() -> Result<Vec<u8>> {
    let mut a = CodeAssembler::new(64)?;
    let mut top = a.create_label();
    a.mov(rax, 0x9e37_79b9_7f4a_7c15u64)?;
    a.mov(rbx, DATA)?;
    a.set_label(&mut top)?;
    a.mov(rdx, rax)?;
    a.shl(rdx, 13)?;
    a.xor(rax, rdx)?;
    a.mov(rdx, rax)?;
    a.shr(rdx, 7)?;
    a.xor(rax, rdx)?;
    a.mov(rdx, rax)?;
    a.shl(rdx, 17)?;
    a.xor(rax, rdx)?;
    a.mov(qword_ptr(rbx), rax)?;
    a.dec(rdi)?;
    a.jnz(top)?;
    a.xor(ecx, ecx)?;
    a.div(rcx)?; // #DE: the run stops here, precisely
    Ok(a.assemble(CODE)?)
}

/// The demo loop computed by the host, as the reference for the guest's result.
fn xorshift_on_host(iterations: u64) -> u64 {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..iterations.max(1) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

fn machine(code: &[u8], iterations: u64) -> Result<Cpu> {
    let mut cpu = Cpu::new(CpuConfig::default())?;
    cpu.map(CODE, 0x1000, Prot::RX)?;
    cpu.map(DATA, 0x1000, Prot::RW)?;
    cpu.map(STACK_TOP - 0x10000, 0x10000, Prot::RW)?;
    cpu.write_virt(CODE, code)?;
    cpu.set_rip(CODE);
    cpu.set_gpr(Gpr::Rsp, STACK_TOP);
    cpu.set_gpr(Gpr::Rdi, iterations);
    Ok(cpu)
}

/// Runs the demo, writing its report to `out`.
pub fn run(iterations: u64, out: &mut impl Write) -> Result<()> {
    let code = program().context("assembling the demo program")?;
    writeln!(out, "lockstep demo: a deterministic x86-64 CPU in Rust\n")?;
    writeln!(
        out,
        "1. Trace of the first instructions (address, bytes, disassembly, registers written):"
    )?;
    let lines = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let mut cpu = machine(&code, 2)?;
    cpu.set_tracer(Some(Box::new(FirstLines {
        lines: lines.clone(),
        limit: 14,
    })));
    cpu.run(RunLimit {
        max_instructions: 14,
        stop_at: None,
    });
    for line in lines.borrow().iter() {
        writeln!(out, "   {line}")?;
    }

    writeln!(out, "\n2. The full run: {iterations} iterations of an xorshift64 loop, then `div rcx` with rcx = 0.")?;
    let mut cpu = machine(&code, iterations)?;
    let started = Instant::now();
    let exit = cpu.run(RunLimit::default());
    let secs = started.elapsed().as_secs_f64();
    let retired = cpu.instructions_retired();
    let mut state = [0u8; 8];
    cpu.read_virt(DATA, &mut state)?;
    match exit {
        Exit::Exception(Exception::DivideError) => writeln!(
            out,
            "   stopped with #DE at rip {:#x} (the div itself, which did not retire)",
            cpu.rip()
        )?,
        other => writeln!(out, "   unexpected exit: {other:?}")?,
    }
    let guest_state = u64::from_le_bytes(state);
    let host_state = xorshift_on_host(iterations);
    writeln!(
        out,
        "   final xorshift state in guest memory: {guest_state:#018x} ({} the same loop run natively in Rust)",
        if guest_state == host_state { "equals" } else { "DIFFERS FROM" }
    )?;
    writeln!(out, "   instructions retired: {retired} (= 2 + 12 x iterations + 1: the same on every run and machine)")?;
    writeln!(out, "   virtual TSC: {}", cpu.tsc())?;
    writeln!(
        out,
        "   host time: {:.3} s, {:.0} million guest instructions per second (this one varies)",
        secs,
        retired as f64 / secs.max(1e-9) / 1e6
    )?;
    writeln!(out, "\nNext: `cargo run --release -p emu-core --example difftest -- --cases 100000` checks the CPU against the host.")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_counts_are_deterministic_and_explained() {
        let mut first = Vec::new();
        run(1000, &mut first).unwrap();
        let text = String::from_utf8(first).unwrap();
        assert!(text.contains("instructions retired: 12003 "), "{text}");
        assert!(text.contains("equals the same loop run natively"), "{text}");
        assert!(text.contains("stopped with #DE"), "{text}");
        assert!(text.contains("mov rax,9E3779B97F4A7C15h"), "{text}");
    }
}
