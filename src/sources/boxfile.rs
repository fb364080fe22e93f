//! Boxfile: the deployment hooks of an app written for Pagoda Box, a YAML file with a `build`
//! section (`before_exec`, `exec`, `after_exec`) and one section per service (`web1`, `worker1`)
//! with `before_deploy`, `before_deploy_all`, `after_deploy` and `after_deploy_all`.
//!
//! Only what a deploy runs is read; every other key is ignored. What is read must have the shape
//! Pagoda Box documented, and anything else is an error at the line and column of the offending
//! YAML node, so a typo never silently drops a hook.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Tag};

use crate::input_error::InputError;
use crate::phase::Phase;
use crate::sources::{
    check_command, decode, Defaults, DefinitionFile, Source, SourceOptions, Target, Task,
    TaskSource,
};

/// How deep YAML collections may nest, aliases expanded. Hooks sit three levels down; the limit
/// keeps the tree, which is dropped recursively, far from the stack's end.
const MAX_DEPTH: usize = 64;

/// How many nodes and scalar bytes aliases may add to the file once expanded, so that a few
/// nested aliases (the "billion laughs") cannot make reading the file take forever.
const MAX_ALIAS_EXPANSION: usize = 1_048_576;

/// The Boxfile as a task source: `Boxfile` at the app's root in the image; no host keeps a copy.
pub struct BoxfileSource;

impl TaskSource for BoxfileSource {
    fn source(&self) -> Source {
        Source::Boxfile
    }

    fn search_paths(&self, _options: &SourceOptions) -> Vec<String> {
        vec![Source::Boxfile.name().to_string()]
    }

    fn tasks(
        &self,
        file: &DefinitionFile,
        phase: Phase,
        _options: &SourceOptions,
    ) -> Result<Vec<Task>, InputError> {
        Ok(parse(&file.bytes, &file.origin)?.tasks(phase))
    }
}

/// The deployment hooks a Boxfile declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Boxfile {
    /// The `build` section's hooks; empty when there is no `build`.
    pub build: BuildHooks,
    /// Every service of the file, in file order, including those without hooks.
    pub services: Vec<Service>,
}

/// The hooks of the `build` section, which run while the app's image is built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildHooks {
    /// `build.before_exec`, in file order.
    pub before_exec: Vec<String>,
    /// `build.exec`, in file order.
    pub exec: Vec<String>,
    /// `build.after_exec`, in file order.
    pub after_exec: Vec<String>,
    /// `build.build_hook_timeout`, seconds.
    pub timeout: Option<Duration>,
}

/// One service section (`web1`, `worker2`) and its deploy hooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The key, e.g. `web1`.
    pub name: String,
    /// The name without its trailing digits: `web`, `worker`.
    pub process_type: String,
    /// `before_deploy`: runs once, on one instance, before the new code goes live.
    pub before_deploy: Vec<String>,
    /// `before_deploy_all`: runs on every instance before the new code goes live.
    pub before_deploy_all: Vec<String>,
    /// `after_deploy`: runs once, on one instance, after the new code is live.
    pub after_deploy: Vec<String>,
    /// `after_deploy_all`: runs on every instance after the new code is live.
    pub after_deploy_all: Vec<String>,
    /// The service's `deploy_hook_timeout`, seconds.
    pub deploy_hook_timeout: Option<Duration>,
}

impl Boxfile {
    /// The tasks the Boxfile defines for `phase`:
    /// - predeploy: `build.before_exec`, `build.exec`, `build.after_exec`, each command a task
    ///   committed into the image, with `build_hook_timeout` as its time limit (a timeout fails);
    /// - release: every service's `before_deploy`, in a new container;
    /// - postdeploy: every service's `before_deploy_all` (with `docker exec` in each running
    ///   container of the service's process type), then `after_deploy` (a new container), then
    ///   `after_deploy_all` (like `before_deploy_all`).
    ///
    /// Deploy hooks get the service's `deploy_hook_timeout`, and a timeout is a warning, as on
    /// Pagoda Box.
    pub fn tasks(&self, phase: Phase) -> Vec<Task> {
        let mut tasks = Vec::new();
        match phase {
            Phase::Predeploy => {
                let build = &self.build;
                for (key, commands) in [
                    ("build.before_exec", &build.before_exec),
                    ("build.exec", &build.exec),
                    ("build.after_exec", &build.after_exec),
                ] {
                    for command in commands {
                        let mut task = Task::shell(phase, Source::Boxfile, key, command);
                        task.defaults.timeout = build.timeout;
                        tasks.push(task);
                    }
                }
            }
            Phase::Release => {
                for service in &self.services {
                    tasks.extend(service.deploy_hooks(phase, "before_deploy", false));
                }
            }
            Phase::Postdeploy => {
                for (hook, in_running) in [
                    ("before_deploy_all", true),
                    ("after_deploy", false),
                    ("after_deploy_all", true),
                ] {
                    for service in &self.services {
                        tasks.extend(service.deploy_hooks(phase, hook, in_running));
                    }
                }
            }
        }
        tasks
    }
}

impl Service {
    /// The tasks of one of the service's deploy hook lists.
    fn deploy_hooks(&self, phase: Phase, hook: &str, in_running: bool) -> Vec<Task> {
        let commands = match hook {
            "before_deploy" => &self.before_deploy,
            "before_deploy_all" => &self.before_deploy_all,
            "after_deploy" => &self.after_deploy,
            _ => &self.after_deploy_all,
        };
        commands
            .iter()
            .map(|command| {
                let key = format!("{}.{hook}", self.name);
                let mut task = Task::shell(phase, Source::Boxfile, key, command);
                if in_running {
                    task.target = Target::RunningContainers {
                        process_type: self.process_type.clone(),
                    };
                }
                task.defaults = Defaults {
                    timeout: self.deploy_hook_timeout,
                    on_failure: None,
                    ignore_timeout: true,
                };
                task
            })
            .collect()
    }
}

