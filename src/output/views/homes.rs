//! `home list`: the homes cdxs.yaml declares, for people and scripts.

use serde::Serialize;

use super::View;
use crate::manifest::{Binding, Manifest};
use crate::output::{Printer, Table};
use crate::paths;

#[derive(Debug, Serialize)]
pub struct HomeView {
    pub name: String,
    pub path: String,
    pub account: Option<String>,
    pub pool: Option<String>,
    pub exists: bool,
}

#[derive(Debug, Serialize)]
pub struct HomeList {
    pub homes: Vec<HomeView>,
}

impl HomeList {
    pub fn of(m: &Manifest) -> HomeList {
        let homes = m
            .homes
            .values()
            .map(|h| HomeView {
                name: h.name.clone(),
                path: h.path.display().to_string(),
                account: match &h.binding {
                    Some(Binding::Account(a)) => Some(a.clone()),
                    _ => None,
                },
                pool: match &h.binding {
                    Some(Binding::Pool { pool, .. }) => Some(pool.clone()),
                    _ => None,
                },
                exists: h.path.is_dir(),
            })
            .collect();
        HomeList { homes }
    }
}

impl View for HomeList {
    fn human(&self, _p: &Printer) -> String {
        let mut t = Table::new(["NAME", "PATH", "ACCOUNT", "EXISTS"]);
        for h in &self.homes {
            t.row([
                h.name.clone(),
                paths::display(std::path::Path::new(&h.path)),
                h.account
                    .clone()
                    .or(h.pool.as_ref().map(|p| format!("pool {p}")))
                    .unwrap_or_else(|| "-".into()),
                if h.exists { "yes".into() } else { "no".into() },
            ]);
        }
        t.render()
    }
}
