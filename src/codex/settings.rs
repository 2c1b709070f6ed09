//! Codex's effective settings for one home: the settings that decide whether Codex reads
//! the auth.json cdxs writes, deletes it, or leaves it unused, from every layer Codex reads
//! them from, in Codex's order, each value with the layer that set it (codex-formats 9.2-9.4).
//!
//! Layers, lowest first (a higher layer replaces what a lower one set; a requirement pins
//! over every configuration layer):
//!
//! | layer | Linux, macOS | Windows |
//! |---|---|---|
//! | Codex's packaged default | `file` store | `file` store, `secret_auth_storage` on |
//! | system config | `/etc/codex/config.toml` | `%ProgramData%\OpenAI\Codex\config.toml` |
//! | the home's config | `$CODEX_HOME/config.toml` | same |
//! | managed config | `/etc/codex/managed_config.toml`; macOS also the managed preference `config_toml_base64` of `com.openai.codex` | not read by Codex |
//! | requirements (pins) | `/etc/codex/requirements.toml`; macOS also `requirements_toml_base64` | the file `RequirementsPath` of the policy key `HKLM\SOFTWARE\Policies\OpenAI\Codex`, else `%ProgramData%\OpenAI\Codex\requirements.toml` |
//!
//! A trusted project's `.codex/config.toml` and `-c` flags sit between the home's config
//! and the managed one; cdxs cannot know the project a person starts Codex in, so
//! `cdxs run` passes `-c cli_auth_credentials_store="file"` itself. `[profiles.x]` cannot
//! set the store. A layer Codex cannot read stops Codex from starting: it is reported as
//! such, never guessed around.
//!
//! Reading is separate from judging: [`MachineLayers::read`] does the I/O (once per
//! observation), [`effective`] and [`Effective::refusals`] are pure.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// One place Codex reads settings from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// What Codex is built with.
    Default,
    /// This machine's defaults: a person's own config.toml replaces them.
    System,
    /// The home's own `config.toml`.
    Home,
    /// `managed_config.toml`: over everything a person sets.
    Managed,
    /// macOS: the managed preference `config_toml_base64` of `com.openai.codex`.
    ManagedPreference,
    /// `requirements.toml`: pins what it sets over every configuration layer.
    Requirements,
    /// macOS: the managed preference `requirements_toml_base64` of `com.openai.codex`.
    RequirementsPreference,
}

impl Layer {
    /// A requirement: no configuration layer changes what it sets.
    pub fn pins(self) -> bool {
        matches!(self, Layer::Requirements | Layer::RequirementsPreference)
    }

    /// A layer the home's own config.toml overrides (so cdxs can fix what it set there).
    pub fn below_home(self) -> bool {
        matches!(self, Layer::Default | Layer::System | Layer::Home)
    }

    pub fn name(self) -> &'static str {
        match self {
            Layer::Default => "Codex's default",
            Layer::System => "system config",
            Layer::Home => "the home's config",
            Layer::Managed => "managed config",
            Layer::ManagedPreference => "managed preference",
            Layer::Requirements => "requirements",
            Layer::RequirementsPreference => "requirements preference",
        }
    }
}

/// Where a value came from: the layer, and the file or preference holding it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub layer: Layer,
    /// A path, or the managed preference's name; "Codex's default" for the default.
    pub place: String,
}

impl Origin {
    fn default_layer() -> Origin {
        Origin {
            layer: Layer::Default,
            place: "Codex's default".into(),
        }
    }

    /// "in `/etc/codex/config.toml` (system config)".
    pub fn describe(&self) -> String {
        match self.layer {
            Layer::Default => "Codex's default".into(),
            layer => format!("in `{}` ({})", self.place, layer.name()),
        }
    }
}

/// A value and the layer that set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Valued<T> {
    pub value: T,
    pub from: Origin,
}

/// `cli_auth_credentials_store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Store {
    File,
    Keyring,
    Auto,
    Ephemeral,
}

impl Store {
    fn named(word: &str) -> Option<Store> {
        Some(match word {
            "file" => Store::File,
            "keyring" => Store::Keyring,
            "auto" => Store::Auto,
            "ephemeral" => Store::Ephemeral,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Store::File => "file",
            Store::Keyring => "keyring",
            Store::Auto => "auto",
            Store::Ephemeral => "ephemeral",
        }
    }
}

/// `forced_login_method`, and the members of `allowed_login_methods`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LoginMethod {
    #[serde(rename = "chatgpt")]
    ChatGpt,
    Api,
}

