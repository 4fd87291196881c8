//! The flashcache target (specs/flashcache.md): a set-associative SSD cache over a disk.
