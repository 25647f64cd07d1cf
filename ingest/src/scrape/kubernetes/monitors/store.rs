//! Secret and ConfigMap keys for the translator, held in memory only. Data flow: a first
//! translation against a [`Recording`] store lists the objects a monitor references → the
//! watcher GETs each through the API (in the monitor's namespace) into a [`MapStore`] → the
//! real translation reads the values from it. Nothing is written to disk; values are never
//! logged (errors name the object and key only).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use super::model::KeySelector;
use super::translate::Store;

/// A referenced object: (ConfigMap rather than Secret, namespace, name).
pub type ObjectRef = (bool, String, String);

fn what(config_map: bool) -> &'static str {
    if config_map { "configmap" } else { "secret" }
}

/// Records which objects a translation asks for (and answers with empty values).
#[derive(Debug, Default)]
pub struct Recording(pub Mutex<BTreeSet<ObjectRef>>);

impl Store for Recording {
    fn get(&self, config_map: bool, namespace: &str, s: &KeySelector) -> Result<String, String> {
        if let Ok(mut refs) = self.0.lock() {
            refs.insert((config_map, namespace.to_string(), s.name.clone()));
        }
        Ok(String::new())
    }
}

/// Objects read from the API: their keys' values, or why they could not be read.
#[derive(Debug, Default)]
pub struct MapStore(pub HashMap<ObjectRef, Result<BTreeMap<String, String>, String>>);

impl Store for MapStore {
    fn get(&self, config_map: bool, namespace: &str, s: &KeySelector) -> Result<String, String> {
        let key = (config_map, namespace.to_string(), s.name.clone());
        let object = format!("{} {namespace}/{}", what(config_map), s.name);
        match self.0.get(&key) {
            Some(Ok(data)) => data
                .get(&s.key)
                .cloned()
                .ok_or_else(|| format!("{object} has no key {:?}", s.key)),
            Some(Err(e)) => Err(e.clone()),
            None => Err(format!("{object} not found")),
        }
    }
}

/// The data of a Secret (base64 in `data`, plain in `stringData`) or a ConfigMap (`data`,
/// base64 in `binaryData`) as the API serves it.
pub fn object_data(
    config_map: bool,
    object: &serde_json::Value,
) -> Result<BTreeMap<String, String>, String> {
    use base64::Engine;
    let decode = |v: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(v)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
    };
    let mut out = BTreeMap::new();
    let (plain, encoded) = if config_map {
        ("data", "binaryData")
    } else {
        ("stringData", "data")
    };
    for (k, v) in object[plain].as_object().into_iter().flatten() {
        out.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
    }
    for (k, v) in object[encoded].as_object().into_iter().flatten() {
        let text = decode(v.as_str().unwrap_or_default())
            .ok_or_else(|| format!("{} key {k:?} is not base64 UTF-8", what(config_map)))?;
        out.insert(k.clone(), text);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_decode_and_missing_keys_name_the_object() {
        let secret = serde_json::json!({"data": {"token": "czNjcjN0"}});
        let data = object_data(false, &secret).unwrap();
        assert_eq!(data["token"], "s3cr3t");
        let cm = serde_json::json!({"data": {"ca.crt": "PEM"}});
        assert_eq!(object_data(true, &cm).unwrap()["ca.crt"], "PEM");
        assert!(object_data(false, &serde_json::json!({"data": {"k": "%%"}})).is_err());
        let mut store = MapStore::default();
        store
            .0
            .insert((false, "ns".into(), "auth".into()), Ok(data));
        let sel = |name: &str, key: &str| KeySelector {
            name: name.into(),
            key: key.into(),
            optional: None,
        };
        assert_eq!(
            store.get(false, "ns", &sel("auth", "token")).unwrap(),
            "s3cr3t"
        );
        assert_eq!(
            store.get(false, "ns", &sel("auth", "user")).unwrap_err(),
            "secret ns/auth has no key \"user\""
        );
        assert_eq!(
            store.get(true, "ns", &sel("auth", "token")).unwrap_err(),
            "configmap ns/auth not found"
        );
        let rec = Recording::default();
        rec.get(true, "ns", &sel("ca", "x")).unwrap();
        assert!(
            rec.0
                .lock()
                .unwrap()
                .contains(&(true, "ns".into(), "ca".into()))
        );
    }
}