impl LoginMethod {
    fn named(word: &str) -> Option<LoginMethod> {
        match word {
            "chatgpt" => Some(LoginMethod::ChatGpt),
            "api" => Some(LoginMethod::Api),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LoginMethod::ChatGpt => "chatgpt",
            LoginMethod::Api => "api",
        }
    }
}

/// One layer as read: absent, its text, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub layer: Layer,
    pub place: String,
    pub text: Option<Result<String, String>>,
}

/// The layers of this machine outside any home, read once per observation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineLayers {
    pub sources: Vec<Source>,
    /// The OS default of `secret_auth_storage` (on only on Windows).
    pub secrets_by_default: bool,
}

/// Codex's environment variable that overrides every login in `codex exec`.
pub const CODEX_API_KEY_VAR: &str = "CODEX_API_KEY";

/// What `cdxs run` adds to a Codex command line when the home keeps its login in
/// auth.json: a trusted project's `.codex/config.toml` could otherwise move the store
/// (seen with real Codex: `login status` then reads the keyring).
pub const FILE_STORE_FLAG: [&str; 2] = ["-c", "cli_auth_credentials_store=\"file\""];

/// What `run`, `apply` and `watch` say once when `CODEX_API_KEY` is set (never its value).
pub fn codex_api_key_warning() -> Option<&'static str> {
    std::env::var_os(CODEX_API_KEY_VAR)
        .is_some_and(|v| !v.is_empty())
        .then_some("`CODEX_API_KEY` is set in this environment: `codex exec` started from here sends that key instead of the login cdxs keeps in the home (unset it to use the home's login)")
}

/// The command line `cdxs run` starts: when it starts Codex in a home whose login cdxs
/// keeps in auth.json (`managed`), with [`FILE_STORE_FLAG`] right after the program.
pub fn launch_line(command: &[String], managed: bool) -> Vec<String> {
    let mut out = command.to_vec();
    let is_codex = command.first().is_some_and(|program| {
        Path::new(program)
            .file_stem()
            .is_some_and(|s| s.eq_ignore_ascii_case("codex"))
    });
    if managed && is_codex {
        out.splice(1..1, FILE_STORE_FLAG.map(String::from));
    }
    out
}

/// The environment variable tests (and debug builds) set to read the system layers from a
/// folder of their own instead of `/etc/codex` or `%ProgramData%\OpenAI\Codex`.
pub const SYSTEM_DIR_OVERRIDE: &str = "CDXS_CODEX_SYSTEM_DIR";

/// The most a settings file may weigh (they are a few kilobytes).
const MAX_LAYER_BYTES: u64 = 4 * 1024 * 1024;

impl MachineLayers {
    /// Read this machine's layers (the files that exist; the managed preferences on macOS;
    /// the requirements policy on Windows: `platform::codex_admin`).
    pub fn read() -> MachineLayers {
        use crate::platform::codex_admin as admin;
        let overridden = system_dir_override();
        let dir = overridden.clone().unwrap_or_else(admin::system_dir);
        let file = |layer: Layer, path: PathBuf| Source {
            layer,
            place: path.display().to_string(),
            text: read_text(&path),
        };
        let mut sources = vec![file(Layer::System, dir.join("config.toml"))];
        if admin::HAS_MANAGED_CONFIG {
            sources.push(file(Layer::Managed, dir.join("managed_config.toml")));
        }
        let preference = |key: &str, layer: Layer| {
            overridden
                .is_none()
                .then(|| admin::managed_preference(key))
                .flatten()
                .map(|encoded| Source {
                    layer,
                    place: format!("managed preference `{key}` of `com.openai.codex`"),
                    text: Some(decode_preference(&encoded)),
                })
        };
        sources.extend(preference("config_toml_base64", Layer::ManagedPreference));
        let requirements = overridden
            .is_none()
            .then(admin::requirements_policy)
            .flatten()
            .unwrap_or_else(|| dir.join("requirements.toml"));
        sources.push(file(Layer::Requirements, requirements));
        sources.extend(preference(
            "requirements_toml_base64",
            Layer::RequirementsPreference,
        ));
        MachineLayers {
            sources,
            secrets_by_default: admin::SECRETS_BY_DEFAULT,
        }
    }

    /// No layer at all outside the home (unit tests).
    pub fn none() -> MachineLayers {
        MachineLayers::default()
    }
}

/// The folder debug builds read instead of the system's ([`SYSTEM_DIR_OVERRIDE`]).
fn system_dir_override() -> Option<PathBuf> {
    cfg!(debug_assertions)
        .then(|| std::env::var_os(SYSTEM_DIR_OVERRIDE).filter(|d| !d.is_empty()))
        .flatten()
        .map(PathBuf::from)
}

