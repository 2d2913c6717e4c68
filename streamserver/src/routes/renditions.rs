//! A video's files besides its progressive file: the HLS ladder (`/videos/{vid}/hls/{file}`),
//! the storyboard (`/videos/{vid}/storyboard.jpg`, `.vtt`) and the original upload
//! (`/videos/{vid}/original`, its owner's alone). This module decides which stored object a URL
//! names, its type, and who may have it; every byte then goes through `playback::serve`, with
//! the validators, ranges, caching and stream limits of playback.
//!
//! The ladder and the storyboard exist only once processing is done: a video that is not
//! `ready` has none (404, also to its owner), whatever storage holds. Playlists refer to their
//! neighbours relatively (`360p.m3u8`, `360p.mp4`, `storyboard.jpg#xywh=...`), so these URLs
//! work unchanged behind web's proxy or another media origin.

use std::net::IpAddr;

use http::{HeaderValue, Request, Response};
use svc::http::Body;
use svc::storage::keys::{self, LADDER_HEIGHTS};
use svc::VideoId;

use crate::access::{self, Granted};
use crate::error::{Error, Result};
use crate::ingest;
use crate::routes::playback::{self, Served, MEDIA};
use crate::state::Stream as State;

/// RFC 8216 section 4: the media type of an HLS playlist.
const PLAYLIST: &str = "application/vnd.apple.mpegurl";

/// One file of a video's HLS ladder, as named under `/videos/{vid}/hls/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HlsFile {
    /// `master.m3u8`: every rung with its bandwidth, resolution and codecs.
    Master,
    /// `<h>p.m3u8`: one rung's media playlist (byte ranges into its `.mp4`).
    Playlist(u16),
    /// `<h>p.mp4`: one rung's fMP4 file, init segment and every fragment.
    Media(u16),
}

impl HlsFile {
    /// The file a path segment names; `None` (404) for anything else, including a height that
    /// is not a rung of `LADDER_HEIGHTS` or one spelled otherwise (`0360p.mp4`).
    pub fn parse(name: &str) -> Option<Self> {
        if name == "master.m3u8" {
            return Some(HlsFile::Master);
        }
        let (digits, file): (&str, fn(u16) -> HlsFile) =
            if let Some(digits) = name.strip_suffix("p.m3u8") {
                (digits, HlsFile::Playlist)
            } else if let Some(digits) = name.strip_suffix("p.mp4") {
                (digits, HlsFile::Media)
            } else {
                return None;
            };
        LADDER_HEIGHTS
            .into_iter()
            .find(|h| h.to_string() == digits)
            .map(file)
    }

    fn key(self, video_id: &VideoId) -> String {
        match self {
            HlsFile::Master => keys::hls_master(video_id),
            HlsFile::Playlist(height) => keys::hls_playlist(video_id, height),
            HlsFile::Media(height) => keys::hls_media(video_id, height),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            HlsFile::Master | HlsFile::Playlist(_) => PLAYLIST,
            HlsFile::Media(_) => "video/mp4",
        }
    }
}

/// The two files of a storyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storyboard {
    /// `storyboard.jpg`: the sprite, small frames tiled in one JPEG.
    Image,
    /// `storyboard.vtt`: WebVTT cues mapping time ranges to regions of the sprite.
    Cues,
}

/// `GET|HEAD /videos/{vid}/hls/{file}`.
pub async fn hls(
    state: &State,
    req: &Request<()>,
    video_id: &VideoId,
    file: &str,
    client: IpAddr,
    granted: Option<Granted>,
) -> Result<Response<Body>> {
    let file = HlsFile::parse(file).ok_or_else(|| Error::not_found("HLS file"))?;
    let (key, content_type) = (file.key(video_id), file.content_type());
    let wanted = Wanted {
        key: &key,
        content_type,
        granted,
    };
    processed_file(state, req, video_id, client, wanted).await
}

