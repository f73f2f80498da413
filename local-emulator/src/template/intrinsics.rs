//! Evaluation of CloudFormation intrinsic functions over a JSON template fragment.
//!
//! Supported: `Ref` (parameters, pseudo parameters, resources), `Fn::GetAtt`, `Fn::Sub`
//! (both forms, `${!Literal}` escapes), `Fn::Join`, `Fn::If` (with `AWS::NoValue`
//! removing the property), `Fn::Select`, `Fn::Split`, `Fn::FindInMap`, `Fn::Equals`,
//! `Fn::Not`, `Fn::And`, `Fn::Or`, `Condition`, `Fn::Base64`. Anything else starting
//! with `Fn::` is an [`TemplateError::Unsupported`] naming the function, so a template
//! using e.g. `Fn::ImportValue` fails at start-up with a clear message instead of
//! passing a literal object into a function's environment.

use std::collections::{BTreeMap, HashSet};

use base64::Engine as _;
use serde_json::{Map, Value};

use super::TemplateError;

/// The pseudo parameter that removes a property when an `Fn::If` branch returns it.
pub const NO_VALUE: &str = "AWS::NoValue";

/// How a resource answers `Ref` and `Fn::GetAtt`.
#[derive(Debug, Clone, Default)]
pub struct ResourceNames {
    /// What `Ref` returns.
    pub reference: String,
    /// What `Fn::GetAtt` returns, per attribute.
    pub attributes: BTreeMap<String, String>,
}

/// Everything intrinsic functions can read.
#[derive(Debug, Default)]
pub struct Scope {
    /// Parameter values (after defaults and overrides) and pseudo parameters.
    pub parameters: BTreeMap<String, Value>,
    /// Resources by logical id.
    pub resources: BTreeMap<String, ResourceNames>,
    /// The template's `Mappings` section.
    pub mappings: Map<String, Value>,
    /// Evaluated conditions.
    pub conditions: BTreeMap<String, bool>,
}

