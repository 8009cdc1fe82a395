//! `KCell`: the kernel's global-state cell. One CPU, and kernel code never runs with
//! interrupts enabled except while halted, so nothing contends; the cell only catches
//! re-entrance (a bug) by panicking instead of handing out two `&mut`.
#![allow(unsafe_code)] // interior mutability of a static needs UnsafeCell

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

/// A global value with exclusive, checked access.
pub struct KCell<T> {
    taken: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: access goes through `lock`, which hands out at most one guard at a time.
unsafe impl<T> Sync for KCell<T> {}

impl<T> KCell<T> {
    /// A cell holding `value`.
    pub const fn new(value: T) -> Self {
        KCell {
            taken: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Exclusive access; panics if the value is already borrowed (re-entrance).
    pub fn lock(&self) -> KGuard<'_, T> {
        if self.taken.swap(true, Ordering::Acquire) {
            panic!("kernel state re-entered");
        }
        KGuard { cell: self }
    }

    /// Exclusive access, or `None` if the value is already borrowed.
    pub fn try_lock(&self) -> Option<KGuard<'_, T>> {
        if self.taken.swap(true, Ordering::Acquire) {
            return None;
        }
        Some(KGuard { cell: self })
    }
}

/// The borrow of a `KCell`.
pub struct KGuard<'a, T> {
    cell: &'a KCell<T>,
}

impl<T> Deref for KGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard is the only borrow (the taken flag was clear).
        unsafe { &*self.cell.value.get() }
    }
}

impl<T> DerefMut for KGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and the guard is borrowed mutably.
        unsafe { &mut *self.cell.value.get() }
    }
}

impl<T> Drop for KGuard<'_, T> {
    fn drop(&mut self) {
        self.cell.taken.store(false, Ordering::Release);
    }
}
