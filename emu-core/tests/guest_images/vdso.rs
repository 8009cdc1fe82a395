//! The vDSO image's structure: what glibc and musl need, and nothing to relocate.

use emu_abi::identity::LINUX_VERSION_CODE;
use emu_abi::layout::{PAGE_SIZE, VVAR_PAGES};
use emu_core::guest_images::VDSO;

use crate::dynlink::{dyn_info, elf_hash};
use crate::elf::*;

const EXPORTS: [&str; 5] = [
    "__vdso_clock_gettime",
    "__vdso_gettimeofday",
    "__vdso_time",
    "__vdso_getcpu",
    "__vdso_clock_getres",
];

fn vdso() -> Elf<'static> {
    Elf::parse(VDSO)
}

fn segment(elf: &Elf<'_>, p_type: u32) -> ProgramHeader {
    let mut found = elf.phdrs.iter().filter(|p| p.p_type == p_type);
    let first = *found
        .next()
        .unwrap_or_else(|| panic!("no segment {p_type:#x}"));
    assert!(found.next().is_none(), "two segments {p_type:#x}");
    first
}

fn dynamic_value(elf: &Elf<'_>, tag: u64) -> Option<u64> {
    elf.dynamic()
        .iter()
        .find(|&&(t, _)| t == tag)
        .map(|&(_, v)| v)
}

#[test]
fn vdso_is_x86_64_shared_object() {
    let elf = vdso();

    assert_eq!(elf.e_type, ET_DYN);
    assert_eq!(elf.e_machine, EM_X86_64);
}

#[test]
fn vdso_has_one_read_exec_load_mapping_the_file_as_it_is() {
    let elf = vdso();
    let load = segment(&elf, PT_LOAD);

    assert_eq!(load.p_flags, PF_R | PF_X);
    assert_eq!((load.p_offset, load.p_vaddr), (0, 0));
    assert_eq!(load.p_filesz, load.p_memsz);
    for s in elf.sections.iter().filter(|s| s.sh_flags & SHF_ALLOC != 0) {
        assert_eq!(
            s.sh_addr, s.sh_offset,
            "section {} not at its file offset",
            s.name
        );
        assert!(
            s.sh_addr + s.sh_size <= load.p_memsz,
            "section {} outside the load",
            s.name
        );
    }
}

#[test]
fn vdso_has_dynamic_note_and_eh_frame_hdr_inside_the_load() {
    let elf = vdso();
    let load = segment(&elf, PT_LOAD);

    for p_type in [PT_DYNAMIC, PT_NOTE, PT_GNU_EH_FRAME] {
        let seg = segment(&elf, p_type);
        assert!(seg.p_vaddr + seg.p_memsz <= load.p_memsz, "{seg:?}");
        assert_eq!(seg.p_flags & PF_W, 0, "{seg:?} is writable");
        assert!(seg.p_memsz > 0, "{seg:?} is empty");
    }
    for p in &elf.phdrs {
        assert!(![PT_INTERP, PT_TLS].contains(&p.p_type), "{p:?}");
    }
}

#[test]
fn vdso_note_names_linux_version() {
    let elf = vdso();
    let note = segment(&elf, PT_NOTE);
    let data = VDSO.bytes_at(note.p_offset, note.p_filesz as usize);

    // Elf64_Nhdr: namesz, descsz, type; name padded to 4; desc.
    assert_eq!(data.u32_at(0), 6);
    assert_eq!(data.u32_at(4), 4);
    assert_eq!(data.u32_at(8), 0);
    assert_eq!(data.bytes_at(12, 6), b"Linux\0");
    assert_eq!(data.u32_at(20), LINUX_VERSION_CODE);
}

#[test]
fn vdso_dynamic_section_names_it_and_has_both_hashes_and_versions() {
    let elf = vdso();
    let dynstr = elf.section(".dynstr").expect(".dynstr");
    let soname = dynamic_value(&elf, DT_SONAME).expect("DT_SONAME");

    assert_eq!(VDSO.cstr_at(dynstr.sh_offset + soname), "linux-vdso.so.1");
    for tag in [
        DT_HASH,
        DT_GNU_HASH,
        DT_SYMTAB,
        DT_STRTAB,
        DT_VERSYM,
        DT_VERDEF,
    ] {
        assert!(dynamic_value(&elf, tag).is_some(), "missing tag {tag:#x}");
    }
}

