//! The initial process stack, byte for byte as Linux's exec builds it (fs/exec.c
//! copy_strings, fs/binfmt_elf.c create_elf_tables). From the top down:
//!
//! ```text
//! stack_top      8 zero bytes
//!                the AT_EXECFN string
//!                environment strings (`envp[0]` lowest), argument strings (`argv[0]` lowest)
//! arg_start      ... arch_align_stack: minus a random shift (< 8 KiB), 16-aligned
//!                "x86_64\0" (AT_PLATFORM)
//!                16 random bytes (AT_RANDOM)
//!                padding, then auxv pairs ending with AT_NULL
//!                NULL, envp pointers, NULL, argv pointers, argc   <- rsp (16-aligned)
//! ```

use alloc::vec::Vec;

/// auxv tags (include/uapi/linux/auxvec.h, arch/x86/include/uapi/asm/auxvec.h).
pub mod at {
    /// End of the vector.
    pub const AT_NULL: u64 = 0;
    /// Program headers' address.
    pub const AT_PHDR: u64 = 3;
    /// Size of one program header.
    pub const AT_PHENT: u64 = 4;
    /// Number of program headers.
    pub const AT_PHNUM: u64 = 5;
    /// Page size.
    pub const AT_PAGESZ: u64 = 6;
    /// Interpreter base.
    pub const AT_BASE: u64 = 7;
    /// Flags.
    pub const AT_FLAGS: u64 = 8;
    /// Program entry.
    pub const AT_ENTRY: u64 = 9;
    /// Real uid.
    pub const AT_UID: u64 = 11;
    /// Effective uid.
    pub const AT_EUID: u64 = 12;
    /// Real gid.
    pub const AT_GID: u64 = 13;
    /// Effective gid.
    pub const AT_EGID: u64 = 14;
    /// Platform string address.
    pub const AT_PLATFORM: u64 = 15;
    /// CPUID.1:EDX.
    pub const AT_HWCAP: u64 = 16;
    /// Clock ticks per second of times().
    pub const AT_CLKTCK: u64 = 17;
    /// Secure mode.
    pub const AT_SECURE: u64 = 23;
    /// Address of 16 random bytes.
    pub const AT_RANDOM: u64 = 25;
    /// More hardware capabilities.
    pub const AT_HWCAP2: u64 = 26;
    /// rseq feature size.
    pub const AT_RSEQ_FEATURE_SIZE: u64 = 27;
    /// rseq alignment.
    pub const AT_RSEQ_ALIGN: u64 = 28;
    /// Executable's file name.
    pub const AT_EXECFN: u64 = 31;
    /// vDSO ELF header address.
    pub const AT_SYSINFO_EHDR: u64 = 33;
    /// Minimal signal stack size.
    pub const AT_MINSIGSTKSZ: u64 = 51;
}

/// `AT_PLATFORM` on x86-64.
pub const PLATFORM: &[u8] = b"x86_64";

/// AT_MINSIGSTKSZ without XSAVE: rt_sigframe (440) + alignment padding (15) + the
/// FXSAVE area (512) + XSAVE padding (63), rounded up to 16 (arch/x86/kernel/signal.c
/// init_sigframe_size).
pub const MINSIGSTKSZ: u64 = 1040;

/// The auxv values that do not point into the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuxValues {
    /// AT_SYSINFO_EHDR, once a vDSO is mapped.
    pub sysinfo_ehdr: Option<u64>,
    /// AT_HWCAP.
    pub hwcap: u64,
    /// AT_HWCAP2.
    pub hwcap2: u64,
    /// AT_PHDR.
    pub phdr: u64,
    /// AT_PHNUM.
    pub phnum: u64,
    /// AT_BASE.
    pub base: u64,
    /// AT_ENTRY.
    pub entry: u64,
    /// AT_UID / AT_EUID.
    pub uid: u64,
    /// AT_GID / AT_EGID.
    pub gid: u64,
    /// AT_RSEQ_FEATURE_SIZE and AT_RSEQ_ALIGN, when rseq is implemented.
    pub rseq: Option<(u64, u64)>,
}

/// Inputs of the stack builder.
#[derive(Debug, Clone)]
pub struct StackSpec<'a> {
    /// Arguments.
    pub argv: &'a [Vec<u8>],
    /// Environment.
    pub envp: &'a [Vec<u8>],
    /// The file name passed to exec (AT_EXECFN).
    pub execfn: &'a [u8],
    /// The AT_RANDOM bytes.
    pub random: [u8; 16],
    /// Page-aligned end of the stack area.
    pub top: u64,
    /// `arch_align_stack`'s random shift (< 8 KiB; 0 without ASLR).
    pub shift: u64,
    /// auxv values.
    pub aux: AuxValues,
}

