//! emu-core
