//! Integration tests of the web.

mod smoke;
