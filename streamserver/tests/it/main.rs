//! Integration tests of the streamserver.

mod smoke;