/// A managed preference's TOML out of the base64 it is forced as, as Codex decodes it.
fn decode_preference(encoded: &str) -> Result<String, String> {
    use base64::Engine;
    match base64::engine::general_purpose::STANDARD.decode(encoded.trim().as_bytes()) {
        Ok(bytes) => {
            String::from_utf8(bytes).map_err(|_| "does not decode to UTF-8 text".to_string())
        }
        Err(_) => Err("is not base64".to_string()),
    }
}

/// A settings file's text: `None` when absent, `Err` when it exists and cannot be read.
pub fn read_text(path: &Path) -> Option<Result<String, String>> {
    match crate::fsx::read_optional_bounded(path, MAX_LAYER_BYTES) {
        Ok(None) => None,
        Ok(Some(bytes)) => Some(String::from_utf8(bytes).map_err(|_| "is not UTF-8".into())),
        Err(e) => Some(Err(e.to_string())),
    }
}

/// A layer Codex cannot read, or a value in it Codex cannot take: Codex does not start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Broken {
    pub from: Origin,
    pub why: String,
}

/// The settings Codex acts on in one home.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Effective {
    pub store: Valued<Store>,
    /// `[features] secret_auth_storage` (Windows keeps a keyring login in
    /// `secrets/codex_auth.age` when it is on).
    pub secret_auth_storage: Valued<bool>,
    pub forced_login_method: Option<Valued<LoginMethod>>,
    /// `forced_chatgpt_workspace_id`, items trimmed; never empty (empty = no restriction).
    pub forced_workspaces: Option<Valued<Vec<String>>>,
    /// Requirements' `allowed_login_methods`.
    pub allowed_login_methods: Option<Valued<Vec<LoginMethod>>>,
    /// Requirements' `allowed_chatgpt_workspaces` (empty allows none).
    pub allowed_workspaces: Option<Valued<Vec<String>>>,
    /// Layers Codex cannot read: it does not start in this home.
    pub broken: Vec<Broken>,
}

impl Default for Effective {
    fn default() -> Self {
        Effective {
            store: Valued {
                value: Store::File,
                from: Origin::default_layer(),
            },
            secret_auth_storage: Valued {
                value: false,
                from: Origin::default_layer(),
            },
            forced_login_method: None,
            forced_workspaces: None,
            allowed_login_methods: None,
            allowed_workspaces: None,
            broken: vec![],
        }
    }
}

/// What one layer set, parsed.
struct Parsed {
    from: Origin,
    table: toml::Table,
}

/// The settings Codex acts on in the home whose config.toml is `home` (its place and its
/// text as read), given this machine's layers.
pub fn effective(
    machine: &MachineLayers,
    home: Option<&Result<String, String>>,
    home_place: &str,
) -> Effective {
    let mut out = Effective {
        secret_auth_storage: Valued {
            value: machine.secrets_by_default,
            from: Origin::default_layer(),
        },
        ..Effective::default()
    };
    let home_source = Source {
        layer: Layer::Home,
        place: home_place.to_string(),
        text: home.cloned(),
    };
    let mut sources: Vec<&Source> = machine.sources.iter().collect();
    sources.push(&home_source);
    sources.sort_by_key(|s| s.layer);
    let (mut config, mut required) = (Vec::new(), Vec::new());
    for s in sources {
        let Some(parsed) = out.parse(s) else {
            continue;
        };
        if s.layer.pins() {
            required.push(parsed);
        } else {
            config.push(parsed);
        }
    }
    // Lowest first: a later (higher) layer replaces what an earlier one set.
    for p in config.iter().chain(required.iter()) {
        out.take_store(p);
        out.take_features(p);
        if p.from.layer.pins() {
            out.take_requirements(p);
        } else {
            out.take_forced(p);
        }
    }
    out
}

impl Effective {
    /// The table a layer holds (`None`: it is absent, or broken and noted so).
    fn parse(&mut self, s: &Source) -> Option<Parsed> {
        let from = Origin {
            layer: s.layer,
            place: s.place.clone(),
        };
        let parsed = match s.text.as_ref()? {
            Err(why) => Err(why.clone()),
            Ok(text) => text
                .parse::<toml::Table>()
                .map_err(|e| toml_error(text, &e)),
        };
        match parsed {
            Ok(table) => Some(Parsed { from, table }),
            Err(why) => {
                self.broken.push(Broken { from, why });
                None
            }
        }
    }

