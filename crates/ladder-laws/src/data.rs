//! Input data: a CSV table with a header, read strictly (duplicate names, missing columns,
//! non-numeric cells and values ≤ 0 are errors that name the line and the column), and the point
//! sets the laws fit: (N, D, loss, C) runs, (x, y) trends and training curves.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
pub use crate::options::ParamCount;

/// Where a data set came from; becomes `data` in fit.json.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSource {
    /// The path(s) given, as the user wrote them.
    pub source: String,
    /// sha256 of the CSV file's bytes; for run directories, of each used run's name and
    /// `summary.json` (and `metrics.jsonl` for curves), in name order.
    pub sha256: String,
    /// Runs found but not used, with the reason (empty for CSV input).
    pub skipped: Vec<(String, String)>,
}

/// A CSV file held in memory: header names and the raw cells of each row with its line number.
#[derive(Clone, Debug)]
pub struct CsvTable {
    path: PathBuf,
    header: Vec<String>,
    rows: Vec<(u64, Vec<String>)>,
    sha256: String,
    /// For a table of run directories: each row's run, named in messages instead of a line.
    row_paths: Option<Vec<PathBuf>>,
}

impl CsvTable {
    /// Reads and checks a CSV file: a header line then at least one row; header names are
    /// trimmed and must be unique; every row must have as many cells as the header.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(path, &bytes)
    }

    /// As [`CsvTable::read`], from bytes already in memory (`path` is only used in messages).
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let sha256 = hex::encode(Sha256::digest(bytes));
        // Spreadsheet exports often start with a UTF-8 byte-order mark; it is not part of `N`.
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .trim(csv::Trim::All)
            .from_reader(bytes);
        let csv_err = |e: csv::Error| Error::Csv {
            path: path.to_path_buf(),
            line: e.position().map_or(0, |p| p.line()),
            message: match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => format!("{len} cells where the header has {expected_len}"),
                csv::ErrorKind::Utf8 { .. } => "not valid UTF-8 text".to_string(),
                _ => e.to_string(),
            },
        };
        let mut records = rdr.records();
        let header: Vec<String> = match records.next() {
            None => {
                return Err(Error::EmptyFile {
                    path: path.to_path_buf(),
                    what: "empty file",
                })
            }
            Some(r) => r.map_err(csv_err)?.iter().map(str::to_string).collect(),
        };
        for (j, name) in header.iter().enumerate() {
            if let Some(k) = header[j + 1..].iter().position(|h| h == name) {
                return Err(Error::DuplicateColumn {
                    path: path.to_path_buf(),
                    name: name.clone(),
                    first: j + 1,
                    second: j + 2 + k,
                });
            }
        }
        let mut rows = Vec::new();
        for r in records {
            let r = r.map_err(csv_err)?;
            let line = r.position().map_or(0, |p| p.line());
            // A line of empty cells (e.g. trailing commas) carries no run.
            if r.iter().all(str::is_empty) {
                continue;
            }
            rows.push((line, r.iter().map(str::to_string).collect()));
        }
        if rows.is_empty() {
            return Err(Error::EmptyFile {
                path: path.to_path_buf(),
                what: "a header but no data rows",
            });
        }
        Ok(CsvTable {
            path: path.to_path_buf(),
            header,
            rows,
            sha256,
            row_paths: None,
        })
    }

    /// A table of run directories: one row per run (`runs[i]` names row i in messages), the given
    /// header, cells as text (empty where a run lacks the key). `path` names the whole input.
    pub fn from_runs(
        path: &Path,
        header: Vec<String>,
        rows: Vec<(PathBuf, Vec<String>)>,
        sha256: String,
    ) -> Self {
        let (row_paths, cells): (Vec<PathBuf>, Vec<Vec<String>>) = rows.into_iter().unzip();
        CsvTable {
            path: path.to_path_buf(),
            header,
            rows: cells.into_iter().map(|c| (0, c)).collect(),
            sha256,
            row_paths: Some(row_paths),
        }
    }

    /// Where row `i` came from, for messages: (file or run directory, 1-based line or 0).
    fn place(&self, i: usize) -> (PathBuf, u64) {
        match &self.row_paths {
            Some(p) => (p[i].clone(), 0),
            None => (self.path.clone(), self.rows[i].0),
        }
    }

    /// Header names in file order.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// Number of data rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Always false: a table without rows is refused on read.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// sha256 of the file's bytes (hex).
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The 1-based file line of each row.
    pub fn lines(&self) -> Vec<u64> {
        self.rows.iter().map(|r| r.0).collect()
    }

    /// Position of column `name` (exact, case-sensitive match), if present.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// Position of column `name`, or [`Error::MissingColumn`] (with `hint` appended, and a
    /// case-insensitive near miss pointed out).
    pub fn require(&self, name: &str, hint: &str) -> Result<usize> {
        self.find(name).ok_or_else(|| self.missing(name, hint))
    }

    /// The [`Error::MissingColumn`] for `name`.
    pub fn missing(&self, name: &str, hint: &str) -> Error {
        let mut hint = hint.to_string();
        if let Some(h) = self.header.iter().find(|h| h.eq_ignore_ascii_case(name)) {
            hint = format!("; did you mean `{h}`? (column names are case-sensitive){hint}");
        }
        Error::MissingColumn {
            path: self.path.clone(),
            name: name.to_string(),
            available: self.header.clone(),
            hint,
        }
    }

    /// The cells of column `j` as raw strings.
    pub fn strings(&self, j: usize) -> Vec<String> {
        self.rows.iter().map(|r| r.1[j].clone()).collect()
    }

    /// Column `j` parsed as numbers; each must be finite and > 0.
    pub fn positive(&self, j: usize) -> Result<Vec<f64>> {
        let v = self.numbers(j)?;
        for (i, &x) in v.iter().enumerate() {
            if !(x > 0.0 && x.is_finite()) {
                let (path, line) = self.place(i);
                return Err(Error::NotPositive {
                    source_name: path.display().to_string(),
                    line,
                    column: self.header[j].clone(),
                    value: x,
                });
            }
        }
        Ok(v)
    }

    /// Column `j` as standard errors: numbers, each finite and > 0 (a zero SE would give the
    /// point infinite weight).
    pub fn standard_errors(&self, j: usize) -> Result<Vec<f64>> {
        let v = self.numbers(j)?;
        for (i, &x) in v.iter().enumerate() {
            if !(x > 0.0 && x.is_finite()) {
                let (path, line) = self.place(i);
                return Err(Error::BadStandardError {
                    source_name: path.display().to_string(),
                    line,
                    column: self.header[j].clone(),
                    value: x,
                });
            }
        }
        Ok(v)
    }

    /// Column `j` parsed as finite numbers.
    pub fn finite(&self, j: usize) -> Result<Vec<f64>> {
        let v = self.numbers(j)?;
        for (i, &x) in v.iter().enumerate() {
            if !x.is_finite() {
                let (path, line) = self.place(i);
                return Err(Error::NotFinite {
                    source_name: path.display().to_string(),
                    line,
                    column: self.header[j].clone(),
                    value: x,
                });
            }
        }
        Ok(v)
    }

    /// Column `j` as times in decimal years: ISO dates `YYYY-MM-DD` or plain numbers.
    /// Returns the values and whether any cell was a date.
    pub fn times(&self, j: usize) -> Result<(Vec<f64>, bool)> {
        let mut out = Vec::with_capacity(self.rows.len());
        let mut any_date = false;
        for (i, (_, cells)) in self.rows.iter().enumerate() {
            let cell = cells[j].as_str();
            let bad = || Error::BadDate {
                path: self.place(i).0,
                line: self.place(i).1,
                column: self.header[j].clone(),
                value: cell.to_string(),
            };
            let t = match cell.parse::<f64>() {
                Ok(t) if t.is_finite() => t,
                Ok(_) => return Err(bad()),
                Err(_) => {
                    any_date = true;
                    crate::dates::parse_date(cell).ok_or_else(bad)?
                }
            };
            out.push(t);
        }
        Ok((out, any_date))
    }

    fn numbers(&self, j: usize) -> Result<Vec<f64>> {
        self.rows
            .iter()
            .enumerate()
            .map(|(i, (_, cells))| {
                let cell = cells[j].as_str();
                let (path, line) = self.place(i);
                cell.parse::<f64>().map_err(|_| Error::NotNumeric {
                    path,
                    line,
                    column: self.header[j].clone(),
                    value: if cell.is_empty() {
                        "(empty)".to_string()
                    } else {
                        cell.to_string()
                    },
                })
            })
            .collect()
    }
}

