//! What a video file is, as ffprobe and its first bytes tell it ([`Media`]), and what
//! processing does with it ([`Plan`]): keep it, remux it into the container browsers expect,
//! or transcode a progressive rendition. Also the frame sizes every rendition is scaled to
//! ([`fit`]) and the plain sentences a refused file's owner reads ([`reasons`]).
//!
//! Everything here is pure and tested here; running ffprobe and ffmpeg is `tools.rs`' and
//! `encode.rs`' business, and what a job does with a plan is `process.rs`'.

use std::time::Duration;

use serde::Deserialize;

use crate::store::videos::Probe;

/// The sentences a video's owner reads when processing refuses their file.
pub mod reasons {
    pub const NO_VIDEO: &str = "This file has no video track.";
    pub const DAMAGED: &str = "This file is damaged or incomplete; upload it again.";
    pub const NO_PICTURE_SIZE: &str =
        "This file's video track has no picture size, so it cannot be played.";
    pub const MISSING: &str = "The uploaded file is missing from storage; upload it again.";
    /// For a stream ffprobe sees but this ffmpeg cannot decode (an unknown or proprietary
    /// codec): the file may be fine elsewhere, so it says what would help.
    pub const UNDECODABLE: &str = "This file's video is in a format this site cannot read; \
         export it as MP4 (H.264) and upload it again.";
    /// The transcode itself failed on the input.
    pub const UNCONVERTIBLE: &str = "This video could not be converted for playback; the file \
         may be damaged. Export it again as MP4 (H.264) and upload it again.";
}

/// The container a file is in, from ffprobe's format name and the file's first bytes (the
/// `ftyp` brand tells MOV and 3GP from MP4, the EBML DocType WebM from other Matroska; the
/// same signatures the streamserver sniffs at upload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Container {
    Mp4,
    /// The ISO family under another brand: QuickTime (`qt  `) or 3GPP (`3gp*`, `3g2*`), which
    /// not every browser plays as such.
    Mov,
    Webm,
    Matroska,
    /// Any other format, by ffprobe's name (`avi`, `mpegts`, `flv`, ...).
    Other(String),
}

impl Container {
    pub fn sniff(format_name: &str, head: &[u8]) -> Self {
        let names: Vec<&str> = format_name.split(',').collect();
        if names.contains(&"mp4") || names.contains(&"mov") {
            let brand = (head.len() >= 12 && &head[4..8] == b"ftyp").then(|| &head[8..12]);
            let other_brand = brand.is_some_and(|b| b == b"qt  " || b.starts_with(b"3g"));
            return if other_brand {
                Container::Mov
            } else {
                Container::Mp4
            };
        }
        if names.contains(&"matroska") || names.contains(&"webm") {
            return if head.windows(4).any(|w| w == b"webm") {
                Container::Webm
            } else {
                Container::Matroska
            };
        }
        Container::Other(format_name.to_string())
    }
}

/// The container a remux writes, and the content type served for it afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Muxer {
    Mp4,
    Webm,
}

impl Muxer {
    /// ffmpeg's `-f` name.
    pub fn format(self) -> &'static str {
        match self {
            Muxer::Mp4 => "mp4",
            Muxer::Webm => "webm",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Muxer::Mp4 => "video/mp4",
            Muxer::Webm => "video/webm",
        }
    }
}

/// What processing does to make the progressive rendition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Browsers play the file as it is.
    Keep,
    /// Browsers play its streams, not its container or layout: copy them into this one
    /// (`-c copy`, `+faststart` for MP4). Playable meanwhile.
    Remux(Muxer),
    /// Anything else: transcode to H.264/AAC MP4; not playable until that is done.
    Transcode,
}

/// The first video stream of a file, as the plan and the encoder need it.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoStream {
    pub codec: String,
    pub pix_fmt: Option<String>,
    /// Coded size, before rotation and pixel aspect.
    pub width: u32,
    pub height: u32,
    /// Sample (pixel) aspect ratio; 1:1 when unknown.
    pub sar: (u32, u32),
    /// Display rotation in degrees, 0, 90, 180 or 270 (from the display matrix).
    pub rotation: u32,
    /// Average frames per second, when known.
    pub fps: Option<f64>,
    pub interlaced: bool,
    /// The transfer characteristic (`smpte2084` for HDR10 and `arib-std-b67` for HLG mean HDR).
    pub transfer: Option<String>,
}

