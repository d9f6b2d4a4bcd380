//! Shared helpers for the end-to-end tests live in `tooldelta-testkit`; the tests are in `tests/`.
