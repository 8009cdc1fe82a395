//! The gdb view of lockstep's x86-64 CPU: a custom [`Arch`] whose target
//! description (`target.xml`) has gdb's standard amd64 features
//! (`org.gnu.gdb.i386.core`, `.sse`, `.segments` with `fs_base`/`gs_base`)
//! plus a lockstep feature with `k_gs_base`, CR0, CR2, CR3, CR4, CR8 and
//! EFER, and the register file in exactly that order ([`X86Regs`],
//! [`X86Reg`]).
//!
//! gdb numbers the registers of a target description in document order, and
//! the `g`/`G` packets carry them in that order, little-endian, each at its
//! `bitsize`; [`X86Reg::ALL`] is that order and a unit test checks the XML
//! against it.

use std::num::NonZeroUsize;

use gdbstub::arch::{Arch, RegId, Registers};

/// The architecture marker type for gdbstub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockstepX86_64 {}

impl Arch for LockstepX86_64 {
    type Usize = u64;
    type Registers = X86Regs;
    type BreakpointKind = usize;
    type RegId = X86Reg;

    fn target_description_xml() -> Option<&'static str> {
        Some(TARGET_XML)
    }
}

/// One register of the target description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum X86Reg {
    /// A general-purpose register, by *gdb* index: rax, rbx, rcx, rdx, rsi,
    /// rdi, rbp, rsp, r8..r15.
    Gpr(u8),
    /// RIP.
    Rip,
    /// EFLAGS (32 bits in gdb's amd64 layout).
    Eflags,
    /// A selector: cs, ss, ds, es, fs, gs (index 0..6).
    Seg(u8),
    /// x87 ST(i), 80 bits.
    St(u8),
    /// x87 control registers: fctrl, fstat, ftag, fiseg, fioff, foseg, fooff, fop.
    Fpu(u8),
    /// XMM(i).
    Xmm(u8),
    /// MXCSR.
    Mxcsr,
    /// IA32_FS_BASE.
    FsBase,
    /// IA32_GS_BASE.
    GsBase,
    /// IA32_KERNEL_GS_BASE.
    KGsBase,
    /// CR0.
    Cr0,
    /// CR2.
    Cr2,
    /// CR3.
    Cr3,
    /// CR4.
    Cr4,
    /// CR8.
    Cr8,
    /// IA32_EFER.
    Efer,
}

/// Hardware (encoding) index of each gdb GPR index.
pub const GDB_GPR_TO_HW: [usize; 16] = [0, 3, 1, 2, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15];

const GPR_NAMES: [&str; 16] = [
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];
const SEG_NAMES: [&str; 6] = ["cs", "ss", "ds", "es", "fs", "gs"];
const FPU_NAMES: [&str; 8] = [
    "fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop",
];

/// Number of registers in the target description.
pub const REG_COUNT: usize = 66;

/// Size in bytes of a full `g` packet.
pub const G_PACKET_LEN: usize = 608;

impl X86Reg {
    /// Every register, in target-description (gdb number) order.
    pub const ALL: [X86Reg; REG_COUNT] = {
        let mut all = [X86Reg::Rip; REG_COUNT];
        let mut i = 0;
        while i < REG_COUNT {
            all[i] = match X86Reg::from_index(i) {
                Some(r) => r,
                None => X86Reg::Rip,
            };
            i += 1;
        }
        all
    };

    /// The register with gdb number `i`.
    pub const fn from_index(i: usize) -> Option<Self> {
        Some(match i {
            0..=15 => X86Reg::Gpr(i as u8),
            16 => X86Reg::Rip,
            17 => X86Reg::Eflags,
            18..=23 => X86Reg::Seg((i - 18) as u8),
            24..=31 => X86Reg::St((i - 24) as u8),
            32..=39 => X86Reg::Fpu((i - 32) as u8),
            40..=55 => X86Reg::Xmm((i - 40) as u8),
            56 => X86Reg::Mxcsr,
            57 => X86Reg::FsBase,
            58 => X86Reg::GsBase,
            59 => X86Reg::KGsBase,
            60 => X86Reg::Cr0,
            61 => X86Reg::Cr2,
            62 => X86Reg::Cr3,
            63 => X86Reg::Cr4,
            64 => X86Reg::Cr8,
            65 => X86Reg::Efer,
            _ => return None,
        })
    }

