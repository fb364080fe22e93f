//! JSON with comments and trailing commas, read by the rules of the library Dokku's
//! `ReadAppJSON` (plugins/app-json/appjson.go) uses: tailscale/hujson's `Parse` (parse.go).
//!
//! Those rules: whitespace is space, tab, CR and LF only; `//` starts a comment that ends at the
//! next LF, which must exist; `/*` starts one that ends at the first `*/` after it (no nesting);
//! a comma may follow the last member of an object or element of an array, but never stands
//! alone (`{,}`, `[1,,2]`); object keys are strings; strings, numbers, `null`, `true` and
//! `false` are exactly JSON's (Go's `json.Valid`); a comment or `/` inside a string is text.
//! Dokku then blanks the comments and trailing commas (`Standardize`) and decodes the rest with
//! Go's encoding/json, whose one further syntax rule is a nesting limit of 10000.
//!
//! The reader keeps every value's byte span in the original text, so errors point into the
//! file as the user wrote it and members can be cut out of it. It runs on an explicit stack, so
//! deep nesting cannot overflow the thread's stack, and stores nodes flat, so dropping a deep
//! document does not recurse either.

/// Go's encoding/json refuses arrays and objects nested deeper than this (`maxNestingDepth`).
const MAX_DEPTH: usize = 10_000;

/// Index of a node in [`Document::nodes`].
pub(super) type NodeId = usize;

/// A parsed file: its values, flat, and the top-level one.
#[derive(Debug)]
pub(super) struct Document {
    pub nodes: Vec<Node>,
    pub root: NodeId,
}

/// One value and where it is in the text.
#[derive(Debug)]
pub(super) struct Node {
    pub value: Value,
    /// Byte offset of its first byte.
    pub start: usize,
    /// Byte offset just after its last byte.
    pub end: usize,
}

/// A value; a number is kept as its text (`&text[start..end]`), as Go reads it per target type.
#[derive(Debug)]
pub(super) enum Value {
    Null,
    /// `true` or `false`, which no field of the plugin's needs told apart.
    Bool,
    Number,
    /// The string's content with escapes decoded as Go does.
    String(String),
    Array(Vec<NodeId>),
    Object(Vec<Member>),
}

/// One `"key": value` of an object.
#[derive(Debug)]
pub(super) struct Member {
    /// The key with escapes decoded.
    pub key: String,
    /// Byte offset of the key's opening quote.
    pub key_start: usize,
    pub value: NodeId,
    /// Byte offset of the comma after the member, when there is one (a trailing one included).
    pub comma: Option<usize>,
}

impl Value {
    /// How the user would name the JSON type in a sentence.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool => "a boolean",
            Value::Number => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// Text that is not JSON with comments, at the byte offset of the problem.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct SyntaxError {
    pub offset: usize,
    pub problem: String,
    pub fix: &'static str,
}

