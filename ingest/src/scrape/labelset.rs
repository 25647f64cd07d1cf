//! Label sets under construction: a `Vec<Label>` kept sorted by name, names unique, where
//! setting an empty value removes the label (Prometheus' `labels.Builder`).

use strata_storage::Label;

/// The value of `name`, or "" when absent.
pub fn get<'a>(labels: &'a [Label], name: &str) -> &'a str {
    match labels.binary_search_by(|l| l.name.as_str().cmp(name)) {
        Ok(i) => &labels[i].value,
        Err(_) => "",
    }
}

/// Sets `name` to `value` (borrowed or owned: it is copied only when stored); an empty value
/// deletes the label.
pub fn set<V: AsRef<str> + Into<String>>(labels: &mut Vec<Label>, name: &str, value: V) {
    let empty = value.as_ref().is_empty();
    match labels.binary_search_by(|l| l.name.as_str().cmp(name)) {
        Ok(i) if empty => {
            labels.remove(i);
        }
        Ok(i) => {
            if labels[i].value != value.as_ref() {
                labels[i].value = value.into();
            }
        }
        Err(_) if empty => {}
        Err(i) => labels.insert(
            i,
            Label {
                name: name.to_string(),
                value: value.into(),
            },
        ),
    }
}

/// Adds each of `defaults` whose name is not set yet (target labels under `honor_labels`,
/// external labels).
pub fn set_missing<'a>(labels: &mut Vec<Label>, defaults: impl IntoIterator<Item = &'a Label>) {
    for l in defaults {
        if get(labels, &l.name).is_empty() {
            set(labels, &l.name, l.value.as_str());
        }
    }
}

/// Builds a sorted set from pairs (later pairs win).
pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<Label> {
    let mut labels = Vec::new();
    for (n, v) in pairs {
        set(&mut labels, n, v);
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_semantics() {
        let mut l = from_pairs([("b", "2"), ("a", "1"), ("c", "")]);
        assert_eq!(l.len(), 2);
        assert_eq!(get(&l, "a"), "1");
        set(&mut l, "a", "");
        set(&mut l, "0", "x");
        assert_eq!(
            l.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
            ["0", "b"]
        );
        assert_eq!(get(&l, "missing"), "");
    }
}