    /// The gdb register number.
    pub fn index(self) -> usize {
        match self {
            X86Reg::Gpr(i) => i as usize,
            X86Reg::Rip => 16,
            X86Reg::Eflags => 17,
            X86Reg::Seg(i) => 18 + i as usize,
            X86Reg::St(i) => 24 + i as usize,
            X86Reg::Fpu(i) => 32 + i as usize,
            X86Reg::Xmm(i) => 40 + i as usize,
            X86Reg::Mxcsr => 56,
            X86Reg::FsBase => 57,
            X86Reg::GsBase => 58,
            X86Reg::KGsBase => 59,
            X86Reg::Cr0 => 60,
            X86Reg::Cr2 => 61,
            X86Reg::Cr3 => 62,
            X86Reg::Cr4 => 63,
            X86Reg::Cr8 => 64,
            X86Reg::Efer => 65,
        }
    }

    /// Size in bytes on the wire.
    pub fn size(self) -> usize {
        match self {
            X86Reg::Eflags | X86Reg::Seg(_) | X86Reg::Fpu(_) | X86Reg::Mxcsr => 4,
            X86Reg::St(_) => 10,
            X86Reg::Xmm(_) => 16,
            _ => 8,
        }
    }

    /// The register's name in the target description.
    pub fn name(self) -> &'static str {
        const ST: [&str; 8] = ["st0", "st1", "st2", "st3", "st4", "st5", "st6", "st7"];
        const XMM: [&str; 16] = [
            "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
            "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
        ];
        match self {
            X86Reg::Gpr(i) => GPR_NAMES[i as usize & 15],
            X86Reg::Rip => "rip",
            X86Reg::Eflags => "eflags",
            X86Reg::Seg(i) => SEG_NAMES[(i as usize).min(5)],
            X86Reg::St(i) => ST[i as usize & 7],
            X86Reg::Fpu(i) => FPU_NAMES[i as usize & 7],
            X86Reg::Xmm(i) => XMM[i as usize & 15],
            X86Reg::Mxcsr => "mxcsr",
            X86Reg::FsBase => "fs_base",
            X86Reg::GsBase => "gs_base",
            X86Reg::KGsBase => "k_gs_base",
            X86Reg::Cr0 => "cr0",
            X86Reg::Cr2 => "cr2",
            X86Reg::Cr3 => "cr3",
            X86Reg::Cr4 => "cr4",
            X86Reg::Cr8 => "cr8",
            X86Reg::Efer => "efer",
        }
    }
}

impl RegId for X86Reg {
    fn from_raw_id(id: usize) -> Option<(Self, Option<NonZeroUsize>)> {
        let r = X86Reg::from_index(id)?;
        Some((r, NonZeroUsize::new(r.size())))
    }

    fn to_raw_id(&self) -> Option<usize> {
        Some(self.index())
    }
}

/// A register value of the wrong size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongSize {
    /// The register.
    pub reg: X86Reg,
    /// The size given, in bytes.
    pub len: usize,
}

/// The register file as gdb sees it (values, no invariants: the target
/// checks them when writing back to the CPU).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct X86Regs {
    /// GPRs in *hardware* order (rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15).
    pub gpr: [u64; 16],
    /// RIP.
    pub rip: u64,
    /// EFLAGS.
    pub eflags: u32,
    /// Selectors cs, ss, ds, es, fs, gs.
    pub seg: [u32; 6],
    /// ST(0)..ST(7), 80 bits each in the low bits.
    pub st: [u128; 8],
    /// fctrl, fstat, ftag (full 2-bit tags), fiseg, fioff, foseg, fooff, fop.
    pub fpu: [u32; 8],
    /// XMM0..XMM15.
    pub xmm: [u128; 16],
    /// MXCSR.
    pub mxcsr: u32,
    /// FS base.
    pub fs_base: u64,
    /// GS base.
    pub gs_base: u64,
    /// Kernel GS base.
    pub k_gs_base: u64,
    /// CR0.
    pub cr0: u64,
    /// CR2.
    pub cr2: u64,
    /// CR3.
    pub cr3: u64,
    /// CR4.
    pub cr4: u64,
    /// CR8.
    pub cr8: u64,
    /// EFER.
    pub efer: u64,
}

