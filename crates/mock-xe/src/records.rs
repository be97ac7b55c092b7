//! The xe record definitions the mock serves (`records.ml`): which fields a VM, host and PCI
//! record has, in record order, with their RO/RW/set/map kind, computed from the state; plus the
//! few writable fields and maps, and xe's field-name resolution for `name:key` / `name-key`.
//! Only a subset of the real (long) VM and host records is modelled; see README.md.

use crate::errors::XeError;
use crate::state::{OrderedMap, State};

/// xe's name for a NULL reference.
pub const NOT_IN_DATABASE: &str = "<not in database>";

/// Field kind, printed after the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ro,
    Rw,
    Sro,
    Srw,
    Mro,
    Mrw,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Map(OrderedMap),
    Set(Vec<String>),
}

/// One printed field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub value: Value,
}

impl Field {
    pub fn text(name: &'static str, kind: Kind, v: impl Into<String>) -> Field {
        Field {
            name,
            kind,
            value: Value::Text(v.into()),
        }
    }
    fn map(name: &'static str, kind: Kind, m: &OrderedMap) -> Field {
        Field {
            name,
            kind,
            value: Value::Map(m.clone()),
        }
    }
    fn set(name: &'static str, kind: Kind, s: Vec<String>) -> Field {
        Field {
            name,
            kind,
            value: Value::Set(s),
        }
    }
    pub fn label(&self) -> String {
        let tag = match self.kind {
            Kind::Ro => "( RO)",
            Kind::Rw => "( RW)",
            Kind::Sro => "(SRO)",
            Kind::Srw => "(SRW)",
            Kind::Mro => "(MRO)",
            Kind::Mrw => "(MRW)",
        };
        format!("{} {tag}", self.name)
    }
    pub fn render(&self) -> String {
        match &self.value {
            Value::Text(s) => s.clone(),
            Value::Map(m) => m.render(),
            Value::Set(s) => s.join("; "),
        }
    }
    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }
    pub fn is_set(&self) -> bool {
        matches!(self.value, Value::Set(_))
    }
}

/// The object classes the mock knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Vm,
    Host,
    Pci,
}

impl Class {
    /// The DB table name used in `UUID_INVALID` and `MAP_DUPLICATE_KEY`.
    pub fn table(self) -> &'static str {
        match self {
            Class::Vm => "VM",
            Class::Host => "host",
            Class::Pci => "PCI",
        }
    }
}

/// A located object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Obj {
    Vm(usize),
    Host(usize),
    Pci(usize, usize),
}

/// All objects of a class, in DB order.
pub fn objects(state: &State, class: Class) -> Vec<Obj> {
    match class {
        Class::Vm => (0..state.vms.len()).map(Obj::Vm).collect(),
        Class::Host => (0..state.hosts.len()).map(Obj::Host).collect(),
        Class::Pci => state
            .hosts
            .iter()
            .enumerate()
            .flat_map(|(h, host)| {
                host.devices
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| d.uuid.is_some())
                    .map(move |(d, _)| Obj::Pci(h, d))
            })
            .collect(),
    }
}

/// `get_by_uuid`: `UUID_INVALID(table, uuid)` when absent.
pub fn by_uuid(state: &State, class: Class, uuid: &str) -> Result<Obj, XeError> {
    objects(state, class)
        .into_iter()
        .find(|o| uuid_of(state, *o) == uuid)
        .ok_or_else(|| XeError::uuid_invalid(class.table(), uuid))
}

pub fn uuid_of(state: &State, o: Obj) -> String {
    match o {
        Obj::Vm(i) => state.vms[i].uuid.clone(),
        Obj::Host(i) => state.hosts[i].uuid.clone(),
        Obj::Pci(h, d) => state.hosts[h].devices[d].uuid.clone().unwrap_or_default(),
    }
}

/// How xe shows a reference to the object in error parameters.
pub fn handle(state: &State, o: Obj) -> String {
    match o {
        Obj::Vm(i) => state.vms[i].handle(),
        Obj::Host(i) => format!("{} ({})", state.hosts[i].uuid, state.hosts[i].name_label),
        Obj::Pci(..) => uuid_of(state, o),
    }
}

fn host_ref(state: &State, uuid: Option<&str>) -> String {
    match uuid {
        Some(u) if state.host_index(u).is_some() => u.to_string(),
        _ => NOT_IN_DATABASE.to_string(),
    }
}

