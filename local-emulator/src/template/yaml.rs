//! YAML → JSON with CloudFormation short-form tags rewritten to their long forms.
//!
//! CloudFormation defines `!Ref x` as `{"Ref": "x"}`, `!GetAtt a.b` as
//! `{"Fn::GetAtt": ["a", "b"]}`, `!Condition c` as `{"Condition": "c"}` and every other
//! `!Name v` as `{"Fn::Name": v}`. Rewriting at load time means the resolver only ever
//! sees the long form, whichever way the author wrote the template.

use serde_json::{Map, Value};
use serde_norway::Value as Yaml;

use super::TemplateError;

/// Parses YAML text (JSON is valid YAML) into JSON with long-form intrinsics.
pub fn parse(text: &str) -> Result<Value, TemplateError> {
    let yaml: Yaml =
        serde_norway::from_str(text).map_err(|e| TemplateError::Syntax(e.to_string()))?;
    to_json(yaml)
}

fn to_json(yaml: Yaml) -> Result<Value, TemplateError> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64().map_or(Value::Null, Value::from)
            }
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => {
            Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Yaml::Mapping(mapping) => {
            let mut out = Map::new();
            for (k, v) in mapping {
                let key = match k {
                    Yaml::String(s) => s,
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    other => {
                        return Err(TemplateError::Syntax(format!(
                            "unsupported mapping key {other:?}"
                        )));
                    }
                };
                out.insert(key, to_json(v)?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!').to_owned();
            let inner = to_json(tagged.value)?;
            long_form(&name, inner)?
        }
    })
}

fn long_form(name: &str, inner: Value) -> Result<Value, TemplateError> {
    let (key, value) = match name {
        "Ref" => ("Ref".to_owned(), inner),
        "Condition" => ("Condition".to_owned(), inner),
        "GetAtt" => {
            // `!GetAtt Res.Attr` (string) or `!GetAtt [Res, Attr]`; attributes may contain
            // dots themselves (`Endpoint.Address`), so split on the first dot only.
            let value = match inner {
                Value::String(s) => match s.split_once('.') {
                    Some((res, attr)) => Value::Array(vec![res.into(), attr.into()]),
                    None => {
                        return Err(TemplateError::Invalid(format!(
                            "!GetAtt {s}: expected Resource.Attribute"
                        )));
                    }
                },
                other => other,
            };
            ("Fn::GetAtt".to_owned(), value)
        }
        other => (format!("Fn::{other}"), inner),
    };
    let mut map = Map::new();
    map.insert(key, value);
    Ok(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_form_tags_become_long_form_intrinsics() {
        let v = parse(
            "A: !Ref X\nB: !GetAtt Res.Arn\nC: !Sub '${X}-y'\nD: !Join [',', [a, !Ref Y]]\nE: !If [Cond, 1, 2]\n",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({
                "A": {"Ref": "X"},
                "B": {"Fn::GetAtt": ["Res", "Arn"]},
                "C": {"Fn::Sub": "${X}-y"},
                "D": {"Fn::Join": [",", ["a", {"Ref": "Y"}]]},
                "E": {"Fn::If": ["Cond", 1, 2]},
            })
        );
    }

    #[test]
    fn get_att_splits_on_the_first_dot_only() {
        let v = parse("A: !GetAtt Db.Endpoint.Address\n").unwrap();
        assert_eq!(v, json!({"A": {"Fn::GetAtt": ["Db", "Endpoint.Address"]}}));
    }

    #[test]
    fn invalid_yaml_is_a_syntax_error() {
        assert!(matches!(parse("a: [b"), Err(TemplateError::Syntax(_))));
    }
}