impl X86Regs {
    /// The value of `r` (zero-extended).
    pub fn get(&self, r: X86Reg) -> u128 {
        match r {
            X86Reg::Gpr(i) => self.gpr[GDB_GPR_TO_HW[i as usize & 15]].into(),
            X86Reg::Rip => self.rip.into(),
            X86Reg::Eflags => self.eflags.into(),
            X86Reg::Seg(i) => self.seg[(i as usize).min(5)].into(),
            X86Reg::St(i) => self.st[i as usize & 7],
            X86Reg::Fpu(i) => self.fpu[i as usize & 7].into(),
            X86Reg::Xmm(i) => self.xmm[i as usize & 15],
            X86Reg::Mxcsr => self.mxcsr.into(),
            X86Reg::FsBase => self.fs_base.into(),
            X86Reg::GsBase => self.gs_base.into(),
            X86Reg::KGsBase => self.k_gs_base.into(),
            X86Reg::Cr0 => self.cr0.into(),
            X86Reg::Cr2 => self.cr2.into(),
            X86Reg::Cr3 => self.cr3.into(),
            X86Reg::Cr4 => self.cr4.into(),
            X86Reg::Cr8 => self.cr8.into(),
            X86Reg::Efer => self.efer.into(),
        }
    }

    /// Sets `r` to `v` truncated to the register's size.
    pub fn set(&mut self, r: X86Reg, v: u128) {
        let (q, d) = (v as u64, v as u32);
        match r {
            X86Reg::Gpr(i) => self.gpr[GDB_GPR_TO_HW[i as usize & 15]] = q,
            X86Reg::Rip => self.rip = q,
            X86Reg::Eflags => self.eflags = d,
            X86Reg::Seg(i) => self.seg[(i as usize).min(5)] = d,
            X86Reg::St(i) => self.st[i as usize & 7] = v & ((1 << 80) - 1),
            X86Reg::Fpu(i) => self.fpu[i as usize & 7] = d,
            X86Reg::Xmm(i) => self.xmm[i as usize & 15] = v,
            X86Reg::Mxcsr => self.mxcsr = d,
            X86Reg::FsBase => self.fs_base = q,
            X86Reg::GsBase => self.gs_base = q,
            X86Reg::KGsBase => self.k_gs_base = q,
            X86Reg::Cr0 => self.cr0 = q,
            X86Reg::Cr2 => self.cr2 = q,
            X86Reg::Cr3 => self.cr3 = q,
            X86Reg::Cr4 => self.cr4 = q,
            X86Reg::Cr8 => self.cr8 = q,
            X86Reg::Efer => self.efer = q,
        }
    }

    /// Writes `r` little-endian into `out` (which must hold `r.size()`
    /// bytes); returns the number of bytes written, 0 if `out` is too small.
    pub fn read_bytes(&self, r: X86Reg, out: &mut [u8]) -> usize {
        let n = r.size();
        match out.get_mut(..n) {
            Some(dst) => {
                dst.copy_from_slice(&self.get(r).to_le_bytes()[..n]);
                n
            }
            None => 0,
        }
    }

    /// Sets `r` from exactly `r.size()` little-endian bytes.
    pub fn write_bytes(&mut self, r: X86Reg, bytes: &[u8]) -> Result<(), WrongSize> {
        if bytes.len() != r.size() {
            return Err(WrongSize {
                reg: r,
                len: bytes.len(),
            });
        }
        let mut full = [0u8; 16];
        full[..bytes.len()].copy_from_slice(bytes);
        self.set(r, u128::from_le_bytes(full));
        Ok(())
    }
}

impl Registers for X86Regs {
    type ProgramCounter = u64;

    fn pc(&self) -> u64 {
        self.rip
    }