    /// A value in layer `p` that Codex cannot take.
    fn refuse(&mut self, p: &Parsed, why: String) {
        self.broken.push(Broken {
            from: p.from.clone(),
            why,
        })
    }

    fn take_store(&mut self, p: &Parsed) {
        match p.table.get("cli_auth_credentials_store") {
            None => {}
            Some(toml::Value::String(w)) => match Store::named(w) {
                Some(value) => {
                    self.store = Valued {
                        value,
                        from: p.from.clone(),
                    }
                }
                None => self.refuse(
                    p,
                    "sets `cli_auth_credentials_store` to a store Codex does not have (it takes `file`, `keyring`, `auto` or `ephemeral`)".into(),
                ),
            },
            Some(_) => self.refuse(
                p,
                "sets `cli_auth_credentials_store` to something that is not a string".into(),
            ),
        }
    }

    /// `[features] secret_auth_storage` (a requirement writes it `[feature_requirements]`).
    fn take_features(&mut self, p: &Parsed) {
        let features = p.table.get("features").or_else(|| {
            p.from
                .layer
                .pins()
                .then(|| p.table.get("feature_requirements"))
                .flatten()
        });
        let Some(f) = features else {
            return;
        };
        match f.as_table().map(|t| t.get("secret_auth_storage")) {
            None => self.refuse(p, "sets `features` to something that is not a table".into()),
            Some(None) => {}
            Some(Some(toml::Value::Boolean(on))) => {
                self.secret_auth_storage = Valued {
                    value: *on,
                    from: p.from.clone(),
                }
            }
            Some(Some(_)) => self.refuse(
                p,
                "sets `secret_auth_storage` to something other than true or false".into(),
            ),
        }
    }

    /// What only a requirements layer sets: the allowed login methods and workspaces.
    fn take_requirements(&mut self, p: &Parsed) {
        if let Some(v) = p.table.get("allowed_login_methods") {
            match methods(v) {
                Ok(value) => {
                    self.allowed_login_methods = Some(Valued {
                        value,
                        from: p.from.clone(),
                    })
                }
                Err(why) => self.refuse(p, format!("sets `allowed_login_methods` {why}")),
            }
        }
        if let Some(v) = p.table.get("allowed_chatgpt_workspaces") {
            match strings(v) {
                Ok(value) => {
                    self.allowed_workspaces = Some(Valued {
                        value,
                        from: p.from.clone(),
                    })
                }
                Err(why) => self.refuse(p, format!("sets `allowed_chatgpt_workspaces` {why}")),
            }
        }
    }

    /// What only a configuration layer sets: the forced login method and workspaces.
    fn take_forced(&mut self, p: &Parsed) {
        match p.table.get("forced_login_method") {
            None => {}
            Some(toml::Value::String(w)) => match LoginMethod::named(w) {
                Some(value) => {
                    self.forced_login_method = Some(Valued {
                        value,
                        from: p.from.clone(),
                    })
                }
                None => self.refuse(
                    p,
                    "sets `forced_login_method` to a method Codex does not have (it takes `chatgpt` or `api`)"
                        .into(),
                ),
            },
            Some(_) => self.refuse(
                p,
                "sets `forced_login_method` to something that is not a string".into(),
            ),
        }
        match p.table.get("forced_chatgpt_workspace_id").map(workspaces) {
            None => {}
            Some(Ok(ids)) if ids.is_empty() => self.forced_workspaces = None,
            Some(Ok(ids)) => {
                self.forced_workspaces = Some(Valued {
                    value: ids,
                    from: p.from.clone(),
                })
            }
            Some(Err(why)) => self.refuse(p, format!("sets `forced_chatgpt_workspace_id` {why}")),
        }
    }
}

/// Where a TOML error is, without quoting the file (it may hold a secret).
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(at) => format!(
            "is not TOML Codex can read (line {})",
            text.as_bytes()[..at.start.min(text.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1
        ),
        None => "is not TOML Codex can read".into(),
    }
}

fn strings(v: &toml::Value) -> Result<Vec<String>, String> {
    let items = v.as_array().ok_or("to something that is not a list")?;
    items
        .iter()
        .map(|i| {
            i.as_str()
                .map(|s| s.trim().to_string())
                .ok_or_else(|| "to a list with an item that is not a string".to_string())
        })
        .collect()
}

fn methods(v: &toml::Value) -> Result<Vec<LoginMethod>, String> {
    strings(v)?
        .iter()
        .map(|w| {
            LoginMethod::named(w).ok_or_else(|| {
                "to a list with a method Codex does not have (it takes `chatgpt` and `api`)"
                    .to_string()
            })
        })
        .collect()
}

