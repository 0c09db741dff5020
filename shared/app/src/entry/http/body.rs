//! Request bodies that must be one JSON object: serde reads `[]` (and `[null, null]`) as a struct
//! whose fields are all absent, so a settings document sent as a list would silently reset every
//! setting to its default. Every handler whose body is an object of options reads it here, and gets
//! the same 422 for anything else.

use crate::platform::error::{AppError, FieldError};
use serde::de::DeserializeOwned;
use serde_json::Value;

fn not_an_object(what: &str) -> AppError {
    AppError::Validation(vec![FieldError::new(
        "body",
        format!("se esperaba un objeto JSON con {what}"),
    )])
}

/// `body` read into `T` when it is a JSON object (`what` names it in the error, in Spanish: "los
/// ajustes de privacidad"); a field of the wrong type is a 422 with serde's reason. Unknown fields
/// are refused when `T` denies them.
pub fn object<T: DeserializeOwned>(body: Value, what: &str) -> Result<T, AppError> {
    if !body.is_object() {
        return Err(not_an_object(what));
    }
    serde_json::from_value(body)
        .map_err(|e| AppError::Validation(vec![FieldError::new("body", e.to_string())]))
}

/// [`object`], naming every unknown field (a misspelled key) in the 422 instead of ignoring it.
pub(crate) fn strict_object<T: DeserializeOwned>(body: &Value, what: &str) -> Result<T, AppError> {
    if !body.is_object() {
        return Err(not_an_object(what));
    }
    let mut unknown = Vec::new();
    let value: T = serde_ignored::deserialize(body, |path| unknown.push(path.to_string()))
        .map_err(|e| AppError::Validation(vec![FieldError::new("body", e.to_string())]))?;
    if !unknown.is_empty() {
        return Err(AppError::Validation(
            unknown
                .into_iter()
                .map(|field| FieldError::new(field, "campo desconocido"))
                .collect(),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq, Default)]
    #[serde(default)]
    struct Options {
        label: Option<String>,
        limit: u32,
    }

    fn fields(e: AppError) -> Vec<String> {
        match e {
            AppError::Validation(f) => f.into_iter().map(|f| f.field.to_string()).collect(),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn only_an_object_is_read() {
        let ok: Options = object(json!({ "label": "caja", "limit": 2 }), "las opciones").unwrap();
        assert_eq!(
            ok,
            Options {
                label: Some("caja".into()),
                limit: 2
            }
        );
        // serde alone would read `[]` as an all-default struct.
        assert!(serde_json::from_value::<Options>(json!([])).is_ok());
        for bad in [
            json!([]),
            json!([null, null]),
            json!(null),
            json!(3),
            json!("x"),
        ] {
            assert_eq!(
                fields(object::<Options>(bad, "las opciones").unwrap_err()),
                ["body"]
            );
        }
        assert_eq!(
            fields(object::<Options>(json!({ "limit": "dos" }), "las opciones").unwrap_err()),
            ["body"]
        );
    }

    #[test]
    fn strict_names_every_unknown_field() {
        let e = strict_object::<Options>(&json!({ "lable": "x", "limt": 1 }), "las opciones")
            .unwrap_err();
        assert_eq!(fields(e), ["lable", "limt"]);
        assert_eq!(
            fields(strict_object::<Options>(&json!([]), "las opciones").unwrap_err()),
            ["body"]
        );
        let ok: Options = strict_object(&json!({ "limit": 1 }), "las opciones").unwrap();
        assert_eq!(ok.limit, 1);
    }
}
