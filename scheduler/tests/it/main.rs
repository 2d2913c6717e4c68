//! Integration tests of the scheduler.

mod smoke;
