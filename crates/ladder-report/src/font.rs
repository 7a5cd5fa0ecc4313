//! The font behind the plots' text. plotters (with its `ab_glyph` feature) measures text with a
//! real font for the layout of every figure and rasterises it into the PNGs, so one TrueType
//! font must be registered before anything is drawn. The SVGs name the generic `sans-serif`
//! family, which the browser renders with its own fonts.
//!
//! A system font is preferred: `LADDER_REPORT_FONT` when set (a file, or `builtin`), else the
//! first existing file among common locations (Debian's `fonts-dejavu-core` first), else the
//! first `*Sans*.ttf` under the usual font folders. When none is found the report falls back to
//! DejaVu Sans embedded in the binary (`assets/DejaVuSans.ttf`, Bitstream Vera licence with
//! public-domain DejaVu changes, which allows redistribution; see `assets/DejaVuSans-LICENSE.txt`),
//! so the PNGs can be written on any machine. Registration happens once per process (a
//! `OnceLock`), because plotters keeps fonts in a process-wide table.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::style::FontStyle;

use crate::error::{Error, Result};

/// Environment variable naming a .ttf/.otf file to use instead of searching, or [`BUILTIN`].
pub const FONT_ENV: &str = "LADDER_REPORT_FONT";

/// Value of [`FONT_ENV`] that selects the embedded font without searching (the same PNG bytes on
/// every machine).
pub const BUILTIN: &str = "builtin";

/// DejaVu Sans 2.37 (Debian's `fonts-dejavu-core`), the fallback when no system font is found.
pub static EMBEDDED_FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Where the plots' font came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FontSource {
    /// A font file on this machine.
    File(PathBuf),
    /// [`EMBEDDED_FONT`], built into the binary.
    Builtin,
}

impl fmt::Display for FontSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FontSource::File(p) => write!(f, "{}", p.display()),
            FontSource::Builtin => f.write_str("DejaVu Sans (built in)"),
        }
    }
}

/// Family name the figures ask plotters for.
pub const FAMILY: &str = "sans-serif";

const CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", // Debian, Ubuntu: fonts-dejavu-core
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",          // Fedora
    "/usr/share/fonts/TTF/DejaVuSans.ttf",             // Arch
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf", // macOS
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

const FOLDERS: &[&str] = &["/usr/share/fonts", "/usr/local/share/fonts"];

static REGISTERED: OnceLock<std::result::Result<FontSource, String>> = OnceLock::new();

/// Finds and registers the font (once per process); returns where it came from.
pub fn ensure_font() -> Result<FontSource> {
    let r = REGISTERED.get_or_init(|| register().map_err(|e| e.to_string()));
    match r {
        Ok(p) => Ok(p.clone()),
        // Re-run the search to rebuild a typed error (the cached one is only its text).
        Err(_) => register(),
    }
}

fn register() -> Result<FontSource> {
    let source = find_font()?;
    let bytes: &'static [u8] = match &source {
        FontSource::File(path) => {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            // plotters keeps `&'static [u8]` in its font table; this runs once per process.
            Box::leak(bytes.into_boxed_slice())
        }
        FontSource::Builtin => EMBEDDED_FONT,
    };
    plotters::style::register_font(FAMILY, FontStyle::Normal, bytes).map_err(|_| {
        Error::BadFont {
            path: PathBuf::from(source.to_string()),
        }
    })?;
    Ok(source)
}

/// The font to use (see the module docs): [`FONT_ENV`], else the system's usual places, else
/// the built-in font.
pub fn find_font() -> Result<FontSource> {
    lookup(std::env::var_os(FONT_ENV), CANDIDATES, FOLDERS)
}

/// [`find_font`] with the environment value, candidate files and folders to scan given, so the
/// fallback can be tested on a machine that has fonts. Only a [`FONT_ENV`] naming a missing
/// file is an error: the user asked for that file.
pub fn lookup(env: Option<OsString>, candidates: &[&str], folders: &[&str]) -> Result<FontSource> {
    if let Some(p) = env.filter(|p| !p.is_empty()) {
        if p == BUILTIN {
            return Ok(FontSource::Builtin);
        }
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(FontSource::File(p))
        } else {
            Err(Error::NoFont {
                looked: vec![format!("{FONT_ENV}={} (no such file)", p.display())],
            })
        };
    }
    if let Some(p) = candidates.iter().map(Path::new).find(|p| p.is_file()) {
        return Ok(FontSource::File(p.to_path_buf()));
    }
    let mut found = Vec::new();
    for dir in folders {
        scan(Path::new(dir), 0, &mut found);
    }
    found.sort();
    Ok(found
        .into_iter()
        .next()
        .map_or(FontSource::Builtin, FontSource::File))
}

/// Collects `*Sans*.ttf` files up to four folders deep.
fn scan(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() && depth < 4 {
            scan(&p, depth + 1, out);
        } else if p
            .file_name()
            .map(|n| n.to_string_lossy())
            .is_some_and(|n| n.contains("Sans") && n.to_ascii_lowercase().ends_with(".ttf"))
        {
            out.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_falls_back_to_the_builtin_font_and_honours_the_env_var() {
        let empty = tempfile::tempdir().expect("tempdir");
        let folder = empty.path().to_string_lossy().into_owned();
        let missing = empty.path().join("nope.ttf");
        let missing = missing.to_string_lossy().into_owned();
        // Nothing found: the built-in font, never an error.
        assert_eq!(
            lookup(None, &[missing.as_str()], &[folder.as_str()]).expect("fallback"),
            FontSource::Builtin
        );
        assert_eq!(
            lookup(Some("".into()), &[], &[]).expect("empty env"),
            FontSource::Builtin
        );
        assert_eq!(
            lookup(Some(BUILTIN.into()), CANDIDATES, FOLDERS).expect("builtin"),
            FontSource::Builtin
        );
        // A system font is preferred over the built-in one.
        let ttf = empty.path().join("sub/MySans.ttf");
        std::fs::create_dir_all(ttf.parent().expect("parent")).expect("mkdir");
        std::fs::write(&ttf, EMBEDDED_FONT).expect("write");
        assert_eq!(
            lookup(None, &[missing.as_str()], &[folder.as_str()]).expect("scan"),
            FontSource::File(ttf.clone())
        );
        // An explicit file that does not exist is an error naming it.
        let e = lookup(Some(missing.clone().into()), &[], &[]).expect_err("missing env file");
        assert!(e.to_string().contains(&missing), "{e}");
    }

    #[test]
    fn embedded_font_is_a_usable_truetype_font() {
        // The TrueType version tag, and plotters accepts it.
        assert_eq!(&EMBEDDED_FONT[..4], &[0, 1, 0, 0]);
        assert!(EMBEDDED_FONT.len() > 100_000);
    }
}
