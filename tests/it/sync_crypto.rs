//! The sync encryption's frozen parts: a record sealed by protocol 1 must decrypt with
//! every later cdxs (`tests/fixtures/sync-record-v1.json`, never regenerated), and what a
//! server could tamper with (user, id, version, deleted flag) makes it fail.

use cdxs::sync::crypto::SyncKey;
use cdxs::sync::record;
use cdxs::sync::wire::Record;
use serde_json::Value;

fn fixture() -> (SyncKey, String, Record, Value) {
    let text = include_str!("../fixtures/sync-record-v1.json");
    let v: Value = serde_json::from_str(text).unwrap();
    let key = SyncKey::from_phrase(v["phrase"].as_str().unwrap()).unwrap();
    let rec: Record = serde_json::from_value(v["record"].clone()).unwrap();
    (key, v["user"].as_str().unwrap().to_string(), rec, v)
}

#[test]
fn the_frozen_v1_record_decrypts_forever() {
    let (key, user, rec, v) = fixture();
    assert_eq!(key.key_id(), v["key_id"], "key id derivation changed");
    let plain = record::open(&key, &user, &rec).expect("the v1 fixture must decrypt");
    let e = &v["expect"];
    assert_eq!(plain.account_id, e["account_id"]);
    assert_eq!(plain.device_id, e["device_id"]);
    assert_eq!(plain.written_at, e["written_at"]);
    assert_eq!(
        key.record_id(&plain.account_id),
        rec.record_id,
        "record id derivation changed"
    );
    let account = plain
        .account
        .unwrap()
        .to_account(&plain.account_id)
        .unwrap();
    assert_eq!(account.kind.as_str(), e["kind"]);
    assert_eq!(account.api_key.unwrap().expose(), e["api_key"]);
    assert_eq!(account.base_url.as_deref(), e["base_url"].as_str());
}

#[test]
fn the_frozen_record_refuses_every_rebinding() {
    let (key, user, rec, _) = fixture();
    assert!(record::open(&key, "bob", &rec).is_err(), "another user");
    for tampered in [
        Record {
            version: rec.version - 1,
            ..rec.clone()
        },
        Record {
            version: rec.version + 1,
            ..rec.clone()
        },
        Record {
            deleted: true,
            ..rec.clone()
        },
        Record {
            record_id: "r_00000000000000000000000000000000".into(),
            ..rec.clone()
        },
    ] {
        assert!(
            record::open(&key, &user, &tampered).is_err(),
            "{tampered:?}"
        );
    }
    assert!(
        record::open(&SyncKey::generate(), &user, &rec).is_err(),
        "another key"
    );
}