/// Parses the bytes of a Boxfile; `origin` names the file in errors.
///
/// The file is one YAML 1.2 document holding a mapping; an empty file, one of only comments, or
/// a document holding only `null` declares no hooks. A leading UTF-8 byte order mark is skipped.
///
/// - `build` is a mapping; its `before_exec`, `exec` and `after_exec` are lists of strings and
///   its `build_hook_timeout` a whole number of seconds above 0. Its other keys are ignored.
/// - Every other top-level key made of ASCII letters, `_` and `-` followed by digits (`web1`,
///   `my_worker2`) is a service, kept in [`Boxfile::services`] even when it has no hooks. Its
///   process type is the key without the digits. Its `before_deploy`, `before_deploy_all`,
///   `after_deploy` and `after_deploy_all` are lists of strings, its `deploy_hook_timeout` a
///   whole number of seconds above 0; its other keys are ignored.
/// - Top-level keys that are neither (`global`, `web`) are ignored, and so are keys that are
///   not scalars (`? [a, b]`).
/// - `null` (an empty value or `~`) counts as absent, for a section, a list or a timeout.
/// - A hook list must be a list even for one command: a bare string is refused. A command is
///   kept as written, except that one trailing line break (left by a `|` block) is removed.
/// - Scalars are typed by the YAML 1.2 core schema: an unquoted `5`, `true` or `~` is not a
///   string, and is refused as a command. `!!str` makes an unquoted scalar a string; other tags
///   are ignored.
/// - Anchors and aliases are followed, an alias reading as the node it names, as long as the
///   aliases add at most 1,048,576 nodes and scalar bytes to the file. YAML 1.1 merge keys
///   (`<<`) in the top level, `build` or a service are refused, rather than silently ignored.
///
/// # Errors
///
/// An [`InputError`] with the 1-based line and column (columns count characters) when the file
/// is over 1 MiB, is not UTF-8, is not valid YAML, holds more than one document, nests more than
/// 64 levels deep, repeats a key in a mapping, has an alias inside its own anchor or aliases that
/// expand too far, or when the top level, `build` or a service is not a mapping, a hook list is
/// not a list of non-blank strings, a timeout is not a whole number of seconds above 0, or one of
/// these mappings has a merge key. Errors about a node reached through an alias point at the
/// anchored node, where the fix goes.
pub fn parse(bytes: &[u8], origin: &str) -> Result<Boxfile, InputError> {
    let text = decode(
        bytes,
        origin,
        "the Boxfile",
        "keep the Boxfile to the build and service settings",
    )?;

    let Some(root) = load(text, origin)? else {
        return Ok(Boxfile::default());
    };
    let entries = match &root.content {
        Content::Mapping(entries) => entries,
        Content::Scalar(Scalar {
            kind: Kind::Null, ..
        }) => return Ok(Boxfile::default()),
        _ => {
            return Err(InputError::new(
                origin,
                format!(
                    "the Boxfile must hold a mapping of `build` and services like `web1`, found {}",
                    describe(&root)
                ),
                "write the Boxfile as a mapping, with keys like `build:` and `web1:` at the start of their lines",
            )
            .at(root.line, root.column))
        }
    };
    let mut boxfile = Boxfile::default();
    for (key, value) in named_entries(entries, "the top level", origin)? {
        if key == "build" {
            boxfile.build = build_hooks(value, origin)?;
        } else if let Some(process_type) = process_type(key) {
            boxfile
                .services
                .push(service(key, process_type, value, origin)?);
        }
    }
    Ok(boxfile)
}

/// The hooks of the `build` section `node`.
fn build_hooks(node: &Node, origin: &str) -> Result<BuildHooks, InputError> {
    let mut hooks = BuildHooks::default();
    let Some(entries) = section_entries(node, "build", "exec", origin)? else {
        return Ok(hooks);
    };
    for (key, value) in named_entries(entries, "build", origin)? {
        let path = format!("build.{key}");
        match key {
            "before_exec" => hooks.before_exec = commands(value, &path, origin)?,
            "exec" => hooks.exec = commands(value, &path, origin)?,
            "after_exec" => hooks.after_exec = commands(value, &path, origin)?,
            "build_hook_timeout" => hooks.timeout = timeout(value, &path, key, origin)?,
            _ => {}
        }
    }
    Ok(hooks)
}

/// The service `name` of process type `process_type`, from its section `node`.
fn service(
    name: &str,
    process_type: &str,
    node: &Node,
    origin: &str,
) -> Result<Service, InputError> {
    let mut service = Service {
        name: name.to_string(),
        process_type: process_type.to_string(),
        before_deploy: Vec::new(),
        before_deploy_all: Vec::new(),
        after_deploy: Vec::new(),
        after_deploy_all: Vec::new(),
        deploy_hook_timeout: None,
    };
    let Some(entries) = section_entries(node, name, "before_deploy", origin)? else {
        return Ok(service);
    };
    for (key, value) in named_entries(entries, name, origin)? {
        let path = format!("{name}.{key}");
        match key {
            "before_deploy" => service.before_deploy = commands(value, &path, origin)?,
            "before_deploy_all" => service.before_deploy_all = commands(value, &path, origin)?,
            "after_deploy" => service.after_deploy = commands(value, &path, origin)?,
            "after_deploy_all" => service.after_deploy_all = commands(value, &path, origin)?,
            "deploy_hook_timeout" => {
                service.deploy_hook_timeout = timeout(value, &path, key, origin)?;
            }
            _ => {}
        }
    }
    Ok(service)
}

/// The entries of the section `name` (`build`, `web1`), `None` when it is `null`; `example_key`
/// is a key it may hold, for the fix.
fn section_entries<'a>(
    node: &'a Node,
    name: &str,
    example_key: &str,
    origin: &str,
) -> Result<Option<&'a [Entry]>, InputError> {
    match &node.content {
        Content::Mapping(entries) => Ok(Some(entries)),
        Content::Scalar(Scalar {
            kind: Kind::Null, ..
        }) => Ok(None),
        _ => Err(InputError::new(
            origin,
            format!("{name} must be a mapping, found {}", describe(node)),
            format!("write {name} as a mapping, with keys like `{example_key}:` indented under `{name}:`"),
        )
        .at(node.line, node.column)),
    }
}

/// The entries of the mapping `where_` (`build`, `web1`) whose keys are scalars, as key text and
/// value. Other keys cannot name anything read, so they are skipped.
fn named_entries<'a>(
    entries: &'a [Entry],
    where_: &str,
    origin: &str,
) -> Result<Vec<(&'a str, &'a Node)>, InputError> {
    let mut named = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let Content::Scalar(scalar) = &key.content else {
            continue;
        };
        if scalar.kind == Kind::Merge {
            return Err(InputError::new(
                origin,
                format!("{where_} has a merge key (`<<`), which this reader does not expand"),
                "write the keys out in full instead of merging them in with `<<`",
            )
            .at(key.line, key.column));
        }
        named.push((scalar.text.as_str(), value.as_ref()));
    }
    Ok(named)
}