/// Runs as (N, D, loss, C) points: the input of the chinchilla, isoflop and kaplan laws.
#[derive(Clone, Debug)]
pub struct RunPoints {
    /// Non-embedding parameters (Kaplan's N).
    pub n: Vec<f64>,
    /// Training tokens.
    pub d: Vec<f64>,
    /// Final loss in nats per token (validation loss for run directories).
    pub loss: Vec<f64>,
    /// Training compute in FLOPs: the `C` column or summary key when given, else 6·N·D.
    pub c: Vec<f64>,
    /// Standard error of each loss (CSV `loss_se`, summary.json `final_val_loss_se`, or from
    /// merged seed replicates); `None` unless every point has one.
    pub se: Option<Vec<f64>>,
    /// With paired noise (run directories evaluated on the same validation windows, see
    /// `runs.rs`): the relative standard error common to every point, which `se` then excludes.
    pub common_se: Option<f64>,
    /// Where they came from.
    pub origin: DataSource,
}

impl RunPoints {
    /// Reads `N`, `loss` and `D` (or `C`, then D = C/(6N)) from a CSV; `C` defaults to 6·N·D;
    /// `loss_se` (optional) is each loss's standard error.
    pub fn from_csv(path: &Path) -> Result<Self> {
        Self::from_csv_with(path, ParamCount::NonEmbedding)
    }

