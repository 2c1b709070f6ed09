//! Plain aligned tables for people (`kubectl`/`chezmoi` style, no borders).

use comfy_table::{CellAlignment, ContentArrangement, Row, presets};

pub struct Table {
    inner: comfy_table::Table,
}

impl Table {
    pub fn new<I, S>(headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut inner = comfy_table::Table::new();
        inner
            .load_style(presets::NOTHING)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(
                headers
                    .into_iter()
                    .map(|h| h.into())
                    .collect::<Vec<String>>(),
            );
        for column in inner.column_iter_mut() {
            column.set_padding((0, 2));
            column.set_cell_alignment(CellAlignment::Left);
        }
        Table { inner }
    }

    pub fn row<I, S>(&mut self, cells: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let cells: Vec<String> = cells.into_iter().map(Into::into).collect();
        self.inner.add_row(Row::from(cells));
        self
    }

    pub fn render(&self) -> String {
        // comfy-table pads the last column too; trim trailing spaces for clean diffs.
        self.inner
            .to_string()
            .lines()
            .map(|l| l.trim_end())
            .collect::<Vec<_>>()
            .join("\n")
    }
}
