//! Quick throughput check of the interpreter on a tight integer loop.
//! `cargo run --release -p emu-core --example quickperf`
use emu_core::{Cpu, CpuConfig, Gpr, Prot, RunLimit};
use std::time::Instant;

fn main() {
    // loop: add rax, rbx; xor rbx, rax; mov [rdi], rax; lea rdx,[rax+rbx*2+8]; cmp rdx, rsi; dec rcx; jnz loop; int3
    let code = [
        0x48, 0x01, 0xd8, 0x48, 0x31, 0xc3, 0x48, 0x89, 0x07, 0x48, 0x8d, 0x54, 0x58, 0x08, 0x48,
        0x39, 0xf2, 0x48, 0xff, 0xc9, 0x75, 0xea, 0xcc,
    ];
    let mut cpu = Cpu::new(CpuConfig::default()).unwrap();
    cpu.map(0x40_0000, 0x1000, Prot::RX).unwrap();
    cpu.map(0x60_0000, 0x1000, Prot::RW).unwrap();
    cpu.write_virt(0x40_0000, &code).unwrap();
    cpu.set_rip(0x40_0000);
    cpu.set_gpr(Gpr::Rdi, 0x60_0000);
    cpu.set_gpr(Gpr::Rcx, 30_000_000);
    cpu.set_gpr(Gpr::Rbx, 3);
    let t = Instant::now();
    let exit = cpu.run(RunLimit::default());
    let s = t.elapsed().as_secs_f64();
    let n = cpu.instructions_retired();
    println!(
        "{exit:?}: {n} instructions in {s:.3} s = {:.1} MIPS",
        n as f64 / s / 1e6
    );
}