    /// As [`RunPoints::from_csv`], N read from column `N` or `N_total` as `params` says.
    pub fn from_csv_with(path: &Path, params: ParamCount) -> Result<Self> {
        let t = CsvTable::read(path)?;
        Self::from_table_with(&t, path, params)
    }

    /// As [`RunPoints::from_csv`] from a table already read.
    pub fn from_table(t: &CsvTable, path: &Path) -> Result<Self> {
        Self::from_table_with(t, path, ParamCount::NonEmbedding)
    }

    /// As [`RunPoints::from_csv_with`] from a table already read.
    pub fn from_table_with(t: &CsvTable, path: &Path, params: ParamCount) -> Result<Self> {
        let j_n = match params {
            ParamCount::NonEmbedding => {
                t.require("N", "; N is the number of (non-embedding) parameters")?
            }
            ParamCount::Total => t.require(
                "N_total",
                "; --params total reads N_total (all parameters, embeddings included)",
            )?,
        };
        let j_l = t.require("loss", "; loss is the final loss in nats per token")?;
        let n = t.positive(j_n)?;
        let loss = t.positive(j_l)?;
        let c_col = t.find("C").map(|j| t.positive(j)).transpose()?;
        let d = match (t.find("D"), &c_col) {
            (Some(j), _) => t.positive(j)?,
            (None, Some(c)) => c.iter().zip(&n).map(|(c, n)| c / (6.0 * n)).collect(),
            (None, None) => {
                return Err(t.missing("D", "; give D (training tokens) or C (FLOPs, D = C/(6N))"))
            }
        };
        let c = c_col.unwrap_or_else(|| n.iter().zip(&d).map(|(n, d)| 6.0 * n * d).collect());
        let se = t
            .find("loss_se")
            .map(|j| t.standard_errors(j))
            .transpose()?;
        Ok(RunPoints {
            n,
            d,
            loss,
            c,
            se,
            common_se: None,
            origin: DataSource {
                source: path.display().to_string(),
                sha256: t.sha256().to_string(),
                skipped: vec![],
            },
        })
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.n.len()
    }

    /// True when there are no points.
    pub fn is_empty(&self) -> bool {
        self.n.is_empty()
    }
}

/// (x, y) pairs for the power and doubling laws.
#[derive(Clone, Debug)]
pub struct XyPoints {
    /// Abscissa (decimal years for dates).
    pub x: Vec<f64>,
    /// Ordinate, > 0.
    pub y: Vec<f64>,
    /// Column names.
    pub x_name: String,
    /// Column names.
    pub y_name: String,
    /// True when x held ISO dates (then x is in decimal years).
    pub x_is_date: bool,
    /// Standard error of each y (column `<y>_se`), `None` when absent.
    pub se: Option<Vec<f64>>,
    /// Where they came from.
    pub origin: DataSource,
}

/// How the x column is parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XKind {
    /// A number > 0 (power law: x enters through ln x).
    Positive,
    /// A time: ISO date or decimal year (doubling law).
    Time,
}

impl XyPoints {
    /// Reads columns `x` and `y` of a CSV; y must be > 0; column `<y>_se` (optional) holds the
    /// standard error of each y.
    pub fn from_csv(path: &Path, x: &str, y: &str, kind: XKind) -> Result<Self> {
        let t = CsvTable::read(path)?;
        Self::from_table(&t, x, y, kind)
    }