/// Parses `text`, which must not be empty or whitespace only (Dokku treats such a file as `{}`
/// before parsing; the parser itself would call it an unexpected end).
pub(super) fn parse(text: &str) -> Result<Document, SyntaxError> {
    let mut parser = Parser {
        text,
        position: 0,
        nodes: Vec::new(),
    };
    let mut open: Vec<Open> = Vec::new();
    parser.skip_extra()?;
    'value: loop {
        // A value starts here.
        let start = parser.position;
        let mut node = match parser.peek() {
            Some(bracket @ (b'{' | b'[')) => {
                if open.len() == MAX_DEPTH {
                    return Err(parser.error(
                        format!("arrays and objects nest more than {MAX_DEPTH} deep"),
                        "flatten the structure: Dokku (Go's encoding/json) stops at 10000 levels",
                    ));
                }
                parser.position += 1;
                parser.skip_extra()?;
                if bracket == b'{' {
                    if parser.peek() == Some(b'}') {
                        parser.position += 1;
                        parser.push(Value::Object(Vec::new()), start)
                    } else {
                        let (key, key_start) = parser.object_key()?;
                        open.push(Open::Object {
                            start,
                            members: Vec::new(),
                            key,
                            key_start,
                        });
                        continue 'value;
                    }
                } else if parser.peek() == Some(b']') {
                    parser.position += 1;
                    parser.push(Value::Array(Vec::new()), start)
                } else {
                    open.push(Open::Array {
                        start,
                        elements: Vec::new(),
                    });
                    continue 'value;
                }
            }
            Some(b'"') => {
                let string = parser.string()?;
                parser.push(Value::String(string), start)
            }
            None => {
                return Err(parser.error(
                    "app.json ends where a value should be".to_string(),
                    "complete the JSON: a value or a closing bracket or brace is missing",
                ))
            }
            Some(_) => parser.literal()?,
        };

        // The value is complete: attach it to the array or object it is in, and close those
        // that end after it.
        loop {
            parser.skip_extra()?;
            let Some(mut innermost) = open.pop() else {
                if parser.peek().is_some() {
                    return Err(parser.error(
                        format!("{} after the top-level value", parser.describe_here()),
                        "app.json holds one object: remove what follows its closing brace",
                    ));
                }
                return Ok(Document {
                    nodes: parser.nodes,
                    root: node,
                });
            };
            let more = match &mut innermost {
                Open::Object {
                    members,
                    key,
                    key_start,
                    ..
                } => {
                    let comma = (parser.peek() == Some(b',')).then_some(parser.position);
                    members.push(Member {
                        key: std::mem::take(key),
                        key_start: *key_start,
                        value: node,
                        comma,
                    });
                    match parser.peek() {
                        Some(b',') => {
                            parser.position += 1;
                            parser.skip_extra()?;
                            let more = parser.peek() != Some(b'}');
                            if more {
                                (*key, *key_start) = parser.object_key()?;
                            }
                            more
                        }
                        Some(b'}') => false,
                        None => return Err(parser.unexpected_end("',' or '}'")),
                        Some(_) => {
                            return Err(parser.error(
                                format!(
                                    "{} after an object member, expecting ',' or '}}'",
                                    parser.describe_here()
                                ),
                                "separate members with commas",
                            ))
                        }
                    }
                }
                Open::Array { elements, .. } => {
                    elements.push(node);
                    match parser.peek() {
                        Some(b',') => {
                            parser.position += 1;
                            parser.skip_extra()?;
                            parser.peek() != Some(b']')
                        }
                        Some(b']') => false,
                        None => return Err(parser.unexpected_end("',' or ']'")),
                        Some(_) => {
                            return Err(parser.error(
                                format!(
                                    "{} after an array element, expecting ',' or ']'",
                                    parser.describe_here()
                                ),
                                "separate elements with commas",
                            ))
                        }
                    }
                }
            };
            if more {
                open.push(innermost);
                continue 'value;
            }
            // The closing bracket or brace is next: the innermost open value is complete.
            parser.position += 1;
            node = match innermost {
                Open::Object { start, members, .. } => parser.push(Value::Object(members), start),
                Open::Array { start, elements } => parser.push(Value::Array(elements), start),
            };
        }
    }
}

/// An array or object whose closing bracket or brace is still to come.
enum Open {
    Array {
        start: usize,
        elements: Vec<NodeId>,
    },
    Object {
        start: usize,
        members: Vec<Member>,
        /// The key of the member whose value is being read.
        key: String,
        key_start: usize,
    },
}