#[test]
fn vdso_has_no_relocations_dependencies_or_writable_data() {
    let elf = vdso();

    for tag in [
        DT_NEEDED,
        DT_RELA,
        DT_REL,
        DT_RELR,
        DT_JMPREL,
        DT_PLTRELSZ,
        DT_TEXTREL,
    ] {
        assert_eq!(dynamic_value(&elf, tag), None, "tag {tag:#x}");
    }
    for s in &elf.sections {
        assert!(
            ![SHT_REL, SHT_RELA, SHT_RELR].contains(&s.sh_type),
            "relocation section {}",
            s.name
        );
        let writable_data = s.sh_flags & SHF_WRITE != 0 && s.sh_type != SHT_DYNAMIC;
        assert!(
            !(writable_data && s.sh_size > 0),
            "writable section {}",
            s.name
        );
    }
}

#[test]
fn vdso_exports_each_entry_and_weak_alias_in_linux_2_6() {
    let elf = vdso();
    let dynsym = elf.symbol_table(SHT_DYNSYM).expect(".dynsym");
    let info = dyn_info(VDSO);
    let versym = elf.section(".gnu.version").expect(".gnu.version");
    let version_of = |index: usize| VDSO.u16_at(versym.sh_offset + index as u64 * 2);
    let linux_2_6 = linux_2_6_index(&elf);

    assert_eq!(dynsym.len(), 1 + 2 * EXPORTS.len(), "{dynsym:?}");
    for name in EXPORTS {
        let alias = name.trim_start_matches("__vdso_");
        let (fi, func) = dynsym
            .iter()
            .enumerate()
            .find(|(_, s)| s.name == name)
            .expect(name);
        let (ai, weak) = dynsym
            .iter()
            .enumerate()
            .find(|(_, s)| s.name == alias)
            .expect(alias);
        assert_eq!((func.bind, func.kind), (STB_GLOBAL, STT_FUNC), "{name}");
        assert_eq!((weak.bind, weak.kind), (STB_WEAK, STT_FUNC), "{alias}");
        assert_eq!(func.value, weak.value, "{alias} is not {name}");
        assert_ne!(func.shndx, 0, "{name} undefined");
        assert_eq!(version_of(fi), linux_2_6, "{name}");
        assert_eq!(version_of(ai), linux_2_6, "{alias}");
    }
    assert!(info.verdefnum >= 2);
}

/// The DT_VERDEF index of LINUX_2.6, checking the definition's hash on the way.
fn linux_2_6_index(elf: &Elf<'_>) -> u16 {
    let verdef = elf.section(".gnu.version_d").expect(".gnu.version_d");
    let dynstr = elf.section(".dynstr").expect(".dynstr");
    let mut entry = verdef.sh_offset;
    loop {
        let aux = entry + u64::from(VDSO.u32_at(entry + 12));
        let name = VDSO.cstr_at(dynstr.sh_offset + u64::from(VDSO.u32_at(aux)));
        if name == "LINUX_2.6" {
            assert_eq!(VDSO.u32_at(entry + 8), elf_hash("LINUX_2.6"));
            return VDSO.u16_at(entry + 4);
        }
        let next = VDSO.u32_at(entry + 16);
        assert_ne!(next, 0, "no LINUX_2.6 version definition");
        entry += u64::from(next);
    }
}

#[test]
fn vdso_contains_no_panic_machinery() {
    let elf = vdso();
    let symtab = elf
        .symbol_table(SHT_SYMTAB)
        .expect(".symtab (the image is not stripped)");

    let panicky: Vec<_> = symtab
        .iter()
        .filter(|s| s.name.contains("panic") || s.name.contains("unwind"))
        .map(|s| &s.name)
        .collect();
    assert!(panicky.is_empty(), "{panicky:?}");
    assert!(symtab.iter().any(|s| s.name == "__vdso_clock_gettime"));
}

#[test]
fn vdso_vvar_symbol_is_one_page_below_the_image() {
    let elf = vdso();
    let symtab = elf.symbol_table(SHT_SYMTAB).expect(".symtab");

    let vvar = symtab
        .iter()
        .find(|s| s.name == "__vdso_vvar")
        .expect("__vdso_vvar");
    assert_eq!(vvar.value, 0u64.wrapping_sub(VVAR_PAGES * PAGE_SIZE));
    assert_ne!(
        vvar.shndx, 0xfff1,
        "absolute symbol (SHN_ABS) needs a relocation"
    );
}
