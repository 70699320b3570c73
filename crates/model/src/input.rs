//! Flow inputs and outputs: their declarations and how they are read from the flow.
//! Turning provided values into typed ones is in [`crate::coerce`].

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

use crate::diagnostic::{Diags, index, join};
use crate::ids;
use crate::read;
use crate::shape::is_template;
use crate::suggest;
use crate::yaml::{Node, Pos};

/// The data types of inputs and outputs (Kestra's `Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InputType {
    String,
    Int,
    Float,
    Boolean,
    /// Kestra 1.0's newer name for a boolean input (shown as a toggle).
    Bool,
    Datetime,
    Date,
    Time,
    Duration,
    Json,
    Yaml,
    Enum,
    Select,
    Multiselect,
    Array,
    Uri,
    Email,
    Secret,
    File,
}

impl InputType {
    pub const ALL: [InputType; 19] = [
        Self::String,
        Self::Int,
        Self::Float,
        Self::Boolean,
        Self::Bool,
        Self::Datetime,
        Self::Date,
        Self::Time,
        Self::Duration,
        Self::Json,
        Self::Yaml,
        Self::Enum,
        Self::Select,
        Self::Multiselect,
        Self::Array,
        Self::Uri,
        Self::Email,
        Self::Secret,
        Self::File,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "STRING",
            Self::Int => "INT",
            Self::Float => "FLOAT",
            Self::Boolean => "BOOLEAN",
            Self::Bool => "BOOL",
            Self::Datetime => "DATETIME",
            Self::Date => "DATE",
            Self::Time => "TIME",
            Self::Duration => "DURATION",
            Self::Json => "JSON",
            Self::Yaml => "YAML",
            Self::Enum => "ENUM",
            Self::Select => "SELECT",
            Self::Multiselect => "MULTISELECT",
            Self::Array => "ARRAY",
            Self::Uri => "URI",
            Self::Email => "EMAIL",
            Self::Secret => "SECRET",
            Self::File => "FILE",
        }
    }

    /// Parses the upper-case name, exactly as Kestra does.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Properties an input of this type may have besides the common ones.
    fn own_keys(self) -> &'static [&'static str] {
        match self {
            Self::String | Self::Secret => &["validator"],
            Self::Int | Self::Float | Self::Duration => &["min", "max"],
            Self::Datetime | Self::Date | Self::Time => &["after", "before"],
            Self::Enum => &["values"],
            Self::Select => &[
                "values",
                "expression",
                "allowCustomValue",
                "isRadio",
                "autoSelectFirst",
            ],
            Self::Multiselect => &[
                "values",
                "options",
                "expression",
                "itemType",
                "allowCustomValue",
                "autoSelectFirst",
            ],
            Self::Array => &["itemType"],
            Self::File => &["extension", "allowedFileExtensions"],
            _ => &[],
        }
    }
}

impl std::fmt::Display for InputType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

const COMMON_INPUT_KEYS: &[&str] = &[
    "id",
    "name",
    "type",
    "description",
    "displayName",
    "required",
    "defaults",
    "dependsOn",
    "prefill",
];

/// One declared input.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputDef {
    /// The id (or the legacy `name`).
    pub id: String,
    #[serde(rename = "type")]
    pub input_type: InputType,
    /// True unless the flow says `required: false`.
    pub required: bool,
    /// The default as written; a string holding an expression is rendered by the engine.
    pub defaults: Option<Value>,
    pub description: Option<String>,
    pub display_name: Option<String>,
    /// The allowed values of ENUM, SELECT and MULTISELECT inputs.
    pub values: Option<Vec<String>>,
    /// The type of the items of ARRAY and MULTISELECT inputs.
    pub item_type: Option<InputType>,
    /// SELECT and MULTISELECT: accept values outside `values`.
    pub allow_custom_value: bool,
    /// The type-specific properties Saker keeps as written (`min`, `max`, `validator`, ...).
    pub extras: IndexMap<String, Value>,
    pub pos: Pos,
}

/// One declared flow output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputDef {
    pub id: String,
    #[serde(rename = "type")]
    pub output_type: InputType,
    /// The value as written; strings are expressions the engine renders at the end.
    pub value: Value,
    pub description: Option<String>,
    pub display_name: Option<String>,
    pub required: bool,
    pub pos: Pos,
}

/// Reads an input or output `type`, reporting a missing or unknown one.
fn read_type(
    d: &mut Diags,
    node: &Node,
    path: &str,
    owner: &str,
    known: &[&str],
) -> Option<InputType> {
    let type_path = join(path, "type");
    let Some(type_node) = node.get("type").filter(|n| !n.is_null()) else {
        if !read::misspelt(node, "type", known) {
            d.error(
                node.pos,
                &type_path,
                format!("{owner} is missing required property 'type'"),
            );
        }
        return None;
    };
    let name = read::string(d, type_node, &type_path)?;
    let parsed = InputType::parse(&name);
    if parsed.is_none() {
        let close = suggest::closest(&name, InputType::ALL.iter().map(|t| t.as_str()));
        let hint = if close.is_empty() {
            let all: Vec<&str> = InputType::ALL.iter().map(|t| t.as_str()).collect();
            format!(" (expected one of {})", all.join(", "))
        } else {
            suggest::did_you_mean(&close)
        };
        d.error(
            type_node.pos,
            &type_path,
            format!("unknown type '{name}' for {owner}{hint}"),
        );
    }
    parsed
}

