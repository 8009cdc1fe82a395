//! The guest kernel image `lockstep run` boots.
//!
//! TEMPORARY: until emu-core's `guest_images::KERNEL` lands on main, this is
//! a stand-in assembled here: it prints a banner on COM1 (the kernel log) and
//! exits with status 0 through the exit port, like the first guest kernel.

use std::sync::OnceLock;

use emu_abi::layout::{KERNEL_PHYS_BASE, KERNEL_VIRT_BASE};
use emu_abi::ports::{DebugExit, COM1, DEBUG_EXIT};
use iced_x86::code_asm::*;

/// The stand-in's banner.
const BANNER: &[u8] = b"lockstep stand-in kernel: boots, prints this banner, exits 0\n";

/// The kernel ELF image.
pub fn image() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(stand_in)
}

fn code() -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(64)?;
    a.mov(dx, u32::from(COM1.0))?;
    for &b in BANNER {
        a.mov(al, u32::from(b))?;
        a.out(dx, al)?;
    }
    a.mov(dx, u32::from(DEBUG_EXIT.0))?;
    a.mov(eax, DebugExit::Exited(0).encode())?;
    a.out(dx, eax)?;
    a.hlt()?;
    a.assemble(KERNEL_VIRT_BASE)
}

/// An ELF64 ET_EXEC with one PT_LOAD at the kernel's addresses.
fn stand_in() -> Vec<u8> {
    const HEADERS: u64 = 64 + 56;
    let code = code().unwrap_or_else(|_| vec![0xf4]);
    let entry = KERNEL_VIRT_BASE;
    let mut e = vec![0u8; HEADERS as usize];
    e[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
    e[16..18].copy_from_slice(&2u16.to_le_bytes());
    e[18..20].copy_from_slice(&62u16.to_le_bytes());
    e[20..24].copy_from_slice(&1u32.to_le_bytes());
    e[24..32].copy_from_slice(&entry.to_le_bytes());
    e[32..40].copy_from_slice(&64u64.to_le_bytes());
    e[52..54].copy_from_slice(&64u16.to_le_bytes());
    e[54..56].copy_from_slice(&56u16.to_le_bytes());
    e[56..58].copy_from_slice(&1u16.to_le_bytes());
    let ph = &mut e[64..120];
    ph[0..4].copy_from_slice(&1u32.to_le_bytes());
    ph[4..8].copy_from_slice(&5u32.to_le_bytes());
    ph[8..16].copy_from_slice(&HEADERS.to_le_bytes());
    ph[16..24].copy_from_slice(&KERNEL_VIRT_BASE.to_le_bytes());
    ph[24..32].copy_from_slice(&KERNEL_PHYS_BASE.to_le_bytes());
    let len = code.len() as u64;
    ph[32..40].copy_from_slice(&len.to_le_bytes());
    ph[40..48].copy_from_slice(&len.to_le_bytes());
    e.extend_from_slice(&code);
    e
}
