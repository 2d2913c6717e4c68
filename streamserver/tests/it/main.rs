//! Integration tests of the streamserver: the real server on a real MariaDB, real files and
//! real clients (curl, ffprobe, tuspy).

mod clients;
mod formats;
mod helpers;
mod limits;
mod local_files;
mod media_origin;
mod openapi;
mod playback;
mod renditions;
mod s3;
mod smoke;
mod tus;
mod upload;
mod visibility;
