//! The media origin's credentials: signed media paths and upload tokens (issue 16).
//!
//! When browsers reach the streamserver directly (`MEDIA_URL`), no session cookie goes with
//! them. What a private video's bytes need instead is a *grant*: an HMAC-SHA256, under the key
//! every process shares (`MEDIA_SIGNING_KEY`), over the purpose, the path prefix it opens, the
//! video id, the viewer and an expiry. The api mints grants when it hands a video object to
//! someone allowed to see it; the streamserver checks them with this module alone, without a
//! database round trip.
//!
//! A playback grant lives in the path, in front of what it opens:
//! `/s/<expires>-<viewer>-<mac>/videos/<vid>/hls/master.m3u8`. Relative URIs in an HLS playlist
//! and in the storyboard's WebVTT therefore keep the grant without any rewriting, and the
//! prefix signed (`/videos/<vid>` or `/thumbnails/<vid>`) decides what it opens: a grant for a
//! thumbnail does not open the video, nor one video another.
//!
//! An upload token is the same construction with the purpose `upload`, sent as
//! `Authorization: Bearer <token>`: it lets one user upload one video until it expires (and the
//! streamserver refuses it once the upload is complete, as it refuses any second upload).

use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::{ConfigError, Env};

/// Where a signed path starts: `/s/<token>/<the path it opens>`.
pub const SIGNED_PATH: &str = "/s/";

/// The fewest bytes `MEDIA_SIGNING_KEY` may have.
pub const MIN_KEY_BYTES: usize = 32;

/// Bytes of the MAC kept in a token (128 bits, 32 hex digits).
const MAC_BYTES: usize = 16;

/// What a grant is for; part of what is signed, so one kind cannot stand in for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Media,
    Upload,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Media => "media",
            Purpose::Upload => "upload",
        }
    }
}

/// Why a grant was refused; each is a 403 whose message says what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("this link is malformed; reload the page to get a new one")]
    Malformed,
    #[error("this link has expired; reload the page to get a new one")]
    Expired,
    #[error("this link is not valid for this video; reload the page to get a new one")]
    Invalid,
}

/// The key shared by the processes (`MEDIA_SIGNING_KEY`). Its `Debug` prints `***`.
#[derive(Clone)]
pub struct MediaKey {
    /// HMAC-SHA256 keyed with the secret, its two key blocks hashed once: every token starts
    /// from a copy instead of hashing them again (a signed media request checks one).
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for MediaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MediaKey(***)")
    }
}

impl MediaKey {
    /// A key of at least [`MIN_KEY_BYTES`] bytes.
    pub fn new(secret: &str) -> Result<Self, String> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(format!(
                "must be at least {MIN_KEY_BYTES} bytes (try `openssl rand -hex 32`)"
            ));
        }
        let keyed = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .map_err(|_| "cannot key HMAC-SHA256 with it".to_string())?;
        Ok(MediaKey { keyed })
    }

    /// `MEDIA_SIGNING_KEY`, or `None` when it is not set.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        match env.raw("MEDIA_SIGNING_KEY").filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(value) => MediaKey::new(value)
                .map(Some)
                .map_err(|reason| ConfigError {
                    name: "MEDIA_SIGNING_KEY".into(),
                    value: "***".into(),
                    reason,
                }),
        }
    }

    /// The path that opens `prefix` (`/videos/<vid>` or `/thumbnails/<vid>`) for `viewer`
    /// until `expires` (Unix seconds): `/s/<token><prefix>`. Append what follows the prefix
    /// (`/hls/master.m3u8`) to it.
    pub fn sign_path(&self, prefix: &str, vid: &str, viewer: u32, expires: u64) -> String {
        let token = self.token(Purpose::Media, prefix, vid, viewer, expires);
        format!("{}{token}{prefix}", SIGNED_PATH)
    }

    /// The viewer a playback token grants `prefix` of `vid` to, if it is genuine and unexpired
    /// at `now` (Unix seconds).
    pub fn verify_path(
        &self,
        token: &str,
        prefix: &str,
        vid: &str,
        now: u64,
    ) -> Result<u32, GrantError> {
        self.verify(Purpose::Media, token, prefix, vid, now)
    }

    /// A token that lets `user` upload the file of `vid` until `expires` (Unix seconds).
    pub fn sign_upload(&self, vid: &str, user: u32, expires: u64) -> String {
        self.token(Purpose::Upload, "", vid, user, expires)
    }

    /// The user an upload token was given to, if it is genuine, for `vid` and unexpired.
    pub fn verify_upload(&self, token: &str, vid: &str, now: u64) -> Result<u32, GrantError> {
        self.verify(Purpose::Upload, token, "", vid, now)
    }

    fn token(
        &self,
        purpose: Purpose,
        prefix: &str,
        vid: &str,
        subject: u32,
        expires: u64,
    ) -> String {
        let mac = self.mac(purpose, prefix, vid, subject, expires);
        format!("{expires}-{subject}-{}", hex::encode(&mac[..MAC_BYTES]))
    }

    fn verify(
        &self,
        purpose: Purpose,
        token: &str,
        prefix: &str,
        vid: &str,
        now: u64,
    ) -> Result<u32, GrantError> {
        let mut parts = token.splitn(3, '-');
        let (Some(expires), Some(subject), Some(mac)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(GrantError::Malformed);
        };
        let expires: u64 = expires.parse().map_err(|_| GrantError::Malformed)?;
        let subject: u32 = subject.parse().map_err(|_| GrantError::Malformed)?;
        let mut given = [0u8; MAC_BYTES];
        hex::decode_to_slice(mac, &mut given).map_err(|_| GrantError::Malformed)?;
        // The MAC first, so an altered expiry reads as tampering, not as expired.
        let expected = self.hmac(purpose, prefix, vid, subject, expires);
        expected
            .verify_truncated_left(&given)
            .map_err(|_| GrantError::Invalid)?;
        if now >= expires {
            return Err(GrantError::Expired);
        }
        Ok(subject)
    }

    fn mac(
        &self,
        purpose: Purpose,
        prefix: &str,
        vid: &str,
        subject: u32,
        expires: u64,
    ) -> Vec<u8> {
        self.hmac(purpose, prefix, vid, subject, expires)
            .finalize()
            .into_bytes()
            .to_vec()
    }

    /// The MAC's input: every field on its own line, so no two field lists read alike.
    fn hmac(
        &self,
        purpose: Purpose,
        prefix: &str,
        vid: &str,
        subject: u32,
        expires: u64,
    ) -> Hmac<Sha256> {
        let mut mac = Fed(self.keyed.clone());
        // Writing into the MAC cannot fail.
        let _ = write!(
            mac,
            "clipshare-grant-v1\n{}\n{prefix}\n{vid}\n{subject}\n{expires}",
            purpose.as_str()
        );
        mac.0
    }
}

