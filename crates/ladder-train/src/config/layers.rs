//! The layers of a config: a `--config` file and `--set section.key=value` arguments merged into
//! the TOML table of the layer below, every section, key and value type checked against it (the
//! table below always holds every key, so it is the schema).

use super::ModelSection;
use crate::error::{Error, Result};

/// Merges `over` (a parsed file) into `base`, checking every section, key and type.
pub(super) fn merge_table(base: &mut toml::Table, over: toml::Table, origin: &str) -> Result<()> {
    for (section, value) in over {
        let keys = match value {
            toml::Value::Table(t) => t,
            other => {
                return Err(Error::WrongType {
                    origin: origin.to_owned(),
                    key: section,
                    expected: "a [section] table",
                    got: describe(&other),
                })
            }
        };
        for (key, v) in keys {
            let slot = slot(base, &section, &key, origin)?;
            *slot = coerce(slot, v, &format!("{section}.{key}"), origin)?;
        }
    }
    Ok(())
}

/// Applies one `--set section.key=value`. The value is read as a TOML literal (`3e-3`, `4`,
/// `"cosine"`, `true`); for string keys an unquoted word is taken as the string itself, so
/// `--set train.schedule=wsd` works.
pub(super) fn apply_set(table: &mut toml::Table, arg: &str) -> Result<()> {
    let bad = || Error::BadSetSyntax {
        arg: arg.to_owned(),
    };
    let (path, raw) = arg.split_once('=').ok_or_else(bad)?;
    let (section, key) = path.trim().split_once('.').ok_or_else(bad)?;
    let origin = format!("--set {arg}");
    let slot = slot(table, section, key, &origin)?;
    let raw = raw.trim();
    let parsed = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"));
    let value = match (&*slot, parsed) {
        (toml::Value::String(_), Some(v @ toml::Value::String(_))) => v,
        (toml::Value::String(_), _) => toml::Value::String(raw.to_owned()),
        (_, Some(v)) => v,
        (_, None) => {
            return Err(Error::WrongType {
                origin,
                key: path.trim().to_owned(),
                expected: expected_of(slot),
                got: format!("{raw:?}"),
            })
        }
    };
    *slot = coerce(slot, value, path.trim(), &origin)?;
    Ok(())
}

/// The existing value at `section.key`, or an error listing what exists.
fn slot<'a>(
    table: &'a mut toml::Table,
    section: &str,
    key: &str,
    origin: &str,
) -> Result<&'a mut toml::Value> {
    let sections: Vec<String> = table.keys().cloned().collect();
    let sec = match table.get_mut(section) {
        Some(toml::Value::Table(t)) => t,
        _ => {
            return Err(Error::UnknownSection {
                origin: origin.to_owned(),
                section: section.to_owned(),
                valid: sections,
            })
        }
    };
    let mut valid: Vec<String> = sec.keys().cloned().collect();
    if section == "model" {
        // Optional keys are absent from the defaults table; a sample value of the key's type
        // stands in so the type check below still applies.
        if let (false, Some(sample)) = (sec.contains_key(key), ModelSection::optional_key(key)) {
            sec.insert(key.to_owned(), sample);
        }
        let missing = ModelSection::OPTIONAL_KEYS
            .iter()
            .filter(|k| !valid.iter().any(|v| v == *k))
            .map(|k| k.to_string())
            .collect::<Vec<_>>();
        valid.extend(missing);
    }
    sec.get_mut(key).ok_or_else(|| Error::UnknownKey {
        origin: origin.to_owned(),
        section: section.to_owned(),
        key: key.to_owned(),
        valid,
    })
}

/// Checks `new` against the type of the default `old`; integers are accepted for floats, and
/// floats with no fractional part for integers.
fn coerce(old: &toml::Value, new: toml::Value, key: &str, origin: &str) -> Result<toml::Value> {
    use toml::Value as V;
    match (old, new) {
        (V::Integer(_), v @ V::Integer(_)) => Ok(v),
        (V::Float(_), v @ V::Float(_)) => Ok(v),
        (V::Float(_), V::Integer(i)) => Ok(V::Float(i as f64)),
        // Token counts read best in scientific notation: 2e7 is the integer 20000000.
        (V::Integer(_), V::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
            Ok(V::Integer(f as i64))
        }
        (V::String(_), v @ V::String(_)) => Ok(v),
        (V::Boolean(_), v @ V::Boolean(_)) => Ok(v),
        (old, new) => Err(Error::WrongType {
            origin: origin.to_owned(),
            key: key.to_owned(),
            expected: expected_of(old),
            got: describe(&new),
        }),
    }
}

