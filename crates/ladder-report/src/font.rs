//! The font behind the plots' text. plotters (with its `ab_glyph` feature) measures text with a
//! real font for the layout of every figure and rasterises it into the PNGs, so one TrueType
//! font must be registered before anything is drawn. The SVGs name the generic `sans-serif`
//! family, which the browser renders with its own fonts.
//!
//! The font is found at run time rather than built in: `LADDER_REPORT_FONT` when set, else the
//! first existing file among common locations (Debian's `fonts-dejavu-core` first), else the
//! first `*Sans*.ttf` under the usual font folders. Registration happens once per process (a
//! `OnceLock`), because plotters keeps fonts in a process-wide table.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::style::FontStyle;

use crate::error::{Error, Result};

/// Environment variable naming a .ttf/.otf file to use instead of searching.
pub const FONT_ENV: &str = "LADDER_REPORT_FONT";

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

static REGISTERED: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();

/// Finds and registers the font (once per process); returns its path.
pub fn ensure_font() -> Result<PathBuf> {
    let r = REGISTERED.get_or_init(|| register().map_err(|e| e.to_string()));
    match r {
        Ok(p) => Ok(p.clone()),
        // Re-run the search to rebuild a typed error (the cached one is only its text).
        Err(_) => register(),
    }
}

fn register() -> Result<PathBuf> {
    let path = find_font()?;
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    // plotters keeps `&'static [u8]` in its font table; this runs once per process.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font(FAMILY, FontStyle::Normal, bytes)
        .map_err(|_| Error::BadFont { path: path.clone() })?;
    Ok(path)
}

/// The font file to use (see the module docs).
pub fn find_font() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(FONT_ENV).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(Error::NoFont {
                looked: vec![format!("{FONT_ENV}={} (no such file)", p.display())],
            })
        };
    }
    if let Some(p) = CANDIDATES.iter().map(Path::new).find(|p| p.is_file()) {
        return Ok(p.to_path_buf());
    }
    let mut found = Vec::new();
    for dir in FOLDERS {
        scan(Path::new(dir), 0, &mut found);
    }
    found.sort();
    found.into_iter().next().ok_or_else(|| Error::NoFont {
        looked: CANDIDATES
            .iter()
            .chain(FOLDERS)
            .map(|s| s.to_string())
            .collect(),
    })
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
