//! Guest workloads for the criterion benches (see benches/README.md).
