//! Parquet inputs: one document per row, from a top-level string column (`--column`). Row groups
//! are read one at a time, the column's values in batches of [`BATCH_ROWS`], so memory is bounded
//! by one page plus one batch whatever the file's size; other columns are never decoded. A null
//! or non-UTF-8 value is an error naming the row, or is counted and skipped under `--skip-bad`.

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::basic::Type as PhysicalType;
use parquet::column::reader::ColumnReaderImpl;
use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::schema::types::ColumnDescPtr;

use crate::docs::{push_documents, Piece, PieceSource, ReadOptions, Skipped};
use crate::error::{Error, Result};

/// Rows decoded per batch.
const BATCH_ROWS: usize = 1024;

/// The documents of one Parquet file.
pub struct ParquetSource {
    path: PathBuf,
    file: SerializedFileReader<File>,
    column: usize,
    descr: ColumnDescPtr,
    skip_bad: bool,
    skipped: Skipped,
    /// Next row group to open.
    next_group: usize,
    reader: Option<ColumnReaderImpl<ByteArrayType>>,
    defs: Vec<i16>,
    values: Vec<ByteArray>,
    /// Rows read so far (the 1-based number of the last one).
    row: u64,
    queue: VecDeque<Piece>,
}

impl ParquetSource {
    /// Opens `path` and finds the column `opts.column`.
    pub fn open(path: &Path, opts: &ReadOptions) -> Result<Self> {
        let f = File::open(path).map_err(|e| Error::io(path, e))?;
        let pq_err = |e: parquet::errors::ParquetError| Error::Parquet {
            path: path.to_path_buf(),
            cause: e.to_string(),
        };
        let file = SerializedFileReader::new(f).map_err(pq_err)?;
        let schema = file.metadata().file_metadata().schema_descr_ptr();
        let found = (0..schema.num_columns())
            .find(|&i| schema.column(i).path().parts() == [opts.column.as_str()]);
        let Some(column) = found else {
            let available: Vec<String> = schema
                .root_schema()
                .get_fields()
                .iter()
                .map(|f| f.name().to_string())
                .collect();
            return Err(Error::ParquetNoColumn {
                path: path.to_path_buf(),
                column: opts.column.clone(),
                available: available.join(", "),
            });
        };
        let descr = schema.column(column);
        let bad_type = |found: String| Error::ParquetColumnType {
            path: path.to_path_buf(),
            column: opts.column.clone(),
            found,
        };
        if descr.physical_type() != PhysicalType::BYTE_ARRAY {
            return Err(bad_type(descr.physical_type().to_string()));
        }
        if descr.max_rep_level() > 0 {
            return Err(bad_type("repeated (list)".to_string()));
        }
        Ok(ParquetSource {
            path: path.to_path_buf(),
            file,
            column,
            descr,
            skip_bad: opts.skip_bad,
            skipped: Skipped::default(),
            next_group: 0,
            reader: None,
            defs: Vec::with_capacity(BATCH_ROWS),
            values: Vec::with_capacity(BATCH_ROWS),
            row: 0,
            queue: VecDeque::new(),
        })
    }

    fn pq_err(&self, e: parquet::errors::ParquetError) -> Error {
        Error::Parquet {
            path: self.path.clone(),
            cause: e.to_string(),
        }
    }

    /// Decodes the next batch of rows into the queue; `false` after the last row group.
    fn read_batch(&mut self) -> Result<bool> {
        loop {
            let Some(reader) = self.reader.as_mut() else {
                if self.next_group == self.file.num_row_groups() {
                    return Ok(false);
                }
                let group = self
                    .file
                    .get_row_group(self.next_group)
                    .map_err(|e| self.pq_err(e))?;
                let pages = group
                    .get_column_page_reader(self.column)
                    .map_err(|e| self.pq_err(e))?;
                self.reader = Some(ColumnReaderImpl::new(self.descr.clone(), pages));
                self.next_group += 1;
                continue;
            };
            self.defs.clear();
            self.values.clear();
            let (rows, _, _) = reader
                .read_records(BATCH_ROWS, Some(&mut self.defs), None, &mut self.values)
                .map_err(|e| Error::Parquet {
                    path: self.path.clone(),
                    cause: e.to_string(),
                })?;
            if rows == 0 {
                self.reader = None;
                continue;
            }
            self.queue_rows(rows)?;
            return Ok(true);
        }
    }

    fn queue_rows(&mut self, rows: usize) -> Result<()> {
        let max_def = self.descr.max_def_level();
        let batch = std::mem::take(&mut self.values);
        let mut values = batch.iter();
        for r in 0..rows {
            self.row += 1;
            let present = max_def == 0 || self.defs.get(r) == Some(&max_def);
            let doc = if present {
                match values.next() {
                    Some(v) => std::str::from_utf8(v.data()).map_err(|e| {
                        format!(
                            "value is not UTF-8 (invalid byte at offset {})",
                            e.valid_up_to()
                        )
                    }),
                    None => Err("fewer values than rows (corrupt file)".to_string()),
                }
            } else {
                Err(format!("\"{}\" is null", self.descr.name()))
            };
            match doc {
                Ok(text) => push_documents(text, &mut self.queue),
                Err(reason) => {
                    let e = Error::ParquetBadRow {
                        path: self.path.clone(),
                        row: self.row,
                        reason,
                    };
                    if self.skip_bad {
                        self.skipped.add(e);
                    } else {
                        return Err(e);
                    }
                }
            }
        }
        // Keep the buffer's capacity for the next batch.
        self.values = batch;
        Ok(())
    }
}

impl PieceSource for ParquetSource {
    fn next_piece(&mut self) -> Result<Option<Piece>> {
        loop {
            if let Some(p) = self.queue.pop_front() {
                return Ok(Some(p));
            }
            if !self.read_batch()? {
                return Ok(None);
            }
        }
    }

    fn skipped(&self) -> Skipped {
        self.skipped.clone()
    }
}