/// The commands of the hook list `node`, found at `path` (`web1.before_deploy`).
fn commands(node: &Node, path: &str, origin: &str) -> Result<Vec<String>, InputError> {
    let items = match &node.content {
        Content::Sequence(items) => items,
        Content::Scalar(Scalar {
            kind: Kind::Null, ..
        }) => return Ok(Vec::new()),
        Content::Scalar(Scalar {
            kind: Kind::String, ..
        }) => {
            return Err(InputError::new(
                origin,
                format!("{path} must be a list of commands, found a single string"),
                "write it as a list: `- command`",
            )
            .at(node.line, node.column))
        }
        _ => {
            return Err(InputError::new(
                origin,
                format!(
                    "{path} must be a list of commands, found {}",
                    describe(node)
                ),
                "write it as a list: `- command`",
            )
            .at(node.line, node.column))
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| command(item, index + 1, path, origin))
        .collect()
}

/// The command of item `number` (1-based) of the hook list at `path`.
fn command(item: &Node, number: usize, path: &str, origin: &str) -> Result<String, InputError> {
    let problem = |what: String| format!("item {number} of {path} {what}");
    let (what, fix) = match &item.content {
        Content::Scalar(Scalar {
            text,
            kind: Kind::String,
        }) => {
            if !text.trim().is_empty() {
                let command = text
                    .strip_suffix("\r\n")
                    .or_else(|| text.strip_suffix('\n'))
                    .unwrap_or(text);
                check_command(command, origin, &format!("item {number} of {path}"))
                    .map_err(|error| error.at(item.line, item.column))?;
                return Ok(command.to_string());
            }
            (
                "is blank".to_string(),
                "write a command, or remove the item".to_string(),
            )
        }
        Content::Scalar(Scalar {
            kind: Kind::Null, ..
        }) => (
            "is empty".to_string(),
            "write a command after the `-`, or remove the item".to_string(),
        ),
        Content::Scalar(Scalar { text, .. }) => (
            format!("must be a command string, found {}", describe(item)),
            format!("quote it, like `- \"{text}\"`"),
        ),
        Content::Mapping(entries) => (
            "is a mapping, not a command: an unquoted `: ` in a command makes one".to_string(),
            format!(
                "quote the command, like `- \"{}\"`",
                unquoted_command(entries)
                    .as_deref()
                    .unwrap_or("php artisan: migrate")
            ),
        ),
        Content::Sequence(_) => (
            "is a list, not a command".to_string(),
            "write each command as one string item of the list, like `- ./migrate.sh`".to_string(),
        ),
    };
    Err(InputError::new(origin, problem(what), fix).at(item.line, item.column))
}

/// What a one-entry mapping item (`- php artisan: migrate`) most likely meant, as one command.
fn unquoted_command(entries: &[Entry]) -> Option<String> {
    let [(key, value)] = entries else {
        return None;
    };
    let (Content::Scalar(key), Content::Scalar(value)) = (&key.content, &value.content) else {
        return None;
    };
    let command = if value.kind == Kind::Null {
        format!("{}:", key.text)
    } else {
        format!("{}: {}", key.text, value.text)
    };
    Some(command.replace('"', "\\\""))
}

/// The timeout `node` found at `path` (`web1.deploy_hook_timeout`), whose key is `key`.
fn timeout(
    node: &Node,
    path: &str,
    key: &str,
    origin: &str,
) -> Result<Option<Duration>, InputError> {
    let fix = format!("write a whole number of seconds above 0, like `{key}: 600`");
    let problem = match &node.content {
        Content::Scalar(Scalar {
            kind: Kind::Null, ..
        }) => return Ok(None),
        Content::Scalar(Scalar {
            text,
            kind: Kind::Integer,
        }) if text.bytes().all(|byte| byte.is_ascii_digit()) => match text.parse::<u64>() {
            Ok(0) => format!("{path} must be more than 0 seconds"),
            Ok(seconds) => return Ok(Some(Duration::from_secs(seconds))),
            Err(_) => format!("{path} is too large: {text} seconds"),
        },
        _ => format!(
            "{path} must be a whole number of seconds, found {}",
            describe(node)
        ),
    };
    Err(InputError::new(origin, problem, fix).at(node.line, node.column))
}

/// The process type of the top-level key `name` when it names a service: the name without its
/// trailing digits, when those follow only ASCII letters, `_` and `-` (`web10` -> `web`).
fn process_type(name: &str) -> Option<&str> {
    let stem = name.trim_end_matches(|character: char| character.is_ascii_digit());
    let is_service = !stem.is_empty()
        && stem.len() < name.len()
        && stem.chars().all(|character| {
            character.is_ascii_alphabetic() || character == '_' || character == '-'
        });
    is_service.then_some(stem)
}

/// How the user would name what `node` is, in a sentence.
fn describe(node: &Node) -> String {
    match &node.content {
        Content::Mapping(_) => "a mapping".to_string(),
        Content::Sequence(_) => "a list".to_string(),
        Content::Scalar(Scalar { text, kind }) => match kind {
            Kind::Null => "nothing (null)".to_string(),
            Kind::Boolean => format!("the boolean `{text}`"),
            Kind::Integer | Kind::Float => format!("the number `{text}`"),
            Kind::Merge => "a merge key (`<<`)".to_string(),
            Kind::String if text.chars().count() <= 40 => format!("the string \"{text}\""),
            Kind::String => "a string".to_string(),
        },
    }
}

// The YAML tree. saphyr-parser gives events with positions; this builds just enough of a tree
// from them to check the shape of what is read and point at any node.

/// A YAML node and where it starts.
struct Node {
    content: Content,
    /// 1-based line.
    line: usize,
    /// 1-based column, in characters.
    column: usize,
    /// Nodes and scalar bytes in this node, aliases expanded: what reading it costs.
    size: usize,
    /// Levels of nesting from this node down, itself included, aliases expanded.
    height: usize,
}

/// What a node holds. Nodes reached through an alias are shared, not copied.
enum Content {
    Scalar(Scalar),
    Sequence(Vec<Rc<Node>>),
    Mapping(Vec<Entry>),
}

/// A mapping's key and value.
type Entry = (Rc<Node>, Rc<Node>);

/// A scalar's text and the type the YAML core schema gives it.
struct Scalar {
    text: String,
    kind: Kind,
}

/// The type of a scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Boolean,
    Integer,
    Float,
    String,
    /// An unquoted `<<`: YAML 1.1's merge key.
    Merge,
}

