//! The ELF loader (Linux's load_elf_binary for static programs): a fresh address space
//! with the PT_LOAD segments as private file mappings (bss zero-filled), the stack area
//! holding the initial stack, and the brk heap start; the result says where to start.

use alloc::rc::Rc;
use alloc::vec::Vec;

use super::layout::{Layout, STACK_EXPAND};
use super::stack::{self, AuxValues, StackImage, StackSpec};
use crate::elf::{self, ElfError, ElfInfo, ET_DYN, PF_R, PF_W, PF_X};
use crate::errno::Errno;
use crate::mm::aspace::AddressSpace;
use crate::mm::vma::{Backing, FileBytes, Prot, Vma, VmaName};
use crate::mm::{page_down, page_up, PhysMem};
use crate::rng::Rng;

/// What exec needs to know about the program and its environment.
#[derive(Debug, Clone)]
pub struct ExecSpec<'a> {
    /// The file's bytes.
    pub file: FileBytes,
    /// The file's inode (for /proc/self/maps).
    pub inode: u64,
    /// The file's absolute path (the mappings' name).
    pub path: Rc<str>,
    /// The name given to exec (AT_EXECFN).
    pub execfn: &'a [u8],
    /// Arguments.
    pub argv: &'a [Vec<u8>],
    /// Environment.
    pub envp: &'a [Vec<u8>],
    /// Randomize the layout.
    pub aslr: bool,
    /// AT_HWCAP (CPUID.1:EDX).
    pub hwcap: u64,
    /// The kernel's page-table root (its upper half is shared).
    pub kernel_root: u64,
}

/// Why exec failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecError {
    /// The file is not a loadable program.
    Elf(ElfError),
    /// Memory ran out or the layout does not fit.
    NoMemory,
}

impl ExecError {
    /// The errno execve reports.
    pub fn errno(self) -> Errno {
        match self {
            ExecError::Elf(_) => Errno::ENOEXEC,
            ExecError::NoMemory => Errno::ENOMEM,
        }
    }
}

impl From<ElfError> for ExecError {
    fn from(e: ElfError) -> Self {
        ExecError::Elf(e)
    }
}

/// A loaded program, ready to run.
#[derive(Debug)]
pub struct Loaded {
    /// The new address space.
    pub aspace: AddressSpace,
    /// Initial RIP.
    pub entry: u64,
    /// The initial stack (RSP is `stack.sp`).
    pub stack: StackImage,
    /// Where the program was loaded (0 for ET_EXEC).
    pub load_bias: u64,
}

fn prot_of(flags: u32) -> Prot {
    let mut p = 0;
    if flags & PF_R != 0 {
        p |= Prot::READ.0;
    }
    if flags & PF_W != 0 {
        p |= Prot::WRITE.0;
    }
    if flags & PF_X != 0 {
        p |= Prot::EXEC.0;
    }
    Prot(p)
}

/// Loads `spec.file` into a new address space.
pub fn load(
    mem: &mut impl PhysMem,
    rng: &mut Rng,
    spec: &ExecSpec<'_>,
) -> Result<Loaded, ExecError> {
    let info = elf::parse(spec.file.as_slice())?;
    let mut aspace = AddressSpace::new(mem, spec.kernel_root).map_err(|_| ExecError::NoMemory)?;
    match populate(mem, rng, spec, &info, &mut aspace) {
        Ok((entry, stack, load_bias)) => Ok(Loaded {
            aspace,
            entry,
            stack,
            load_bias,
        }),
        Err(e) => {
            aspace.destroy(mem);
            Err(e)
        }
    }
}

