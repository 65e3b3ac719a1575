//! Statistics and output shared by the benchmarks: median and 95th percentile, Markdown
//! tables, raw samples as CSV, and where the files go.

use std::fmt::Write as _;
use std::path::PathBuf;

/// Median and 95th percentile of `xs` (nearest rank), or `None` if there are no samples.
pub fn stats(xs: &[f64]) -> Option<(f64, f64)> {
    if xs.is_empty() {
        return None;
    }
    let mut xs = xs.to_vec();
    xs.sort_by(f64::total_cmp);
    let at = |q: f64| xs[((xs.len() - 1) as f64 * q).round() as usize];
    Some((at(0.5), at(0.95)))
}

/// A duration in microseconds, with a unit that suits its size: `7.5 µs`, `45 µs`, `12.3 ms`.
pub fn fmt_us(us: f64) -> String {
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else if us < 10.0 {
        format!("{us:.1} µs")
    } else {
        format!("{us:.0} µs")
    }
}

/// A ratio such as `1.07×`.
pub fn fmt_ratio(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}×")
    } else {
        format!("{r:.2}×")
    }
}

/// A Markdown table, built row by row.
#[derive(Debug)]
pub struct Table {
    header: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns; a column whose name starts with `>` is right-aligned (the
    /// `>` is not shown).
    pub fn new(columns: &[&str]) -> Table {
        Table {
            header: columns
                .iter()
                .map(|c| c.trim_start_matches('>').to_string())
                .collect(),
            right: columns.iter().map(|c| c.starts_with('>')).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are left empty.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as Markdown, one line per row, ending with a newline.
    pub fn markdown(&self) -> String {
        let line = |cells: &[String]| {
            let mut s = String::from("|");
            for i in 0..self.header.len() {
                let cell = cells.get(i).map(String::as_str).unwrap_or("");
                let _ = write!(s, " {} |", cell.replace('|', "\\|"));
            }
            s.push('\n');
            s
        };
        let mut out = line(&self.header);
        out.push('|');
        for right in &self.right {
            out.push_str(if *right { "---:|" } else { "---|" });
        }
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

/// Raw samples as CSV (RFC 4180 quoting where needed).
#[derive(Debug)]
pub struct Csv {
    text: String,
}

impl Csv {
    /// A CSV document with this header line.
    pub fn new(columns: &[&str]) -> Csv {
        let mut csv = Csv {
            text: String::new(),
        };
        csv.row(columns);
        csv
    }

    /// Adds one record.
    pub fn row<S: AsRef<str>>(&mut self, fields: &[S]) {
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                self.text.push(',');
            }
            let f = field.as_ref();
            if f.contains([',', '"', '\n']) {
                let _ = write!(self.text, "\"{}\"", f.replace('"', "\"\""));
            } else {
                self.text.push_str(f);
            }
        }
        self.text.push('\n');
    }

    /// The document.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Where the reports go: `--out DIR` if given, else `target/bench` in the workspace.
pub fn out_dir() -> PathBuf {
    let mut args = std::env::args().skip_while(|a| a != "--out");
    if args.next().is_some() {
        if let Some(dir) = args.next() {
            return dir.into();
        }
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/bench"))
}

/// Writes `name.md` and `name.csv` into [`out_dir`] and says where on stderr. A failure to
/// write is reported, not fatal: the tables were printed already.
pub fn save(name: &str, markdown: &str, csv: &Csv) {
    let dir = out_dir();
    let result = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::write(dir.join(format!("{name}.md")), markdown)?;
        std::fs::write(dir.join(format!("{name}.csv")), csv.text())
    });
    let shown = dir.canonicalize().unwrap_or(dir);
    match result {
        Ok(()) => eprintln!("wrote {0}/{name}.md and {0}/{name}.csv", shown.display()),
        Err(e) => eprintln!("could not write the reports to {}: {e}", shown.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p95() {
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(stats(&xs), Some((51.0, 95.0)));
        assert_eq!(stats(&[]), None);
    }

    #[test]
    fn markdown_and_csv() {
        let mut t = Table::new(&["a", ">b"]);
        t.row(vec!["x|y".into(), "1".into()]);
        assert_eq!(t.markdown(), "| a | b |\n|---|---:|\n| x\\|y | 1 |\n");
        let mut c = Csv::new(&["a", "b"]);
        c.row(&["1,2", "q\""]);
        assert_eq!(c.text(), "a,b\n\"1,2\",\"q\"\"\"\n");
    }
}