/// The type of a scalar by the YAML 1.2 core schema: only unquoted scalars can be anything but
/// strings, and `!!str` makes them strings too.
fn resolve(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Kind {
    let tagged_string = tag.is_some_and(|tag| tag.is_yaml_core_schema() && tag.suffix == "str");
    if style != ScalarStyle::Plain || tagged_string {
        return Kind::String;
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Kind::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => Kind::Boolean,
        "<<" => Kind::Merge,
        _ if is_integer(text) => Kind::Integer,
        _ if is_float(text) => Kind::Float,
        _ => Kind::String,
    }
}

/// Whether `text` is a core schema integer: `[-+]?[0-9]+`, `0o[0-7]+` or `0x[0-9a-fA-F]+`.
fn is_integer(text: &str) -> bool {
    let all = |digits: &str, is_digit: fn(&u8) -> bool| {
        !digits.is_empty() && digits.as_bytes().iter().all(is_digit)
    };
    if let Some(octal) = text.strip_prefix("0o") {
        return all(octal, |byte| (b'0'..=b'7').contains(byte));
    }
    if let Some(hexadecimal) = text.strip_prefix("0x") {
        return all(hexadecimal, u8::is_ascii_hexdigit);
    }
    all(
        text.strip_prefix(['-', '+']).unwrap_or(text),
        u8::is_ascii_digit,
    )
}

/// Whether `text` is a core schema float:
/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, `[-+]?\.inf` or `.nan` (any case
/// variant the schema lists).
fn is_float(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") || matches!(text, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mantissa_is_valid =
        digits(whole) && digits(fraction) && !(whole.is_empty() && fraction.is_empty());
    let exponent_is_valid = exponent.is_none_or(|exponent| {
        let exponent = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
        !exponent.is_empty() && digits(exponent)
    });
    mantissa_is_valid && exponent_is_valid
}

/// The root node of the one YAML document in `text`, `None` when there is no document.
fn load(text: &str, origin: &str) -> Result<Option<Rc<Node>>, InputError> {
    let mut loader = Loader {
        origin,
        open: Vec::new(),
        anchors: HashMap::new(),
        alias_expansion: 0,
        root: None,
    };
    let mut documents = 0;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|error| syntax_error(&error, origin))?;
        let (line, column) = (span.start.line().max(1), span.start.col() + 1);
        match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(InputError::new(
                        origin,
                        "the Boxfile holds more than one YAML document (a second `---`)",
                        "keep one document: remove the second `---` and merge what follows into the first",
                    )
                    .at(line, column));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let kind = resolve(&text, style, tag.as_deref());
                let node = Node {
                    size: text.len().saturating_add(1),
                    content: Content::Scalar(Scalar {
                        text: text.into_owned(),
                        kind,
                    }),
                    line,
                    column,
                    height: 1,
                };
                loader.finish(node, anchor)?;
            }
            Event::Alias(anchor) => loader.alias(anchor, line, column)?,
            Event::SequenceStart(anchor, _) => loader.open(false, anchor, line, column)?,
            Event::MappingStart(anchor, _) => loader.open(true, anchor, line, column)?,
            Event::SequenceEnd | Event::MappingEnd => loader.close()?,
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
    Ok(loader.root)
}

/// The error for text that is not YAML, at the position the parser stopped.
fn syntax_error(error: &ScanError, origin: &str) -> InputError {
    let info = error.info();
    let fix = if info.contains("tab") {
        "indent with spaces: YAML does not allow tabs for indentation"
    } else {
        "fix the YAML syntax"
    };
    InputError::new(
        origin,
        format!("the Boxfile is not valid YAML: {info}"),
        fix,
    )
    .at(error.marker().line().max(1), error.marker().col() + 1)
}

/// Builds the tree of one document from the parser's events.
struct Loader<'a> {
    origin: &'a str,
    /// The collections started and not yet ended, outermost first.
    open: Vec<OpenCollection>,
    /// Finished nodes that have an anchor, by the parser's anchor number.
    anchors: HashMap<usize, Rc<Node>>,
    /// What aliases have added so far, in nodes and scalar bytes.
    alias_expansion: usize,
    /// The document's node, once finished.
    root: Option<Rc<Node>>,
}

/// A sequence or mapping whose end has not been reached yet.
struct OpenCollection {
    is_mapping: bool,
    /// The parser's anchor number, 0 for none.
    anchor: usize,
    line: usize,
    column: usize,
    /// The items, or the keys and values one after the other.
    children: Vec<Rc<Node>>,
    /// For a mapping, the line of each scalar key so far.
    key_lines: HashMap<String, usize>,
}

