//! The kernel image: a static ELF64 ET_EXEC in the top 2 GiB that loads as it is.

use emu_abi::layout::{KERNEL_PHYS_BASE, KERNEL_VIRT_BASE, KERNEL_VIRT_OFFSET};
use emu_core::guest_images::KERNEL;
use iced_x86::{Code, Decoder, DecoderOptions, Instruction, Mnemonic, OpKind, Register};

use crate::elf::*;

fn kernel() -> Elf<'static> {
    Elf::parse(KERNEL)
}

fn loads(elf: &Elf<'_>) -> Vec<ProgramHeader> {
    elf.phdrs
        .iter()
        .copied()
        .filter(|p| p.p_type == PT_LOAD)
        .collect()
}

#[test]
fn kernel_is_static_x86_64_executable_entered_at_image_base() {
    let elf = kernel();

    assert_eq!(elf.e_type, ET_EXEC);
    assert_eq!(elf.e_machine, EM_X86_64);
    assert_eq!(elf.e_entry, KERNEL_VIRT_BASE);
    for p in &elf.phdrs {
        assert!(
            ![PT_INTERP, PT_DYNAMIC, PT_TLS].contains(&p.p_type),
            "unexpected segment {p:?}"
        );
    }
}

#[test]
fn kernel_segments_sit_in_top_two_gib_at_offset_physical_addresses() {
    let elf = kernel();
    let loads = loads(&elf);

    assert!(!loads.is_empty());
    assert_eq!(
        loads.iter().map(|p| p.p_vaddr).min(),
        Some(KERNEL_VIRT_BASE)
    );
    for p in &loads {
        assert!(p.p_vaddr >= 0xffff_ffff_8000_0000, "{p:?}");
        assert_eq!(p.p_vaddr - p.p_paddr, KERNEL_VIRT_OFFSET, "{p:?}");
        assert!(p.p_paddr >= KERNEL_PHYS_BASE, "{p:?}");
        assert_eq!(p.p_align, 4096, "{p:?}");
        assert_eq!(p.p_vaddr % 4096, 0, "{p:?}");
        assert_eq!(p.p_offset % 4096, 0, "{p:?}");
        assert!(p.p_filesz <= p.p_memsz, "{p:?}");
        assert!(
            p.p_offset + p.p_filesz <= KERNEL.len() as u64,
            "{p:?} past the end of the file"
        );
    }
}

#[test]
fn kernel_segments_are_write_xor_execute_and_disjoint() {
    let elf = kernel();
    let mut loads = loads(&elf);
    loads.sort_by_key(|p| p.p_vaddr);

    for p in &loads {
        assert_ne!(p.p_flags & (PF_W | PF_X), PF_W | PF_X, "{p:?}");
    }
    for pair in loads.windows(2) {
        assert!(
            pair[0].p_vaddr + pair[0].p_memsz <= pair[1].p_vaddr,
            "{pair:?}"
        );
    }
}

#[test]
fn kernel_has_no_relocations_dynamic_data_or_unwind_tables() {
    let elf = kernel();

    for s in &elf.sections {
        assert!(
            ![SHT_REL, SHT_RELA, SHT_RELR, SHT_DYNAMIC, SHT_DYNSYM].contains(&s.sh_type),
            "section {} of type {}",
            s.name,
            s.sh_type
        );
        assert!(!s.name.starts_with(".eh_frame"), "section {}", s.name);
    }
}

#[test]
fn kernel_carries_its_boot_banner() {
    let elf = kernel();
    let rodata = elf.section(".rodata").expect(".rodata");
    let bytes = elf.section_bytes(rodata);

    let banner = guest_kernel_banner();
    assert!(
        bytes.windows(banner.len()).any(|w| w == banner),
        "banner not in .rodata"
    );
}

/// The banner guest-kernel prints (kept here as text: emu-core does not depend on the
/// kernel crate).
fn guest_kernel_banner() -> &'static [u8] {
    b"lockstep kernel: booted\n"
}

fn decode_executable_sections(elf: &Elf<'_>) -> Vec<Instruction> {
    let mut out = Vec::new();
    for s in elf
        .sections
        .iter()
        .filter(|s| s.sh_flags & SHF_EXECINSTR != 0)
    {
        let mut decoder =
            Decoder::with_ip(64, elf.section_bytes(s), s.sh_addr, DecoderOptions::NONE);
        out.extend(decoder.iter());
    }
    out
}

/// Instructions with a memory operand below RSP (`[rsp - disp]`, the red zone): with
/// interrupts that do not switch stacks, such data is overwritten (guest-build.md
/// pitfall 4).
fn red_zone_accesses(code: &[Instruction]) -> Vec<String> {
    code.iter()
        .filter(|insn| {
            (0..insn.op_count()).any(|i| insn.op_kind(i) == OpKind::Memory)
                && insn.memory_base() == Register::RSP
                && (insn.memory_displacement64() as i64) < 0
        })
        .map(|insn| format!("{:#x}: {insn}", insn.ip()))
        .collect()
}

#[test]
fn kernel_code_never_touches_the_red_zone() {
    let code = decode_executable_sections(&kernel());

    assert!(!code.is_empty());
    assert_eq!(
        code.iter().filter(|i| i.code() == Code::INVALID).count(),
        0,
        "undecodable bytes in kernel text"
    );
    assert_eq!(red_zone_accesses(&code), Vec::<String>::new());
}

#[test]
fn red_zone_scan_flags_negative_rsp_displacements_only() {
    // mov [rsp-8], rax; mov rax, [rsp+8]; mov [rbp-8], rax; lea rdi, [rsp-0x80]
    let bytes = [
        0x48, 0x89, 0x44, 0x24, 0xf8, 0x48, 0x8b, 0x44, 0x24, 0x08, 0x48, 0x89, 0x45, 0xf8, 0x48,
        0x8d, 0x7c, 0x24, 0x80,
    ];
    let code: Vec<Instruction> = Decoder::with_ip(64, &bytes, 0x1000, DecoderOptions::NONE)
        .iter()
        .collect();

    let hits = red_zone_accesses(&code);

    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(hits[0].starts_with("0x1000:"), "{hits:?}");
    assert!(hits[1].starts_with("0x100e:"), "{hits:?}");
}

#[test]
fn kernel_entry_enables_sse_before_calling_rust() {
    let elf = kernel();
    let text = elf.section(".text").expect(".text");
    let offset = usize::try_from(elf.e_entry - text.sh_addr).unwrap();
    let bytes = &elf.section_bytes(text)[offset..];
    let prologue: Vec<Instruction> = Decoder::with_ip(64, bytes, elf.e_entry, DecoderOptions::NONE)
        .iter()
        .take_while(|i| i.mnemonic() != Mnemonic::Call)
        .collect();

    let writes_to = |reg: Register| prologue.iter().any(|i| i.op0_register() == reg);
    let ors_in = |bits: u64| {
        prologue.iter().any(|i| {
            i.mnemonic() == Mnemonic::Or
                && i.op1_kind() != OpKind::Register
                && i.immediate(1) & bits == bits
        })
    };
    assert!(
        writes_to(Register::CR0),
        "CR0 not written before the first call"
    );
    assert!(
        writes_to(Register::CR4),
        "CR4 not written before the first call"
    );
    assert!(ors_in(1 << 1), "CR0.MP not set");
    assert!(
        ors_in((1 << 9) | (1 << 10)),
        "CR4.OSFXSR|OSXMMEXCPT not set"
    );
    assert!(writes_to(Register::RSP), "no stack before the first call");
    assert!(prologue.len() < 64, "entry prologue runs into other code");
}