struct Parser<'a> {
    text: &'a str,
    position: usize,
    nodes: Vec<Node>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.position).copied()
    }

    fn push(&mut self, value: Value, start: usize) -> NodeId {
        self.nodes.push(Node {
            value,
            start,
            end: self.position,
        });
        self.nodes.len() - 1
    }

    fn error(&self, problem: String, fix: &'static str) -> SyntaxError {
        SyntaxError {
            offset: self.position,
            problem,
            fix,
        }
    }

    fn unexpected_end(&self, expecting: &str) -> SyntaxError {
        self.error(
            format!("app.json ends too early, expecting {expecting}"),
            "complete the JSON: a closing bracket, brace or quote is missing",
        )
    }

    /// The character at the current position, quoted for a message.
    fn describe_here(&self) -> String {
        match self
            .text
            .get(self.position..)
            .and_then(|rest| rest.chars().next())
        {
            Some(character) if !character.is_control() => format!("unexpected '{character}'"),
            Some(character) => format!("unexpected U+{:04X}", u32::from(character)),
            None => "unexpected end".to_string(),
        }
    }

    /// Skips whitespace and comments (hujson's `consumeExtra`). A `/` that starts no comment is
    /// left for the caller to reject.
    fn skip_extra(&mut self) -> Result<(), SyntaxError> {
        loop {
            let rest = self.text.get(self.position..).unwrap_or_default();
            match rest.as_bytes() {
                [b' ' | b'\t' | b'\r' | b'\n', ..] => self.position += 1,
                [b'/', b'/', ..] => match rest.find('\n') {
                    Some(end) => self.position += end + 1,
                    None => {
                        return Err(self.error(
                            "app.json ends inside a // comment, which Dokku's JSONC reader \
                             requires to end with a line break"
                                .to_string(),
                            "end the file with a line break",
                        ))
                    }
                },
                [b'/', b'*', ..] => match rest[2..].find("*/") {
                    Some(end) => self.position += 2 + end + 2,
                    None => {
                        return Err(self.error(
                            "a /* comment is never closed".to_string(),
                            "close the comment with */",
                        ))
                    }
                },
                _ => return Ok(()),
            }
        }
    }

    /// Reads an object key and the colon after it, up to the start of the value.
    fn object_key(&mut self) -> Result<(String, usize), SyntaxError> {
        let key_start = self.position;
        if self.peek() != Some(b'"') {
            return Err(match self.peek() {
                None => self.unexpected_end("an object key or '}'"),
                Some(_) => self.error(
                    format!("{} where an object key should start", self.describe_here()),
                    "write object keys as quoted strings",
                ),
            });
        }
        let key = self.string()?;
        self.skip_extra()?;
        match self.peek() {
            Some(b':') => self.position += 1,
            None => return Err(self.unexpected_end("':'")),
            Some(_) => {
                return Err(self.error(
                    format!(
                        "{} after an object key, expecting ':'",
                        self.describe_here()
                    ),
                    "put a colon between a key and its value",
                ))
            }
        }
        self.skip_extra()?;
        Ok((key, key_start))
    }

    /// Reads a string from its opening quote, decoding escapes as Go's encoding/json does
    /// (`unquote`): a `\u` escape of half a surrogate pair that is not completed by the next
    /// escape becomes U+FFFD.
    fn string(&mut self) -> Result<String, SyntaxError> {
        let start = self.position;
        self.position += 1;
        let mut decoded = String::new();
        loop {
            let Some(character) = self
                .text
                .get(self.position..)
                .and_then(|rest| rest.chars().next())
            else {
                return Err(SyntaxError {
                    offset: start,
                    problem: "a string never ends".to_string(),
                    fix: "close the string with a double quote",
                });
            };
            match character {
                '"' => {
                    self.position += 1;
                    return Ok(decoded);
                }
                '\\' => decoded.push(self.escape()?),
                character if character < ' ' => {
                    return Err(self.error(
                        format!(
                            "a string holds the raw control character U+{:04X}",
                            u32::from(character)
                        ),
                        "write line breaks and tabs inside strings as \\n and \\t",
                    ))
                }
                character => {
                    decoded.push(character);
                    self.position += character.len_utf8();
                }
            }
        }
    }

    /// Reads one escape from its backslash.
    fn escape(&mut self) -> Result<char, SyntaxError> {
        let bytes = self.text.as_bytes();
        let simple = match bytes.get(self.position + 1) {
            Some(b'"') => Some('"'),
            Some(b'\\') => Some('\\'),
            Some(b'/') => Some('/'),
            Some(b'b') => Some('\u{8}'),
            Some(b'f') => Some('\u{c}'),
            Some(b'n') => Some('\n'),
            Some(b'r') => Some('\r'),
            Some(b't') => Some('\t'),
            _ => None,
        };
        if let Some(character) = simple {
            self.position += 2;
            return Ok(character);
        }
        let Some(unit) = self.hex_escape(self.position) else {
            return Err(self.error(
                "a string has an invalid escape".to_string(),
                "escape only \" \\ / b f n r t, or write \\u and four hex digits",
            ));
        };
        self.position += 6;
        if !(0xD800..0xE000).contains(&unit) {
            // Not a surrogate, so a character.
            return Ok(char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
        if let Some(low) = self.hex_escape(self.position) {
            if (0xD800..0xDC00).contains(&unit) && (0xDC00..0xE000).contains(&low) {
                self.position += 6;
                let combined = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                return Ok(char::from_u32(combined).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
        }
        Ok(char::REPLACEMENT_CHARACTER)
    }

    /// The code unit of a `\uXXXX` escape at byte `at`, if there is one.
    fn hex_escape(&self, at: usize) -> Option<u32> {
        let escape = self.text.as_bytes().get(at..at + 6)?;
        if !escape.starts_with(b"\\u") || !escape[2..].iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(&escape[2..]).ok()?, 16).ok()
    }

    /// Reads `null`, `true`, `false` or a number. Like hujson, takes the whole run of letters,
    /// digits and `+-.` as one token, so `truex` and `01` are single invalid tokens.
    fn literal(&mut self) -> Result<NodeId, SyntaxError> {
        let start = self.position;
        let token_length = self.text.as_bytes()[start..]
            .iter()
            .take_while(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'+' | b'.'))
            .count();
        if token_length == 0 {
            let problem = match self.peek() {
                Some(b'}' | b']') => format!(
                    "{} where a value should be (a comma stands alone, or a value is missing)",
                    self.describe_here()
                ),
                _ => format!("{} where a value should start", self.describe_here()),
            };
            return Err(self.error(
                problem,
                "write a JSON value: a string, number, object, array, true, false or null",
            ));
        }
        let token = &self.text[start..start + token_length];
        let value = match token {
            "null" => Value::Null,
            "true" | "false" => Value::Bool,
            number if is_json_number(number) => Value::Number,
            _ => {
                return Err(self.error(
                    format!("`{token}` is not a JSON value"),
                    "write null, true, false, a number like 12 or -0.5e3, or quote the text",
                ))
            }
        };
        self.position += token_length;
        Ok(self.push(value, start))
    }
}

/// Whether `token` is a number by JSON's grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_json_number(token: &str) -> bool {
    let bytes = token.as_bytes();
    let mut at = usize::from(bytes.first() == Some(&b'-'));
    let digits = |from: usize| {
        bytes.get(from..).map_or(0, |rest| {
            rest.iter().take_while(|b| b.is_ascii_digit()).count()
        })
    };
    let integer = digits(at);
    if integer == 0 || (integer > 1 && bytes[at] == b'0') {
        return false;
    }
    at += integer;
    if bytes.get(at) == Some(&b'.') {
        let fraction = digits(at + 1);
        if fraction == 0 {
            return false;
        }
        at += 1 + fraction;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let exponent = digits(at);
        if exponent == 0 {
            return false;
        }
        at += exponent;
    }
    at == bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> (Document, NodeId) {
        let document = parse(text).unwrap();
        let root = document.root;
        (document, root)
    }

    fn syntax_error(text: &str) -> SyntaxError {
        parse(text).unwrap_err()
    }

    fn members(document: &Document, id: NodeId) -> &[Member] {
        match &document.nodes[id].value {
            Value::Object(members) => members,
            other => panic!("not an object: {other:?}"),
        }
    }

    fn string(document: &Document, id: NodeId) -> &str {
        match &document.nodes[id].value {
            Value::String(string) => string,
            other => panic!("not a string: {other:?}"),
        }
    }

    #[test]
    fn line_and_block_comments_are_whitespace() {
        let text = "// head\n{ /* a */ \"a\" /* b */ : /* c */ 1 // d\n, /* e\n f */ \"b\": [ // g\n 2 /**/ ] }/* end */\n";
        let (document, root) = root(text);
        let members = members(&document, root);
        assert_eq!(members.len(), 2);
        assert_eq!(members[0].key, "a");
        assert_eq!(members[1].key, "b");
    }

    #[test]
    fn comment_markers_inside_strings_are_text() {
        let (document, root) = root(r#"{"a": "http://x // y /* z */", "/*": "*/"}"#);
        let members = members(&document, root);
        assert_eq!(string(&document, members[0].value), "http://x // y /* z */");
        assert_eq!(members[1].key, "/*");
        assert_eq!(string(&document, members[1].value), "*/");
    }

    #[test]
    fn trailing_commas_are_accepted_after_the_last_member_or_element() {
        let (document, root) = root("{\"a\": [1, 2,], \"b\": {\"c\": 3,},}");
        let members = members(&document, root);
        assert_eq!(members.len(), 2);
        assert_eq!(members[1].comma, Some(29));
        assert!(matches!(&document.nodes[members[0].value].value, Value::Array(e) if e.len() == 2));
    }

    #[test]
    fn a_comma_never_stands_alone() {
        for text in ["{,}", "[,]", "[1,,2]", "{\"a\": 1,,}", "[1,,]"] {
            let error = syntax_error(text);
            assert!(
                error.problem.contains("unexpected ','"),
                "{text}: {error:?}"
            );
        }
    }

    #[test]
    fn a_line_comment_needs_its_line_break() {
        let error = syntax_error("{}\n// end");
        assert_eq!(error.offset, 3);
        assert!(error.problem.contains("// comment"), "{error:?}");
        assert!(parse("{}\n// end\n").is_ok());
        // Only LF ends it: a lone CR is part of the comment.
        assert!(parse("{\"a\": 1 // x\r}\n").is_err());
    }

    #[test]
    fn a_block_comment_ends_at_the_first_close_and_does_not_nest() {
        assert!(parse("{/* /* */}").is_ok());
        assert!(parse("{/* /* */ */}").is_err());
        // `/*/` does not close itself.
        assert_eq!(syntax_error("{} /*/").offset, 3);
        assert!(syntax_error("{} /*/").problem.contains("never closed"));
    }

    #[test]
    fn a_slash_that_starts_no_comment_is_an_error() {
        let error = syntax_error("{\"a\": 1 / 2}");
        assert_eq!(error.offset, 8);
        assert!(error.problem.contains("unexpected '/'"), "{error:?}");
    }

    #[test]
    fn whitespace_is_json_whitespace_only() {
        assert!(parse("{\r\n\t \"a\": 1}").is_ok());
        for other in ["{\u{c}}", "{\u{a0}}", "{\u{b}}"] {
            assert!(parse(other).is_err(), "{other:?}");
        }
    }

    #[test]
    fn literals_are_exactly_json() {
        for valid in [
            "0", "-0", "12", "-1.5e+3", "1E9", "0.25", "true", "false", "null",
        ] {
            assert!(parse(valid).is_ok(), "{valid}");
        }
        for invalid in [
            "01", "+1", "1.", ".5", "1e", "-", "NaN", "Infinity", "truex", "nul", "0x1",
        ] {
            let error = syntax_error(invalid);
            assert_eq!(error.offset, 0, "{invalid}");
            assert!(
                error.problem.contains("is not a JSON value"),
                "{invalid}: {error:?}"
            );
        }
        // The token runs over letters, digits and +-. only: `true/**/` is fine.
        assert!(parse("[true/**/]").is_ok());
    }

    #[test]
    fn strings_decode_like_go() {
        let (document, root) = root(
            r#"["\"\\\/\b\f\n\r\t", "\u00e9\u20AC", "\ud83d\ude00", "\ud800", "\udc00x", "\ud800\u0041", "é"]"#,
        );
        let Value::Array(elements) = &document.nodes[root].value else {
            panic!("not an array")
        };
        let strings: Vec<&str> = elements.iter().map(|id| string(&document, *id)).collect();
        assert_eq!(
            strings,
            [
                "\"\\/\u{8}\u{c}\n\r\t",
                "é€",
                "😀",
                "\u{fffd}",
                "\u{fffd}x",
                "\u{fffd}A",
                "é"
            ]
        );
    }

    #[test]
    fn invalid_strings_are_errors_at_the_problem() {
        let error = syntax_error("{\"a\": \"x\\q\"}");
        assert_eq!(error.offset, 8);
        assert!(error.problem.contains("invalid escape"));
        assert_eq!(syntax_error("[\"\\u12\"]").offset, 2);
        let error = syntax_error("[\"a\tb\"]");
        assert_eq!(error.offset, 3);
        assert!(error.problem.contains("U+0009"), "{error:?}");
        let error = syntax_error("{\"a\": \"open}");
        assert_eq!(error.offset, 6);
        assert!(error.problem.contains("never ends"));
    }

    #[test]
    fn keys_must_be_strings_followed_by_a_colon() {
        assert_eq!(syntax_error("{a: 1}").offset, 1);
        assert_eq!(syntax_error("{1: 1}").offset, 1);
        assert!(syntax_error("{\"a\" 1}").problem.contains("expecting ':'"));
        assert!(parse("{\"a\" /* c */ : 1}").is_ok());
    }

    #[test]
    fn one_value_only_at_the_top() {
        let error = syntax_error("{} {}");
        assert_eq!(error.offset, 3);
        assert!(error.problem.contains("after the top-level value"));
        assert!(parse("[1] // c\n /* d */ \n").is_ok());
    }

    #[test]
    fn an_early_end_is_an_error_at_the_end() {
        for text in ["{", "{\"a\"", "{\"a\":", "{\"a\": 1", "[1", "[", "// c\n"] {
            let error = syntax_error(text);
            assert_eq!(error.offset, text.len(), "{text}");
        }
    }

    #[test]
    fn missing_separators_are_errors() {
        assert!(syntax_error("{\"a\": 1 \"b\": 2}")
            .problem
            .contains("expecting ',' or '}'"));
        assert!(syntax_error("[1 2]")
            .problem
            .contains("expecting ',' or ']'"));
        assert!(syntax_error("[1}").problem.contains("expecting ',' or ']'"));
        assert!(syntax_error("{\"a\": }")
            .problem
            .contains("where a value should be"));
    }

    #[test]
    fn nesting_stops_at_go_s_limit_without_overflowing_the_stack() {
        let deepest = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&deepest).is_ok());
        let deeper = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let error = syntax_error(&deeper);
        assert_eq!(error.offset, MAX_DEPTH);
        assert!(error.problem.contains("10000"));
        let objects = "{\"a\":".repeat(MAX_DEPTH) + "1" + &"}".repeat(MAX_DEPTH);
        assert!(parse(&objects).is_ok());
    }

    #[test]
    fn spans_cover_values_and_record_commas() {
        let text = "{ \"a\" : [1, {}] , \"b\": \"x\" }";
        let (document, root) = root(text);
        let members = members(&document, root);
        let a = &document.nodes[members[0].value];
        assert_eq!(&text[a.start..a.end], "[1, {}]");
        assert_eq!(members[0].key_start, 2);
        assert_eq!(members[0].comma, Some(16));
        assert_eq!(members[1].comma, None);
        let whole = &document.nodes[root];
        assert_eq!((whole.start, whole.end), (0, text.len()));
    }
}