/// The built stack: `bytes` go at `sp`, up to the stack top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackImage {
    /// Initial RSP (address of argc).
    pub sp: u64,
    /// The bytes of `[sp, top)`.
    pub bytes: Vec<u8>,
    /// The auxv pairs as placed (for /proc/self/auxv), AT_NULL included.
    pub auxv: Vec<(u64, u64)>,
    /// Address of `argv[0]`'s string (mm->arg_start).
    pub arg_start: u64,
    /// Address after the last argument string (mm->arg_end = env_start).
    pub arg_end: u64,
    /// Address after the last environment string.
    pub env_end: u64,
}

/// Builds the stack image.
pub fn build(spec: &StackSpec<'_>) -> StackImage {
    use at::*;
    let top = spec.top;
    // fs/exec.c: the top word stays zero, then the file name, then the strings.
    let mut p = top - 8;
    p -= spec.execfn.len() as u64 + 1;
    let execfn_addr = p;
    let strings_len: u64 = spec
        .argv
        .iter()
        .chain(spec.envp)
        .map(|s| s.len() as u64 + 1)
        .sum();
    p -= strings_len;
    let arg_start = p;
    // create_elf_tables.
    let mut q = (p - spec.shift) & !15;
    q -= PLATFORM.len() as u64 + 1;
    let platform_addr = q;
    q -= 16;
    let random_addr = q;

    let mut auxv: Vec<(u64, u64)> = Vec::new();
    if let Some(ehdr) = spec.aux.sysinfo_ehdr {
        auxv.push((AT_SYSINFO_EHDR, ehdr));
    }
    auxv.push((AT_MINSIGSTKSZ, MINSIGSTKSZ));
    auxv.push((AT_HWCAP, spec.aux.hwcap));
    auxv.push((AT_PAGESZ, 4096));
    auxv.push((AT_CLKTCK, 100));
    auxv.push((AT_PHDR, spec.aux.phdr));
    auxv.push((AT_PHENT, 56));
    auxv.push((AT_PHNUM, spec.aux.phnum));
    auxv.push((AT_BASE, spec.aux.base));
    auxv.push((AT_FLAGS, 0));
    auxv.push((AT_ENTRY, spec.aux.entry));
    auxv.push((AT_UID, spec.aux.uid));
    auxv.push((AT_EUID, spec.aux.uid));
    auxv.push((AT_GID, spec.aux.gid));
    auxv.push((AT_EGID, spec.aux.gid));
    auxv.push((AT_SECURE, 0));
    auxv.push((AT_RANDOM, random_addr));
    auxv.push((AT_HWCAP2, spec.aux.hwcap2));
    auxv.push((AT_EXECFN, execfn_addr));
    auxv.push((AT_PLATFORM, platform_addr));
    if let Some((size, align)) = spec.aux.rseq {
        auxv.push((AT_RSEQ_FEATURE_SIZE, size));
        auxv.push((AT_RSEQ_ALIGN, align));
    }
    auxv.push((AT_NULL, 0));

    let ei_words = 2 * auxv.len() as u64;
    let items = (spec.argv.len() + 1 + spec.envp.len() + 1 + 1) as u64;
    let sp = (q - 8 * ei_words - 8 * items) & !15;

    let mut bytes = alloc::vec![0u8; (top - sp) as usize];
    let mut put = |addr: u64, data: &[u8]| {
        let o = (addr - sp) as usize;
        bytes[o..o + data.len()].copy_from_slice(data);
    };
    put(execfn_addr, spec.execfn);
    put(platform_addr, PLATFORM);
    put(random_addr, &spec.random);
    let mut words: Vec<u64> = Vec::with_capacity(items as usize + ei_words as usize);
    words.push(spec.argv.len() as u64);
    let mut s = arg_start;
    for list in [spec.argv, spec.envp] {
        for string in list {
            put(s, string);
            words.push(s);
            s += string.len() as u64 + 1;
        }
        words.push(0);
    }
    let arg_end = arg_start + spec.argv.iter().map(|a| a.len() as u64 + 1).sum::<u64>();
    for &(k, v) in &auxv {
        words.push(k);
        words.push(v);
    }
    for (i, w) in words.iter().enumerate() {
        put(sp + 8 * i as u64, &w.to_le_bytes());
    }
    StackImage {
        sp,
        bytes,
        auxv,
        arg_start,
        arg_end,
        env_end: s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(img: &StackImage, addr: u64) -> u64 {
        let o = (addr - img.sp) as usize;
        u64::from_le_bytes(img.bytes[o..o + 8].try_into().unwrap())
    }

    fn cstr(img: &StackImage, addr: u64) -> Vec<u8> {
        let o = (addr - img.sp) as usize;
        img.bytes[o..]
            .iter()
            .take_while(|&&b| b != 0)
            .copied()
            .collect()
    }

    /// Linux 6.18 with `env -i A=1 setarch -R ./maps_static` on the host: `argv[0]` at
    /// 0x7fffffffefd8, `envp[0]` at ..efe6, AT_EXECFN at ..efea, AT_PLATFORM at ..efc9,
    /// AT_RANDOM at ..efb9, argv at 0x7fffffffee28 with 23 auxv pairs (vDSO and rseq
    /// included). Same inputs here give the same addresses.
    #[test]
    fn addresses_match_a_native_setarch_r_run() {
        let argv = [b"./maps_static".to_vec()];
        let envp = [b"A=1".to_vec()];
        let spec = StackSpec {
            argv: &argv,
            envp: &envp,
            execfn: b"./maps_static",
            random: [0x5a; 16],
            top: 0x7fff_ffff_f000,
            shift: 0,
            aux: AuxValues {
                sysinfo_ehdr: Some(0x7fff_f7ffd000),
                rseq: Some((32, 32)),
                ..AuxValues::default()
            },
        };

        let img = build(&spec);

        assert_eq!(img.auxv.len(), 23);
        assert_eq!(img.sp + 8, 0x7fff_ffff_ee28, "argv");
        assert_eq!(word(&img, img.sp), 1, "argc");
        assert_eq!(word(&img, img.sp + 8), 0x7fff_ffff_efd8);
        assert_eq!(word(&img, img.sp + 24), 0x7fff_ffff_efe6);
        let aux_at = |tag| img.auxv.iter().find(|p| p.0 == tag).unwrap().1;
        assert_eq!(aux_at(at::AT_EXECFN), 0x7fff_ffff_efea);
        assert_eq!(aux_at(at::AT_PLATFORM), 0x7fff_ffff_efc9);
        assert_eq!(aux_at(at::AT_RANDOM), 0x7fff_ffff_efb9);
        assert_eq!(cstr(&img, 0x7fff_ffff_efea), b"./maps_static");
        assert_eq!(cstr(&img, 0x7fff_ffff_efc9), b"x86_64");
        assert_eq!(cstr(&img, 0x7fff_ffff_efe6), b"A=1");
        assert_eq!(word(&img, 0x7fff_ffff_eff8), 0, "top word");
        assert_eq!(img.bytes[(0x7fff_ffff_efb9 - img.sp) as usize], 0x5a);
    }

    #[test]
    fn auxv_follows_linux_order_and_ends_with_null() {
        let spec = StackSpec {
            argv: &[b"a".to_vec(), b"bc".to_vec()],
            envp: &[],
            execfn: b"/bin/a",
            random: [0; 16],
            top: 0x7fff_0000_0000,
            shift: 0x123,
            aux: AuxValues {
                hwcap: 0x178b_fbff,
                phdr: 0x40_0040,
                phnum: 9,
                entry: 0x40_1000,
                ..AuxValues::default()
            },
        };
        let img = build(&spec);
        let tags: Vec<u64> = img.auxv.iter().map(|p| p.0).collect();
        assert_eq!(
            tags,
            [51, 16, 6, 17, 3, 4, 5, 7, 8, 9, 11, 12, 13, 14, 23, 25, 26, 31, 15, 0]
        );
        assert_eq!(img.sp % 16, 0);
        // argc, argv[0], argv[1], NULL, NULL (no environment), then the auxv.
        assert_eq!(word(&img, img.sp), 2);
        assert_eq!(word(&img, img.sp + 24), 0);
        assert_eq!(word(&img, img.sp + 32), 0);
        assert_eq!(word(&img, img.sp + 40), at::AT_MINSIGSTKSZ);
        assert_eq!(word(&img, img.sp + 56), at::AT_HWCAP);
        assert_eq!(word(&img, img.sp + 64), 0x178b_fbff);
        assert_eq!(cstr(&img, word(&img, img.sp + 16)), b"bc");
        assert_eq!(img.arg_end - img.arg_start, 5);
        // The random shift moves everything below the strings.
        let aux_at = |tag| img.auxv.iter().find(|p| p.0 == tag).unwrap().1;
        assert_eq!(aux_at(at::AT_PLATFORM), ((img.arg_start - 0x123) & !15) - 7);
    }
}