    /// As [`XyPoints::from_csv`] from a table (a CSV, or run directories: [`crate::runs::run_table`]).
    pub fn from_table(t: &CsvTable, x: &str, y: &str, kind: XKind) -> Result<Self> {
        let path = t.path.as_path();
        let jx = t.require(x, "; choose the columns with --x and --y")?;
        let jy = t.require(y, "; choose the columns with --x and --y")?;
        let (xv, is_date) = match kind {
            XKind::Positive => (t.positive(jx)?, false),
            XKind::Time => t.times(jx)?,
        };
        let yv = t.positive(jy)?;
        let se = t
            .find(&format!("{y}_se"))
            .map(|j| t.standard_errors(j))
            .transpose()?;
        Ok(XyPoints {
            x: xv,
            y: yv,
            x_name: x.to_string(),
            y_name: y.to_string(),
            x_is_date: is_date,
            se,
            origin: DataSource {
                source: path.display().to_string(),
                sha256: t.sha256().to_string(),
                skipped: vec![],
            },
        })
    }
}

/// One training curve: loss against tokens seen for a model of N parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    /// Run name (directory name, or the CSV's `run` value / N).
    pub name: String,
    /// Non-embedding parameters.
    pub n: f64,
    /// Tokens seen, increasing.
    pub tokens: Vec<f64>,
    /// Loss at those tokens.
    pub loss: Vec<f64>,
}

/// Training curves: the input of the envelope law (Approach 1).
#[derive(Clone, Debug)]
pub struct Curves {
    /// One per run.
    pub runs: Vec<Curve>,
    /// Where they came from.
    pub origin: DataSource,
}

impl Curves {
    /// Reads curves from a CSV with columns `N`, `D` (tokens seen so far) and `loss`, one row per
    /// logged step; rows are grouped into curves by the optional `run` column, else by N.
    pub fn from_csv(path: &Path) -> Result<Self> {
        let t = CsvTable::read(path)?;
        let j_n = t.require("N", "; a curves CSV has N, D (tokens so far), loss per row")?;
        let j_d = t.require("D", "; a curves CSV has N, D (tokens so far), loss per row")?;
        let j_l = t.require(
            "loss",
            "; a curves CSV has N, D (tokens so far), loss per row",
        )?;
        let (n, d, l) = (t.positive(j_n)?, t.positive(j_d)?, t.positive(j_l)?);
        let names: Vec<String> = match t.find("run") {
            Some(j) => t.strings(j),
            None => n.iter().map(|n| format!("N={n:e}")).collect(),
        };
        let mut runs: Vec<Curve> = Vec::new();
        for i in 0..n.len() {
            match runs.iter_mut().find(|c| c.name == names[i]) {
                Some(c) => {
                    c.tokens.push(d[i]);
                    c.loss.push(l[i]);
                }
                None => runs.push(Curve {
                    name: names[i].clone(),
                    n: n[i],
                    tokens: vec![d[i]],
                    loss: vec![l[i]],
                }),
            }
        }
        for c in &mut runs {
            sort_curve(c);
        }
        Ok(Curves {
            runs,
            origin: DataSource {
                source: path.display().to_string(),
                sha256: t.sha256().to_string(),
                skipped: vec![],
            },
        })
    }
}

