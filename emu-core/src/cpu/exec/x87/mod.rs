//! (placeholder: the x87 family)

use iced_x86::Instruction;

use super::Handler;

/// The handler for an x87 instruction, if `i` is one.
pub fn resolve(_i: &Instruction) -> Option<Handler> {
    None
}