/// What a file holds, from ffprobe.
#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    pub container: Container,
    pub duration: Option<Duration>,
    pub bitrate: Option<u64>,
    pub video: VideoStream,
    /// The first audio stream's codec, if there is one.
    pub audio: Option<String>,
    pub audio_channels: Option<u32>,
}

/// Codecs every current browser plays in MP4, and in WebM.
const MP4_VIDEO: [&str; 1] = ["h264"];
const MP4_AUDIO: [&str; 2] = ["aac", "mp3"];
const WEBM_VIDEO: [&str; 3] = ["vp8", "vp9", "av1"];
const WEBM_AUDIO: [&str; 2] = ["opus", "vorbis"];
/// 8-bit 4:2:0, the only sampling every browser decodes (High 10, 4:2:2 and 4:4:4 profiles
/// are refused by most hardware decoders and by Firefox).
const BROWSER_PIX_FMTS: [&str; 2] = ["yuv420p", "yuvj420p"];

impl Media {
    /// The size the picture is shown at: pixel aspect applied to the width, then rotated.
    pub fn display_size(&self) -> (u32, u32) {
        let v = &self.video;
        let (n, d) = v.sar;
        let width = if n > 0 && d > 0 && n != d {
            (u64::from(v.width) * u64::from(n) / u64::from(d)).max(2) as u32
        } else {
            v.width
        };
        if v.rotation % 180 == 90 {
            (v.height, width)
        } else {
            (width, v.height)
        }
    }

    /// Whether the video needs HDR-to-SDR tone mapping to look right in an 8-bit rendition.
    pub fn is_hdr(&self) -> bool {
        matches!(
            self.video.transfer.as_deref(),
            Some("smpte2084" | "arib-std-b67")
        )
    }

    /// What `video_info` stores about the file.
    pub fn row(&self) -> Probe {
        let (width, height) = self.display_size();
        Probe {
            duration_ms: self.duration.map(|d| d.as_millis() as u64),
            width,
            height,
            video_codec: self.video.codec.clone(),
            audio_codec: self.audio.clone(),
            bitrate: self.bitrate,
        }
    }

    /// Whether browsers decode the streams and show them as they are: the codecs of
    /// `video_codecs`/`audio_codecs`, 8-bit 4:2:0, square pixels, progressive, upright (a
    /// rotated file is transcoded so that every player, MSE-based ones included, shows it
    /// upright and its stored size is the size it is shown at), SDR.
    fn plays_as_is(&self, video_codecs: &[&str], audio_codecs: &[&str]) -> bool {
        let v = &self.video;
        let square = v.sar.0 == v.sar.1 || v.sar.0 == 0 || v.sar.1 == 0;
        video_codecs.contains(&v.codec.as_str())
            && v.pix_fmt
                .as_deref()
                .is_some_and(|p| BROWSER_PIX_FMTS.contains(&p))
            && square
            && v.rotation == 0
            && !v.interlaced
            && !self.is_hdr()
            && self
                .audio
                .as_deref()
                .is_none_or(|a| audio_codecs.contains(&a))
    }

    /// What processing does with the file; `index_at_end` says whether an MP4/MOV has its
    /// `moov` after its `mdat` (see `mp4.rs`).
    pub fn plan(&self, index_at_end: bool) -> Plan {
        match &self.container {
            Container::Mp4 | Container::Mov if self.plays_as_is(&MP4_VIDEO, &MP4_AUDIO) => {
                // A MOV or 3GP is rewritten as MP4 even with its index first: Firefox does not
                // play `video/quicktime`, and the copy costs about a second per gigabyte.
                if self.container == Container::Mp4 && !index_at_end {
                    Plan::Keep
                } else {
                    Plan::Remux(Muxer::Mp4)
                }
            }
            Container::Webm | Container::Matroska if self.plays_as_is(&WEBM_VIDEO, &WEBM_AUDIO) => {
                if self.container == Container::Webm {
                    Plan::Keep
                } else {
                    Plan::Remux(Muxer::Webm)
                }
            }
            _ => Plan::Transcode,
        }
    }
}

