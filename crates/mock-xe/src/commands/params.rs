//! The generated class commands (`cli_operations.ml` `make_param_funs`): `<class>-list` with
//! filters and `params=`, `-param-list`, `-param-get` (with `param-key`), `-param-set`
//! (`field=v`, `map:key=v`, legacy `map-key=v`), `-param-add`, `-param-remove`, `-param-clear`.
//! Also the record filter used by the VM selectors.

use super::{Ctx, Next, STDPARAMS};
use crate::errors::XeError;
use crate::records::{self, field_type, fields, lookup, Class, Field, FieldType, Obj, Value};
use crate::state::State;

/// `filter_records_on_fields`: keeps the objects whose record matches `k=v`.
pub fn filter(state: &State, objs: Vec<Obj>, k: &str, v: &str) -> Result<Vec<Obj>, XeError> {
    let Some(first) = objs.first() else {
        return Ok(objs);
    };
    let kind = field_type(k, &fields(state, *first))?;
    if let FieldType::Set(_, ref rest) = kind {
        if rest != "contains" {
            return Err(XeError::cli(
                "Invalid syntax for set filtering (should be set-param:contains=key)",
            ));
        }
    }
    Ok(objs
        .into_iter()
        .filter(|o| {
            let fs = fields(state, *o);
            match &kind {
                FieldType::Normal => fs.iter().any(|f| f.name == k && f.render() == v),
                FieldType::Map(name, key) => fs.iter().any(|f| {
                    f.name == *name && matches!(&f.value, Value::Map(m) if m.get(key) == Some(v))
                }),
                FieldType::Set(name, _) => fs.iter().any(|f| {
                    f.name == *name && matches!(&f.value, Value::Set(s) if s.iter().any(|m| m == v))
                }),
            }
        })
        .collect())
}

fn default_filters(class: Class) -> &'static [(&'static str, &'static str)] {
    match class {
        Class::Vm => &[("is-a-template", "false")],
        _ => &[],
    }
}

fn default_params(class: Class) -> &'static [&'static str] {
    match class {
        Class::Vm => &["name-label", "uuid", "power-state"],
        Class::Host => &["name-label", "name-description", "uuid"],
        Class::Pci => &["uuid", "vendor-name", "device-name", "pci-id"],
    }
}

/// `select_fields`: `params=all` (or none given and no defaults) → every field.
fn select(fs: Vec<Field>, chosen: &Option<Vec<String>>) -> Vec<Field> {
    match chosen {
        None => fs,
        Some(names) => fs
            .into_iter()
            .filter(|f| names.iter().any(|n| n == f.name))
            .collect(),
    }
}

pub fn list(c: &mut Ctx, class: Class) -> Result<Next, XeError> {
    let all = records::objects(c.state, class);
    let mut filters: Vec<(String, String)> = default_filters(class)
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    filters.extend(
        c.params
            .0
            .iter()
            .filter(|(p, _)| p != "params" && !STDPARAMS.contains(&p.as_str()))
            .filter(|(p, _)| !p.starts_with("database:"))
            .cloned(),
    );
    let mut objs = all.clone();
    for (k, v) in &filters {
        objs = filter(c.state, objs, k, v)?;
    }
    if c.params.flag("all") {
        objs = all;
    }
    let chosen: Option<Vec<String>> = match c.params.get("params") {
        Some("all") => None,
        Some(ps) => Some(ps.split(',').map(str::to_string).collect()),
        None => Some(
            default_params(class)
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ),
    };
    let recs: Vec<Vec<Field>> = objs
        .iter()
        .map(|o| select(fields(c.state, *o), &chosen))
        .collect();
    c.out.table(&recs);
    Ok(Next::Done)
}

fn target(c: &Ctx, class: Class) -> Result<Obj, XeError> {
    records::by_uuid(c.state, class, c.params.required("uuid")?)
}

pub fn param_list(c: &mut Ctx, class: Class) -> Result<Next, XeError> {
    let o = target(c, class)?;
    c.out.table(&[fields(c.state, o)]);
    Ok(Next::Done)
}

pub fn param_get(c: &mut Ctx, class: Class) -> Result<Next, XeError> {
    let o = target(c, class)?;
    let fs = fields(c.state, o);
    let f = lookup(&fs, c.params.required("param-name")?)?;
    let value = match (&f.value, c.params.get("param-key")) {
        (Value::Map(m), Some(key)) => m
            .get(key)
            .map(str::to_string)
            .ok_or_else(|| XeError::cli(format!("Key {key} not found in map")))?,
        _ => f.render(),
    };
    c.out.list(&[value]);
    Ok(Next::Done)
}

