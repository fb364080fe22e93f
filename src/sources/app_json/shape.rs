//! Dokku's `AppJSON` struct (plugins/app-json/appjson.go) and how Go's encoding/json decodes a
//! document into it, which decides both what Dokku reads and when it reads nothing.
//!
//! Go's rules, as they apply to that struct:
//! - A key names a field when it equals the field's name after folding case (`foldName`):
//!   ASCII letters fold, and so do `K` (Kelvin sign), `İ`, `ſ` and `ı`, which fold onto `k`,
//!   `i`, `s` and `i`. Other keys are skipped unread, whatever their value.
//! - `null` leaves a value as it was, wherever it is, and is never wrong.
//! - A key that appears again decodes into the same field: a string or number is replaced, an
//!   object is merged into (its later members win one by one). A map entry is replaced whole.
//! - Any value of the wrong type, anywhere in the struct, fails the whole decode, and Dokku then
//!   runs none of the app.json's tasks (`getPhaseScript` logs the error and finds no command).
//!   A number for an integer field must be an integer in the field's range (`strconv.ParseInt`).

use super::jsonc::{Document, Member, NodeId, Value};

/// One of the three commands the plugin reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Script {
    /// `scripts.dokku.predeploy`.
    Predeploy,
    /// `scripts.dokku.postdeploy`.
    Postdeploy,
    /// `scripts.postdeploy`.
    HerokuPostdeploy,
}

