//! The report's PNGs are written with the embedded font when no system font is used
//! (`LADDER_REPORT_FONT=builtin` forces the fallback that a machine without fonts gets). A test
//! binary of its own: the font is registered once per process.

#[path = "support/fixture.rs"]
mod fixture;

use ladder_report::font::{FontSource, BUILTIN, FONT_ENV};
use ladder_report::{write_report, ReportOptions};

#[test]
fn report_pngs_are_drawn_with_the_builtin_font() {
    // Safe: the only test in this binary, set before any thread reads the environment.
    std::env::set_var(FONT_ENV, BUILTIN);
    let tmp = tempfile::tempdir().unwrap();
    let sweep = tmp.path().join("sweep");
    fixture::make_sweep(&sweep, &[1e13, 3e13, 1e14], 4);
    let out = tmp.path().join("report.html");
    let opts = ReportOptions {
        bootstrap: 20,
        ..ReportOptions::default()
    };
    let r = write_report(&sweep, &out, &opts).unwrap();
    assert_eq!(r.font, FontSource::Builtin);
    let mut pngs = 0;
    for e in std::fs::read_dir(&r.files_dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "png") {
            let bytes = std::fs::read(&p).unwrap();
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", p.display());
            // Axis labels and titles drawn: far more than a blank canvas compresses to.
            assert!(
                bytes.len() > 10_000,
                "{}: {} bytes",
                p.display(),
                bytes.len()
            );
            pngs += 1;
        }
    }
    assert_eq!(pngs, 5);
}