/// Sorts a curve by tokens (stable, so a repeated token count keeps its last logged loss last).
pub(crate) fn sort_curve(c: &mut Curve) {
    let mut idx: Vec<usize> = (0..c.tokens.len()).collect();
    idx.sort_by(|&a, &b| c.tokens[a].total_cmp(&c.tokens[b]));
    c.tokens = idx.iter().map(|&i| c.tokens[i]).collect();
    c.loss = idx.iter().map(|&i| c.loss[i]).collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Result<CsvTable> {
        CsvTable::from_bytes(Path::new("t.csv"), text.as_bytes())
    }

    #[test]
    fn csv_reads_runs_and_derives_c() {
        let t = table("N,D,loss\n1e8,2e9,3.1\n2e8, 4e9 ,2.9\n").unwrap();
        let p = RunPoints::from_table(&t, Path::new("t.csv")).unwrap();
        assert_eq!(p.n, vec![1e8, 2e8]);
        assert_eq!(p.d, vec![2e9, 4e9]);
        assert_eq!(p.c[0], 6.0 * 1e8 * 2e9);
        assert_eq!(p.origin.sha256.len(), 64);
    }

    #[test]
    fn csv_reads_standard_errors_and_total_params() {
        let t = table("N,N_total,D,loss,loss_se\n1e8,3e8,2e9,3.1,0.01\n2e8,5e8,4e9,2.9,0.02\n")
            .unwrap();
        let p = RunPoints::from_table(&t, Path::new("t.csv")).unwrap();
        assert_eq!(p.se, Some(vec![0.01, 0.02]));
        let p = RunPoints::from_table_with(&t, Path::new("t.csv"), ParamCount::Total).unwrap();
        assert_eq!(p.n, vec![3e8, 5e8]);
        for bad in ["0", "-0.1", "NaN", "inf"] {
            let t = table(&format!(
                "N,D,loss,loss_se\n1e8,2e9,3.1,0.01\n2e8,4e9,2.9,{bad}\n"
            ))
            .unwrap();
            let e = RunPoints::from_table(&t, Path::new("t.csv"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("line 3, column `loss_se`: standard error") && e.contains("> 0"),
                "{bad}: {e}"
            );
        }
        let t = table("N,D,loss\n1e8,2e9,3.1\n").unwrap();
        let e = RunPoints::from_table_with(&t, Path::new("t.csv"), ParamCount::Total)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no column `N_total`"), "{e}");
    }

    #[test]
    fn csv_derives_d_from_c() {
        let t = table("N,C,loss\n1e8,1.2e18,3.1\n").unwrap();
        let p = RunPoints::from_table(&t, Path::new("t.csv")).unwrap();
        assert!((p.d[0] - 2e9).abs() < 1.0);
    }

    #[test]
    fn csv_rejects_bad_input_with_line_and_column() {
        let e = table("").unwrap_err().to_string();
        assert!(e.contains("empty file"), "{e}");
        let e = table("N,D,loss\n").unwrap_err().to_string();
        assert!(e.contains("no data rows"), "{e}");
        let e = table("N,D,N\n1,2,3\n").unwrap_err().to_string();
        assert!(
            e.contains("`N` appears twice") && e.contains("columns 1 and 3"),
            "{e}"
        );
        let t = table("N,D,loss\n1e8,2e9,3.1\n1e8,abc,3\n").unwrap();
        let e = RunPoints::from_table(&t, Path::new("t.csv"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 3") && e.contains("`D`") && e.contains("`abc` is not a number"),
            "{e}"
        );
        let t = table("N,D,loss\n1e8,2e9,-3.1\n").unwrap();
        let e = RunPoints::from_table(&t, Path::new("t.csv"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2") && e.contains("`loss`") && e.contains("> 0"),
            "{e}"
        );
        let t = table("N,D,loss\n1e8,inf,3.1\n").unwrap();
        let e = RunPoints::from_table(&t, Path::new("t.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("inf must be finite"), "{e}");
        let t = table("n,D,loss\n1e8,2e9,3.1\n").unwrap();
        let e = RunPoints::from_table(&t, Path::new("t.csv"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no column `N`") && e.contains("did you mean `n`"),
            "{e}"
        );
        let t = table("N,loss\n1e8,3.1\n").unwrap();
        let e = RunPoints::from_table(&t, Path::new("t.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no column `D`") && e.contains("or C"), "{e}");
        let e = table("N,D,loss\n1,2\n").unwrap_err().to_string();
        assert!(
            e.contains("line 2") && e.contains("2 cells where the header has 3"),
            "{e}"
        );
        let t = table("N,D,loss\n1e8,,3\n").unwrap();
        let e = RunPoints::from_table(&t, Path::new("t.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("(empty)"), "{e}");
    }

    #[test]
    fn csv_times_accept_dates_and_decimal_years() {
        let t = table("date,y\n2020-01-01,1\n2021.5,2\n").unwrap();
        let (v, any) = t.times(0).unwrap();
        assert!(any);
        assert_eq!(v, vec![2020.0, 2021.5]);
        let t = table("\u{feff}t,y\n2.02e3,1\n").unwrap();
        assert_eq!(t.header()[0], "t");
        assert_eq!(t.times(0).unwrap(), (vec![2020.0], false));
        let t = table("date,y\n2020-13-01,1\n").unwrap();
        let e = t.times(0).unwrap_err().to_string();
        assert!(e.contains("`2020-13-01` is neither a date"), "{e}");
    }
}
