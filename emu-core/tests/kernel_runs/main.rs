//! End to end: the real guest kernel boots on the machine and runs static Linux
//! programs compiled at test time with the host's `gcc -static`; each program's stdout
//! and exit status must equal a native run of the same binary. Skipped (with a
//! message) when gcc or static glibc is missing.

mod busybox;
mod harness;
mod programs;