fn bool_str(b: bool) -> String {
    b.to_string()
}

/// The record's fields, in record order.
pub fn fields(state: &State, o: Obj) -> Vec<Field> {
    use Kind::*;
    match o {
        Obj::Vm(i) => {
            let vm = &state.vms[i];
            vec![
                Field::text("uuid", Ro, &vm.uuid),
                Field::text("name-label", Rw, &vm.name_label),
                Field::text("name-description", Rw, &vm.name_description),
                Field::text("user-version", Rw, "1"),
                Field::text("is-a-template", Rw, bool_str(vm.is_a_template)),
                Field::text("is-default-template", Ro, "false"),
                Field::text("is-a-snapshot", Ro, "false"),
                Field::text("is-control-domain", Ro, bool_str(vm.is_control_domain)),
                Field::text("power-state", Ro, &vm.power_state),
                Field::text(
                    "resident-on",
                    Ro,
                    host_ref(state, vm.resident_on.as_deref()),
                ),
                Field::text("affinity", Rw, host_ref(state, vm.affinity.as_deref())),
                Field::map("other-config", Mrw, &vm.other_config),
                Field::map("blocked-operations", Mrw, &vm.blocked_operations),
                Field::text("dom-id", Ro, vm.domid.to_string()),
            ]
        }
        Obj::Host(i) => {
            let h = &state.hosts[i];
            vec![
                Field::text("uuid", Ro, &h.uuid),
                Field::text("name-label", Rw, &h.name_label),
                Field::text("name-description", Rw, &h.name_description),
                Field::text("enabled", Ro, "true"),
                Field::map("software-version", Mro, &software_version(state, i)),
                Field::map("other-config", Mrw, &h.other_config),
                Field::text(
                    "hostname",
                    Ro,
                    h.hostname.clone().unwrap_or_else(|| h.name_label.clone()),
                ),
                Field::text("address", Ro, h.address.clone().unwrap_or_default()),
            ]
        }
        Obj::Pci(hi, di) => {
            let h = &state.hosts[hi];
            let d = &h.devices[di];
            vec![
                Field::text("uuid", Ro, d.uuid.clone().unwrap_or_default()),
                Field::text("vendor-name", Ro, &d.vendor_name),
                Field::text("device-name", Ro, &d.device_name),
                Field::text("driver-name", Ro, d.driver.clone().unwrap_or_default()),
                Field::text("host-uuid", Ro, &h.uuid),
                Field::text("host-name-label", Ro, &h.name_label),
                Field::text("pci-id", Ro, &d.bdf),
                Field::set("dependencies", Sro, d.dependencies.clone()),
                Field::map("other-config", Mrw, &d.other_config),
            ]
        }
    }
}

/// `software-version`: the state's map, or a default by XCP-ng version.
fn software_version(state: &State, host: usize) -> OrderedMap {
    if let Some(m) = &state.hosts[host].software_version {
        return m.clone();
    }
    let mut m = OrderedMap::default();
    m.push(
        "product_version",
        if state.version == "8.2" {
            "8.2.1"
        } else {
            "8.3.0"
        },
    );
    m.push("product_brand", "XCP-ng");
    m.push(
        "xapi",
        if state.version == "8.2" {
            "1.249"
        } else {
            "24.19"
        },
    );
    m
}

/// How a param name resolves against a record (`get_field_type`).
#[derive(Debug, PartialEq, Eq)]
pub enum FieldType {
    Normal,
    /// Map field name and the key.
    Map(&'static str, String),
    /// Set field name and what follows it.
    Set(&'static str, String),
}

pub fn field_type(name: &str, fs: &[Field]) -> Result<FieldType, XeError> {
    if fs.iter().any(|f| f.name == name) {
        return Ok(FieldType::Normal);
    }
    let unknown = || XeError::cli(format!("Unknown field '{name}'"));
    if let Some((real, rest)) = name.split_once(':') {
        let f = fs.iter().find(|f| f.name == real).ok_or_else(unknown)?;
        return if f.is_set() {
            Ok(FieldType::Set(f.name, rest.to_string()))
        } else if f.is_map() {
            Ok(FieldType::Map(f.name, rest.to_string()))
        } else {
            Err(XeError::cli(format!(
                "Field '{}' is not a set or map",
                f.name
            )))
        };
    }
    // Legacy `map-name-key`: longest matching map first, then sets.
    let longest = |pred: fn(&Field) -> bool| {
        let mut cands: Vec<&Field> = fs.iter().filter(|f| pred(f)).collect();
        cands.sort_by_key(|f| std::cmp::Reverse(f.name.len()));
        cands
            .into_iter()
            .find(|f| name.starts_with(&format!("{}-", f.name)))
    };
    if let Some(f) = longest(Field::is_map) {
        return Ok(FieldType::Map(f.name, name[f.name.len() + 1..].to_string()));
    }
    if let Some(f) = longest(Field::is_set) {
        return Ok(FieldType::Set(f.name, name[f.name.len() + 1..].to_string()));
    }
    Err(unknown())
}

/// `field_lookup`: a bad name is `Missing parameter`.
pub fn lookup<'a>(fs: &'a [Field], name: &str) -> Result<&'a Field, XeError> {
    fs.iter()
        .find(|f| f.name == name)
        .ok_or_else(|| XeError::MissingField(name.to_string()))
}

