//! Starting a program: the address-space layout and its randomization ([`layout`]),
//! the initial stack exactly as Linux builds it ([`stack`]), and the ELF loader
//! ([`loader`]) that maps the segments, the stack and the brk heap.

pub mod layout;
pub mod loader;
pub mod stack;