    fn gdb_serialize(&self, mut write_byte: impl FnMut(Option<u8>)) {
        for r in X86Reg::ALL {
            let bytes = self.get(r).to_le_bytes();
            for &b in &bytes[..r.size()] {
                write_byte(Some(b));
            }
        }
    }

    fn gdb_deserialize(&mut self, bytes: &[u8]) -> Result<(), ()> {
        if bytes.len() != G_PACKET_LEN {
            return Err(());
        }
        let mut off = 0;
        for r in X86Reg::ALL {
            let n = r.size();
            self.write_bytes(r, &bytes[off..off + n]).map_err(|_| ())?;
            off += n;
        }
        Ok(())
    }
}

/// The complete target description (no `xi:include`s).
pub const TARGET_XML: &str = r#"<?xml version="1.0"?>
<!DOCTYPE target SYSTEM "gdb-target.dtd">
<target version="1.0">
<architecture>i386:x86-64</architecture>
<feature name="org.gnu.gdb.i386.core">
<flags id="i386_eflags" size="4">
<field name="" start="22" end="31"/>
<field name="CF" start="0" end="0"/>
<field name="" start="1" end="1"/>
<field name="PF" start="2" end="2"/>
<field name="AF" start="4" end="4"/>
<field name="ZF" start="6" end="6"/>
<field name="SF" start="7" end="7"/>
<field name="TF" start="8" end="8"/>
<field name="IF" start="9" end="9"/>
<field name="DF" start="10" end="10"/>
<field name="OF" start="11" end="11"/>
<field name="NT" start="14" end="14"/>
<field name="RF" start="16" end="16"/>
<field name="VM" start="17" end="17"/>
<field name="AC" start="18" end="18"/>
<field name="VIF" start="19" end="19"/>
<field name="VIP" start="20" end="20"/>
<field name="ID" start="21" end="21"/>
</flags>
<reg name="rax" bitsize="64" type="int64"/>
<reg name="rbx" bitsize="64" type="int64"/>
<reg name="rcx" bitsize="64" type="int64"/>
<reg name="rdx" bitsize="64" type="int64"/>
<reg name="rsi" bitsize="64" type="int64"/>
<reg name="rdi" bitsize="64" type="int64"/>
<reg name="rbp" bitsize="64" type="data_ptr"/>
<reg name="rsp" bitsize="64" type="data_ptr"/>
<reg name="r8" bitsize="64" type="int64"/>
<reg name="r9" bitsize="64" type="int64"/>
<reg name="r10" bitsize="64" type="int64"/>
<reg name="r11" bitsize="64" type="int64"/>
<reg name="r12" bitsize="64" type="int64"/>
<reg name="r13" bitsize="64" type="int64"/>
<reg name="r14" bitsize="64" type="int64"/>
<reg name="r15" bitsize="64" type="int64"/>
<reg name="rip" bitsize="64" type="code_ptr"/>
<reg name="eflags" bitsize="32" type="i386_eflags"/>
<reg name="cs" bitsize="32" type="int32"/>
<reg name="ss" bitsize="32" type="int32"/>
<reg name="ds" bitsize="32" type="int32"/>
<reg name="es" bitsize="32" type="int32"/>
<reg name="fs" bitsize="32" type="int32"/>
<reg name="gs" bitsize="32" type="int32"/>
<reg name="st0" bitsize="80" type="i387_ext"/>
<reg name="st1" bitsize="80" type="i387_ext"/>
<reg name="st2" bitsize="80" type="i387_ext"/>
<reg name="st3" bitsize="80" type="i387_ext"/>
<reg name="st4" bitsize="80" type="i387_ext"/>
<reg name="st5" bitsize="80" type="i387_ext"/>
<reg name="st6" bitsize="80" type="i387_ext"/>
<reg name="st7" bitsize="80" type="i387_ext"/>
<reg name="fctrl" bitsize="32" type="int" group="float"/>
<reg name="fstat" bitsize="32" type="int" group="float"/>
<reg name="ftag" bitsize="32" type="int" group="float"/>
<reg name="fiseg" bitsize="32" type="int" group="float"/>
<reg name="fioff" bitsize="32" type="int" group="float"/>
<reg name="foseg" bitsize="32" type="int" group="float"/>
<reg name="fooff" bitsize="32" type="int" group="float"/>
<reg name="fop" bitsize="32" type="int" group="float"/>
</feature>
<feature name="org.gnu.gdb.i386.sse">
<vector id="v4f" type="ieee_single" count="4"/>
<vector id="v2d" type="ieee_double" count="2"/>
<vector id="v16i8" type="int8" count="16"/>
<vector id="v8i16" type="int16" count="8"/>
<vector id="v4i32" type="int32" count="4"/>
<vector id="v2i64" type="int64" count="2"/>
<union id="vec128">
<field name="v4_float" type="v4f"/>
<field name="v2_double" type="v2d"/>
<field name="v16_int8" type="v16i8"/>
<field name="v8_int16" type="v8i16"/>
<field name="v4_int32" type="v4i32"/>
<field name="v2_int64" type="v2i64"/>
<field name="uint128" type="uint128"/>
</union>
<flags id="i386_mxcsr" size="4">
<field name="IE" start="0" end="0"/>
<field name="DE" start="1" end="1"/>
<field name="ZE" start="2" end="2"/>
<field name="OE" start="3" end="3"/>
<field name="UE" start="4" end="4"/>
<field name="PE" start="5" end="5"/>
<field name="DAZ" start="6" end="6"/>
<field name="IM" start="7" end="7"/>
<field name="DM" start="8" end="8"/>
<field name="ZM" start="9" end="9"/>
<field name="OM" start="10" end="10"/>
<field name="UM" start="11" end="11"/>
<field name="PM" start="12" end="12"/>
<field name="FZ" start="15" end="15"/>
</flags>
<reg name="xmm0" bitsize="128" type="vec128"/>
<reg name="xmm1" bitsize="128" type="vec128"/>
<reg name="xmm2" bitsize="128" type="vec128"/>
<reg name="xmm3" bitsize="128" type="vec128"/>
<reg name="xmm4" bitsize="128" type="vec128"/>
<reg name="xmm5" bitsize="128" type="vec128"/>
<reg name="xmm6" bitsize="128" type="vec128"/>
<reg name="xmm7" bitsize="128" type="vec128"/>
<reg name="xmm8" bitsize="128" type="vec128"/>
<reg name="xmm9" bitsize="128" type="vec128"/>
<reg name="xmm10" bitsize="128" type="vec128"/>
<reg name="xmm11" bitsize="128" type="vec128"/>
<reg name="xmm12" bitsize="128" type="vec128"/>
<reg name="xmm13" bitsize="128" type="vec128"/>
<reg name="xmm14" bitsize="128" type="vec128"/>
<reg name="xmm15" bitsize="128" type="vec128"/>
<reg name="mxcsr" bitsize="32" type="i386_mxcsr" group="vector"/>
</feature>
<feature name="org.gnu.gdb.i386.segments">
<reg name="fs_base" bitsize="64" type="int"/>
<reg name="gs_base" bitsize="64" type="int"/>
</feature>
<feature name="org.lockstep.x86-64.system">
<flags id="lockstep_cr0" size="8">
<field name="PE" start="0" end="0"/>
<field name="MP" start="1" end="1"/>
<field name="EM" start="2" end="2"/>
<field name="TS" start="3" end="3"/>
<field name="ET" start="4" end="4"/>
<field name="NE" start="5" end="5"/>
<field name="WP" start="16" end="16"/>
<field name="AM" start="18" end="18"/>
<field name="NW" start="29" end="29"/>
<field name="CD" start="30" end="30"/>
<field name="PG" start="31" end="31"/>
</flags>
<flags id="lockstep_cr4" size="8">
<field name="VME" start="0" end="0"/>
<field name="PVI" start="1" end="1"/>
<field name="TSD" start="2" end="2"/>
<field name="DE" start="3" end="3"/>
<field name="PSE" start="4" end="4"/>
<field name="PAE" start="5" end="5"/>
<field name="MCE" start="6" end="6"/>
<field name="PGE" start="7" end="7"/>
<field name="PCE" start="8" end="8"/>
<field name="OSFXSR" start="9" end="9"/>
<field name="OSXMMEXCPT" start="10" end="10"/>
<field name="UMIP" start="11" end="11"/>
<field name="LA57" start="12" end="12"/>
<field name="FSGSBASE" start="16" end="16"/>
<field name="PCIDE" start="17" end="17"/>
<field name="OSXSAVE" start="18" end="18"/>
<field name="SMEP" start="20" end="20"/>
<field name="SMAP" start="21" end="21"/>
<field name="PKE" start="22" end="22"/>
</flags>
<flags id="lockstep_efer" size="8">
<field name="SCE" start="0" end="0"/>
<field name="LME" start="8" end="8"/>
<field name="LMA" start="10" end="10"/>
<field name="NXE" start="11" end="11"/>
</flags>
<reg name="k_gs_base" bitsize="64" type="int"/>
<reg name="cr0" bitsize="64" type="lockstep_cr0"/>
<reg name="cr2" bitsize="64" type="data_ptr"/>
<reg name="cr3" bitsize="64" type="uint64"/>
<reg name="cr4" bitsize="64" type="lockstep_cr4"/>
<reg name="cr8" bitsize="64" type="uint64"/>
<reg name="efer" bitsize="64" type="lockstep_efer"/>
</feature>
</target>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, bitsize) of every `<reg>` in document order.
    fn xml_regs() -> Vec<(String, usize)> {
        TARGET_XML
            .split("<reg ")
            .skip(1)
            .map(|r| {
                let attr = |a: &str| {
                    let start = r.find(&format!("{a}=\"")).unwrap() + a.len() + 2;
                    let len = r[start..].find('"').unwrap();
                    r[start..start + len].to_string()
                };
                (attr("name"), attr("bitsize").parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn xml_matches_the_register_table() {
        let regs = xml_regs();
        assert_eq!(regs.len(), REG_COUNT);
        for (i, (name, bits)) in regs.iter().enumerate() {
            let r = X86Reg::from_index(i).unwrap();
            assert_eq!((r.name(), r.size() * 8), (name.as_str(), *bits), "reg {i}");
            assert_eq!(r.index(), i);
            assert_eq!(X86Reg::ALL[i], r);
        }
        assert_eq!(X86Reg::from_index(REG_COUNT), None);
        let total: usize = X86Reg::ALL.iter().map(|r| r.size()).sum();
        assert_eq!(total, G_PACKET_LEN);
    }

    #[test]
    fn g_packet_round_trips_and_rejects_wrong_lengths() {
        let mut regs = X86Regs::default();
        for (i, r) in X86Reg::ALL.iter().enumerate() {
            // Distinct bytes in every position the register has.
            regs.set(*r, u128::from_le_bytes([i as u8 + 1; 16]));
        }
        let mut bytes = Vec::new();
        regs.gdb_serialize(|b| bytes.push(b.unwrap()));
        assert_eq!(bytes.len(), G_PACKET_LEN);
        // rax first, then rbx (hardware index 3).
        assert_eq!(&bytes[..8], &[1; 8]);
        assert_eq!(regs.gpr[3], u64::from_le_bytes([2; 8]));
        let mut back = X86Regs::default();
        back.gdb_deserialize(&bytes).unwrap();
        assert_eq!(back, regs);
        assert!(back.gdb_deserialize(&bytes[1..]).is_err());
        assert!(back.gdb_deserialize(&[]).is_err());
    }

    #[test]
    fn single_register_bytes_check_sizes() {
        let mut regs = X86Regs::default();
        assert!(regs.write_bytes(X86Reg::Rip, &[1, 2, 3]).is_err());
        regs.write_bytes(X86Reg::St(1), &[0xff; 10]).unwrap();
        assert_eq!(regs.st[1], (1u128 << 80) - 1);
        let mut out = [0u8; 4];
        assert_eq!(regs.read_bytes(X86Reg::Rip, &mut out), 0);
        assert_eq!(regs.read_bytes(X86Reg::Mxcsr, &mut out), 4);
        assert_eq!(
            X86Reg::from_raw_id(62).map(|(r, n)| (r, n.map(|n| n.get()))),
            Some((X86Reg::Cr3, Some(8)))
        );
    }
}
