//! Integration tests of the api against a real MariaDB.

mod smoke;
