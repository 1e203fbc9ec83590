//! Tests in a real browser (headless Chromium), in their own binary: cargo runs test binaries
//! one after another, so Chromium never competes for the CPU with the timing-sensitive tests
//! of `tests/it` on a small machine.

#[allow(dead_code)]
#[path = "../it/support.rs"]
mod support;

mod review_page;