fn populate(
    mem: &mut impl PhysMem,
    rng: &mut Rng,
    spec: &ExecSpec<'_>,
    info: &ElfInfo,
    aspace: &mut AddressSpace,
) -> Result<(u64, StackImage, u64), ExecError> {
    let layout = Layout::new(rng, spec.aslr, aspace.stack_limit);
    aspace.mmap_base = layout.mmap_base;
    let (lo, hi) = info.span();
    let static_pie = info.e_type == ET_DYN;
    // A static-pie program is placed like an mmap of its whole span (Linux: ET_DYN
    // without an interpreter gets load_bias 0 - vaddr and no MAP_FIXED).
    let load_bias = if static_pie {
        let span = page_up(hi - lo).ok_or(ExecError::NoMemory)?;
        let at = aspace
            .vmas
            .find_gap_topdown(span, crate::mm::MMAP_MIN_ADDR, layout.mmap_base)
            .ok_or(ExecError::NoMemory)?;
        at.wrapping_sub(lo)
    } else {
        0
    };
    let name = VmaName::Path(spec.path.clone());
    let mut elf_brk = 0;
    for ph in info.loads() {
        let vaddr = ph.vaddr.wrapping_add(load_bias);
        let start = page_down(vaddr);
        let file_end = vaddr + ph.filesz;
        let mem_end = page_up(vaddr + ph.memsz).ok_or(ExecError::NoMemory)?;
        let map_end = if ph.filesz > 0 {
            page_up(file_end).ok_or(ExecError::NoMemory)?
        } else {
            start
        };
        let prot = prot_of(ph.flags);
        if map_end > start {
            aspace.unmap_range(mem, start, map_end);
            aspace.insert(Vma {
                start,
                end: map_end,
                prot,
                shared: false,
                grows_down: false,
                backing: Backing::File {
                    bytes: spec.file.clone(),
                    offset: page_down(ph.offset),
                    zero_from: if ph.memsz > ph.filesz {
                        file_end
                    } else {
                        u64::MAX
                    },
                    inode: spec.inode,
                },
                name: name.clone(),
            });
        }
        if mem_end > map_end {
            aspace.unmap_range(mem, map_end, mem_end);
            aspace.insert(Vma::anon(map_end, mem_end, prot, VmaName::None));
        }
        elf_brk = elf_brk.max(vaddr + ph.memsz);
    }
    aspace.brk_start = layout.brk_start(elf_brk, static_pie);
    aspace.brk = aspace.brk_start;

    let mut random = [0u8; 16];
    rng.fill(&mut random);
    let phdr = info.phdr_vaddr().map_or(0, |v| v.wrapping_add(load_bias));
    let entry = info.entry.wrapping_add(load_bias);
    let image = stack::build(&StackSpec {
        argv: spec.argv,
        envp: spec.envp,
        execfn: spec.execfn,
        random,
        top: layout.stack_top,
        shift: layout.stack_shift,
        aux: AuxValues {
            hwcap: spec.hwcap,
            phdr,
            phnum: u64::from(info.phnum),
            entry,
            ..AuxValues::default()
        },
    });
    let mut stack_prot = Prot::RW;
    if info.exec_stack {
        stack_prot = Prot(stack_prot.0 | Prot::EXEC.0);
    }
    let stack_start = (page_down(image.arg_start).min(page_down(image.sp)))
        .checked_sub(STACK_EXPAND)
        .ok_or(ExecError::NoMemory)?;
    let stack_start = stack_start.min(page_down(image.sp));
    if aspace.vmas.overlaps(stack_start, layout.stack_top) {
        return Err(ExecError::NoMemory);
    }
    let mut vma = Vma::anon(stack_start, layout.stack_top, stack_prot, VmaName::Stack);
    vma.grows_down = true;
    aspace.insert(vma);
    aspace
        .copy_to_user(mem, image.sp, &image.bytes)
        .map_err(|_| ExecError::NoMemory)?;
    Ok((entry, image, load_bias))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::tests::{build, load as seg};
    use crate::elf::{ET_EXEC, PF_R, PF_W, PF_X};
    use crate::mm::fake::FakeRam;

    fn program(e_type: u16, base: u64) -> &'static [u8] {
        let mut f = build(
            e_type,
            base + 0x1000,
            &[
                seg(0, base, 0x1000, 0x1000, PF_R),
                seg(0x1000, base + 0x1000, 0x10, 0x10, PF_R | PF_X),
                seg(0x2000, base + 0x2000, 0x20, 0x2100, PF_R | PF_W),
            ],
            0x2020,
        );
        f[0x1000..0x1010].copy_from_slice(b"CODECODECODECODE");
        f[0x2000..0x2020].fill(0xdd);
        Box::leak(f.into_boxed_slice())
    }

    fn exec(ram: &mut FakeRam, file: &'static [u8], aslr: bool, seed: u64) -> Loaded {
        let kernel_root = ram.alloc_frame().unwrap();
        let argv = [b"prog".to_vec(), b"arg".to_vec()];
        let envp = [b"HOME=/".to_vec()];
        let spec = ExecSpec {
            file: FileBytes::Static(file),
            inode: 5,
            path: Rc::from("/bin/prog"),
            execfn: b"/bin/prog",
            argv: &argv,
            envp: &envp,
            aslr,
            hwcap: 0x1234,
            kernel_root,
        };
        load(ram, &mut Rng::new(seed), &spec).unwrap()
    }

    #[test]
    fn static_executable_maps_segments_bss_stack_and_heap() {
        let mut ram = FakeRam::new(16);
        let mut l = exec(&mut ram, program(ET_EXEC, 0x40_0000), false, 1);
        assert_eq!((l.entry, l.load_bias), (0x40_1000, 0));
        let a = &mut l.aspace;
        let mut code = [0u8; 4];
        a.copy_from_user(&mut ram, 0x40_1000, &mut code).unwrap();
        assert_eq!(&code, b"CODE");
        let mut data = [0u8; 4];
        a.copy_from_user(&mut ram, 0x40_201e, &mut data).unwrap();
        assert_eq!(
            data,
            [0xdd, 0xdd, 0, 0],
            "file bytes, then the zeroed bss tail"
        );
        a.copy_from_user(&mut ram, 0x40_40f0, &mut data).unwrap();
        assert_eq!(data, [0; 4], "bss beyond the file page");
        assert_eq!(a.brk_start, 0x40_5000);
        let kinds: Vec<(u64, u64, u8)> =
            a.vmas.iter().map(|v| (v.start, v.end, v.prot.0)).collect();
        assert_eq!(
            kinds[..4],
            [
                (0x40_0000, 0x40_1000, 1),
                (0x40_1000, 0x40_2000, 5),
                (0x40_2000, 0x40_3000, 3),
                (0x40_3000, 0x40_5000, 3)
            ]
        );
        let stack = a.vmas.find(0x7fff_ffff_e000).unwrap();
        assert_eq!(
            (stack.end, stack.name.clone()),
            (0x7fff_ffff_f000, VmaName::Stack)
        );
        assert_eq!(
            stack.end - stack.start,
            0x21000,
            "one page of arguments plus 128 KiB"
        );
        // The stack in memory: argc, argv[0] -> "prog".
        assert_eq!(a.read_u64(&mut ram, l.stack.sp).unwrap(), 2);
        let argv0 = a.read_u64(&mut ram, l.stack.sp + 8).unwrap();
        assert_eq!(a.read_cstr(&mut ram, argv0, 100).unwrap(), b"prog");
        assert!(
            a.copy_to_user(&mut ram, 0x40_1000, b"x").is_err(),
            "text is read-only"
        );
    }

    #[test]
    fn static_pie_is_placed_below_the_mmap_base_and_randomized_by_the_seed() {
        let mut ram = FakeRam::new(16);
        let l = exec(&mut ram, program(ET_DYN, 0), false, 1);
        assert_eq!(l.load_bias, 0x7fff_f7ff_f000 - 0x5000);
        assert_eq!(l.entry, l.load_bias + 0x1000);
        assert_eq!(l.aspace.brk_start, 0x5555_5555_5000);
        let a = exec(&mut ram, program(ET_DYN, 0), true, 1);
        let b = exec(&mut ram, program(ET_DYN, 0), true, 2);
        let a2 = exec(&mut ram, program(ET_DYN, 0), true, 1);
        assert_ne!(a.load_bias, b.load_bias);
        assert_eq!(a.load_bias, a2.load_bias);
        assert_eq!(a.stack.sp, a2.stack.sp);
        assert_ne!(a.stack.sp, b.stack.sp);
    }

    #[test]
    fn bad_programs_fail_without_leaking_frames() {
        let mut ram = FakeRam::new(16);
        let kernel_root = ram.alloc_frame().unwrap();
        let before = ram.allocated;
        let spec = ExecSpec {
            file: FileBytes::Static(b"#!/bin/sh\n"),
            inode: 1,
            path: Rc::from("/x"),
            execfn: b"/x",
            argv: &[],
            envp: &[],
            aslr: false,
            hwcap: 0,
            kernel_root,
        };
        assert_eq!(
            load(&mut ram, &mut Rng::new(0), &spec).unwrap_err(),
            ExecError::Elf(ElfError::NotElf)
        );
        assert_eq!(ram.allocated, before);
    }
}