/// What a Go field holds. Pointers are not told apart from their targets: `null` is never an
/// error, so `*int` and `int` accept the same values.
#[derive(Debug)]
enum Shape {
    /// A `string` field holding one of the scripts.
    Command(Script),
    String,
    Bool,
    /// A signed integer field of this many bits (`int` is 64 on Dokku's platforms).
    Integer(u32),
    Struct(&'static [Field]),
    /// A `map[string]...`.
    Map(&'static Shape),
    /// A slice.
    List(&'static Shape),
    /// `EnvVarValue`, whose `UnmarshalJSON` takes a string as its value, or else its fields.
    EnvVar,
}

#[derive(Debug)]
struct Field {
    /// The `json:` tag's name.
    name: &'static str,
    shape: Shape,
}

const fn field(name: &'static str, shape: Shape) -> Field {
    Field { name, shape }
}

const APP_JSON: &[Field] = &[
    field("buildpacks", Shape::List(&Shape::Struct(BUILDPACK))),
    field("cron", Shape::List(&Shape::Struct(CRON_TASK))),
    field("env", Shape::Map(&Shape::EnvVar)),
    field("formation", Shape::Map(&Shape::Struct(FORMATION))),
    field(
        "healthchecks",
        Shape::Map(&Shape::List(&Shape::Struct(HEALTHCHECK))),
    ),
    field("scripts", Shape::Struct(SCRIPTS)),
];

const SCRIPTS: &[Field] = &[
    field("dokku", Shape::Struct(SCRIPTS_DOKKU)),
    field("postdeploy", Shape::Command(Script::HerokuPostdeploy)),
];

const SCRIPTS_DOKKU: &[Field] = &[
    field("predeploy", Shape::Command(Script::Predeploy)),
    field("postdeploy", Shape::Command(Script::Postdeploy)),
];

const BUILDPACK: &[Field] = &[field("url", Shape::String)];

const CRON_TASK: &[Field] = &[
    field("command", Shape::String),
    field("maintenance", Shape::Bool),
    field("schedule", Shape::String),
    field("concurrency_policy", Shape::String),
];

const ENV_VAR: &[Field] = &[
    field("description", Shape::String),
    field("value", Shape::String),
    field("required", Shape::Bool),
    field("generator", Shape::String),
    field("sync", Shape::Bool),
];

const FORMATION: &[Field] = &[
    field("autoscaling", Shape::Struct(FORMATION_AUTOSCALING)),
    field("quantity", Shape::Integer(64)),
    field("max_parallel", Shape::Integer(64)),
    field("service", Shape::Struct(&[field("exposed", Shape::Bool)])),
];

const FORMATION_AUTOSCALING: &[Field] = &[
    field("cooldown_period_seconds", Shape::Integer(64)),
    field("max_quantity", Shape::Integer(64)),
    field("min_quantity", Shape::Integer(64)),
    field("polling_interval_seconds", Shape::Integer(64)),
    field(
        "triggers",
        Shape::List(&Shape::Struct(FORMATION_AUTOSCALING_TRIGGER)),
    ),
];

const FORMATION_AUTOSCALING_TRIGGER: &[Field] = &[
    field("name", Shape::String),
    field("type", Shape::String),
    field("metadata", Shape::Map(&Shape::String)),
];

const HEALTHCHECK: &[Field] = &[
    field("attempts", Shape::Integer(32)),
    field("command", Shape::List(&Shape::String)),
    field("content", Shape::String),
    field(
        "httpHeaders",
        Shape::List(&Shape::Struct(&[
            field("name", Shape::String),
            field("value", Shape::String),
        ])),
    ),
    field("initialDelay", Shape::Integer(32)),
    field("listening", Shape::Bool),
    field("name", Shape::String),
    field("path", Shape::String),
    field("port", Shape::Integer(64)),
    field("scheme", Shape::String),
    field("timeout", Shape::Integer(32)),
    field("type", Shape::String),
    field("uptime", Shape::Integer(32)),
    field("wait", Shape::Integer(32)),
    field("warn", Shape::Bool),
    field(
        "onFailure",
        Shape::Struct(&[
            field("command", Shape::List(&Shape::String)),
            field("url", Shape::String),
        ]),
    ),
];

impl Shape {
    /// What the field must hold, for a message.
    fn expected(&self) -> String {
        match self {
            Shape::Command(_) => "a string (a shell command)".to_string(),
            Shape::String => "a string".to_string(),
            Shape::Bool => "true or false".to_string(),
            Shape::Integer(bits) => format!("a whole number that fits in {bits} bits"),
            Shape::Struct(_) | Shape::Map(_) => "an object".to_string(),
            Shape::List(_) => "an array".to_string(),
            Shape::EnvVar => "a string or an object".to_string(),
        }
    }
}

/// What Dokku reads from a document.
#[derive(Debug, Default)]
pub(super) struct Reading {
    /// Each script's value after the last string given for it, with the byte offset where
    /// that string starts; `None` when none was.
    pub predeploy: Option<(String, usize)>,
    pub postdeploy: Option<(String, usize)>,
    pub heroku_postdeploy: Option<(String, usize)>,
    /// Every member that names one of the scripts, whatever its value: the object's node and
    /// the member's index in it.
    pub script_members: Vec<(NodeId, usize)>,
}

/// A value Go cannot decode into its field.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct TypeError {
    /// Byte offset where the value starts.
    pub offset: usize,
    /// The field's path, like `formation.web.quantity` or `cron[0].schedule`.
    pub path: String,
    /// What it must hold.
    pub expected: String,
    /// What it holds.
    pub found: String,
    /// Whether the field is `scripts` or `scripts.dokku`, whose fix names the commands.
    pub scripts_object: bool,
}

/// Decodes the document's top-level object into Dokku's `AppJSON`, as Go would. Reports the
/// first wrong value in document order (Go reports one of them too, and reads nothing).
pub(super) fn read(document: &Document, text: &str) -> Result<Reading, TypeError> {
    let mut decoder = Decoder {
        document,
        text,
        reading: Reading::default(),
        path: Vec::new(),
    };
    decoder.decode(document.root, &Shape::Struct(APP_JSON))?;
    Ok(decoder.reading)
}

/// Whether `key` names the field `name` (ASCII) by Go's case folding.
pub(super) fn names_field(key: &str, name: &str) -> bool {
    let mut key_characters = key.chars();
    for expected in name.chars() {
        let Some(character) = key_characters.next() else {
            return false;
        };
        let folded = match character {
            '\u{212A}' => 'k',
            '\u{17F}' => 's',
            '\u{130}' | '\u{131}' => 'i',
            other => other.to_ascii_lowercase(),
        };
        if folded != expected.to_ascii_lowercase() {
            return false;
        }
    }
    key_characters.next().is_none()
}

/// One step of a path.
enum Step<'a> {
    Field(&'static str),
    Key(&'a str),
    Index(usize),
}

struct Decoder<'a> {
    document: &'a Document,
    /// The text the document was parsed from, for the numbers.
    text: &'a str,
    reading: Reading,
    path: Vec<Step<'a>>,
}

impl<'a> Decoder<'a> {
    /// Decodes node `id` into a field of `shape`. Recursion follows the struct, not the
    /// document, so its depth is bounded by the struct's.
    fn decode(&mut self, id: NodeId, shape: &Shape) -> Result<(), TypeError> {
        let document = self.document;
        let node = &document.nodes[id];
        match (shape, &node.value) {
            (_, Value::Null)
            | (Shape::String | Shape::EnvVar, Value::String(_))
            | (Shape::Bool, Value::Bool) => Ok(()),
            (Shape::Command(script), Value::String(command)) => {
                let slot = match script {
                    Script::Predeploy => &mut self.reading.predeploy,
                    Script::Postdeploy => &mut self.reading.postdeploy,
                    Script::HerokuPostdeploy => &mut self.reading.heroku_postdeploy,
                };
                *slot = Some((command.clone(), node.start));
                Ok(())
            }
            (Shape::Integer(bits), Value::Number) => {
                let number = self.text.get(node.start..node.end).unwrap_or_default();
                let fits = number
                    .parse::<i64>()
                    .is_ok_and(|value| *bits == 64 || i32::try_from(value).is_ok());
                if fits {
                    Ok(())
                } else {
                    Err(self.error(node.start, shape, format!("the number {number}")))
                }
            }
            (Shape::Struct(fields), Value::Object(members)) => {
                for (index, member) in members.iter().enumerate() {
                    let Some(field) = fields.iter().find(|f| names_field(&member.key, f.name))
                    else {
                        continue;
                    };
                    if matches!(field.shape, Shape::Command(_)) {
                        self.reading.script_members.push((id, index));
                    }
                    self.within(Step::Field(field.name), member, &field.shape)?;
                }
                Ok(())
            }
            (Shape::Map(values), Value::Object(members)) => {
                for member in members {
                    self.within(Step::Key(&member.key), member, values)?;
                }
                Ok(())
            }
            (Shape::List(elements), Value::Array(items)) => {
                for (index, item) in items.iter().enumerate() {
                    self.path.push(Step::Index(index));
                    self.decode(*item, elements)?;
                    self.path.pop();
                }
                Ok(())
            }
            (Shape::EnvVar, Value::Object(_)) => self.decode(id, &Shape::Struct(ENV_VAR)),
            (_, value) => Err(self.error(node.start, shape, value.type_name().to_string())),
        }
    }

    fn within(&mut self, step: Step<'a>, member: &Member, shape: &Shape) -> Result<(), TypeError> {
        self.path.push(step);
        self.decode(member.value, shape)?;
        self.path.pop();
        Ok(())
    }

    fn error(&self, offset: usize, shape: &Shape, found: String) -> TypeError {
        let mut path = String::new();
        for step in &self.path {
            match step {
                Step::Field(name) | Step::Key(name) if path.is_empty() => path.push_str(name),
                Step::Field(name) | Step::Key(name) => {
                    path.push('.');
                    path.push_str(name);
                }
                Step::Index(index) => path.push_str(&format!("[{index}]")),
            }
        }
        let scripts_object = matches!(
            self.path.as_slice(),
            [Step::Field("scripts")] | [Step::Field("scripts"), Step::Field("dokku")]
        );
        TypeError {
            offset,
            path,
            expected: shape.expected(),
            found,
            scripts_object,
        }
    }
}
