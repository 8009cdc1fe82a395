//! Host-side failures of the emulator (`Error`): bad configuration, resource
//! exhaustion, bad host requests. Guest faults are never `Error`s: they are
//! [`crate::Exception`]s delivered to the guest or reported through
//! [`crate::Exit`].

/// A failure of the emulator or of a host-side request.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The guest RAM could not be allocated.
    #[error("cannot allocate {size} bytes of guest RAM: {reason}")]
    RamAllocation {
        /// Requested size in bytes.
        size: u64,
        /// The host's explanation.
        reason: String,
    },
    /// The configured RAM size is unusable.
    #[error("invalid RAM size {size:#x}: must be a non-zero multiple of 4096 and at most 64 GiB")]
    BadRamSize {
        /// The rejected size.
        size: u64,
    },
    /// A host access touched a physical address outside guest RAM.
    #[error("physical range {addr:#x}+{len:#x} is outside guest RAM ({ram_size:#x} bytes)")]
    PhysOutOfRange {
        /// Start of the access.
        addr: u64,
        /// Length of the access.
        len: u64,
        /// Size of guest RAM.
        ram_size: u64,
    },
    /// A host access through a virtual address found no usable mapping.
    #[error("virtual address {addr:#x} is not mapped for this access")]
    NotMapped {
        /// The first unmapped address.
        addr: u64,
    },
    /// A mapping request was malformed (unaligned or non-canonical range).
    #[error("bad mapping request {addr:#x}+{len:#x}: {reason}")]
    BadMapping {
        /// Start of the range.
        addr: u64,
        /// Length of the range.
        len: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Guest RAM has no free frame left for page tables or mapped pages.
    #[error("out of guest physical memory while building page tables")]
    OutOfFrames,
    /// The kernel image or boot data cannot be loaded.
    #[error("cannot load the kernel: {0}")]
    Load(#[from] crate::loader::LoadError),
}
