//! Symbol lookup in a mapped shared object from PT_DYNAMIC alone, as a libc does with
//! the vDSO it finds through AT_SYSINFO_EHDR: no section headers, no file, only memory.
//!
//! Both hash tables are walked (glibc prefers DT_GNU_HASH, older loaders DT_HASH), and a
//! symbol matches only with the requested version definition (`name@VERSION`).

use crate::elf::{
    Bytes, DT_GNU_HASH, DT_HASH, DT_NULL, DT_STRTAB, DT_SYMTAB, DT_VERDEF, DT_VERDEFNUM, DT_VERSYM,
    PT_DYNAMIC, PT_LOAD,
};

/// What PT_DYNAMIC says, as offsets into the mapped memory.
#[derive(Debug, Default)]
pub struct DynInfo {
    pub symtab: u64,
    pub strtab: u64,
    pub hash: Option<u64>,
    pub gnu_hash: Option<u64>,
    pub versym: Option<u64>,
    pub verdef: Option<u64>,
    pub verdefnum: u64,
}

/// Reads the dynamic section of the object whose ELF header starts `mem`.
pub fn dyn_info(mem: &[u8]) -> DynInfo {
    let phoff = mem.u64_at(0x20);
    let phnum = u64::from(mem.u16_at(0x38));
    let phdr = |i: u64| phoff + i * 56;
    let loads = (0..phnum).filter(|&i| mem.u32_at(phdr(i)) == PT_LOAD);
    let min_vaddr = loads
        .map(|i| mem.u64_at(phdr(i) + 16))
        .min()
        .expect("a PT_LOAD");
    // Offsets into `mem` are addresses minus the lowest PT_LOAD address (the load bias).
    let dynamic = (0..phnum)
        .find(|&i| mem.u32_at(phdr(i)) == PT_DYNAMIC)
        .map(|i| mem.u64_at(phdr(i) + 16) - min_vaddr)
        .expect("PT_DYNAMIC");
    let mut info = DynInfo::default();
    for entry in (0..).map(|i| dynamic + i * 16) {
        let (tag, val) = (mem.u64_at(entry), mem.u64_at(entry + 8));
        let addr = val.wrapping_sub(min_vaddr);
        match tag {
            DT_NULL => break,
            DT_SYMTAB => info.symtab = addr,
            DT_STRTAB => info.strtab = addr,
            DT_HASH => info.hash = Some(addr),
            DT_GNU_HASH => info.gnu_hash = Some(addr),
            DT_VERSYM => info.versym = Some(addr),
            DT_VERDEF => info.verdef = Some(addr),
            DT_VERDEFNUM => info.verdefnum = val,
            _ => {}
        }
    }
    assert!(
        info.symtab != 0 && info.strtab != 0,
        "DT_SYMTAB and DT_STRTAB"
    );
    info
}

/// The System V ABI hash of DT_HASH and `vd_hash`.
pub fn elf_hash(name: &str) -> u32 {
    let mut h: u32 = 0;
    for &c in name.as_bytes() {
        h = (h << 4).wrapping_add(u32::from(c));
        let g = h & 0xf000_0000;
        if g != 0 {
            h ^= g >> 24;
        }
        h &= !g;
    }
    h
}

/// The hash of DT_GNU_HASH (Bernstein's, `h * 33 + c` from 5381).
pub fn gnu_hash(name: &str) -> u32 {
    name.bytes().fold(5381u32, |h, c| {
        h.wrapping_mul(33).wrapping_add(u32::from(c))
    })
}

fn sym_name(mem: &[u8], info: &DynInfo, index: u64) -> String {
    mem.cstr_at(info.strtab + u64::from(mem.u32_at(info.symtab + index * 24)))
}

fn sym_value(mem: &[u8], info: &DynInfo, index: u64) -> u64 {
    mem.u64_at(info.symtab + index * 24 + 8)
}