/// A MAC that text is written into, without building the text first.
struct Fed(Hmac<Sha256>);

impl std::fmt::Write for Fed {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

/// An origin read from the environment variable `name` (`MEDIA_URL` for the api and web,
/// `PUBLIC_URL` for the streamserver's CORS): `http(s)://host[:port]`, without a path, query or
/// trailing slash (one trailing `/` is forgiven and dropped). `None` when unset or empty.
pub fn origin_from_env(env: &Env, name: &str) -> Result<Option<String>, ConfigError> {
    let Some(raw) = env.raw(name).map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    parse_origin(raw).map(Some).map_err(|reason| ConfigError {
        name: name.into(),
        value: raw.into(),
        reason,
    })
}

/// `raw` as an origin (see [`origin_from_env`]), or why it is not one.
pub fn parse_origin(raw: &str) -> Result<String, String> {
    let example = "expected an http:// or https:// origin such as https://media.example.org";
    let uri: http::Uri = raw.parse().map_err(|_| example.to_string())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let has_host = uri.authority().is_some_and(|a| !a.host().is_empty());
    if !scheme_ok || !has_host {
        return Err(example.to_string());
    }
    if uri.query().is_some() || !matches!(uri.path(), "" | "/") {
        return Err("must be an origin alone (scheme, host, port), without a path or query".into());
    }
    Ok(raw.trim_end_matches('/').to_string())
}

/// Splits `/s/<token>/rest` into the token and `/rest`; `None` for any other path.
pub fn split_signed(path: &str) -> Option<(&str, &str)> {
    let after = path.strip_prefix(SIGNED_PATH)?;
    let slash = after.find('/')?;
    let (token, rest) = after.split_at(slash);
    (!token.is_empty()).then_some((token, rest))
}

/// Seconds since the Unix epoch, the clock grants expire by.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VID: &str = "0b6a1c9e-5a53-4f3e-9d2c-4a1f6a9c2b11";
    const OTHER: &str = "7f0e3a52-1b8c-4d7e-8a60-2c9b5d3e4f10";

    fn key() -> MediaKey {
        MediaKey::new("a test key that is at least thirty-two bytes long").unwrap()
    }

    fn token_of(path: &str) -> &str {
        split_signed(path).unwrap().0
    }