#[derive(Deserialize)]
struct ProbeJson {
    #[serde(default)]
    streams: Vec<StreamJson>,
    format: Option<FormatJson>,
}

#[derive(Deserialize)]
struct StreamJson {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    pix_fmt: Option<String>,
    sample_aspect_ratio: Option<String>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    field_order: Option<String>,
    color_transfer: Option<String>,
    channels: Option<u32>,
    duration: Option<String>,
    /// Cover art in audio files shows up as a one-frame "video" stream.
    #[serde(default)]
    disposition: Option<serde_json::Value>,
    #[serde(default)]
    side_data_list: Vec<serde_json::Value>,
    #[serde(default)]
    tags: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct FormatJson {
    duration: Option<String>,
    bit_rate: Option<String>,
    format_name: Option<String>,
}

fn seconds(s: &str) -> Option<Duration> {
    let secs: f64 = s.trim().parse().ok()?;
    (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

/// `"num/den"` as a number, `None` for `0/0` and nonsense.
fn ratio(s: &str) -> Option<f64> {
    let (n, d) = s.split_once(['/', ':'])?;
    let (n, d): (f64, f64) = (n.trim().parse().ok()?, d.trim().parse().ok()?);
    (n > 0.0 && d > 0.0).then_some(n / d)
}

fn sar(s: Option<&str>) -> (u32, u32) {
    s.and_then(|s| s.split_once(':'))
        .and_then(|(n, d)| Some((n.parse().ok()?, d.parse().ok()?)))
        .filter(|&(n, d): &(u32, u32)| n > 0 && d > 0)
        .unwrap_or((1, 1))
}

/// The display rotation in whole quarter turns, as degrees 0-270: ffprobe 5.1 reports the
/// display matrix as side data with `rotation` (older files may carry a `rotate` tag).
fn rotation(stream: &StreamJson) -> u32 {
    let from_matrix = stream
        .side_data_list
        .iter()
        .find_map(|d| d.get("rotation").and_then(serde_json::Value::as_f64));
    let from_tag = || {
        stream
            .tags
            .as_ref()?
            .get("rotate")?
            .as_str()?
            .parse::<f64>()
            .ok()
    };
    let degrees = from_matrix.or_else(from_tag).unwrap_or(0.0);
    let quarter_turns = (degrees / 90.0).round() as i64;
    (quarter_turns.rem_euclid(4) * 90) as u32
}

/// Turns ffprobe's JSON (`-show_format -show_streams`) and the file's first bytes into a
/// [`Media`], or the reason the file is not a video its owner can read.
pub fn parse(json: &[u8], head: &[u8]) -> Result<Media, &'static str> {
    let parsed: ProbeJson = serde_json::from_slice(json).map_err(|_| reasons::DAMAGED)?;
    let is_picture = |s: &StreamJson| {
        s.disposition
            .as_ref()
            .and_then(|d| d.get("attached_pic"))
            .and_then(serde_json::Value::as_i64)
            == Some(1)
    };
    let video = parsed
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("video") && !is_picture(s))
        .ok_or(reasons::NO_VIDEO)?;
    let codec = video
        .codec_name
        .clone()
        .filter(|c| !c.is_empty() && c != "none")
        .ok_or(reasons::UNDECODABLE)?;
    let (width, height) = match (video.width, video.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => (w, h),
        _ => return Err(reasons::NO_PICTURE_SIZE),
    };
    let audio = parsed
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("audio"));
    let format = parsed.format.as_ref();
    let format_name = format
        .and_then(|f| f.format_name.as_deref())
        .unwrap_or_default();
    let fps = video
        .avg_frame_rate
        .as_deref()
        .and_then(ratio)
        .or_else(|| video.r_frame_rate.as_deref().and_then(ratio))
        // A rate past 1000 is a timebase, not a frame rate (some MPEG-TS and VFR files).
        .filter(|f| *f <= 1000.0);
    Ok(Media {
        container: Container::sniff(format_name, head),
        duration: format
            .and_then(|f| f.duration.as_deref())
            .or(video.duration.as_deref())
            .and_then(seconds),
        bitrate: format
            .and_then(|f| f.bit_rate.as_deref())
            .and_then(|b| b.trim().parse().ok()),
        video: VideoStream {
            codec,
            pix_fmt: video.pix_fmt.clone(),
            width,
            height,
            sar: sar(video.sample_aspect_ratio.as_deref()),
            rotation: rotation(video),
            fps,
            interlaced: matches!(
                video.field_order.as_deref(),
                Some("tt" | "bb" | "tb" | "bt")
            ),
            transfer: video.color_transfer.clone(),
        },
        audio: audio.and_then(|a| a.codec_name.clone()),
        audio_channels: audio.and_then(|a| a.channels),
    })
}