/// Whether dynamic symbol `index` is defined with version `version`: its DT_VERSYM index
/// names a DT_VERDEF entry whose first name is `version` and whose hash is right.
fn has_version(mem: &[u8], info: &DynInfo, index: u64, version: &str) -> bool {
    let (Some(versym), Some(verdef)) = (info.versym, info.verdef) else {
        return false;
    };
    let wanted = mem.u16_at(versym + index * 2) & 0x7fff;
    let mut entry = verdef;
    for _ in 0..info.verdefnum {
        let vd_ndx = mem.u16_at(entry + 4);
        let vd_hash = mem.u32_at(entry + 8);
        let vd_aux = u64::from(mem.u32_at(entry + 12));
        if vd_ndx == wanted {
            let name = mem.cstr_at(info.strtab + u64::from(mem.u32_at(entry + vd_aux)));
            return name == version && vd_hash == elf_hash(version);
        }
        entry += u64::from(mem.u32_at(entry + 16));
    }
    false
}

/// `name@version` through DT_GNU_HASH (bloom filter, bucket, chain); its address offset.
pub fn lookup_gnu(mem: &[u8], info: &DynInfo, name: &str, version: &str) -> Option<u64> {
    let table = info.gnu_hash?;
    let nbuckets = u64::from(mem.u32_at(table));
    let symoffset = u64::from(mem.u32_at(table + 4));
    let bloom_size = u64::from(mem.u32_at(table + 8));
    let bloom_shift = mem.u32_at(table + 12);
    let bloom = table + 16;
    let buckets = bloom + bloom_size * 8;
    let chain = buckets + nbuckets * 4;
    let h = gnu_hash(name);

    let word = mem.u64_at(bloom + (u64::from(h) / 64) % bloom_size * 8);
    let mask = (1u64 << (h % 64)) | (1u64 << ((h >> bloom_shift) % 64));
    if word & mask != mask {
        return None;
    }
    let mut index = u64::from(mem.u32_at(buckets + u64::from(h) % nbuckets * 4));
    if index == 0 {
        return None;
    }
    loop {
        let h2 = mem.u32_at(chain + (index - symoffset) * 4);
        if h | 1 == h2 | 1
            && sym_name(mem, info, index) == name
            && has_version(mem, info, index, version)
        {
            return Some(sym_value(mem, info, index));
        }
        if h2 & 1 != 0 {
            return None;
        }
        index += 1;
    }
}

/// `name@version` through DT_HASH (bucket, chain); its address offset.
pub fn lookup_sysv(mem: &[u8], info: &DynInfo, name: &str, version: &str) -> Option<u64> {
    let table = info.hash?;
    let nbucket = u64::from(mem.u32_at(table));
    let bucket = table + 8;
    let chain = bucket + nbucket * 4;
    let mut index = u64::from(mem.u32_at(bucket + u64::from(elf_hash(name)) % nbucket * 4));
    while index != 0 {
        if sym_name(mem, info, index) == name && has_version(mem, info, index, version) {
            return Some(sym_value(mem, info, index));
        }
        index = u64::from(mem.u32_at(chain + index * 4));
    }
    None
}

/// `name@version` through both tables, which must agree.
pub fn lookup(mem: &[u8], name: &str, version: &str) -> Option<u64> {
    let info = dyn_info(mem);
    let gnu = lookup_gnu(mem, &info, name, version);
    let sysv = lookup_sysv(mem, &info, name, version);
    assert_eq!(
        gnu, sysv,
        "DT_GNU_HASH and DT_HASH disagree on {name}@{version}"
    );
    gnu
}

#[test]
fn hashes_match_published_values() {
    // Values from the gABI's DT_HASH definition and the GNU hash definition.
    assert_eq!(elf_hash(""), 0);
    assert_eq!(elf_hash("printf"), 0x077905a6);
    assert_eq!(gnu_hash(""), 0x0000_1505);
    assert_eq!(gnu_hash("printf"), 0x156b_2bb8);
}