impl Loader<'_> {
    fn open(
        &mut self,
        is_mapping: bool,
        anchor: usize,
        line: usize,
        column: usize,
    ) -> Result<(), InputError> {
        self.check_depth(self.open.len() + 1, line, column)?;
        self.open.push(OpenCollection {
            is_mapping,
            anchor,
            line,
            column,
            children: Vec::new(),
            key_lines: HashMap::new(),
        });
        Ok(())
    }

    fn close(&mut self) -> Result<(), InputError> {
        // The parser ends only what it started.
        let Some(collection) = self.open.pop() else {
            return Ok(());
        };
        let size = collection
            .children
            .iter()
            .fold(1, |size: usize, child| size.saturating_add(child.size));
        let height = 1 + collection
            .children
            .iter()
            .map(|child| child.height)
            .max()
            .unwrap_or(0);
        let content = if collection.is_mapping {
            let mut children = collection.children.into_iter();
            let mut entries = Vec::new();
            // The parser gives every key a value, an empty scalar when none is written.
            while let (Some(key), Some(value)) = (children.next(), children.next()) {
                entries.push((key, value));
            }
            Content::Mapping(entries)
        } else {
            Content::Sequence(collection.children)
        };
        let node = Node {
            content,
            line: collection.line,
            column: collection.column,
            size,
            height,
        };
        self.finish(node, collection.anchor)
    }

    /// Records the finished `node` under its anchor, if any, and adds it to its parent.
    fn finish(&mut self, node: Node, anchor: usize) -> Result<(), InputError> {
        let (line, column) = (node.line, node.column);
        let node = Rc::new(node);
        if anchor != 0 {
            self.anchors.insert(anchor, Rc::clone(&node));
        }
        self.attach(node, line, column)
    }

    /// Adds the node an alias at `line`, `column` names to its parent.
    fn alias(&mut self, anchor: usize, line: usize, column: usize) -> Result<(), InputError> {
        // The parser refuses an alias to an anchor it has not seen, so an anchor that is not
        // finished is one the alias is inside of.
        let Some(node) = self.anchors.get(&anchor).cloned() else {
            return Err(InputError::new(
                self.origin,
                "this alias is inside the node it names, which would make that node endless",
                "remove the alias, or anchor a node that does not contain it",
            )
            .at(line, column));
        };
        self.alias_expansion = self.alias_expansion.saturating_add(node.size);
        if self.alias_expansion > MAX_ALIAS_EXPANSION {
            return Err(InputError::new(
                self.origin,
                format!(
                    "the aliases expand the Boxfile by more than {MAX_ALIAS_EXPANSION} nodes and bytes"
                ),
                "write the repeated parts out instead of nesting aliases",
            )
            .at(line, column));
        }
        self.attach(node, line, column)
    }

    /// Adds `node`, which is written at `line`, `column`, to the innermost open collection, or
    /// makes it the root.
    fn attach(&mut self, node: Rc<Node>, line: usize, column: usize) -> Result<(), InputError> {
        self.check_depth(self.open.len() + node.height, line, column)?;
        let Some(parent) = self.open.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        let is_key = parent.is_mapping && parent.children.len() % 2 == 0;
        if let (true, Content::Scalar(key)) = (is_key, &node.content) {
            if let Some(first_line) = parent.key_lines.get(&key.text) {
                return Err(InputError::new(
                    self.origin,
                    format!(
                        "the key `{}` appears twice in this mapping, first on line {first_line}",
                        key.text
                    ),
                    "keep one of the two",
                )
                .at(line, column));
            }
            parent.key_lines.insert(key.text.clone(), line);
        }
        parent.children.push(node);
        Ok(())
    }

    fn check_depth(&self, depth: usize, line: usize, column: usize) -> Result<(), InputError> {
        if depth <= MAX_DEPTH {
            return Ok(());
        }
        Err(InputError::new(
            self.origin,
            format!("the Boxfile nests more than {MAX_DEPTH} levels deep"),
            "keep it flat: hooks are lists three levels down, like `web1:` > `before_deploy:` > `- command`",
        )
        .at(line, column))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::MAX_BYTES;

    fn boxfile(text: &str) -> Boxfile {
        parse(text.as_bytes(), "Boxfile").unwrap()
    }

    fn parse_error(text: &str) -> InputError {
        let error = parse(text.as_bytes(), "Boxfile").unwrap_err();
        let message = error.to_string();
        assert!(!message.contains('\n'), "{message:?}");
        assert!(message.starts_with("Boxfile line "), "{message}");
        assert!(!error.fix.is_empty(), "{message}");
        error
    }

    fn position(error: &InputError) -> (Option<usize>, Option<usize>) {
        (error.line, error.column)
    }

    fn strings(commands: &[&str]) -> Vec<String> {
        commands.iter().map(|command| command.to_string()).collect()
    }

    fn service(name: &str, process_type: &str) -> Service {
        Service {
            name: name.to_string(),
            process_type: process_type.to_string(),
            before_deploy: Vec::new(),
            before_deploy_all: Vec::new(),
            after_deploy: Vec::new(),
            after_deploy_all: Vec::new(),
            deploy_hook_timeout: None,
        }
    }

    const PAGODA: &str = "\
# A Boxfile as Pagoda Box documented it.
global:
  env:
    - APP_ENV: production

build:
  type: php
  stability: production
  lib_dir: vendor
  before_exec:
    - \"composer self-update\"
  exec:
    - \"composer install --no-interaction --prefer-source\"
    - php artisan asset:publish
  after_exec:
    - echo built
  build_hook_timeout: 900

web1:
  name: site-web
  shared_writable_dirs:
    - app/storage/cache
  php_version: 5.4.14
  php_extensions: [mcrypt, pdo_mysql]
  before_deploy:
    - \"php artisan migrate --force\"
  before_deploy_all:
    - php artisan cache:clear
  after_deploy:
    - 'php artisan queue:restart'
  after_deploy_all:
    - |
      rm -rf app/storage/views/*
      touch app/storage/views/.keep
  deploy_hook_timeout: 300

worker1:
  name: queue
  exec: \"php artisan queue:listen\"
  after_deploy:
    - php artisan queue:restart

db1:
  name: mydb
  type: mysql
";

    #[test]
    fn a_hook_with_a_nul_byte_is_refused_at_its_item() {
        let error = parse_error("web1:\n  before_deploy:\n    - ./ok\n    - \"a\\0b\"\n");
        assert_eq!(position(&error), (Some(4), Some(7)));
        assert!(
            error
                .problem
                .contains("item 2 of web1.before_deploy holds a NUL"),
            "{error}"
        );
    }

    #[test]
    fn hooks_become_tasks_of_their_phases_in_pagodas_order() {
        let boxfile = parse(
            b"build:\n  before_exec: ['b1']\n  exec: ['e1', 'e2']\n  after_exec: ['a1']\n  build_hook_timeout: 60\nweb1:\n  before_deploy: ['bd']\n  before_deploy_all: ['bda']\n  after_deploy: ['ad']\n  after_deploy_all: ['ada']\n  deploy_hook_timeout: 30\nworker1:\n  after_deploy_all: ['wada']\n",
            "Boxfile",
        )
        .unwrap();
        let keys = |phase| -> Vec<String> {
            boxfile
                .tasks(phase)
                .into_iter()
                .map(|task| format!("{}={}", task.key, task.command))
                .collect()
        };
        assert_eq!(
            keys(Phase::Predeploy),
            [
                "build.before_exec=b1",
                "build.exec=e1",
                "build.exec=e2",
                "build.after_exec=a1"
            ]
        );
        assert_eq!(keys(Phase::Release), ["web1.before_deploy=bd"]);
        assert_eq!(
            keys(Phase::Postdeploy),
            [
                "web1.before_deploy_all=bda",
                "web1.after_deploy=ad",
                "web1.after_deploy_all=ada",
                "worker1.after_deploy_all=wada"
            ]
        );
        let predeploy = boxfile.tasks(Phase::Predeploy);
        assert_eq!(predeploy[0].defaults.timeout, Some(Duration::from_secs(60)));
        assert!(!predeploy[0].defaults.ignore_timeout);
        let postdeploy = boxfile.tasks(Phase::Postdeploy);
        assert_eq!(
            postdeploy[0].target,
            Target::RunningContainers {
                process_type: "web".into()
            }
        );
        assert_eq!(postdeploy[1].target, Target::NewContainer);
        assert_eq!(
            postdeploy[3].target,
            Target::RunningContainers {
                process_type: "worker".into()
            }
        );
        assert!(postdeploy[1].defaults.ignore_timeout);
        assert_eq!(
            postdeploy[1].defaults.timeout,
            Some(Duration::from_secs(30))
        );
        assert_eq!(postdeploy[3].defaults.timeout, None);
    }

    #[test]
    fn reads_a_typical_pagoda_boxfile() {
        let expected = Boxfile {
            build: BuildHooks {
                before_exec: strings(&["composer self-update"]),
                exec: strings(&[
                    "composer install --no-interaction --prefer-source",
                    "php artisan asset:publish",
                ]),
                after_exec: strings(&["echo built"]),
                timeout: Some(Duration::from_secs(900)),
            },
            services: vec![
                Service {
                    before_deploy: strings(&["php artisan migrate --force"]),
                    before_deploy_all: strings(&["php artisan cache:clear"]),
                    after_deploy: strings(&["php artisan queue:restart"]),
                    after_deploy_all: strings(&[
                        "rm -rf app/storage/views/*\ntouch app/storage/views/.keep",
                    ]),
                    deploy_hook_timeout: Some(Duration::from_secs(300)),
                    ..service("web1", "web")
                },
                Service {
                    after_deploy: strings(&["php artisan queue:restart"]),
                    ..service("worker1", "worker")
                },
                service("db1", "db"),
            ],
        };
        assert_eq!(boxfile(PAGODA), expected);
    }

    #[test]
    fn keeps_services_and_commands_in_file_order() {
        let parsed = boxfile(
            "worker2:\n  before_deploy: [c, a, b]\nweb1: {}\nbuild: {exec: [z, y]}\nworker1:\n",
        );
        let names: Vec<&str> = parsed
            .services
            .iter()
            .map(|service| service.name.as_str())
            .collect();
        assert_eq!(names, ["worker2", "web1", "worker1"]);
        assert_eq!(parsed.services[0].before_deploy, strings(&["c", "a", "b"]));
        assert_eq!(parsed.build.exec, strings(&["z", "y"]));
    }

    #[test]
    fn derives_the_process_type_from_the_service_name() {
        for (name, expected) in [
            ("web1", "web"),
            ("web10", "web"),
            ("my_worker2", "my_worker"),
            ("my-worker3", "my-worker"),
            ("Web007", "Web"),
            ("_1", "_"),
        ] {
            assert_eq!(process_type(name), Some(expected), "{name}");
            let parsed = boxfile(&format!("{name}:\n  before_deploy: [x]\n"));
            assert_eq!(parsed.services[0].process_type, expected);
        }
        for name in [
            "web", "global", "1", "12", "web1a", "wéb1", "web 1", "web.1", "",
        ] {
            assert_eq!(process_type(name), None, "{name}");
        }
    }

    #[test]
    fn keys_that_are_not_services_are_ignored() {
        let parsed =
            boxfile("global: {env: [A]}\nweb: {before_deploy: 5}\n1: x\n\"web1a\": [1]\n[a]: b\n");
        assert_eq!(parsed, Boxfile::default());
    }

    #[test]
    fn unknown_keys_inside_sections_are_ignored() {
        let parsed = boxfile(
            "build:\n  type: php\n  nginx: {a: [1, {b: 2}]}\nweb1:\n  exec: 5\n  cron: [{x: 1}]\n",
        );
        assert_eq!(parsed.build, BuildHooks::default());
        assert_eq!(parsed.services, [service("web1", "web")]);
    }

    #[test]
    fn empty_files_and_comments_declare_no_hooks() {
        for text in [
            "",
            "\n\n",
            "# just a comment\n   # and another\n",
            "---\n",
            "---\n...\n",
            "~\n",
            "null",
            "\u{feff}",
        ] {
            assert_eq!(boxfile(text), Boxfile::default(), "{text:?}");
        }
    }

    #[test]
    fn null_counts_as_absent() {
        let parsed = boxfile(
            "build:\nweb1:\n  before_deploy:\n  after_deploy: ~\n  deploy_hook_timeout: null\nworker1: ~\n",
        );
        assert_eq!(parsed.build, BuildHooks::default());
        assert_eq!(
            parsed.services,
            [service("web1", "web"), service("worker1", "worker")]
        );
        let parsed = boxfile("build:\n  exec:\n  build_hook_timeout:\n");
        assert_eq!(parsed.build, BuildHooks::default());
    }

    #[test]
    fn an_empty_list_is_no_commands() {
        let parsed = boxfile("build: {exec: []}\nweb1: {after_deploy: []}\n");
        assert!(parsed.build.exec.is_empty());
        assert!(parsed.services[0].after_deploy.is_empty());
    }

    #[test]
    fn keeps_commands_as_written_but_one_trailing_newline() {
        let parsed = boxfile(
            "build:\n  exec:\n    - \"  spaced  \"\n    - |\n      a\n      b\n    - >\n      folded\n      line\n    - |+\n      kept\n\n    - \"x\\n\"\n    - 'it''s'\n    - !!str 5\n",
        );
        assert_eq!(
            parsed.build.exec,
            strings(&[
                "  spaced  ",
                "a\nb",
                "folded line",
                "kept\n",
                "x",
                "it's",
                "5"
            ])
        );
    }

    #[test]
    fn tolerates_crlf_and_a_byte_order_mark() {
        let parsed = boxfile("\u{feff}web1:\r\n  before_deploy:\r\n    - migrate\r\n");
        assert_eq!(parsed.services[0].before_deploy, strings(&["migrate"]));
        let error = parse_error("\u{feff}web1:\r\n  before_deploy: x\r\n");
        assert_eq!(position(&error), (Some(2), Some(18)));
    }

    #[test]
    fn refuses_a_single_string_where_a_list_belongs() {
        let error = parse_error("web1:\n  name: site\n  before_deploy: php artisan migrate\n");
        assert_eq!(position(&error), (Some(3), Some(18)));
        assert_eq!(
            error.to_string(),
            "Boxfile line 3, column 18: web1.before_deploy must be a list of commands, \
             found a single string; write it as a list: `- command`"
        );
        let error = parse_error("build:\n  exec: \"make\"\n");
        assert_eq!(position(&error), (Some(2), Some(9)));
        assert!(error.problem.starts_with("build.exec must be a list"));
    }

    #[test]
    fn refuses_hook_lists_of_the_wrong_type() {
        let error = parse_error("web1:\n  after_deploy:\n    migrate: yes\n");
        assert_eq!(position(&error), (Some(3), Some(5)));
        assert_eq!(
            error.problem,
            "web1.after_deploy must be a list of commands, found a mapping"
        );
        let error = parse_error("worker1:\n  before_deploy_all: 5\n");
        assert_eq!(position(&error), (Some(2), Some(22)));
        assert!(error.problem.ends_with("found the number `5`"), "{error}");
        let error = parse_error("build:\n  after_exec: true\n");
        assert!(
            error.problem.ends_with("found the boolean `true`"),
            "{error}"
        );
    }

    #[test]
    fn refuses_items_that_are_not_commands() {
        let text = "web1:\n  before_deploy:\n    - ok\n    - 42\n";
        let error = parse_error(text);
        assert_eq!(position(&error), (Some(4), Some(7)));
        assert_eq!(
            error.to_string(),
            "Boxfile line 4, column 7: item 2 of web1.before_deploy must be a command string, \
             found the number `42`; quote it, like `- \"42\"`"
        );

        let error = parse_error("build:\n  exec: [a, [b, c]]\n");
        assert_eq!(position(&error), (Some(2), Some(13)));
        assert_eq!(
            error.problem,
            "item 2 of build.exec is a list, not a command"
        );

        let error = parse_error("build:\n  exec:\n    - php artisan: migrate\n");
        assert_eq!(position(&error), (Some(3), Some(7)));
        assert!(
            error.problem.contains("is a mapping, not a command"),
            "{error}"
        );
        assert_eq!(
            error.fix,
            "quote the command, like `- \"php artisan: migrate\"`"
        );

        let error = parse_error("web1:\n  after_deploy_all:\n    - a\n    -\n    - b\n");
        assert_eq!(position(&error), (Some(4), Some(6)));
        assert_eq!(error.problem, "item 2 of web1.after_deploy_all is empty");

        let error = parse_error("web1:\n  after_deploy:\n    - \"  \"\n");
        assert_eq!(position(&error), (Some(3), Some(7)));
        assert_eq!(error.problem, "item 1 of web1.after_deploy is blank");

        let error = parse_error("build:\n  before_exec: [\"\"]\n");
        assert_eq!(position(&error), (Some(2), Some(17)));

        let error = parse_error("build:\n  before_exec:\n    - 1.5\n    - yes\n");
        assert!(error.problem.ends_with("found the number `1.5`"), "{error}");
        let error = parse_error("build:\n  before_exec:\n    - ~\n");
        assert!(error.problem.ends_with("is empty"), "{error}");
    }

    #[test]
    fn reads_timeouts_in_whole_seconds() {
        let parsed =
            boxfile("build:\n  build_hook_timeout: 1\nweb1:\n  deploy_hook_timeout: 86400\n");
        assert_eq!(parsed.build.timeout, Some(Duration::from_secs(1)));
        assert_eq!(
            parsed.services[0].deploy_hook_timeout,
            Some(Duration::from_secs(86_400))
        );
    }

    #[test]
    fn refuses_timeouts_that_are_not_whole_seconds_above_zero() {
        for (value, problem) in [
            ("0", "web1.deploy_hook_timeout must be more than 0 seconds"),
            ("000", "web1.deploy_hook_timeout must be more than 0 seconds"),
            (
                "1.5",
                "web1.deploy_hook_timeout must be a whole number of seconds, found the number `1.5`",
            ),
            (
                "-5",
                "web1.deploy_hook_timeout must be a whole number of seconds, found the number `-5`",
            ),
            (
                "0x10",
                "web1.deploy_hook_timeout must be a whole number of seconds, found the number `0x10`",
            ),
            (
                "\"600\"",
                "web1.deploy_hook_timeout must be a whole number of seconds, found the string \"600\"",
            ),
            (
                "10m",
                "web1.deploy_hook_timeout must be a whole number of seconds, found the string \"10m\"",
            ),
            (
                "[5]",
                "web1.deploy_hook_timeout must be a whole number of seconds, found a list",
            ),
            (
                "99999999999999999999999",
                "web1.deploy_hook_timeout is too large: 99999999999999999999999 seconds",
            ),
        ] {
            let error = parse_error(&format!("web1:\n  deploy_hook_timeout: {value}\n"));
            assert_eq!(error.problem, problem);
            assert_eq!(position(&error), (Some(2), Some(24)), "{value}");
            assert_eq!(
                error.fix,
                "write a whole number of seconds above 0, like `deploy_hook_timeout: 600`"
            );
        }
        let error = parse_error("build:\n  build_hook_timeout: 0\n");
        assert_eq!(position(&error), (Some(2), Some(23)));
        assert_eq!(
            error.problem,
            "build.build_hook_timeout must be more than 0 seconds"
        );
    }

    #[test]
    fn refuses_sections_that_are_not_mappings() {
        let error = parse_error("build:\n  - exec\n");
        assert_eq!(position(&error), (Some(2), Some(3)));
        assert_eq!(
            error.to_string(),
            "Boxfile line 2, column 3: build must be a mapping, found a list; \
             write build as a mapping, with keys like `exec:` indented under `build:`"
        );
        let error = parse_error("global: {}\nweb1: php artisan serve\n");
        assert_eq!(position(&error), (Some(2), Some(7)));
        assert_eq!(
            error.problem,
            "web1 must be a mapping, found the string \"php artisan serve\""
        );
        assert!(error.fix.contains("`before_deploy:`"), "{error}");
    }

    #[test]
    fn refuses_a_top_level_that_is_not_a_mapping() {
        let error = parse_error("# hooks\n- web1\n");
        assert_eq!(position(&error), (Some(2), Some(1)));
        assert!(error.problem.ends_with("found a list"), "{error}");
        let error = parse_error("\n  just text\n");
        assert_eq!(position(&error), (Some(2), Some(3)));
        assert!(error.problem.ends_with("found the string \"just text\""));
        assert!(parse_error("5").problem.ends_with("found the number `5`"));
    }

    #[test]
    fn refuses_invalid_yaml_at_its_position() {
        let error = parse_error("web1:\n  before_deploy: [a, b\n");
        assert_eq!(error.line, Some(3));
        assert!(error.problem.starts_with("the Boxfile is not valid YAML: "));
        assert_eq!(error.fix, "fix the YAML syntax");

        let error = parse_error("web1:\n  before_deploy:\n    - a\n   bad: x\n");
        assert_eq!(error.line, Some(4));

        let error = parse_error("web1:\n\tbefore_deploy: [a]\n");
        assert_eq!(error.line, Some(2));
        assert!(error.fix.contains("spaces"), "{error}");

        let error = parse_error("build:\n  exec: [\"unterminated]\n");
        assert!(error.problem.contains("not valid YAML"), "{error}");
    }

    #[test]
    fn refuses_invalid_utf8_at_its_position() {
        let error = parse(
            b"web1:\n  before_deploy: [\"caf\xc3\xa9 \xff\"]\n",
            "Boxfile from dokku/app:latest",
        )
        .unwrap_err();
        assert_eq!(error.origin, "Boxfile from dokku/app:latest");
        assert_eq!(position(&error), (Some(2), Some(25)));
        assert_eq!(error.problem, "the Boxfile is not valid UTF-8");
    }

    #[test]
    fn refuses_duplicate_keys_naming_both_lines() {
        let error =
            parse_error("web1:\n  before_deploy: [a]\nworker1: {}\nweb1:\n  after_deploy: [b]\n");
        assert_eq!(position(&error), (Some(4), Some(1)));
        assert_eq!(
            error.problem,
            "the key `web1` appears twice in this mapping, first on line 1"
        );
        let error = parse_error("build:\n  exec: [a]\n  type: php\n  \"exec\": [b]\n");
        assert_eq!(position(&error), (Some(4), Some(3)));
        assert!(error.problem.contains("first on line 2"), "{error}");
        let error = parse_error("global:\n  env: {A: 1, A: 2}\n");
        assert_eq!(position(&error), (Some(2), Some(15)));
    }

    #[test]
    fn refuses_a_second_document() {
        let error = parse_error("web1: {}\n---\nweb2: {}\n");
        assert_eq!(position(&error), (Some(2), Some(1)));
        assert!(
            error.problem.contains("more than one YAML document"),
            "{error}"
        );
    }

    #[test]
    fn follows_anchors_and_aliases() {
        let parsed = boxfile(
            "commands: &migrate\n  - php artisan migrate\nweb1: &web\n  before_deploy: *migrate\n  deploy_hook_timeout: &timeout 120\nweb2: *web\nworker1:\n  after_deploy: [*timeout_text, b]\n"
                .replace("*timeout_text", "&text c")
                .as_str(),
        );
        let web = Service {
            before_deploy: strings(&["php artisan migrate"]),
            deploy_hook_timeout: Some(Duration::from_secs(120)),
            ..service("web1", "web")
        };
        assert_eq!(parsed.services[0], web);
        assert_eq!(
            parsed.services[1],
            Service {
                name: "web2".to_string(),
                ..web
            }
        );
        assert_eq!(parsed.services[2].after_deploy, strings(&["c", "b"]));
    }

    #[test]
    fn errors_through_an_alias_point_at_the_anchored_node() {
        let error = parse_error("shared: &hooks\n  before_deploy: migrate\nweb1: *hooks\n");
        assert_eq!(position(&error), (Some(2), Some(18)));
        assert!(error.problem.starts_with("web1.before_deploy"), "{error}");
    }

    #[test]
    fn refuses_aliases_that_expand_too_far() {
        let mut text = String::from("a0: &a0 [\"lol lol lol lol lol lol lol lol\"]\n");
        for level in 1..12 {
            let previous = format!("*a{}", level - 1);
            let items = [previous.as_str(); 10].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{items}]\n"));
        }
        text.push_str("web1: {before_deploy: *a11}\n");
        assert!(text.len() < 1_000);
        let error = parse_error(&text);
        assert!(
            error
                .problem
                .contains("aliases expand the Boxfile by more than"),
            "{error}"
        );
        // a4 expands to 331,111 nodes and bytes: a1 to a4 add 367,860, and the third alias
        // of a4 in a5 crosses the limit.
        assert_eq!(position(&error), (Some(6), Some(20)));
    }

    #[test]
    fn refuses_an_alias_inside_its_own_anchor() {
        let error = parse_error("web1: &loop\n  before_deploy: *loop\n");
        assert_eq!(position(&error), (Some(2), Some(18)));
        assert!(
            error.problem.contains("inside the node it names"),
            "{error}"
        );
        let error = parse_error("a: &x [1, [*x]]\n");
        assert_eq!(position(&error), (Some(1), Some(12)));
    }

    #[test]
    fn refuses_merge_keys_where_hooks_are_read() {
        let text = "base: &base\n  before_deploy: [migrate]\nweb1:\n  <<: *base\n  name: site\n";
        let error = parse_error(text);
        assert_eq!(position(&error), (Some(4), Some(3)));
        assert_eq!(
            error.problem,
            "web1 has a merge key (`<<`), which this reader does not expand"
        );
        let error = parse_error("<<: {web1: {}}\n");
        assert!(error.problem.starts_with("the top level has a merge key"));
        assert!(parse_error("build: {<<: {}}")
            .problem
            .starts_with("build has"));
        // A quoted `<<` is a key like any other, and a merge key elsewhere is not read.
        assert_eq!(
            boxfile("web1: {\"<<\": x}\nglobal: {<<: {a: 1}}\n").services,
            [service("web1", "web")]
        );
    }

    #[test]
    fn refuses_deep_nesting_without_overflowing_the_stack() {
        let text = format!("global: {}1{}\n", "[".repeat(200), "]".repeat(200));
        let error = parse_error(&text);
        assert!(
            error.problem.contains("nests more than 64 levels"),
            "{error}"
        );
        let text = format!("global:\n{}x\n", "- ".repeat(100_000));
        let error = parse_error(&text);
        assert!(
            error.problem.contains("nests more than 64 levels"),
            "{error}"
        );
        assert_eq!(error.line, Some(2));
        let text = format!("global: {}1{}\n", "[".repeat(60), "]".repeat(60));
        assert_eq!(boxfile(&text), Boxfile::default());
    }

    #[test]
    fn refuses_nesting_made_deep_by_aliases() {
        let mut text = format!("a0: &a0 {}1{}\n", "[".repeat(40), "]".repeat(40));
        text.push_str(&format!("a1: {}*a0{}\n", "[".repeat(40), "]".repeat(40)));
        let error = parse_error(&text);
        assert!(
            error.problem.contains("nests more than 64 levels"),
            "{error}"
        );
        assert_eq!(error.line, Some(2));
    }

    #[test]
    fn refuses_files_over_one_mebibyte() {
        let mut text = String::from("global: \"");
        text.push_str(&"x".repeat(MAX_BYTES));
        text.push('"');
        let error = parse(text.as_bytes(), "Boxfile").unwrap_err();
        assert!(error.problem.contains("1 MiB"), "{error}");
        assert_eq!(error.line, None);
        assert!(!error.to_string().contains('\n'));
        let exactly = format!("global: \"{}\"", "x".repeat(MAX_BYTES - 10));
        assert_eq!(exactly.len(), MAX_BYTES);
        assert_eq!(boxfile(&exactly), Boxfile::default());
    }

    #[test]
    fn reads_a_large_file_quickly() {
        let mut text = String::from("build:\n  exec:\n");
        for index in 0..5_000 {
            text.push_str(&format!("    - echo {index}\n"));
        }
        for index in 1..=5_000 {
            text.push_str(&format!(
                "web{index}:\n  after_deploy: [\"restart {index}\"]\n"
            ));
        }
        assert!(text.len() < MAX_BYTES);
        let parsed = boxfile(&text);
        assert_eq!(parsed.build.exec.len(), 5_000);
        assert_eq!(parsed.services.len(), 5_000);
        assert_eq!(
            parsed.services[4_999].after_deploy,
            strings(&["restart 5000"])
        );
    }

    #[test]
    fn an_error_quoting_the_file_stays_on_one_line() {
        let error = parse_error("build:\n  exec:\n    - a: \"c\\nd\"\n");
        assert!(error.fix.contains('\n'));
        assert!(!error.to_string().contains('\n'));
        let error = parse_error("web1: \"two\\nlines\\u001b[31m\"\n");
        assert!(!error.to_string().contains('\n'));
    }

    #[test]
    fn resolves_scalars_by_the_core_schema() {
        let plain = |text| resolve(text, ScalarStyle::Plain, None);
        for text in ["", "~", "null", "NULL"] {
            assert_eq!(plain(text), Kind::Null, "{text}");
        }
        for text in ["true", "False"] {
            assert_eq!(plain(text), Kind::Boolean, "{text}");
        }
        for text in ["0", "-12", "+3", "0o17", "0x1F"] {
            assert_eq!(plain(text), Kind::Integer, "{text}");
        }
        for text in ["1.5", "-.5", "1.", "1e3", "2.5E-3", ".inf", "-.Inf", ".NaN"] {
            assert_eq!(plain(text), Kind::Float, "{text}");
        }
        for text in [
            "yes", "off", "1.2.3", ".", "e3", "1e", "0o8", "0x", "-", "echo 1", "TrUe",
        ] {
            assert_eq!(plain(text), Kind::String, "{text}");
        }
        assert_eq!(resolve("5", ScalarStyle::SingleQuoted, None), Kind::String);
        assert_eq!(resolve("<<", ScalarStyle::DoubleQuoted, None), Kind::String);
        assert_eq!(plain("<<"), Kind::Merge);
    }

    #[test]
    fn never_panics_on_odd_input() {
        let inputs: [&[u8]; 14] = [
            b"\xff",
            b"\xef\xbb\xbf\xff",
            b"[",
            b"]",
            b"{",
            b"&",
            b"*",
            b"*a",
            b"- &a\n- *a",
            b"? ? ? ?",
            b"!",
            b"%YAML 1.2\n---\n",
            b"web1: !!binary aGk=\n",
            b"\"\\",
        ];
        for input in inputs {
            let _ = parse(input, "Boxfile");
        }
    }
}