/// `MAP_DUPLICATE_KEY(table, db field name, ref, key)`.
fn duplicate(state: &State, class: Class, o: Obj, map: &str, key: &str) -> XeError {
    XeError::api(
        "MAP_DUPLICATE_KEY",
        &[
            class.table(),
            &map.replace('-', "_"),
            &records::handle(state, o),
            key,
        ],
    )
}

/// xapi DB `add_to_map`: duplicate or empty keys fail.
fn add_to_map(
    c: &mut Ctx,
    class: Class,
    o: Obj,
    map: &str,
    key: &str,
    v: &str,
) -> Result<(), XeError> {
    if key.is_empty() {
        return Err(XeError::internal("Db_exn.Empty_key_in_map"));
    }
    let m =
        records::map_mut(c.state, o, map).ok_or_else(|| XeError::cli("Parameter is read-only"))?;
    if m.contains(key) {
        return Err(duplicate(c.state, class, o, map, key));
    }
    m.add_front(key, v);
    Ok(())
}

pub fn param_set(c: &mut Ctx, class: Class) -> Result<Next, XeError> {
    let o = target(c, class)?;
    let sets: Vec<(String, String)> = c
        .params
        .0
        .iter()
        .filter(|(p, _)| p != "uuid" && !STDPARAMS.contains(&p.as_str()))
        .cloned()
        .collect();
    // Each param is applied in turn; a failure leaves the earlier ones applied, as in xapi.
    for (k, v) in sets {
        let fs = fields(c.state, o);
        match field_type(&k, &fs)? {
            FieldType::Map(name, key) => {
                let Some(m) = records::map_mut(c.state, o, name) else {
                    return Err(XeError::cli(format!("Map field '{name}' is read-only.")));
                };
                m.remove(&key);
                add_to_map(c, class, o, name, &key, &v)?;
            }
            FieldType::Set(..) => return Err(XeError::cli("Cannot param-set on set fields")),
            FieldType::Normal => records::set_field(c.state, o, &k, &v)?,
        }
    }
    Ok(Next::Done)
}

pub fn param_add(c: &mut Ctx, class: Class) -> Result<Next, XeError> {
    let o = target(c, class)?;
    let name = c.params.required("param-name")?.to_string();
    let fs = fields(c.state, o);
    let f = lookup(&fs, &name)?;
    if !f.is_map() && !f.is_set() {
        return Err(XeError::cli(
            "Can only add to parameters of type Set or Map",
        ));
    }
    if f.is_set() || records::map_mut(c.state, o, &name).is_none() {
        return Err(XeError::cli("Parameter is read-only"));
    }
    let adds: Vec<(String, String)> = c
        .params
        .0
        .iter()
        .filter(|(p, _)| {
            !["uuid", "param-name", "param-key"].contains(&p.as_str())
                && !STDPARAMS.contains(&p.as_str())
        })
        .cloned()
        .collect();
    for (k, v) in adds {
        add_to_map(c, class, o, &name, &k, &v)?;
    }
    Ok(Next::Done)
}

pub fn param_remove(c: &mut Ctx, class: Class) -> Result<Next, XeError> {
    let o = target(c, class)?;
    let name = c.params.required("param-name")?.to_string();
    let key = c.params.required("param-key")?.to_string();
    let fs = fields(c.state, o);
    let f = lookup(&fs, &name)?;
    if !f.is_map() && !f.is_set() {
        return Err(XeError::cli(
            "Can only remove from parameters of type Set or Map",
        ));
    }
    let Some(m) = records::map_mut(c.state, o, &name) else {
        return Err(XeError::cli("Cannot remove parameters from read-only map"));
    };
    if !m.contains(&key) {
        return Err(XeError::cli(format!("Key {key} is not in map")));
    }
    m.remove(&key);
    Ok(Next::Done)
}

pub fn param_clear(c: &mut Ctx, class: Class) -> Result<Next, XeError> {
    let o = target(c, class)?;
    let name = c.params.required("param-name")?.to_string();
    let fs = fields(c.state, o);
    let f = lookup(&fs, &name)?;
    if f.is_map() {
        if let Some(m) = records::map_mut(c.state, o, &name) {
            m.0.clear();
            return Ok(Next::Done);
        }
    }
    if f.kind == records::Kind::Rw {
        return records::set_field(c.state, o, &name, "")
            .map(|_| Next::Done)
            .map_err(|_| XeError::cli("Cannot clear this parameter"));
    }
    Err(XeError::cli("Can only clear RW parameters"))
}
