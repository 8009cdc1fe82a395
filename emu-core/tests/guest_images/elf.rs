//! A minimal, bounds-checked ELF64 little-endian reader for the image tests.
//!
//! Written from the System V gABI and the x86-64 psABI; it reads only what the tests
//! check, and panics with a message on malformed input (tests only).

/// `e_type` of an executable.
pub const ET_EXEC: u16 = 2;
/// `e_type` of a shared object.
pub const ET_DYN: u16 = 3;
/// `e_machine` of x86-64.
pub const EM_X86_64: u16 = 62;

pub const PT_LOAD: u32 = 1;
pub const PT_DYNAMIC: u32 = 2;
pub const PT_INTERP: u32 = 3;
pub const PT_NOTE: u32 = 4;
pub const PT_TLS: u32 = 7;
pub const PT_GNU_EH_FRAME: u32 = 0x6474_e550;

pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;

pub const SHT_SYMTAB: u32 = 2;
pub const SHT_RELA: u32 = 4;
pub const SHT_DYNAMIC: u32 = 6;
pub const SHT_REL: u32 = 9;
pub const SHT_DYNSYM: u32 = 11;
pub const SHT_RELR: u32 = 19;

pub const SHF_WRITE: u64 = 1;
pub const SHF_ALLOC: u64 = 2;
pub const SHF_EXECINSTR: u64 = 4;

pub const DT_NULL: u64 = 0;
pub const DT_NEEDED: u64 = 1;
pub const DT_PLTRELSZ: u64 = 2;
pub const DT_HASH: u64 = 4;
pub const DT_STRTAB: u64 = 5;
pub const DT_SYMTAB: u64 = 6;
pub const DT_RELA: u64 = 7;
pub const DT_SONAME: u64 = 14;
pub const DT_REL: u64 = 17;
pub const DT_TEXTREL: u64 = 22;
pub const DT_JMPREL: u64 = 23;
pub const DT_RELR: u64 = 36;
pub const DT_GNU_HASH: u64 = 0x6fff_fef5;
pub const DT_VERSYM: u64 = 0x6fff_fff0;
pub const DT_VERDEF: u64 = 0x6fff_fffc;
pub const DT_VERDEFNUM: u64 = 0x6fff_fffd;

pub const STB_GLOBAL: u8 = 1;
pub const STB_WEAK: u8 = 2;
pub const STT_FUNC: u8 = 2;

/// Little-endian reads at byte offsets, panicking with the offset when out of bounds.
pub trait Bytes {
    fn bytes_at(&self, off: u64, len: usize) -> &[u8];
    fn u16_at(&self, off: u64) -> u16 {
        u16::from_le_bytes(self.bytes_at(off, 2).try_into().unwrap())
    }
    fn u32_at(&self, off: u64) -> u32 {
        u32::from_le_bytes(self.bytes_at(off, 4).try_into().unwrap())
    }
    fn u64_at(&self, off: u64) -> u64 {
        u64::from_le_bytes(self.bytes_at(off, 8).try_into().unwrap())
    }
    /// The NUL-terminated string at `off`.
    fn cstr_at(&self, off: u64) -> String;
}

