//! Plain aligned tables for people (`kubectl`/`chezmoi` style, no borders) that fit the
//! terminal. Every column has a priority: when the rows are wider than the terminal, text
//! columns that may shrink (names, paths, titles) are cut with `…` down to their minimum,
//! and then the least important columns are left out, one at a time, never a bar or a
//! number in the middle. One row stays one line (`grep` and `wc -l` keep working). Widths
//! are measured on what the terminal shows: colour codes count for nothing, wide
//! characters for two.

use console::{Alignment, measure_text_width, pad_str};

/// Two spaces between columns.
const GAP: usize = 2;

/// One column: its header, how important it is (0 is kept longest), and how narrow its
/// text may be cut (`None`: never cut).
#[derive(Debug, Clone)]
pub struct Col {
    header: String,
    priority: u8,
    shrink_to: Option<usize>,
}

impl Col {
    /// A column kept at its full width, dropped only after every column of a higher
    /// `priority` number.
    pub fn new(header: impl Into<String>, priority: u8) -> Col {
        Col {
            header: header.into(),
            priority,
            shrink_to: None,
        }
    }

    /// Text that may be cut with `…` down to `min` characters before any column goes.
    pub fn shrink(mut self, min: usize) -> Col {
        self.shrink_to = Some(min);
        self
    }
}

pub struct Table {
    cols: Vec<Col>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns that are all kept (a table that is never narrowed).
    pub fn new<I, S>(headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Table::with(headers.into_iter().map(|h| Col::new(h, 0)).collect())
    }

    pub fn with(cols: Vec<Col>) -> Self {
        Table {
            cols,
            rows: Vec::new(),
        }
    }

    pub fn row<I, S>(&mut self, cells: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut cells: Vec<String> = cells.into_iter().map(Into::into).collect();
        cells.resize(self.cols.len(), String::new());
        self.rows.push(cells);
        self
    }

    /// Without a width limit (piped output, scripts).
    pub fn render(&self) -> String {
        self.render_in(None)
    }

    /// Whether the rows fit `width` leaving out only columns of priority `above` or more
    /// (and cutting text columns down to their minimum).
    pub fn fits(&self, width: Option<usize>, above: u8) -> bool {
        let Some(width) = width else {
            return true;
        };
        let natural = self.natural();
        let kept: Vec<usize> = (0..self.cols.len())
            .filter(|&i| self.cols[i].priority < above)
            .collect();
        self.least(&natural, &kept) <= width
    }

    /// Fit `width`: cut text columns, then leave out columns by priority.
    pub fn render_in(&self, width: Option<usize>) -> String {
        let natural = self.natural();
        let mut kept: Vec<usize> = (0..self.cols.len()).collect();
        let mut widths = natural.clone();
        if let Some(width) = width {
            // Leave out the least important columns until the rest fits cut to minimum
            // (the last of equal priority first: columns are listed left to right).
            while self.least(&natural, &kept) > width && kept.len() > 1 {
                let Some(pos) = (0..kept.len())
                    .rev()
                    .max_by_key(|&p| self.cols[kept[p]].priority)
                else {
                    break;
                };
                if self.cols[kept[pos]].priority == 0 {
                    break;
                }
                kept.remove(pos);
            }
            // Then cut the text columns, the widest first, until it fits.
            let total = |w: &[usize]| -> usize {
                kept.iter().map(|&i| w[i]).sum::<usize>() + GAP * kept.len().saturating_sub(1)
            };
            while total(&widths) > width {
                let Some(&widest) = kept
                    .iter()
                    .filter(|&&i| self.cols[i].shrink_to.is_some_and(|m| widths[i] > m))
                    .max_by_key(|&&i| widths[i])
                else {
                    break;
                };
                widths[widest] -= 1;
            }
        }
        let line = |cells: &[String]| -> String {
            kept.iter()
                .enumerate()
                .map(|(n, &i)| {
                    let last = n + 1 == kept.len();
                    let cell = pad_str(&cells[i], widths[i], Alignment::Left, Some("…"));
                    if last {
                        cell.into_owned()
                    } else {
                        format!("{cell}{:GAP$}", "")
                    }
                })
                .collect::<String>()
                .trim_end()
                .to_string()
        };
        let headers: Vec<String> = self.cols.iter().map(|c| c.header.clone()).collect();
        std::iter::once(line(&headers))
            .chain(self.rows.iter().map(|r| line(r)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Each column's width without a limit.
    fn natural(&self) -> Vec<usize> {
        (0..self.cols.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| measure_text_width(&r[i]))
                    .chain([measure_text_width(&self.cols[i].header)])
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    /// The narrowest the `kept` columns can be.
    fn least(&self, natural: &[usize], kept: &[usize]) -> usize {
        kept.iter()
            .map(|&i| match self.cols[i].shrink_to {
                Some(min) => natural[i].min(min.max(measure_text_width(&self.cols[i].header))),
                None => natural[i],
            })
            .sum::<usize>()
            + GAP * kept.len().saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        let mut t = Table::with(vec![
            Col::new("ID", 3),
            Col::new("NAME", 0).shrink(6),
            Col::new("QUOTA", 1),
            Col::new("NOTE", 2),
        ]);
        t.row([
            "abcdef",
            "someone@example.com",
            "█████ 50%",
            "\x1b[32mok\x1b[0m",
        ]);
        t
    }

    #[test]
    fn nothing_changes_without_a_limit_and_colours_take_no_room() {
        let t = table();
        assert_eq!(
            t.render(),
            "ID      NAME                 QUOTA      NOTE\nabcdef  someone@example.com  █████ 50%  \x1b[32mok\x1b[0m"
        );
        for line in t.render_in(Some(43)).lines() {
            assert!(measure_text_width(line) <= 43, "{line}");
        }
    }

    #[test]
    fn text_is_cut_then_columns_go_by_priority() {
        let t = table();
        // Room for everything with the name cut.
        let out = t.render_in(Some(38));
        assert!(
            out.contains("someone@exam…") && out.contains("abcdef"),
            "{out}"
        );
        // Less room: ID (priority 3) goes before the name is cut below its minimum.
        let out = t.render_in(Some(30));
        assert!(
            !out.contains("abcdef") && out.contains("█████ 50%"),
            "{out}"
        );
        for line in out.lines() {
            assert!(measure_text_width(line) <= 30, "{line}");
        }
        assert!(t.fits(Some(30), 3) && !t.fits(Some(30), 4));
        // Never below the last column of priority 0.
        assert!(t.render_in(Some(3)).contains("NAME"));
    }
}