impl Scope {
    /// Resolves every intrinsic inside `value`; `None` means the whole value was
    /// `AWS::NoValue`.
    pub fn resolve(&self, value: &Value) -> Result<Option<Value>, TemplateError> {
        match value {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(v) = self.resolve(item)? {
                        out.push(v);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            Value::Object(map) => {
                if map.len() == 1
                    && let Some((key, arg)) = map.iter().next()
                    && is_intrinsic(key)
                {
                    return self.intrinsic(key, arg);
                }
                let mut out = Map::new();
                for (k, v) in map {
                    if let Some(v) = self.resolve(v)? {
                        out.insert(k.clone(), v);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }

    /// Resolves a value that must not vanish.
    pub fn resolve_value(&self, value: &Value) -> Result<Value, TemplateError> {
        Ok(self.resolve(value)?.unwrap_or(Value::Null))
    }

    fn intrinsic(&self, name: &str, arg: &Value) -> Result<Option<Value>, TemplateError> {
        match name {
            "Ref" => {
                let target = as_str(arg, "Ref")?;
                if target == NO_VALUE {
                    return Ok(None);
                }
                self.reference(target).map(Some)
            }
            "Condition" => {
                let name = as_str(arg, "Condition")?;
                Ok(Some(Value::Bool(self.condition(name)?)))
            }
            "Fn::GetAtt" => self.get_att(arg).map(|s| Some(Value::String(s))),
            "Fn::Sub" => self.sub(arg).map(|s| Some(Value::String(s))),
            "Fn::Join" => {
                let [sep, list] = two(arg, "Fn::Join")?;
                let sep = as_str(&self.resolve_value(sep)?, "Fn::Join delimiter")?.to_owned();
                let list = self.resolve_value(list)?;
                let parts = list
                    .as_array()
                    .ok_or_else(|| invalid("Fn::Join needs a list"))?;
                let strings: Result<Vec<String>, _> = parts.iter().map(scalar_string).collect();
                Ok(Some(Value::String(strings?.join(&sep))))
            }
            "Fn::If" => {
                let items = arg
                    .as_array()
                    .filter(|a| a.len() == 3)
                    .ok_or_else(|| invalid("Fn::If needs [condition, then, else]"))?;
                let cond = as_str(&items[0], "Fn::If condition")?;
                let branch = if self.condition(cond)? {
                    &items[1]
                } else {
                    &items[2]
                };
                self.resolve(branch)
            }
            "Fn::Select" => {
                let [index, list] = two(arg, "Fn::Select")?;
                let index = self.resolve_value(index)?;
                let index = match &index {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.parse().ok(),
                    _ => None,
                }
                .ok_or_else(|| invalid("Fn::Select index must be a number"))?;
                let list = self.resolve_value(list)?;
                let list = list
                    .as_array()
                    .ok_or_else(|| invalid("Fn::Select needs a list"))?;
                let item = usize::try_from(index)
                    .ok()
                    .and_then(|i| list.get(i))
                    .ok_or_else(|| invalid("Fn::Select index out of range"))?;
                Ok(Some(item.clone()))
            }
            "Fn::Split" => {
                let [sep, source] = two(arg, "Fn::Split")?;
                let sep = scalar_string(&self.resolve_value(sep)?)?;
                let source = scalar_string(&self.resolve_value(source)?)?;
                Ok(Some(Value::Array(
                    source.split(sep.as_str()).map(Value::from).collect(),
                )))
            }
            "Fn::FindInMap" => {
                let items = arg
                    .as_array()
                    .filter(|a| a.len() == 3)
                    .ok_or_else(|| invalid("Fn::FindInMap needs [map, key, key]"))?;
                let mut keys = Vec::with_capacity(3);
                for item in items {
                    keys.push(scalar_string(&self.resolve_value(item)?)?);
                }
                let found = self
                    .mappings
                    .get(&keys[0])
                    .and_then(|m| m.get(&keys[1]))
                    .and_then(|m| m.get(&keys[2]))
                    .ok_or_else(|| invalid(format!("Fn::FindInMap: no {}", keys.join("."))))?;
                Ok(Some(found.clone()))
            }
            "Fn::Base64" => {
                let s = scalar_string(&self.resolve_value(arg)?)?;
                Ok(Some(Value::String(
                    base64::engine::general_purpose::STANDARD.encode(s),
                )))
            }
            "Fn::Equals" | "Fn::Not" | "Fn::And" | "Fn::Or" => {
                Ok(Some(Value::Bool(self.evaluate_condition(name, arg)?)))
            }
            other => Err(TemplateError::Unsupported(format!(
                "intrinsic function {other}"
            ))),
        }
    }

    fn reference(&self, target: &str) -> Result<Value, TemplateError> {
        if let Some(v) = self.parameters.get(target) {
            return Ok(v.clone());
        }
        if let Some(r) = self.resources.get(target) {
            return Ok(Value::String(r.reference.clone()));
        }
        Err(invalid(format!(
            "Ref to unknown parameter or resource {target}"
        )))
    }

    fn get_att(&self, arg: &Value) -> Result<String, TemplateError> {
        let [res, attr] = two(arg, "Fn::GetAtt")?;
        let res = as_str(res, "Fn::GetAtt resource")?;
        let attr = scalar_string(&self.resolve_value(attr)?)?;
        self.attribute(res, &attr)
    }

    fn attribute(&self, res: &str, attr: &str) -> Result<String, TemplateError> {
        let resource = self
            .resources
            .get(res)
            .ok_or_else(|| invalid(format!("Fn::GetAtt on unknown resource {res}")))?;
        resource.attributes.get(attr).cloned().ok_or_else(|| {
            TemplateError::Unsupported(format!("Fn::GetAtt {res}.{attr} (attribute not emulated)"))
        })
    }

    fn sub(&self, arg: &Value) -> Result<String, TemplateError> {
        let (text, vars) = match arg {
            Value::String(s) => (s.as_str(), Map::new()),
            Value::Array(items) if items.len() == 2 => {
                let text = as_str(&items[0], "Fn::Sub string")?;
                let vars = match self.resolve_value(&items[1])? {
                    Value::Object(m) => m,
                    _ => return Err(invalid("Fn::Sub variables must be a map")),
                };
                (text, vars)
            }
            _ => return Err(invalid("Fn::Sub needs a string or [string, map]")),
        };
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| invalid(format!("Fn::Sub: unclosed ${{ in {text}")))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = vars.get(name) {
                out.push_str(&scalar_string(v)?);
            } else if let Some((res, attr)) = name.split_once('.')
                && !self.parameters.contains_key(name)
            {
                out.push_str(&self.attribute(res, attr)?);
            } else {
                out.push_str(&scalar_string(&self.reference(name)?)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The value of a named condition (already evaluated by [`evaluate_conditions`]).
    pub fn condition(&self, name: &str) -> Result<bool, TemplateError> {
        self.conditions
            .get(name)
            .copied()
            .ok_or_else(|| invalid(format!("unknown condition {name}")))
    }

    fn evaluate_condition(&self, name: &str, arg: &Value) -> Result<bool, TemplateError> {
        match name {
            "Fn::Equals" => {
                let [a, b] = two(arg, "Fn::Equals")?;
                let a = scalar_string(&self.resolve_value(a)?)?;
                let b = scalar_string(&self.resolve_value(b)?)?;
                Ok(a == b)
            }
            "Fn::Not" => {
                let items = arg
                    .as_array()
                    .filter(|a| a.len() == 1)
                    .ok_or_else(|| invalid("Fn::Not needs [condition]"))?;
                Ok(!self.truth(&items[0])?)
            }
            "Fn::And" | "Fn::Or" => {
                let items = arg
                    .as_array()
                    .filter(|a| (2..=10).contains(&a.len()))
                    .ok_or_else(|| invalid(format!("{name} needs 2 to 10 conditions")))?;
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(self.truth(item)?);
                }
                Ok(if name == "Fn::And" {
                    values.iter().all(|v| *v)
                } else {
                    values.iter().any(|v| *v)
                })
            }
            _ => Err(invalid(format!("{name} is not a condition function"))),
        }
    }

    fn truth(&self, value: &Value) -> Result<bool, TemplateError> {
        match self.resolve_value(value)? {
            Value::Bool(b) => Ok(b),
            Value::String(s) if s == "true" => Ok(true),
            Value::String(s) if s == "false" => Ok(false),
            other => Err(invalid(format!("expected a condition, got {other}"))),
        }
    }
}

/// Evaluates the template's `Conditions` section in dependency order (a condition may
/// refer to another with `{"Condition": name}`).
pub fn evaluate_conditions(
    scope: &mut Scope,
    conditions: &Map<String, Value>,
) -> Result<(), TemplateError> {
    fn visit(
        name: &str,
        scope: &mut Scope,
        conditions: &Map<String, Value>,
        visiting: &mut HashSet<String>,
    ) -> Result<bool, TemplateError> {
        if let Some(v) = scope.conditions.get(name) {
            return Ok(*v);
        }
        let body = conditions
            .get(name)
            .ok_or_else(|| invalid(format!("unknown condition {name}")))?;
        if !visiting.insert(name.to_owned()) {
            return Err(invalid(format!("condition {name} refers to itself")));
        }
        let mut deps = Vec::new();
        collect_condition_refs(body, &mut deps);
        for dep in deps {
            visit(&dep, scope, conditions, visiting)?;
        }
        let value = match scope.resolve_value(body)? {
            Value::Bool(b) => b,
            other => return Err(invalid(format!("condition {name} evaluated to {other}"))),
        };
        scope.conditions.insert(name.to_owned(), value);
        Ok(value)
    }
    for name in conditions.keys() {
        visit(name, scope, conditions, &mut HashSet::new())?;
    }
    Ok(())
}

fn collect_condition_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(name)) = map.get("Condition")
                && map.len() == 1
            {
                out.push(name.clone());
            }
            map.values().for_each(|v| collect_condition_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_condition_refs(v, out)),
        _ => {}
    }
}

fn is_intrinsic(key: &str) -> bool {
    key == "Ref" || key == "Condition" || key.starts_with("Fn::")
}

fn two<'a>(arg: &'a Value, what: &str) -> Result<[&'a Value; 2], TemplateError> {
    match arg.as_array().map(Vec::as_slice) {
        Some([a, b]) => Ok([a, b]),
        _ => Err(invalid(format!("{what} needs a two-element list"))),
    }
}

fn as_str<'a>(v: &'a Value, what: &str) -> Result<&'a str, TemplateError> {
    v.as_str()
        .ok_or_else(|| invalid(format!("{what} must be a string, got {v}")))
}

