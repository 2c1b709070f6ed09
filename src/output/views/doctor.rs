//! `cdxs doctor`: one screen, area by area, each check with its level and the fix on the
//! line below it.

use super::View;
use crate::doctor::{Report, Status};
use crate::output::Printer;

impl View for Report {
    fn human(&self, p: &Printer) -> String {
        let mut out = format!(
            "cdxs {} (supports Codex {})\n",
            self.cdxs_version,
            self.supported_codex.join(", ")
        );
        let mut area = "";
        for c in &self.checks {
            if c.area != area {
                area = c.area;
                out.push_str(&format!("\n{}\n", p.bold(area)));
            }
            let mark = match c.status {
                Status::Ok => p.green("ok  "),
                Status::Warn => p.yellow("warn"),
                Status::Action => p.red("fix "),
            };
            out.push_str(&format!("  {mark} {}\n", c.message));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("       -> {fix}\n"));
            }
        }
        let actions = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Action)
            .count();
        let warnings = match self.warnings {
            0 => String::new(),
            n => format!(
                "{n} warning(s) above are worth a look (`cdxs doctor --strict` fails on them too)"
            ),
        };
        out.push_str(&match (actions, warnings.is_empty()) {
            (0, true) => "\nNothing needs doing.".to_string(),
            (0, false) => format!("\nNothing needs fixing; {warnings}."),
            (n, true) => format!("\n{n} thing(s) need doing: see the `->` lines above."),
            (n, false) => {
                format!("\n{n} thing(s) need doing: see the `->` lines above; {warnings}.")
            }
        });
        out
    }
}
