//! emu-core

pub mod softfloat;