/// `GET|HEAD /videos/{vid}/storyboard.jpg` and `/videos/{vid}/storyboard.vtt`.
pub async fn storyboard(
    state: &State,
    req: &Request<()>,
    video_id: &VideoId,
    part: Storyboard,
    client: IpAddr,
    granted: Option<Granted>,
) -> Result<Response<Body>> {
    let (key, content_type) = match part {
        Storyboard::Image => (keys::storyboard_image(video_id), "image/jpeg"),
        Storyboard::Cues => (keys::storyboard_vtt(video_id), "text/vtt"),
    };
    let wanted = Wanted {
        key: &key,
        content_type,
        granted,
    };
    processed_file(state, req, video_id, client, wanted).await
}

/// Which processed file a request asks for, and the grant it came with.
struct Wanted<'a> {
    key: &'a str,
    content_type: &'static str,
    granted: Option<Granted>,
}

/// A file processing made for a `ready` video, to whoever may see the video; 404 for a video
/// not `ready` (to its owner too: there is nothing to play yet), one the requester may not
/// see, and a file not made (yet).
async fn processed_file(
    state: &State,
    req: &Request<()>,
    video_id: &VideoId,
    client: IpAddr,
    wanted: Wanted<'_>,
) -> Result<Response<Body>> {
    let Wanted {
        key,
        content_type,
        granted,
    } = wanted;
    let row = playback::row(state, video_id)
        .await?
        .filter(|row| row.is_ready())
        .ok_or_else(|| Error::not_found("video"))?;
    let audience = access::audience(state, req.headers(), &row, granted).await?;
    if let Some(resp) = playback::redirect(state, req, audience, MEDIA, key, content_type).await? {
        return Ok(resp);
    }
    let Some(object) = state.storage.open(key).await? else {
        return Err(Error::not_found("file"));
    };
    let served = Served {
        validators: playback::file_validators(&*object),
        content_type: content_type.to_string(),
        key: key.to_string(),
        object,
        audience,
        policy: MEDIA,
        disposition: None,
    };
    playback::serve(state, req, client, served).await
}

/// `GET|HEAD /videos/{vid}/original`: the file as its owner uploaded it, as a download with its
/// own name and type; the owner's alone whatever the visibility (anyone else: 404), once the
/// video has bytes. When the progressive file is a transcode the original is kept at
/// `originals/<vid>` (`has_original`); otherwise the progressive file *is* the original, at
/// most remuxed with `+faststart` (the same streams, moved boxes), and is served as such.
pub async fn original(
    state: &State,
    req: &Request<()>,
    video_id: &VideoId,
    client: IpAddr,
) -> Result<Response<Body>> {
    let row = playback::row(state, video_id)
        .await?
        .filter(|row| row.has_bytes())
        .ok_or_else(|| Error::not_found("video"))?;
    let audience = access::owner_only(state, req.headers(), &row).await?;
    let key = if row.has_original {
        keys::original(video_id)
    } else {
        keys::video(video_id)
    };
    let Some(object) = state.storage.open(&key).await? else {
        return Err(Error::not_found("original"));
    };
    // The progressive file has its hash in the row (checked against the opened file); a kept
    // original does not.
    let validators = if row.has_original {
        playback::file_validators(&*object)
    } else {
        playback::validators(&row, &*object)
    };
    let content_type = row
        .original_type
        .as_deref()
        .or(row.content_type.as_deref())
        .unwrap_or("application/octet-stream");
    let name = row
        .original_name
        .clone()
        .unwrap_or_else(|| unnamed(video_id, content_type));
    let served = Served {
        validators,
        content_type: content_type.to_string(),
        key,
        object,
        audience,
        policy: MEDIA,
        disposition: Some(attachment(&name)),
    };
    playback::serve(state, req, client, served).await
}

/// The download name of an original uploaded without one (a bare `PUT`): the video's id with
/// the usual extension of its type.
fn unnamed(video_id: &VideoId, content_type: &str) -> String {
    match ingest::extension_of(content_type) {
        Some(extension) => format!("{video_id}.{extension}"),
        None => video_id.to_string(),
    }
}

