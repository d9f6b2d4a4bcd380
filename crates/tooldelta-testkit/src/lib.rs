//! Dev-only helpers for tooldelta tests.
