//! `schema/cdxs.schema.json`: generated from the manifest types (draft-07, for editors).
//! `cdxs schema` prints it; `make schema` writes it; a test fails when the file is stale.

use super::model::RawManifest;

pub fn json_schema() -> String {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<RawManifest>();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}