impl Bytes for [u8] {
    fn bytes_at(&self, off: u64, len: usize) -> &[u8] {
        let start = usize::try_from(off).expect("offset fits usize");
        self.get(start..start + len)
            .unwrap_or_else(|| panic!("read of {len} bytes at {off:#x} outside {:#x}", self.len()))
    }
    fn cstr_at(&self, off: u64) -> String {
        let start = usize::try_from(off).expect("offset fits usize");
        let tail = self.get(start..).expect("string offset in bounds");
        let end = tail
            .iter()
            .position(|&b| b == 0)
            .expect("NUL-terminated string");
        String::from_utf8(tail[..end].to_vec()).expect("UTF-8 string")
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ProgramHeader {
    pub p_type: u32,
    pub p_flags: u32,
    pub p_offset: u64,
    pub p_vaddr: u64,
    pub p_paddr: u64,
    pub p_filesz: u64,
    pub p_memsz: u64,
    pub p_align: u64,
}

#[derive(Debug, Clone)]
pub struct SectionHeader {
    pub name: String,
    pub sh_type: u32,
    pub sh_flags: u64,
    pub sh_addr: u64,
    pub sh_offset: u64,
    pub sh_size: u64,
    pub sh_link: u32,
}

#[derive(Debug, Clone)]
pub struct Symbol {
    pub name: String,
    pub bind: u8,
    pub kind: u8,
    pub shndx: u16,
    pub value: u64,
}

/// A parsed ELF64 little-endian file.
#[derive(Debug)]
pub struct Elf<'a> {
    pub data: &'a [u8],
    pub e_type: u16,
    pub e_machine: u16,
    pub e_entry: u64,
    pub phdrs: Vec<ProgramHeader>,
    pub sections: Vec<SectionHeader>,
}

impl<'a> Elf<'a> {
    pub fn parse(data: &'a [u8]) -> Self {
        assert_eq!(data.bytes_at(0, 4), b"\x7fELF", "ELF magic");
        assert_eq!(data[4], 2, "ELFCLASS64");
        assert_eq!(data[5], 1, "ELFDATA2LSB");
        assert_eq!(data[6], 1, "EV_CURRENT");
        let phoff = data.u64_at(0x20);
        let shoff = data.u64_at(0x28);
        assert_eq!(data.u16_at(0x36), 56, "e_phentsize");
        let phnum = data.u16_at(0x38);
        let shnum = data.u16_at(0x3c);
        let shstrndx = data.u16_at(0x3e);
        let phdrs = (0..u64::from(phnum))
            .map(|i| {
                let o = phoff + i * 56;
                ProgramHeader {
                    p_type: data.u32_at(o),
                    p_flags: data.u32_at(o + 4),
                    p_offset: data.u64_at(o + 8),
                    p_vaddr: data.u64_at(o + 16),
                    p_paddr: data.u64_at(o + 24),
                    p_filesz: data.u64_at(o + 32),
                    p_memsz: data.u64_at(o + 40),
                    p_align: data.u64_at(o + 48),
                }
            })
            .collect();
        if shnum > 0 {
            assert_eq!(data.u16_at(0x3a), 64, "e_shentsize");
        }
        let raw: Vec<(u32, SectionHeader)> = (0..u64::from(shnum))
            .map(|i| {
                let o = shoff + i * 64;
                let header = SectionHeader {
                    name: String::new(),
                    sh_type: data.u32_at(o + 4),
                    sh_flags: data.u64_at(o + 8),
                    sh_addr: data.u64_at(o + 16),
                    sh_offset: data.u64_at(o + 24),
                    sh_size: data.u64_at(o + 32),
                    sh_link: data.u32_at(o + 40),
                };
                (data.u32_at(o), header)
            })
            .collect();
        let names_at = raw
            .get(usize::from(shstrndx))
            .map_or(0, |(_, s)| s.sh_offset);
        let sections = raw
            .into_iter()
            .map(|(name, mut s)| {
                if names_at != 0 {
                    s.name = data.cstr_at(names_at + u64::from(name));
                }
                s
            })
            .collect();
        Elf {
            data,
            e_type: data.u16_at(0x10),
            e_machine: data.u16_at(0x12),
            e_entry: data.u64_at(0x18),
            phdrs,
            sections,
        }
    }

    pub fn section(&self, name: &str) -> Option<&SectionHeader> {
        self.sections.iter().find(|s| s.name == name)
    }

    pub fn section_bytes(&self, s: &SectionHeader) -> &'a [u8] {
        self.data
            .bytes_at(s.sh_offset, usize::try_from(s.sh_size).unwrap())
    }

    /// The symbols of a SYMTAB or DYNSYM section, names resolved through its sh_link.
    pub fn symbols(&self, table: &SectionHeader) -> Vec<Symbol> {
        let strtab = &self.sections[table.sh_link as usize];
        (0..table.sh_size / 24)
            .map(|i| {
                let o = table.sh_offset + i * 24;
                let info = self.data[usize::try_from(o + 4).unwrap()];
                Symbol {
                    name: self
                        .data
                        .cstr_at(strtab.sh_offset + u64::from(self.data.u32_at(o))),
                    bind: info >> 4,
                    kind: info & 0xf,
                    shndx: self.data.u16_at(o + 6),
                    value: self.data.u64_at(o + 8),
                }
            })
            .collect()
    }

    pub fn symbol_table(&self, sh_type: u32) -> Option<Vec<Symbol>> {
        let table = self.sections.iter().find(|s| s.sh_type == sh_type)?;
        Some(self.symbols(table))
    }

    /// `(d_tag, d_val)` pairs of PT_DYNAMIC up to DT_NULL.
    pub fn dynamic(&self) -> Vec<(u64, u64)> {
        let seg = self
            .phdrs
            .iter()
            .find(|p| p.p_type == PT_DYNAMIC)
            .expect("PT_DYNAMIC");
        (0..seg.p_filesz / 16)
            .map(|i| {
                let o = seg.p_offset + i * 16;
                (self.data.u64_at(o), self.data.u64_at(o + 8))
            })
            .take_while(|&(tag, _)| tag != DT_NULL)
            .collect()
    }
}