/// `forced_chatgpt_workspace_id`: one id or a list, items trimmed, empty items dropped; a
/// single string with a comma stops Codex (codex-formats 9.4).
fn workspaces(v: &toml::Value) -> Result<Vec<String>, String> {
    match v {
        toml::Value::String(s) if s.contains(',') => Err(
            "to one string with a comma in it (a list of ids is written as a TOML array)".into(),
        ),
        toml::Value::String(s) => Ok([s.trim()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()),
        other => Ok(strings(other)
            .map_err(|_| "to something that is neither a string nor a list of strings".to_string())?
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect()),
    }
}

/// The kind of login cdxs would write, as the settings judge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    ChatGpt {
        /// The ChatGPT account (workspace) id the login belongs to.
        workspace: Option<String>,
    },
    ApiKey,
}

/// Why Codex would not use a login cdxs writes into this home.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The setting, as written: `cli_auth_credentials_store = "keyring"`.
    pub setting: String,
    pub from: Origin,
    /// What Codex does.
    pub effect: String,
    /// What to do.
    pub fix: String,
    /// The home's own config.toml can fix it (cdxs can, with `codex_config`).
    pub fixable_in_home: bool,
}

impl Refusal {
    /// One line: the setting, where it is set, and what Codex does.
    pub fn message(&self) -> String {
        format!(
            "`{}` {}: {}",
            self.setting,
            self.from.describe(),
            self.effect
        )
    }
}

impl Effective {
    /// The refusal a store other than `file` makes of every auth.json.
    pub fn store_refusal(&self) -> Option<Refusal> {
        let store = self.store.value;
        let effect = match store {
            Store::File => return None,
            Store::Keyring if self.secret_auth_storage.value => {
                "Codex keeps its login in `secrets/codex_auth.age` (the OS credential store holds its key) and ignores auth.json"
            }
            Store::Keyring => "Codex reads its login from the OS keyring and ignores auth.json",
            Store::Auto => {
                "a keyring entry wins over auth.json, and Codex deletes auth.json after its next keyring save"
            }
            Store::Ephemeral => "Codex keeps its login in memory only and never reads auth.json",
        };
        let from = self.store.from.clone();
        Some(Refusal {
            setting: format!("cli_auth_credentials_store = \"{}\"", store.as_str()),
            fix: fix_for(
                &from,
                "set `cli_auth_credentials_store = \"file\"` in the home's config.toml (declare `codex_config: { cli_auth_credentials_store: file }` on the home in cdxs.yaml and cdxs writes it)",
            ),
            fixable_in_home: from.layer.below_home(),
            from,
            effect: effect.into(),
        })
    }