fn expected_of(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a number",
        toml::Value::String(_) => "a string",
        toml::Value::Boolean(_) => "true or false",
        _ => "a table",
    }
}

fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("the string {s:?}"),
        toml::Value::Integer(i) => format!("the integer {i}"),
        toml::Value::Float(f) => format!("the number {f}"),
        toml::Value::Boolean(b) => format!("the boolean {b}"),
        other => format!("{} {other}", other.type_str()),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, Preset, ScheduleKind};
    use crate::error::Error;

    fn sets(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn set_overrides_with_type_checks() {
        let c = Config::resolve(
            None,
            None,
            &sets(&[
                "train.lr=1",
                "train.schedule=wsd",
                "model.n_layer=3",
                "train.max_time=\"5m\"",
            ]),
        )
        .unwrap();
        assert_eq!(c.train.lr, 1.0);
        assert_eq!(c.train.schedule, ScheduleKind::Wsd);
        assert_eq!(c.model.n_layer, 3);
        assert_eq!(c.train.max_time, "5m");

        let e = Config::resolve(None, None, &sets(&["train.lr=fast"])).unwrap_err();
        assert!(e.to_string().contains("`train.lr` expects a number"), "{e}");
        let c = Config::resolve(None, None, &sets(&["train.tokens=2e7"])).unwrap();
        assert_eq!(c.train.tokens, 20_000_000);
        let e = Config::resolve(None, None, &sets(&["model.n_layer=2.5"])).unwrap_err();
        assert!(e.to_string().contains("expects an integer"), "{e}");
        let e = Config::resolve(None, None, &sets(&["train.lrr=1"])).unwrap_err();
        assert!(e.to_string().contains("unknown key `train.lrr`"), "{e}");
        assert!(e.to_string().contains("warmup_steps"), "{e}");
        let e = Config::resolve(None, None, &sets(&["optim.lr=1"])).unwrap_err();
        assert!(e.to_string().contains("unknown section [optim]"), "{e}");
        let e = Config::resolve(None, None, &sets(&["train.lr"])).unwrap_err();
        assert!(matches!(e, Error::BadSetSyntax { .. }), "{e}");
        let e = Config::resolve(None, None, &sets(&["train.schedule=linear"])).unwrap_err();
        assert!(e.to_string().contains("linear"), "{e}");
        let e = Config::resolve(None, None, &sets(&["train.steps=-3"])).unwrap_err();
        assert!(matches!(e, Error::ConfigValue { .. }), "{e}");
    }

    #[test]
    fn config_file_is_layered_and_strict() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[train]\nlr = 0.01\nsteps = 5\n[model]\nn_layer = 1\n").unwrap();
        let c = Config::resolve(Some(Preset::Tiny), Some(&p), &sets(&["train.steps=9"])).unwrap();
        assert_eq!((c.train.lr, c.train.steps, c.model.n_layer), (0.01, 9, 1));
        assert_eq!(c.model.n_embd, 64, "preset stays underneath the file");
        std::fs::write(&p, "[train]\nlearning_rate = 0.01\n").unwrap();
        let e = Config::resolve(None, Some(&p), &[]).unwrap_err();
        assert!(
            e.to_string().contains("unknown key `train.learning_rate`"),
            "{e}"
        );
        std::fs::write(&p, "[train]\nlr = \"big\"\n").unwrap();
        let e = Config::resolve(None, Some(&p), &[]).unwrap_err();
        assert!(
            e.to_string().contains("expects a number, got the string"),
            "{e}"
        );
        std::fs::write(&p, "[train\n").unwrap();
        assert!(matches!(
            Config::resolve(None, Some(&p), &[]),
            Err(Error::ConfigParse { .. })
        ));
    }
}
