//! FILE inputs of a new execution: each uploaded file is stored at Kestra's place for it
//! (`…/executions/{id}/inputs/{input}/{file name}`) and the input's value is its
//! `kestra:///` URI. `saker_model`'s coercion refuses FILE inputs, so they are taken out
//! before it and checked here; every other input is coerced by `saker_model` as before.

use saker_model::{Execution, Flow, InputType};
use saker_storage::StorageUri;
use serde_json::{Map, Value};

use super::ExecutionFiles;

/// A file sent for a FILE input (a multipart part with a file name, `--input name=@path`).
pub struct InputUpload {
    /// The input's id.
    pub input: String,
    /// The file's name as sent (its last path segment is kept).
    pub file_name: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for InputUpload {
    /// The content is the caller's and may be anything: not shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputUpload")
            .field("input", &self.input)
            .field("file_name", &self.file_name)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Coerces `inputs` to the flow's declared types, storing `uploads` for its FILE inputs
/// under `execution`. On error nothing stays stored. A FILE input given as text must be a
/// `kestra:///` URI of this execution's own files.
pub fn coerce_inputs_with_files(
    files: &ExecutionFiles,
    flow: &Flow,
    execution: &Execution,
    mut inputs: Map<String, Value>,
    uploads: Vec<InputUpload>,
) -> Result<Map<String, Value>, Vec<String>> {
    let is_file = |id: &str| {
        flow.inputs
            .iter()
            .any(|d| d.id == id && d.input_type == InputType::File)
    };
    let mut errors = Vec::new();
    let mut file_values: Map<String, Value> = Map::new();
    for (id, value) in inputs.iter().filter(|(id, _)| is_file(id)) {
        match value {
            Value::Null => {}
            Value::String(text) => match own_input_uri(execution, text) {
                Ok(uri) => {
                    file_values.insert(id.clone(), Value::String(uri.to_string()));
                }
                Err(reason) => errors.push(format!("input '{id}': {reason}")),
            },
            _ => errors.push(format!(
                "input '{id}' is of type FILE: upload a file (a multipart part with a file name, \
                 or `--input {id}=@path`)"
            )),
        }
    }
    inputs.retain(|id, _| !is_file(id));

    let mut stored = false;
    for upload in uploads {
        if !is_file(&upload.input) {
            errors.push(format!(
                "input '{}' is not a FILE input of the flow: send its value as text",
                upload.input
            ));
            continue;
        }
        let name = upload
            .file_name
            .rsplit(['/', '\\'])
            .next()
            .filter(|n| !n.is_empty() && *n != "." && *n != "..")
            .unwrap_or("file");
        let stored_at = StorageUri::input_file(
            &execution.namespace,
            &execution.flow_id,
            &execution.id,
            &upload.input,
            name,
        )
        .map_err(|e| e.to_string())
        .and_then(|uri| {
            files
                .put(
                    &execution.tenant_id,
                    &execution.id,
                    &uri,
                    &upload.bytes,
                    false,
                )
                .map(|_| uri)
                .map_err(|e| e.to_string())
        });
        match stored_at {
            Ok(uri) => {
                stored = true;
                file_values.insert(upload.input.clone(), Value::String(uri.to_string()));
            }
            Err(e) => errors.push(format!("input '{}': {e}", upload.input)),
        }
    }

    let others: Vec<_> = flow
        .inputs
        .iter()
        .filter(|d| d.input_type != InputType::File)
        .cloned()
        .collect();
    let coerced = match saker_model::coerce_inputs(&others, inputs) {
        Ok(coerced) => coerced,
        Err(found) => {
            errors.extend(found.iter().map(ToString::to_string));
            Map::new()
        }
    };
    let mut out = Map::new();
    for def in &flow.inputs {
        if def.input_type != InputType::File {
            if let Some(value) = coerced.get(&def.id) {
                out.insert(def.id.clone(), value.clone());
            }
            continue;
        }
        match file_values.remove(&def.id) {
            Some(value) => {
                out.insert(def.id.clone(), value);
            }
            None if def.defaults.is_some() => errors.push(format!(
                "input '{}': FILE defaults are not yet available in Saker; upload the file",
                def.id
            )),
            None if def.required => errors.push(format!(
                "input '{}' is required: upload a file (a multipart part with a file name, or \
                 `--input {}=@path`)",
                def.id, def.id
            )),
            None => {
                out.insert(def.id.clone(), Value::Null);
            }
        }
    }
    if errors.is_empty() {
        return Ok(out);
    }
    if stored {
        remove_execution_files(files, execution);
    }
    Err(errors)
}

/// Removes what an execution stored (its inputs, when its creation failed).
fn remove_execution_files(files: &ExecutionFiles, execution: &Execution) {
    let folder = StorageUri::execution(&execution.namespace, &execution.flow_id, &execution.id);
    if let (Ok(storage), Ok(folder)) = (files.storage(), folder)
        && let Err(e) = storage.delete(&execution.tenant_id, &folder)
    {
        tracing::warn!(execution = %execution.id, error = %e, "cannot remove the files of an execution that was not created");
    }
}

/// A FILE input given as text: a URI of this execution's own files, nothing else.
fn own_input_uri(execution: &Execution, text: &str) -> Result<StorageUri, String> {
    let uri = StorageUri::parse(text).map_err(|_| {
        "a FILE input takes a file: upload it (a multipart part with a file name, or \
         `--input name=@path`)"
            .to_owned()
    })?;
    let folder = StorageUri::execution(&execution.namespace, &execution.flow_id, &execution.id)
        .map_err(|e| e.to_string())?;
    // A subflow's child may be handed one of its parent's files (a FILE input passed on, a
    // ForEachItem batch): its tasks may read those.
    let parent = super::sealed::subflow_parent(execution)
        .and_then(|(namespace, flow_id, id)| StorageUri::execution(&namespace, &flow_id, &id).ok());
    if !uri.is_under(&folder) && !parent.is_some_and(|p| uri.is_under(&p)) {
        return Err(format!(
            "{uri} is not a file of this execution; upload the file instead"
        ));
    }
    Ok(uri)
}