/// A scalar as CloudFormation stringifies it (numbers and booleans included).
pub fn scalar_string(v: &Value) -> Result<String, TemplateError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(invalid(format!("expected a string, got {other}"))),
    }
}

fn invalid(message: impl Into<String>) -> TemplateError {
    TemplateError::Invalid(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> Scope {
        let mut s = Scope::default();
        s.parameters.insert("Stage".into(), json!("dev"));
        s.parameters
            .insert("AWS::Region".into(), json!("us-east-1"));
        s.resources.insert(
            "Stream".into(),
            ResourceNames {
                reference: "events".into(),
                attributes: [(
                    "Arn".to_owned(),
                    "arn:aws:kinesis:us-east-1:0:stream/events".to_owned(),
                )]
                .into(),
            },
        );
        s.conditions.insert("IsProd".into(), false);
        s
    }

    #[test]
    fn sub_resolves_parameters_attributes_and_escapes() {
        let v = scope()
            .resolve_value(
                &json!({"Fn::Sub": "${Stage}-${Stream}-${Stream.Arn}-${!Keep}-${AWS::Region}"}),
            )
            .unwrap();
        assert_eq!(
            v,
            json!("dev-events-arn:aws:kinesis:us-east-1:0:stream/events-${Keep}-us-east-1")
        );
    }

    #[test]
    fn sub_with_a_variable_map_prefers_the_map() {
        let v = scope()
            .resolve_value(&json!({"Fn::Sub": ["${Stage}/${x}", {"x": {"Ref": "Stream"}}]}))
            .unwrap();
        assert_eq!(v, json!("dev/events"));
    }

    #[test]
    fn if_with_no_value_removes_the_property() {
        let v = scope()
            .resolve_value(
                &json!({"A": {"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]}, "B": 2}),
            )
            .unwrap();
        assert_eq!(v, json!({"B": 2}));
    }

    #[test]
    fn join_select_and_split_compose() {
        let v = scope()
            .resolve_value(&json!({"Fn::Join": ["-", [
                {"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]},
                {"Ref": "Stage"}
            ]]}))
            .unwrap();
        assert_eq!(v, json!("b-dev"));
    }

    #[test]
    fn unknown_intrinsic_is_reported_as_unsupported() {
        let err = scope()
            .resolve_value(&json!({"Fn::ImportValue": "x"}))
            .unwrap_err();
        assert!(matches!(err, TemplateError::Unsupported(m) if m.contains("Fn::ImportValue")));
    }

    #[test]
    fn conditions_are_evaluated_in_dependency_order() {
        let mut s = scope();
        s.conditions.clear();
        let conditions = json!({
            "NotDev": {"Fn::Not": [{"Condition": "IsDev"}]},
            "IsDev": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]},
            "Both": {"Fn::And": [{"Condition": "IsDev"}, {"Fn::Or": [{"Condition": "NotDev"}, true]}]}
        });
        evaluate_conditions(&mut s, conditions.as_object().unwrap()).unwrap();
        assert!(s.conditions["IsDev"]);
        assert!(!s.conditions["NotDev"]);
        assert!(s.conditions["Both"]);
    }

    #[test]
    fn find_in_map_reads_the_mappings_section() {
        let mut s = scope();
        s.mappings = json!({"Env": {"dev": {"Shards": 2}}})
            .as_object()
            .unwrap()
            .clone();
        let v = s
            .resolve_value(&json!({"Fn::FindInMap": ["Env", {"Ref": "Stage"}, "Shards"]}))
            .unwrap();
        assert_eq!(v, json!(2));
    }
}
