//! (placeholder: filled in by its family's work)

use iced_x86::Instruction;

use super::Handler;

/// The handler for an instruction of this family, if `i` is one.
pub fn resolve(_i: &Instruction) -> Option<Handler> {
    None
}
