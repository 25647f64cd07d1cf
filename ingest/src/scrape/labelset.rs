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

/// Sets `name` to `value`; an empty value deletes the label.
pub fn set(labels: &mut Vec<Label>, name: &str, value: &str) {
    match labels.binary_search_by(|l| l.name.as_str().cmp(name)) {
        Ok(i) if value.is_empty() => {
            labels.remove(i);
        }
        Ok(i) => {
            if labels[i].value != value {
                labels[i].value = value.to_string();
            }
        }
        Err(_) if value.is_empty() => {}
        Err(i) => labels.insert(
            i,
            Label {
                name: name.to_string(),
                value: value.to_string(),
            },
        ),
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