/// What ffprobe saw, in a few words for the operator (`format avi; streams audio/mp3,
/// video/-`), when a file is refused without a tool error to quote.
pub fn summary(json: &[u8]) -> String {
    let Ok(parsed) = serde_json::from_slice::<ProbeJson>(json) else {
        return "ffprobe printed no JSON".to_string();
    };
    let format = parsed
        .format
        .and_then(|f| f.format_name)
        .unwrap_or_else(|| "unknown".to_string());
    let streams: Vec<String> = parsed
        .streams
        .iter()
        .map(|s| {
            format!(
                "{}/{}",
                s.codec_type.as_deref().unwrap_or("-"),
                s.codec_name.as_deref().unwrap_or("-")
            )
        })
        .collect();
    format!(
        "ffprobe saw format {format}; streams {}",
        streams.join(", ")
    )
}

/// The even frame size (`yuv420p` needs even sides) that shows `display` with its shorter
/// side at `short`, never larger than the source: the size of a rendition "`short`p".
/// Portrait videos count their width as the short side, as YouTube and PeerTube do, so a
/// 1080x1920 phone clip has a 1080p rung of 1080x1920.
pub fn fit(display: (u32, u32), short: u32) -> (u32, u32) {
    let (w, h) = display;
    let even = |x: f64| ((x / 2.0).round() as u32).max(1) * 2;
    let source_short = w.min(h);
    let short = short.min(source_short);
    if w >= h {
        (
            even(f64::from(w) * f64::from(short) / f64::from(h)),
            even(f64::from(short)),
        )
    } else {
        (
            even(f64::from(short)),
            even(f64::from(h) * f64::from(short) / f64::from(w)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MP4_HEAD: &[u8] = b"\0\0\0\x20ftypisom\0\0\x02\0";
    const MOV_HEAD: &[u8] = b"\0\0\0\x14ftypqt  \0\0\x02\0";
    const WEBM_HEAD: &[u8] = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm";
    const MKV_HEAD: &[u8] = b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska";

    fn probe(video: &str, audio: Option<&str>, format: &str) -> Vec<u8> {
        let audio = audio
            .map(|a| format!(r#",{{"codec_type":"audio","codec_name":"{a}","channels":2}}"#))
            .unwrap_or_default();
        format!(
            r#"{{"streams":[{{"codec_type":"video",{video}}}{audio}],
               "format":{{"format_name":"{format}","duration":"2.043000","bit_rate":"123456"}}}}"#
        )
        .into_bytes()
    }

    const H264: &str = r#""codec_name":"h264","width":320,"height":240,"pix_fmt":"yuv420p",
        "sample_aspect_ratio":"1:1","avg_frame_rate":"25/1","field_order":"progressive""#;
    const MP4: &str = "mov,mp4,m4a,3gp,3g2,mj2";

    fn media(video: &str, audio: Option<&str>, format: &str, head: &[u8]) -> Media {
        parse(&probe(video, audio, format), head).unwrap()
    }

    #[test]
    fn parses_a_typical_mp4() {
        let m = media(H264, Some("aac"), MP4, MP4_HEAD);
        assert_eq!(m.container, Container::Mp4);
        assert_eq!(m.duration, Some(Duration::from_millis(2043)));
        assert_eq!(m.bitrate, Some(123456));
        assert_eq!(m.video.fps, Some(25.0));
        assert_eq!(m.audio.as_deref(), Some("aac"));
        assert_eq!(m.audio_channels, Some(2));
        let row = m.row();
        assert_eq!(
            (row.width, row.height, row.duration_ms),
            (320, 240, Some(2043))
        );
        assert_eq!(row.video_codec, "h264");
    }

    #[test]
    fn browser_playable_files_are_kept_or_remuxed_and_the_rest_transcoded() {
        let mp4 = media(H264, Some("aac"), MP4, MP4_HEAD);
        assert_eq!(mp4.plan(false), Plan::Keep);
        assert_eq!(mp4.plan(true), Plan::Remux(Muxer::Mp4));
        let mp3 = media(H264, Some("mp3"), MP4, MP4_HEAD);
        assert_eq!(mp3.plan(false), Plan::Keep);
        let silent = media(H264, None, MP4, MP4_HEAD);
        assert_eq!(silent.plan(false), Plan::Keep);
        let mov = media(H264, Some("aac"), MP4, MOV_HEAD);
        assert_eq!(mov.container, Container::Mov);
        assert_eq!(mov.plan(false), Plan::Remux(Muxer::Mp4));
        let phone = media(H264, Some("aac"), MP4, b"\0\0\0\x18ftyp3gp4\0\0\x02\0");
        assert_eq!(
            phone.container,
            Container::Mov,
            "3GPP is rewritten as MP4 too"
        );
        assert_eq!(phone.plan(false), Plan::Remux(Muxer::Mp4));

        let vp9 = r#""codec_name":"vp9","width":640,"height":360,"pix_fmt":"yuv420p""#;
        let webm = media(vp9, Some("opus"), "matroska,webm", WEBM_HEAD);
        assert_eq!(webm.container, Container::Webm);
        assert_eq!(webm.plan(false), Plan::Keep);
        let mkv = media(vp9, Some("vorbis"), "matroska,webm", MKV_HEAD);
        assert_eq!(mkv.plan(false), Plan::Remux(Muxer::Webm));

        let transcoded = [
            // PCM cannot go into MP4 by copy, and browsers do not play it in MOV.
            media(H264, Some("pcm_s16le"), MP4, MOV_HEAD),
            media(
                &H264.replace("yuv420p", "yuv444p"),
                Some("aac"),
                MP4,
                MP4_HEAD,
            ),
            media(&H264.replace("yuv420p", "yuv420p10le"), None, MP4, MP4_HEAD),
            media(&H264.replace("h264", "hevc"), Some("aac"), MP4, MP4_HEAD),
            media(&H264.replace("h264", "prores"), None, MP4, MOV_HEAD),
            media(&H264.replace("h264", "mpeg4"), Some("mp3"), "avi", b"RIFF"),
            media(H264, Some("aac"), "mpegts", b"G"),
            media(H264, Some("aac"), "flv", b"FLV"),
            // H.264 in WebM's container, VP9 in MP4's: each only where browsers expect it.
            media(H264, Some("aac"), "matroska,webm", MKV_HEAD),
            media(vp9, Some("aac"), "matroska,webm", WEBM_HEAD),
            // Anamorphic, interlaced, HDR.
            media(&H264.replace("1:1", "4:3"), Some("aac"), MP4, MP4_HEAD),
            media(
                &H264.replace("progressive", "tt"),
                Some("aac"),
                MP4,
                MP4_HEAD,
            ),
            media(
                &format!(r#"{H264},"color_transfer":"arib-std-b67""#),
                Some("aac"),
                MP4,
                MP4_HEAD,
            ),
        ];
        for m in transcoded {
            assert_eq!(m.plan(false), Plan::Transcode, "{m:?}");
        }
    }

    #[test]
    fn a_rotated_video_is_transcoded_and_shown_at_its_display_size() {
        let rotated = format!(
            r#"{H264},"side_data_list":[{{"side_data_type":"Display Matrix","rotation":-90}}]"#
        );
        let m = media(&rotated, Some("aac"), MP4, MP4_HEAD);
        assert_eq!(m.video.rotation, 270);
        assert_eq!(m.display_size(), (240, 320));
        assert_eq!(m.plan(false), Plan::Transcode);
        let tagged = format!(r#"{H264},"tags":{{"rotate":"180"}}"#);
        let m = media(&tagged, None, MP4, MP4_HEAD);
        assert_eq!(m.video.rotation, 180);
        assert_eq!(m.display_size(), (320, 240));
        // Pixel aspect widens the picture before it is turned.
        let dv = H264
            .replace("320", "720")
            .replace("240", "480")
            .replace("1:1", "32:27");
        assert_eq!(media(&dv, None, "avi", b"").display_size(), (853, 480));
    }

    #[test]
    fn files_without_a_readable_video_track_are_reasons() {
        let audio_only = br#"{"streams":[{"codec_type":"audio","codec_name":"mp3"}],"format":{"format_name":"mp3"}}"#;
        assert_eq!(parse(audio_only, b"ID3"), Err(reasons::NO_VIDEO));
        let cover = br#"{"streams":[{"codec_type":"audio","codec_name":"mp3"},
            {"codec_type":"video","codec_name":"mjpeg","width":500,"height":500,"disposition":{"attached_pic":1}}],
            "format":{"format_name":"mp3"}}"#;
        assert_eq!(parse(cover, b"ID3"), Err(reasons::NO_VIDEO));
        assert_eq!(parse(b"not json", b""), Err(reasons::DAMAGED));
        let sizeless = br#"{"streams":[{"codec_type":"video","codec_name":"h264"}],"format":{}}"#;
        assert_eq!(parse(sizeless, b""), Err(reasons::NO_PICTURE_SIZE));
        let unknown = br#"{"streams":[{"codec_type":"video","width":8,"height":8}],"format":{}}"#;
        assert_eq!(parse(unknown, b""), Err(reasons::UNDECODABLE));
        assert_eq!(
            summary(audio_only),
            "ffprobe saw format mp3; streams audio/mp3"
        );
        assert_eq!(
            summary(unknown),
            "ffprobe saw format unknown; streams video/-"
        );
        assert_eq!(summary(b"garbage"), "ffprobe printed no JSON");
    }

    #[test]
    fn missing_numbers_stay_unknown() {
        let json =
            br#"{"streams":[{"codec_type":"video","codec_name":"vp9","width":640,"height":360,
            "avg_frame_rate":"0/0","r_frame_rate":"90000/1"}],
            "format":{"format_name":"matroska,webm","duration":"N/A"}}"#;
        let m = parse(json, WEBM_HEAD).unwrap();
        assert_eq!(m.duration, None);
        assert_eq!(m.bitrate, None);
        assert_eq!(m.audio, None);
        assert_eq!(m.video.fps, None);
        assert_eq!(m.video.sar, (1, 1));
        assert_eq!(m.video.rotation, 0);
        // No pixel format known: not provably playable, so transcoded.
        assert_eq!(m.plan(false), Plan::Transcode);
    }

    #[test]
    fn renditions_fit_the_short_side_and_never_grow() {
        assert_eq!(fit((1920, 1080), 720), (1280, 720));
        assert_eq!(fit((1920, 1080), 240), (426, 240));
        assert_eq!(fit((1920, 1080), 1080), (1920, 1080));
        // Portrait: the width is the short side.
        assert_eq!(fit((1080, 1920), 720), (720, 1280));
        assert_eq!(fit((240, 320), 240), (240, 320));
        // Never upscaled; odd sizes become even.
        assert_eq!(fit((320, 240), 1080), (320, 240));
        assert_eq!(fit((160, 120), 240), (160, 120));
        assert_eq!(fit((321, 241), 1080), (322, 242));
        assert_eq!(fit((853, 480), 360), (640, 360));
        assert_eq!(fit((3840, 2160), 1080), (1920, 1080));
    }
}
