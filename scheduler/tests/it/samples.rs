//! Media made at test time with ffmpeg's lavfi sources: two seconds at 320x240 and 25 fps with
//! a tone, in the formats people upload. Each takes a fraction of a second to make.

use std::path::{Path, PathBuf};

use crate::helpers::make_media;

/// A kind of upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// An iPhone-style HEVC MP4 with AAC.
    Hevc,
    /// A newer iPhone's HDR clip: 10-bit HEVC, HLG transfer, BT.2020 primaries.
    HdrHevc,
    /// A camera's ProRes MOV with PCM audio.
    ProRes,
    /// H.264 4:4:4 in MOV with PCM audio.
    H264Yuv444,
    /// A phone's portrait clip: H.264/AAC coded 320x240 with display rotation 90.
    Portrait,
    /// AVI with MPEG-4 Part 2 video and MP3 audio.
    Avi,
    /// MPEG-TS with MPEG-2 video and MP2 audio (ffmpeg's defaults for `.ts`).
    MpegTs,
    /// FLV with Sorenson H.263 and MP3 (ffmpeg's defaults for `.flv`).
    Flv,
    /// WebM with VP9 and Opus: browsers play it as it is.
    Vp9Webm,
    /// H.264/AAC in MOV with its index first: remuxed into MP4.
    H264Mov,
    /// An AAC track and nothing else.
    AudioOnly,
    /// The first half of an MP4 whose index was at the end.
    Truncated,
}

/// The lavfi inputs of a clip of `seconds` at `size` (`WxH`) with a tone.
fn sources(seconds: f64, size: &str) -> Vec<String> {
    [
        "-f".to_string(),
        "lavfi".to_string(),
        "-i".to_string(),
        format!("testsrc=duration={seconds}:size={size}:rate=25"),
        "-f".to_string(),
        "lavfi".to_string(),
        "-i".to_string(),
        format!("sine=frequency=440:duration={seconds}"),
    ]
    .to_vec()
}

/// An H.264/AAC faststart MP4 of `seconds` at `size`, which browsers play as it is: what
/// ladder tests start from.
pub fn h264_mp4(dir: &Path, seconds: f64, size: &str) -> PathBuf {
    let out = dir.join(format!("h264-{seconds}s-{size}.mp4"));
    let mut args = sources(seconds, size);
    args.extend(
        [
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-movflags",
            "+faststart",
            "-shortest",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    make_media(&out, &args);
    out
}

impl Sample {
    /// The file name (its extension is what ffmpeg picks the container by) and the type the
    /// streamserver stores for it.
    fn file(self) -> (&'static str, &'static str) {
        match self {
            Sample::Hevc => ("hevc.mp4", "video/mp4"),
            Sample::HdrHevc => ("hdr.mp4", "video/mp4"),
            Sample::ProRes => ("prores.mov", "video/quicktime"),
            Sample::H264Yuv444 => ("h264-444.mov", "video/quicktime"),
            Sample::Portrait => ("portrait.mp4", "video/mp4"),
            Sample::Avi => ("clip.avi", "video/x-msvideo"),
            Sample::MpegTs => ("clip.ts", "video/mp2t"),
            Sample::Flv => ("clip.flv", "video/x-flv"),
            Sample::Vp9Webm => ("clip.webm", "video/webm"),
            Sample::H264Mov => ("clip.mov", "video/quicktime"),
            Sample::AudioOnly => ("tone.m4a", "video/mp4"),
            Sample::Truncated => ("truncated.mp4", "video/mp4"),
        }
    }

    pub fn content_type(self) -> &'static str {
        self.file().1
    }

    /// Makes the two-second sample in `dir`; returns its path.
    pub fn make(self, dir: &Path) -> PathBuf {
        self.make_lasting(dir, 2.0)
    }

    /// Makes the sample, `seconds` long, in `dir`; returns its path.
    pub fn make_lasting(self, dir: &Path, seconds: f64) -> PathBuf {
        let out = dir.join(self.file().0);
        let inputs = sources(seconds, "320x240");
        let av = |codecs: &[&str]| -> Vec<String> {
            let mut args = inputs.clone();
            args.extend(codecs.iter().map(|c| c.to_string()));
            args.push("-shortest".to_string());
            args
        };
        let make = |out: &Path, args: &[String]| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            make_media(out, &args)
        };
        let h264 = [
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
        ];
        match self {
            Sample::Hevc => make(
                &out,
                &av(&[
                    "-c:v",
                    "libx265",
                    "-preset",
                    "ultrafast",
                    "-x265-params",
                    "log-level=error",
                    "-pix_fmt",
                    "yuv420p",
                    "-tag:v",
                    "hvc1",
                    "-c:a",
                    "aac",
                ]),
            ),
            Sample::HdrHevc => make(
                &out,
                &av(&[
                    "-c:v",
                    "libx265",
                    "-preset",
                    "ultrafast",
                    "-x265-params",
                    "log-level=error",
                    "-pix_fmt",
                    "yuv420p10le",
                    "-color_primaries",
                    "bt2020",
                    "-color_trc",
                    "arib-std-b67",
                    "-colorspace",
                    "bt2020nc",
                    "-tag:v",
                    "hvc1",
                    "-c:a",
                    "aac",
                ]),
            ),
            Sample::ProRes => make(
                &out,
                &av(&["-c:v", "prores_ks", "-profile:v", "0", "-c:a", "pcm_s16le"]),
            ),
            Sample::H264Yuv444 => make(
                &out,
                &av(&[
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-pix_fmt",
                    "yuv444p",
                    "-c:a",
                    "pcm_s16le",
                ]),
            ),
            Sample::Portrait => {
                // ffmpeg 5.1 has no -display_rotation: the rotate tag, stream-copied into MP4,
                // becomes the display matrix.
                let landscape = dir.join("landscape.mp4");
                make(&landscape, &av(&h264));
                make(
                    &out,
                    &[
                        "-i",
                        landscape.to_str().unwrap(),
                        "-c",
                        "copy",
                        "-metadata:s:v:0",
                        "rotate=90",
                    ]
                    .map(String::from),
                );
            }
            Sample::Avi => make(&out, &av(&["-c:v", "mpeg4", "-c:a", "libmp3lame"])),
            Sample::MpegTs | Sample::Flv => make(&out, &av(&[])),
            Sample::Vp9Webm => make(
                &out,
                &av(&[
                    "-c:v",
                    "libvpx-vp9",
                    "-deadline",
                    "realtime",
                    "-cpu-used",
                    "8",
                    "-pix_fmt",
                    "yuv420p",
                    "-c:a",
                    "libopus",
                ]),
            ),
            Sample::H264Mov => {
                let mut args = av(&h264);
                args.extend(["-movflags", "+faststart"].map(String::from));
                make(&out, &args);
            }
            Sample::AudioOnly => make(
                &out,
                &["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac"].map(String::from),
            ),
            Sample::Truncated => {
                let whole = dir.join("whole.mp4");
                make(&whole, &av(&h264));
                let bytes = std::fs::read(&whole).unwrap();
                std::fs::write(&out, &bytes[..bytes.len() / 2]).unwrap();
            }
        }
        out
    }
}