    #[test]
    fn a_short_key_is_refused_with_a_way_out() {
        let err = MediaKey::new("short").unwrap_err();
        assert!(err.contains("openssl rand"), "{err}");
        let env = Env::from_pairs(&[("MEDIA_SIGNING_KEY", "short")]);
        assert!(MediaKey::from_env(&env).is_err());
        assert!(MediaKey::from_env(&Env::from_pairs(&[])).unwrap().is_none());
    }

    #[test]
    fn a_signed_path_opens_its_prefix_for_its_viewer_until_it_expires() {
        let prefix = format!("/videos/{VID}");
        let path = key().sign_path(&prefix, VID, 7, 1_000);
        let (token, rest) = split_signed(&path).unwrap();
        assert_eq!(rest, prefix);
        assert_eq!(key().verify_path(token, &prefix, VID, 999), Ok(7));
        assert_eq!(
            key().verify_path(token, &prefix, VID, 1_000),
            Err(GrantError::Expired)
        );
    }

    /// Tokens minted by other nodes, older or newer, must keep verifying: the construction is
    /// fixed (checked against Python's `hmac` over the documented message).
    #[test]
    fn the_token_is_the_documented_hmac() {
        let path = key().sign_path(&format!("/videos/{VID}"), VID, 7, 1_000);
        assert_eq!(token_of(&path), "1000-7-0f08f579396e62a729855dbc510887fe");
    }

    #[test]
    fn a_grant_opens_nothing_else() {
        let prefix = format!("/videos/{VID}");
        let path = key().sign_path(&prefix, VID, 7, 1_000);
        let token = token_of(&path);
        let other_prefix = format!("/videos/{OTHER}");
        assert_eq!(
            key().verify_path(token, &other_prefix, OTHER, 0),
            Err(GrantError::Invalid),
            "another video"
        );
        let thumb = format!("/thumbnails/{VID}");
        assert_eq!(
            key().verify_path(token, &thumb, VID, 0),
            Err(GrantError::Invalid),
            "another prefix of the same video"
        );
        assert_eq!(
            key().verify_upload(token, VID, 0),
            Err(GrantError::Invalid),
            "a playback grant is not an upload token"
        );
        let other_key = MediaKey::new("another key that is at least thirty-two bytes").unwrap();
        assert_eq!(
            other_key.verify_path(token, &prefix, VID, 0),
            Err(GrantError::Invalid)
        );
    }

    #[test]
    fn an_altered_viewer_or_expiry_is_refused() {
        let prefix = format!("/videos/{VID}");
        let path = key().sign_path(&prefix, VID, 7, 1_000);
        let token = token_of(&path);
        let mac = token.rsplit('-').next().unwrap();
        let other_viewer = format!("1000-8-{mac}");
        assert_eq!(
            key().verify_path(&other_viewer, &prefix, VID, 0),
            Err(GrantError::Invalid)
        );
        let later = format!("9999-7-{mac}");
        assert_eq!(
            key().verify_path(&later, &prefix, VID, 0),
            Err(GrantError::Invalid)
        );
        for bad in ["", "1-2", "x-7-00", "1000-7-zz", "1000-7-00ff"] {
            assert_eq!(
                key().verify_path(bad, &prefix, VID, 0),
                Err(GrantError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_upload_token_is_for_one_video() {
        let token = key().sign_upload(VID, 3, 500);
        assert_eq!(key().verify_upload(&token, VID, 10), Ok(3));
        assert_eq!(
            key().verify_upload(&token, OTHER, 10),
            Err(GrantError::Invalid)
        );
        assert_eq!(
            key().verify_upload(&token, VID, 500),
            Err(GrantError::Expired)
        );
    }

    #[test]
    fn origins_are_scheme_host_and_port_alone() {
        assert_eq!(
            parse_origin("https://media.example.org/").unwrap(),
            "https://media.example.org"
        );
        assert_eq!(
            parse_origin("http://127.0.0.1:9000").unwrap(),
            "http://127.0.0.1:9000"
        );
        for bad in [
            "media.example.org",
            "ftp://media.example.org",
            "https://media.example.org/videos",
            "https://media.example.org/?x=1",
            "not a url",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
        let env = Env::from_pairs(&[("MEDIA_URL", "https://m.example.org/x")]);
        assert_eq!(
            origin_from_env(&env, "MEDIA_URL").unwrap_err().name,
            "MEDIA_URL"
        );
        assert!(origin_from_env(&Env::from_pairs(&[]), "MEDIA_URL")
            .unwrap()
            .is_none());
    }

    #[test]
    fn only_signed_paths_split() {
        assert_eq!(split_signed("/s/abc/videos/x"), Some(("abc", "/videos/x")));
        assert_eq!(split_signed("/s//videos/x"), None);
        assert_eq!(split_signed("/s/abc"), None);
        assert_eq!(split_signed("/videos/x"), None);
    }
}