/// Reads the id of an input or output and checks it is unique among `seen`.
fn read_id(
    d: &mut Diags,
    node: &Node,
    path: &str,
    what: &str,
    keys: &[&str],
    seen: &mut IndexMap<String, Pos>,
    known: &[&str],
) -> Option<String> {
    let Some((key, id_node)) = keys
        .iter()
        .find_map(|k| node.get(k).filter(|n| !n.is_null()).map(|n| (*k, n)))
    else {
        if !read::misspelt(node, "id", known) {
            d.error(
                node.pos,
                &join(path, "id"),
                format!("the {what} at {path} is missing required property 'id'"),
            );
        }
        return None;
    };
    let id_path = join(path, key);
    let id = read::string(d, id_node, &id_path)?;
    if let Err(why) = ids::check_data_id(&id) {
        d.error(
            id_node.pos,
            &id_path,
            format!("invalid {what} id '{id}': {why}"),
        );
        return None;
    }
    if let Some(first) = seen.get(&id) {
        d.error(
            id_node.pos,
            &id_path,
            format!(
                "duplicate {what} id '{id}' (already used at line {})",
                first.line
            ),
        );
        return None;
    }
    seen.insert(id.clone(), id_node.pos);
    Some(id)
}

fn optional_string(
    d: &mut Diags,
    node: &Node,
    key: &str,
    path: &str,
) -> Result<Option<String>, ()> {
    match node.get(key).filter(|n| !n.is_null()) {
        Some(n) => read::string(d, n, &join(path, key)).map(Some).ok_or(()),
        None => Ok(None),
    }
}

fn optional_bool(
    d: &mut Diags,
    node: &Node,
    key: &str,
    path: &str,
    default: bool,
) -> Result<bool, ()> {
    match node.get(key).filter(|n| !n.is_null()) {
        Some(n) => read::boolean(d, n, &join(path, key)).ok_or(()),
        None => Ok(default),
    }
}

/// Reads the `inputs` list.
pub(crate) fn parse_inputs(d: &mut Diags, node: &Node, path: &str) -> Vec<InputDef> {
    let Some(items) = read::seq(d, node, path) else {
        return Vec::new();
    };
    let mut seen = IndexMap::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = index(path, i);
        if read::map(d, item, &item_path).is_none() {
            continue;
        }
        if let Some(input) = parse_input(d, item, &item_path, &mut seen) {
            out.push(input);
        }
    }
    out
}

fn parse_input(
    d: &mut Diags,
    node: &Node,
    path: &str,
    seen: &mut IndexMap<String, Pos>,
) -> Option<InputDef> {
    let written = node
        .get("type")
        .and_then(Node::as_text)
        .and_then(InputType::parse);
    let allowed: Vec<&str> = COMMON_INPUT_KEYS
        .iter()
        .chain(written.map_or(&[][..], InputType::own_keys))
        .copied()
        .collect();
    let id = read_id(d, node, path, "input", &["id", "name"], seen, &allowed);
    let owner = match &id {
        Some(id) => format!("input '{id}'"),
        None => format!("the input at {path}"),
    };
    let input_type = read_type(d, node, path, &owner, &allowed);
    let entries = node.as_map().unwrap_or_default();
    // With a type written but unknown, its own keys are unknown too: only that is reported.
    match input_type {
        Some(t) => {
            read::check_keys(d, entries, &allowed, path, &format!("{owner} ({t})"));
        }
        None if node.get("type").is_none_or(Node::is_null) => {
            read::check_keys(d, entries, &allowed, path, &owner);
        }
        None => {}
    }
    let description = optional_string(d, node, "description", path);
    let display_name = optional_string(d, node, "displayName", path);
    let required = optional_bool(d, node, "required", path, true);
    let allow_custom_value = optional_bool(d, node, "allowCustomValue", path, false);
    let values = read_values(d, node, path);
    let item_type = match node.get("itemType").filter(|n| !n.is_null()) {
        Some(n) => read_item_type(d, n, &join(path, "itemType")),
        None => Ok(None),
    };
    let (Some(id), Some(input_type)) = (id, input_type) else {
        return None;
    };
    let mut input = InputDef {
        id,
        input_type,
        required: required.ok()?,
        defaults: node
            .get("defaults")
            .filter(|n| !n.is_null())
            .map(Node::to_json),
        description: description.ok()?,
        display_name: display_name.ok()?,
        values: values.ok()?,
        item_type: item_type.ok()?,
        allow_custom_value: allow_custom_value.ok()?,
        extras: IndexMap::new(),
        pos: node.pos,
    };
    for entry in entries {
        let known = COMMON_INPUT_KEYS.contains(&entry.key.as_str())
            || matches!(
                entry.key.as_str(),
                "values" | "options" | "itemType" | "allowCustomValue"
            );
        if !known && !entry.value.is_null() {
            input
                .extras
                .insert(entry.key.clone(), entry.value.to_json());
        }
    }
    check_input(d, &input, node, path).then_some(input)
}