    /// Every reason Codex would delete or leave unused `login` written into this home.
    pub fn refusals(&self, login: &Login) -> Vec<Refusal> {
        let method = match login {
            Login::ChatGpt { .. } => LoginMethod::ChatGpt,
            Login::ApiKey => LoginMethod::Api,
        };
        let workspace = match login {
            Login::ChatGpt { workspace } => Some(workspace.as_ref()),
            Login::ApiKey => None,
        };
        [
            self.store_refusal(),
            self.forced_method_refusal(method),
            workspace.and_then(|w| self.forced_workspace_refusal(w)),
            self.allowed_method_refusal(method),
            workspace.and_then(|w| self.allowed_workspace_refusal(w)),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// `forced_login_method` set to the other kind of login.
    fn forced_method_refusal(&self, method: LoginMethod) -> Option<Refusal> {
        let forced = self.forced_login_method.as_ref()?;
        if forced.value == method {
            return None;
        }
        Some(Refusal {
            setting: format!("forced_login_method = \"{}\"", forced.value.as_str()),
            from: forced.from.clone(),
            effect: match method {
                LoginMethod::ChatGpt => "Codex logs out and deletes a ChatGPT login at its next start (no revoke is sent; a token it rotated there is lost)".into(),
                LoginMethod::Api => "Codex logs out and deletes an API-key login at its next start".into(),
            },
            fix: fix_for(
                &forced.from,
                &format!(
                    "bind an account of the kind it requires ({}), or remove `forced_login_method` from that file",
                    match forced.value {
                        LoginMethod::ChatGpt => "a ChatGPT login",
                        LoginMethod::Api => "an API key",
                    }
                ),
            ),
            fixable_in_home: forced.from.layer.below_home(),
        })
    }

    /// `forced_chatgpt_workspace_id` without the workspace of a ChatGPT login.
    fn forced_workspace_refusal(&self, workspace: Option<&String>) -> Option<Refusal> {
        let forced = self.forced_workspaces.as_ref()?;
        if workspace.is_some_and(|w| forced.value.contains(w)) {
            return None;
        }
        Some(Refusal {
            setting: format!("forced_chatgpt_workspace_id = {}", list(&forced.value)),
            from: forced.from.clone(),
            effect: format!(
                "Codex logs out and deletes a login of {} at its next start",
                workspace
                    .map(|w| format!("workspace `{w}`"))
                    .unwrap_or_else(|| "no known workspace".into())
            ),
            fix: fix_for(
                &forced.from,
                "bind a login of an allowed workspace, or change `forced_chatgpt_workspace_id` in that file",
            ),
            fixable_in_home: forced.from.layer.below_home(),
        })
    }

    /// The requirement `allowed_login_methods` without this kind of login.
    fn allowed_method_refusal(&self, method: LoginMethod) -> Option<Refusal> {
        let allowed = self.allowed_login_methods.as_ref()?;
        if allowed.value.contains(&method) {
            return None;
        }
        let names: Vec<String> = allowed
            .value
            .iter()
            .map(|m| m.as_str().to_string())
            .collect();
        Some(Refusal {
            setting: format!("allowed_login_methods = {}", list(&names)),
            from: allowed.from.clone(),
            effect: "Codex will not use a login of this kind".into(),
            fix: "bind an account of an allowed kind; only an administrator can change the requirement".into(),
            fixable_in_home: false,
        })
    }

    /// The requirement `allowed_chatgpt_workspaces` without the workspace of a ChatGPT login.
    fn allowed_workspace_refusal(&self, workspace: Option<&String>) -> Option<Refusal> {
        let allowed = self.allowed_workspaces.as_ref()?;
        if workspace.is_some_and(|w| allowed.value.contains(w)) {
            return None;
        }
        Some(Refusal {
            setting: format!("allowed_chatgpt_workspaces = {}", list(&allowed.value)),
            from: allowed.from.clone(),
            effect: "Codex will not use a ChatGPT login of another workspace".into(),
            fix: "bind a login of an allowed workspace; only an administrator can change the requirement".into(),
            fixable_in_home: false,
        })
    }

    /// One line for a person: the store and every login restriction, each with where it
    /// is set (`status` and `doctor`).
    pub fn describe(&self) -> String {
        let mut parts = vec![format!(
            "credential store `{}`{} ({})",
            self.store.value.as_str(),
            if self.store.value != Store::File && self.secret_auth_storage.value {
                " with `secret_auth_storage`"
            } else {
                ""
            },
            self.store.from.describe()
        )];
        if let Some(f) = &self.forced_login_method {
            parts.push(format!(
                "forced_login_method = \"{}\" ({})",
                f.value.as_str(),
                f.from.describe()
            ));
        }
        if let Some(f) = &self.forced_workspaces {
            parts.push(format!(
                "forced_chatgpt_workspace_id = {} ({})",
                list(&f.value),
                f.from.describe()
            ));
        }
        if let Some(a) = &self.allowed_login_methods {
            let names: Vec<String> = a.value.iter().map(|m| m.as_str().to_string()).collect();
            parts.push(format!(
                "allowed_login_methods = {} ({})",
                list(&names),
                a.from.describe()
            ));
        }
        if let Some(a) = &self.allowed_workspaces {
            parts.push(format!(
                "allowed_chatgpt_workspaces = {} ({})",
                list(&a.value),
                a.from.describe()
            ));
        }
        for b in &self.broken {
            parts.push(format!(
                "`{}` ({}) {}: Codex does not start",
                b.from.place,
                b.from.layer.name(),
                b.why
            ));
        }
        parts.join("; ")
    }

    /// The settings as they stand after cdxs writes `cli_auth_credentials_store = "file"`
    /// into the home's config.toml (what `codex_config` asks for).
    pub fn with_home_store_file(&self, home_place: &str) -> Effective {
        let mut out = self.clone();
        if out.store.from.layer.below_home() {
            out.store = Valued {
                value: Store::File,
                from: Origin {
                    layer: Layer::Home,
                    place: home_place.to_string(),
                },
            };
        }
        out
    }
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

fn fix_for(from: &Origin, in_reach: &str) -> String {
    match from.layer {
        Layer::Default | Layer::System | Layer::Home => in_reach.to_string(),
        Layer::Managed | Layer::ManagedPreference => format!(
            "it is set {} over every config.toml: only an administrator can change it",
            from.describe()
        ),
        Layer::Requirements | Layer::RequirementsPreference => format!(
            "it is pinned {}: only an administrator can change it",
            from.describe()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: &str = "/h/config.toml";

    fn machine(layers: &[(Layer, &str)]) -> MachineLayers {
        MachineLayers {
            sources: layers
                .iter()
                .map(|(layer, text)| Source {
                    layer: *layer,
                    place: format!("/etc/codex/{}", layer.name().replace(' ', "_")),
                    text: Some(Ok(text.to_string())),
                })
                .collect(),
            secrets_by_default: false,
        }
    }

    fn home(text: &str) -> Option<Result<String, String>> {
        Some(Ok(text.to_string()))
    }

    #[test]
    fn defaults_to_the_file_store_with_no_restriction() {
        let e = effective(&MachineLayers::none(), None, HOME);
        assert_eq!(e.store.value, Store::File);
        assert_eq!(e.store.from.layer, Layer::Default);
        assert!(e.refusals(&Login::ChatGpt { workspace: None }).is_empty());
        assert!(e.refusals(&Login::ApiKey).is_empty());
    }

    #[test]
    fn a_higher_layer_wins_and_a_requirement_pins() {
        let m = machine(&[(Layer::System, "cli_auth_credentials_store = \"keyring\"\n")]);
        let e = effective(&m, None, HOME);
        assert_eq!(e.store.value, Store::Keyring);
        assert_eq!(e.store.from.layer, Layer::System);
        // The home's own config replaces the system default.
        let e = effective(
            &m,
            home("cli_auth_credentials_store = \"file\"\n").as_ref(),
            HOME,
        );
        assert_eq!(
            (e.store.value, e.store.from.layer),
            (Store::File, Layer::Home)
        );
        // Managed config is over the home's.
        let m = machine(&[(Layer::Managed, "cli_auth_credentials_store = \"auto\"\n")]);
        let e = effective(
            &m,
            home("cli_auth_credentials_store = \"file\"\n").as_ref(),
            HOME,
        );
        assert_eq!(
            (e.store.value, e.store.from.layer),
            (Store::Auto, Layer::Managed)
        );
        // A requirement pins over everything.
        let m = machine(&[
            (Layer::Managed, "cli_auth_credentials_store = \"file\"\n"),
            (
                Layer::Requirements,
                "cli_auth_credentials_store = \"keyring\"\n",
            ),
        ]);
        let e = effective(&m, None, HOME);
        assert_eq!(
            (e.store.value, e.store.from.layer),
            (Store::Keyring, Layer::Requirements)
        );
        let r = e.store_refusal().unwrap();
        assert!(!r.fixable_in_home);
        assert!(r.fix.contains("only an administrator"), "{}", r.fix);
        assert!(
            r.message().contains("/etc/codex/requirements"),
            "{}",
            r.message()
        );
    }

    #[test]
    fn profiles_cannot_set_the_store() {
        let e = effective(
            &MachineLayers::none(),
            home("profile = \"x\"\n[profiles.x]\ncli_auth_credentials_store = \"keyring\"\n")
                .as_ref(),
            HOME,
        );
        assert_eq!(e.store.value, Store::File);
    }

    #[test]
    fn every_store_but_file_is_refused_with_its_effect() {
        for (store, effect) in [
            ("keyring", "ignores auth.json"),
            ("auto", "deletes auth.json"),
            ("ephemeral", "never reads auth.json"),
        ] {
            let e = effective(
                &MachineLayers::none(),
                home(&format!("cli_auth_credentials_store = \"{store}\"\n")).as_ref(),
                HOME,
            );
            let r = e.store_refusal().unwrap();
            assert!(r.effect.contains(effect), "{store}: {}", r.effect);
            assert!(r.fixable_in_home);
            assert!(r.fix.contains("codex_config"), "{}", r.fix);
            assert_eq!(e.with_home_store_file(HOME).store_refusal(), None);
        }
        // On Windows keyring means the encrypted secrets file.
        let mut m = MachineLayers::none();
        m.secrets_by_default = true;
        let e = effective(
            &m,
            home("cli_auth_credentials_store = \"keyring\"\n").as_ref(),
            HOME,
        );
        assert!(e.store_refusal().unwrap().effect.contains("codex_auth.age"));
    }

    #[test]
    fn forced_login_method_and_workspaces() {
        let e = effective(
            &MachineLayers::none(),
            home(
                "forced_login_method = \"api\"\nforced_chatgpt_workspace_id = [\" ws-1 \", \"\"]\n",
            )
            .as_ref(),
            HOME,
        );
        assert!(e.refusals(&Login::ApiKey).is_empty());
        let r = e.refusals(&Login::ChatGpt {
            workspace: Some("ws-1".into()),
        });
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(r[0].effect.contains("deletes a ChatGPT login"), "{r:?}");
        let e = effective(
            &MachineLayers::none(),
            home("forced_chatgpt_workspace_id = \"ws-1\"\n").as_ref(),
            HOME,
        );
        assert!(
            e.refusals(&Login::ChatGpt {
                workspace: Some("ws-1".into())
            })
            .is_empty()
        );
        let r = e.refusals(&Login::ChatGpt {
            workspace: Some("ws-2".into()),
        });
        assert_eq!(r.len(), 1);
        assert!(r[0].effect.contains("workspace `ws-2`"), "{r:?}");
        // An empty value is no restriction.
        let e = effective(
            &MachineLayers::none(),
            home("forced_chatgpt_workspace_id = \"  \"\n").as_ref(),
            HOME,
        );
        assert_eq!(e.forced_workspaces, None);
    }

    #[test]
    fn requirements_leave_logins_unused() {
        let m = machine(&[(
            Layer::Requirements,
            "allowed_login_methods = [\"api\"]\nallowed_chatgpt_workspaces = []\n",
        )]);
        let e = effective(&m, None, HOME);
        let r = e.refusals(&Login::ChatGpt {
            workspace: Some("ws".into()),
        });
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r.iter().all(|r| !r.fixable_in_home));
        assert!(e.refusals(&Login::ApiKey).is_empty());
        // The same keys in a config layer mean nothing.
        let e = effective(
            &MachineLayers::none(),
            home("allowed_login_methods = [\"api\"]\n").as_ref(),
            HOME,
        );
        assert!(e.refusals(&Login::ChatGpt { workspace: None }).is_empty());
    }

    #[test]
    fn a_layer_codex_cannot_read_is_reported_never_guessed() {
        let m = machine(&[(Layer::System, "cli_auth_credentials_store = \n")]);
        let e = effective(&m, None, HOME);
        assert_eq!(e.broken.len(), 1);
        assert_eq!(e.broken[0].from.layer, Layer::System);
        assert!(e.broken[0].why.contains("line 1"), "{:?}", e.broken);
        for bad in [
            "cli_auth_credentials_store = \"vault\"\n",
            "cli_auth_credentials_store = 1\n",
            "forced_login_method = \"sso\"\n",
            "forced_chatgpt_workspace_id = \"a,b\"\n",
            "features = 3\n",
        ] {
            let e = effective(&MachineLayers::none(), home(bad).as_ref(), HOME);
            assert_eq!(e.broken.len(), 1, "{bad}: {:?}", e.broken);
        }
        // Never quotes the file.
        let e = effective(
            &MachineLayers::none(),
            home("token = \"sk-secret-123\" x\n").as_ref(),
            HOME,
        );
        assert!(!e.broken[0].why.contains("sk-secret"), "{:?}", e.broken);
        let e = effective(
            &MachineLayers::none(),
            Some(&Err("is not UTF-8".into())),
            HOME,
        );
        assert_eq!(e.broken[0].why, "is not UTF-8");
    }

    #[test]
    fn secret_auth_storage_from_features() {
        let m = machine(&[(
            Layer::Requirements,
            "[feature_requirements]\nsecret_auth_storage = true\n",
        )]);
        let e = effective(
            &m,
            home("[features]\nsecret_auth_storage = false\n").as_ref(),
            HOME,
        );
        assert!(e.secret_auth_storage.value);
        assert_eq!(e.secret_auth_storage.from.layer, Layer::Requirements);
    }

    fn cmd(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn codex_is_told_to_read_auth_json_other_programs_are_left_alone() {
        assert_eq!(
            launch_line(&cmd(&["codex", "exec", "hi"]), true),
            cmd(&[
                "codex",
                "-c",
                "cli_auth_credentials_store=\"file\"",
                "exec",
                "hi"
            ])
        );
        assert_eq!(
            launch_line(&cmd(&["/usr/local/bin/codex"]), true)[1..],
            cmd(&["-c", "cli_auth_credentials_store=\"file\""])[..]
        );
        assert_eq!(launch_line(&cmd(&["codex.exe", "resume"]), true).len(), 4);
        assert_eq!(launch_line(&cmd(&["env"]), true), cmd(&["env"]));
        assert_eq!(
            launch_line(&cmd(&["codex-wrapper"]), true),
            cmd(&["codex-wrapper"])
        );
        // A home cdxs does not keep a login in: Codex's own settings decide.
        assert_eq!(launch_line(&cmd(&["codex"]), false), cmd(&["codex"]));
    }
}