/// `Content-Disposition: attachment` naming the file (RFC 6266): `filename` with an ASCII
/// stand-in every browser reads, and, when the name is anything else (non-ASCII, quotes,
/// backslashes, percent signs, which some browsers would decode), also `filename*` with the
/// exact name in UTF-8, percent-encoded as RFC 8187 says, which browsers prefer.
pub fn attachment(name: &str) -> HeaderValue {
    let fallback: String = name
        .chars()
        .map(|c| match c {
            '"' | '\\' | '%' => '_',
            ' '..='~' => c,
            _ => '_',
        })
        .collect();
    let mut value = format!("attachment; filename=\"{fallback}\"");
    if fallback != name {
        value.push_str("; filename*=UTF-8''");
        value.push_str(&rfc8187(name));
    }
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// RFC 8187 section 3.2.1 `value-chars`: `attr-char` as it is, every other byte of the UTF-8
/// as `%XX`.
fn rfc8187(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        let attr_char = byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte);
        if attr_char {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hls_files_are_the_masters_and_each_rungs_and_nothing_else() {
        assert_eq!(HlsFile::parse("master.m3u8"), Some(HlsFile::Master));
        for height in LADDER_HEIGHTS {
            let playlist = HlsFile::parse(&format!("{height}p.m3u8"));
            assert_eq!(playlist, Some(HlsFile::Playlist(height)));
            let media = HlsFile::parse(&format!("{height}p.mp4"));
            assert_eq!(media, Some(HlsFile::Media(height)));
        }
        for name in [
            "",
            "master.m3u",
            "Master.m3u8",
            "master.m3u8x",
            "144p.m3u8",
            "2160p.mp4",
            "0360p.mp4",
            "+360p.mp4",
            "360P.mp4",
            "360.mp4",
            "p.mp4",
            "360p.ts",
            "360p.m3u8.mp4",
            "../360p.mp4",
        ] {
            assert_eq!(HlsFile::parse(name), None, "{name:?}");
        }
    }

    #[test]
    fn each_hls_file_has_its_key_and_type() {
        let vid = VideoId::random();
        let cases = [
            (HlsFile::Master, keys::hls_master(&vid), PLAYLIST),
            (
                HlsFile::Playlist(360),
                keys::hls_playlist(&vid, 360),
                PLAYLIST,
            ),
            (HlsFile::Media(360), keys::hls_media(&vid, 360), "video/mp4"),
        ];
        for (file, key, content_type) in cases {
            assert_eq!(file.key(&vid), key, "{file:?}");
            assert_eq!(file.content_type(), content_type, "{file:?}");
        }
        assert_eq!(PLAYLIST, "application/vnd.apple.mpegurl");
    }

    #[test]
    fn an_ascii_name_is_sent_as_it_is() {
        assert_eq!(
            attachment("holiday clip (1).mov"),
            "attachment; filename=\"holiday clip (1).mov\""
        );
    }

    #[test]
    fn any_other_name_gets_a_stand_in_and_its_exact_utf8_form() {
        assert_eq!(
            attachment("Été à Paris.mp4"),
            "attachment; filename=\"_t_ _ Paris.mp4\"; \
             filename*=UTF-8''%C3%89t%C3%A9%20%C3%A0%20Paris.mp4"
        );
        assert_eq!(
            attachment("视频.mp4"),
            "attachment; filename=\"__.mp4\"; filename*=UTF-8''%E8%A7%86%E9%A2%91.mp4"
        );
        // Characters that would end or escape the quoted string, or be percent-decoded.
        assert_eq!(
            attachment("a\"b\\c%20d.avi"),
            "attachment; filename=\"a_b_c_20d.avi\"; filename*=UTF-8''a%22b%5Cc%2520d.avi"
        );
    }

    #[test]
    fn an_unnamed_original_is_named_for_its_video_and_type() {
        let vid = VideoId::random();
        assert_eq!(unnamed(&vid, "video/x-msvideo"), format!("{vid}.avi"));
        assert_eq!(unnamed(&vid, "video/quicktime"), format!("{vid}.mov"));
        assert_eq!(unnamed(&vid, "application/octet-stream"), vid.to_string());
    }
}