/// The writable maps (`add_to_map`/`remove_from_map`).
pub fn map_mut<'a>(state: &'a mut State, o: Obj, name: &str) -> Option<&'a mut OrderedMap> {
    match (o, name) {
        (Obj::Vm(i), "other-config") => Some(&mut state.vms[i].other_config),
        (Obj::Vm(i), "blocked-operations") => Some(&mut state.vms[i].blocked_operations),
        (Obj::Host(i), "other-config") => Some(&mut state.hosts[i].other_config),
        (Obj::Pci(h, d), "other-config") => Some(&mut state.hosts[h].devices[d].other_config),
        _ => None,
    }
}

/// Sets a normal RW field; `Field 'x' is read-only.` for the others.
pub fn set_field(state: &mut State, o: Obj, name: &str, value: &str) -> Result<(), XeError> {
    let bool_value = || match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(XeError::cli(format!(
            "Parameter {name} must be a boolean (true or false)"
        ))),
    };
    match (o, name) {
        (Obj::Vm(i), "name-label") => state.vms[i].name_label = value.to_string(),
        (Obj::Vm(i), "name-description") => state.vms[i].name_description = value.to_string(),
        (Obj::Vm(_), "user-version") => {
            value
                .parse::<i64>()
                .map_err(|_| XeError::cli(format!("Parameter {name} must be an integer")))?;
        }
        (Obj::Vm(i), "is-a-template") => state.vms[i].is_a_template = bool_value()?,
        (Obj::Vm(i), "affinity") => {
            state.vms[i].affinity = if value.is_empty() {
                None
            } else {
                let h = by_uuid(state, Class::Host, value)?;
                Some(uuid_of(state, h))
            }
        }
        (Obj::Host(i), "name-label") => state.hosts[i].name_label = value.to_string(),
        (Obj::Host(i), "name-description") => state.hosts[i].name_description = value.to_string(),
        _ => {
            let fs = fields(state, o);
            let f = lookup(&fs, name)?;
            return Err(if f.kind == Kind::Mrw || f.kind == Kind::Srw {
                XeError::cli(format!(
                    "Field '{name}' is a map or set. use the 'name:key=value' syntax."
                ))
            } else {
                XeError::cli(format!("Field '{name}' is read-only."))
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fs() -> Vec<Field> {
        vec![
            Field::text("uuid", Kind::Ro, "u"),
            Field::map("other-config", Kind::Mrw, &OrderedMap::default()),
            Field::set("tags", Kind::Srw, vec![]),
        ]
    }

    #[test]
    fn field_type_forms() {
        assert_eq!(field_type("uuid", &fs()), Ok(FieldType::Normal));
        assert_eq!(
            field_type("other-config:pci", &fs()),
            Ok(FieldType::Map("other-config", "pci".into()))
        );
        assert_eq!(
            field_type("other-config-pci", &fs()),
            Ok(FieldType::Map("other-config", "pci".into()))
        );
        assert_eq!(
            field_type("tags:contains", &fs()),
            Ok(FieldType::Set("tags", "contains".into()))
        );
        assert_eq!(
            field_type("other_config:pci", &fs()),
            Err(XeError::cli("Unknown field 'other_config:pci'"))
        );
        assert_eq!(
            field_type("bogus", &fs()),
            Err(XeError::cli("Unknown field 'bogus'"))
        );
    }
}