/// The rules that need the whole input: choices present, item type, a valid default.
fn check_input(d: &mut Diags, input: &InputDef, node: &Node, path: &str) -> bool {
    let t = input.input_type;
    let owner = format!("input '{}' ({t})", input.id);
    let mut ok = true;
    let has_expression = node.get("expression").is_some_and(|n| !n.is_null());
    if matches!(
        t,
        InputType::Enum | InputType::Select | InputType::Multiselect
    ) && input.values.is_none()
        && !has_expression
    {
        d.error(
            node.pos,
            &join(path, "values"),
            format!("{owner} needs 'values', the list of allowed values"),
        );
        ok = false;
    }
    if t == InputType::Array && input.item_type.is_none() {
        d.error(
            node.pos,
            &join(path, "itemType"),
            format!("{owner} needs 'itemType', the type of its items"),
        );
        ok = false;
    }
    if let Some(item) = input.item_type
        && matches!(item, InputType::Array | InputType::Multiselect)
    {
        let pos = node.get("itemType").map_or(node.pos, |n| n.pos);
        d.error(
            pos,
            &join(path, "itemType"),
            format!("{owner} cannot hold items of type {item}"),
        );
        ok = false;
    }
    if let (Some(default), Some(default_node)) = (&input.defaults, node.get("defaults")) {
        let dynamic = default.as_str().is_some_and(is_template);
        // FILE defaults name files the engine cannot read yet; coercion would always refuse.
        if ok
            && !dynamic
            && t != InputType::File
            && let Err(e) = input.coerce(default)
        {
            d.error(
                default_node.pos,
                &join(path, "defaults"),
                format!("invalid default: {e}"),
            );
            ok = false;
        }
    }
    ok
}

/// `values` (or the deprecated `options`) as a list of strings.
fn read_values(d: &mut Diags, node: &Node, path: &str) -> Result<Option<Vec<String>>, ()> {
    let Some((key, list)) = ["values", "options"]
        .iter()
        .find_map(|k| node.get(k).filter(|n| !n.is_null()).map(|n| (*k, n)))
    else {
        return Ok(None);
    };
    let list_path = join(path, key);
    let items = read::seq(d, list, &list_path).ok_or(())?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        out.push(read::string(d, item, &index(&list_path, i)).ok_or(())?);
    }
    Ok(Some(out))
}

fn read_item_type(d: &mut Diags, node: &Node, path: &str) -> Result<Option<InputType>, ()> {
    let name = read::string(d, node, path).ok_or(())?;
    match InputType::parse(&name) {
        Some(t) => Ok(Some(t)),
        None => {
            let hint = suggest::did_you_mean(&suggest::closest(
                &name,
                InputType::ALL.iter().map(|t| t.as_str()),
            ));
            d.error(node.pos, path, format!("unknown item type '{name}'{hint}"));
            Err(())
        }
    }
}

const OUTPUT_KEYS: &[&str] = &[
    "id",
    "type",
    "value",
    "description",
    "displayName",
    "required",
];

/// Reads the `outputs` list.
pub(crate) fn parse_outputs(d: &mut Diags, node: &Node, path: &str) -> Vec<OutputDef> {
    let Some(items) = read::seq(d, node, path) else {
        return Vec::new();
    };
    let mut seen = IndexMap::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = index(path, i);
        let Some(entries) = read::map(d, item, &item_path) else {
            continue;
        };
        let id = read_id(
            d,
            item,
            &item_path,
            "output",
            &["id"],
            &mut seen,
            OUTPUT_KEYS,
        );
        let owner = match &id {
            Some(id) => format!("output '{id}'"),
            None => format!("the output at {item_path}"),
        };
        read::check_keys(d, entries, OUTPUT_KEYS, &item_path, &owner);
        let output_type = read_type(d, item, &item_path, &owner, OUTPUT_KEYS);
        let value = item
            .get("value")
            .filter(|n| !n.is_null())
            .map(Node::to_json);
        if value.is_none() && !read::misspelt(item, "value", OUTPUT_KEYS) {
            d.error(
                item.pos,
                &join(&item_path, "value"),
                format!("{owner} is missing required property 'value'"),
            );
        }
        let description = optional_string(d, item, "description", &item_path);
        let display_name = optional_string(d, item, "displayName", &item_path);
        let required = optional_bool(d, item, "required", &item_path, true);
        if let (
            Some(id),
            Some(output_type),
            Some(value),
            Ok(description),
            Ok(display_name),
            Ok(required),
        ) = (id, output_type, value, description, display_name, required)
        {
            out.push(OutputDef {
                id,
                output_type,
                value,
                description,
                display_name,
                required,
                pos: item.pos,
            });
        }
    }
    out
}
