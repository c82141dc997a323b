//! Parsing of SMTP command lines (RFC 5321 section 4.1), with the MAIL
//! parameters of SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531)
//! and AUTH (RFC 4954), and BDAT (RFC 3030).
//!
//! The parser is lenient where leniency loses nothing: verbs are matched
//! without regard to case, extra spaces are allowed, and a path without
//! angle brackets is accepted. Addresses are returned exactly as sent.

use super::reply::Reply;

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `EHLO <domain>`.
    Ehlo(String),
    /// `HELO <domain>`.
    Helo(String),
    /// `MAIL FROM:<path> [parameters]`.
    Mail(MailFrom),
    /// `RCPT TO:<path>`.
    Rcpt(String),
    /// `DATA`.
    Data,
    /// `BDAT <size> [LAST]`.
    Bdat {
        /// Size of the chunk that follows the command line, in bytes.
        size: u64,
        /// Whether this is the last chunk of the message.
        last: bool,
    },
    /// `RSET`.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `VRFY <string>`.
    Vrfy,
    /// `EXPN <string>`.
    Expn,
    /// `HELP [topic]`.
    Help,
    /// `STARTTLS`.
    StartTls,
    /// `AUTH <mechanism> [initial-response]`.
    Auth {
        /// The SASL mechanism name, upper case.
        mechanism: String,
        /// The initial response in base64, if given (`=` means empty).
        initial: Option<String>,
    },
}

/// The reverse path and parameters of `MAIL FROM`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailFrom {
    /// The reverse path as sent, without angle brackets or source route.
    /// Empty for the null reverse path `<>` of bounces.
    pub address: String,
    /// The `SIZE=` parameter: the size the client declares, in bytes.
    pub size: Option<u64>,
    /// The `BODY=` parameter.
    pub body: Option<Body>,
    /// Whether the `SMTPUTF8` parameter was given.
    pub smtputf8: bool,
    /// Whether any ESMTP parameter was given (not allowed after HELO).
    pub has_parameters: bool,
}

/// The `BODY=` parameter of `MAIL FROM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// `BODY=7BIT`.
    SevenBit,
    /// `BODY=8BITMIME`.
    EightBitMime,
}

impl Body {
    /// Returns the parameter value as written in the command.
    pub fn as_str(self) -> &'static str {
        match self {
            Body::SevenBit => "7BIT",
            Body::EightBitMime => "8BITMIME",
        }
    }
}

/// The reason a command line could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// The verb is not an SMTP command.
    Unrecognized,
    /// The line is an HTTP request or similar, sent to the SMTP port by
    /// mistake or in a cross-protocol attack.
    NonSmtp,
    /// The arguments are malformed.
    Syntax(&'static str),
    /// The reverse path of MAIL is malformed.
    BadSender(&'static str),
    /// The forward path of RCPT is malformed.
    BadRecipient(&'static str),
    /// A MAIL or RCPT parameter that this server does not implement.
    UnsupportedParameter(String),
}

impl CommandError {
    /// Returns the reply that reports this error to the client.
    pub fn reply(&self) -> Reply {
        match self {
            CommandError::Unrecognized => Reply::new(500, "5.5.2", "Command unrecognized"),
            CommandError::NonSmtp => Reply::new(
                421,
                "4.7.0",
                "Non-SMTP command received; closing connection",
            ),
            CommandError::Syntax(reason) => Reply::new(501, "5.5.4", *reason),
            CommandError::BadSender(reason) => Reply::new(501, "5.1.7", *reason),
            CommandError::BadRecipient(reason) => Reply::new(501, "5.1.3", *reason),
            CommandError::UnsupportedParameter(name) => Reply::new(
                555,
                "5.5.4",
                format!("Parameter {name} is not recognized or not implemented"),
            ),
        }
    }
}

/// Verbs of other protocols. A client that sends one is not speaking SMTP.
const NON_SMTP_VERBS: &[&str] = &["GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS"];

/// Parses one command line, without its line ending.
pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
    let (verb, rest) = split_word(line);
    let verb = std::str::from_utf8(verb)
        .map_err(|_| CommandError::Unrecognized)?
        .to_ascii_uppercase();
    match verb.as_str() {
        "EHLO" => Ok(Command::Ehlo(domain_argument(rest, "EHLO")?)),
        "HELO" => Ok(Command::Helo(domain_argument(rest, "HELO")?)),
        "MAIL" => parse_mail(rest).map(Command::Mail),
        "RCPT" => parse_rcpt(rest).map(Command::Rcpt),
        "DATA" => no_argument(rest, Command::Data, "DATA takes no arguments"),
        "BDAT" => parse_bdat(rest),
        "RSET" => no_argument(rest, Command::Rset, "RSET takes no arguments"),
        "NOOP" => Ok(Command::Noop),
        "QUIT" => no_argument(rest, Command::Quit, "QUIT takes no arguments"),
        "VRFY" if trim(rest).is_empty() => Err(CommandError::Syntax("VRFY requires an argument")),
        "VRFY" => Ok(Command::Vrfy),
        "EXPN" => Ok(Command::Expn),
        "HELP" => Ok(Command::Help),
        "STARTTLS" => no_argument(rest, Command::StartTls, "STARTTLS takes no arguments"),
        "AUTH" => parse_auth(rest),
        verb if NON_SMTP_VERBS.contains(&verb) => Err(CommandError::NonSmtp),
        _ => Err(CommandError::Unrecognized),
    }
}

fn no_argument(
    rest: &[u8],
    command: Command,
    reason: &'static str,
) -> Result<Command, CommandError> {
    if trim(rest).is_empty() {
        Ok(command)
    } else {
        Err(CommandError::Syntax(reason))
    }
}

fn domain_argument(rest: &[u8], verb: &'static str) -> Result<String, CommandError> {
    let argument = trim(rest);
    if argument.is_empty() {
        return Err(CommandError::Syntax(if verb == "EHLO" {
            "EHLO requires a domain or address literal"
        } else {
            "HELO requires a domain or address literal"
        }));
    }
    Ok(String::from_utf8_lossy(argument).into_owned())
}

fn parse_mail(rest: &[u8]) -> Result<MailFrom, CommandError> {
    let path = strip_keyword(rest, b"FROM:").ok_or(CommandError::Syntax(
        "Syntax: MAIL FROM:<address> [parameters]",
    ))?;
    let (address, parameters) = split_path(path).map_err(CommandError::BadSender)?;
    if !address.is_empty() {
        check_mailbox(&address, false).map_err(CommandError::BadSender)?;
    }
    let mut mail = MailFrom {
        address,
        ..MailFrom::default()
    };
    let mut seen = Vec::new();
    for parameter in parameters.split(|&b| b == b' ').filter(|p| !p.is_empty()) {
        mail.has_parameters = true;
        let (key, value) = match parameter.iter().position(|&b| b == b'=') {
            Some(eq) => (&parameter[..eq], Some(&parameter[eq + 1..])),
            None => (parameter, None),
        };
        let key = String::from_utf8_lossy(key).to_ascii_uppercase();
        if seen.contains(&key) {
            return Err(CommandError::Syntax("A MAIL parameter is given twice"));
        }
        seen.push(key.clone());
        match (key.as_str(), value) {
            ("SIZE", Some(value)) => mail.size = Some(parse_number(value, "SIZE")?),
            ("BODY", Some(value)) => {
                mail.body = Some(match value.to_ascii_uppercase().as_slice() {
                    b"7BIT" => Body::SevenBit,
                    b"8BITMIME" => Body::EightBitMime,
                    _ => {
                        return Err(CommandError::UnsupportedParameter(format!(
                            "BODY={}",
                            String::from_utf8_lossy(value)
                        )));
                    }
                })
            }
            ("SMTPUTF8", None) => mail.smtputf8 = true,
            // RFC 4954 lets a server ignore the AUTH parameter it does not
            // trust; the authenticated user of this session is recorded.
            ("AUTH", Some(_)) => {}
            ("SIZE" | "BODY" | "AUTH", None) => {
                return Err(CommandError::Syntax("MAIL parameter requires a value"));
            }
            ("SMTPUTF8", Some(_)) => {
                return Err(CommandError::Syntax("SMTPUTF8 takes no value"));
            }
            _ => return Err(CommandError::UnsupportedParameter(key)),
        }
    }
    Ok(mail)
}

fn parse_rcpt(rest: &[u8]) -> Result<String, CommandError> {
    let path =
        strip_keyword(rest, b"TO:").ok_or(CommandError::Syntax("Syntax: RCPT TO:<address>"))?;
    let (address, parameters) = split_path(path).map_err(CommandError::BadRecipient)?;
    check_mailbox(&address, true).map_err(CommandError::BadRecipient)?;
    if let Some(parameter) = parameters.split(|&b| b == b' ').find(|p| !p.is_empty()) {
        let key = parameter.split(|&b| b == b'=').next().unwrap_or_default();
        return Err(CommandError::UnsupportedParameter(
            String::from_utf8_lossy(key).to_ascii_uppercase(),
        ));
    }
    Ok(address)
}

fn parse_bdat(rest: &[u8]) -> Result<Command, CommandError> {
    let mut words = rest.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let size = words
        .next()
        .ok_or(CommandError::Syntax("Syntax: BDAT <size> [LAST]"))?;
    let size = parse_number(size, "BDAT")?;
    let last = match words.next() {
        None => false,
        Some(word) if word.eq_ignore_ascii_case(b"LAST") => true,
        Some(_) => return Err(CommandError::Syntax("Syntax: BDAT <size> [LAST]")),
    };
    if words.next().is_some() {
        return Err(CommandError::Syntax("Syntax: BDAT <size> [LAST]"));
    }
    Ok(Command::Bdat { size, last })
}

fn parse_auth(rest: &[u8]) -> Result<Command, CommandError> {
    let mut words = rest.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let mechanism = words.next().ok_or(CommandError::Syntax(
        "Syntax: AUTH <mechanism> [initial-response]",
    ))?;
    let initial = words
        .next()
        .map(|w| String::from_utf8_lossy(w).into_owned());
    if words.next().is_some() {
        return Err(CommandError::Syntax(
            "Syntax: AUTH <mechanism> [initial-response]",
        ));
    }
    Ok(Command::Auth {
        mechanism: String::from_utf8_lossy(mechanism).to_ascii_uppercase(),
        initial,
    })
}

fn parse_number(digits: &[u8], what: &'static str) -> Result<u64, CommandError> {
    let error = if what == "SIZE" {
        "SIZE requires a number of bytes"
    } else {
        "BDAT requires a chunk size in bytes"
    };
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(CommandError::Syntax(error));
    }
    std::str::from_utf8(digits)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or(CommandError::Syntax(error))
}

/// Splits the first word (the verb) from the rest of the line.
fn split_word(line: &[u8]) -> (&[u8], &[u8]) {
    let line = trim(line);
    match line.iter().position(|&b| b == b' ') {
        Some(space) => (&line[..space], &line[space + 1..]),
        None => (line, &[]),
    }
}

/// Strips `keyword` (such as `FROM:`) from the start of `rest`, ignoring
/// case and leading spaces, and the spaces after it.
fn strip_keyword<'a>(rest: &'a [u8], keyword: &[u8]) -> Option<&'a [u8]> {
    let rest = trim(rest);
    if rest.len() < keyword.len() || !rest[..keyword.len()].eq_ignore_ascii_case(keyword) {
        return None;
    }
    Some(trim(&rest[keyword.len()..]))
}

/// Splits a path from the parameters after it. Returns the address inside
/// the angle brackets without a source route (`@a,@b:`), which RFC 5321
/// says to accept and ignore.
fn split_path(path: &[u8]) -> Result<(String, &[u8]), &'static str> {
    let (inside, rest) = if path.first() == Some(&b'<') {
        let end = closing_bracket(path).ok_or("Address is missing its closing '>'")?;
        let rest = &path[end + 1..];
        if !rest.is_empty() && rest[0] != b' ' {
            return Err("Unexpected text after the address");
        }
        (&path[1..end], rest)
    } else {
        // A bare address, as some old clients send it.
        let end = path.iter().position(|&b| b == b' ').unwrap_or(path.len());
        (&path[..end], &path[end..])
    };
    let inside = match inside.first() {
        Some(b'@') => {
            let colon = inside
                .iter()
                .position(|&b| b == b':')
                .ok_or("Source route without ':'")?;
            &inside[colon + 1..]
        }
        _ => inside,
    };
    let address = String::from_utf8(inside.to_vec()).map_err(|_| "Address is not valid UTF-8")?;
    Ok((address, rest))
}

/// Finds the `>` that closes the path opened at `path[0]`, skipping
/// quoted strings in the local part.
fn closing_bracket(path: &[u8]) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (index, &byte) in path.iter().enumerate().skip(1) {
        if escaped {
            escaped = false;
        } else if quoted && byte == b'\\' {
            escaped = true;
        } else if byte == b'"' {
            quoted = !quoted;
        } else if byte == b'>' && !quoted {
            return Some(index);
        }
    }
    None
}

/// Checks a mailbox loosely: no control characters, no unquoted spaces,
/// and a local part and a domain around an `@`. A recipient may also be
/// the bare `Postmaster` that RFC 5321 requires servers to accept.
fn check_mailbox(address: &str, recipient: bool) -> Result<(), &'static str> {
    if address.is_empty() {
        return Err("Address is empty");
    }
    if address.chars().any(char::is_control) {
        return Err("Address contains a control character");
    }
    if recipient && address.eq_ignore_ascii_case("postmaster") {
        return Ok(());
    }
    let at = local_part_end(address).ok_or("Address has no '@domain'")?;
    let (local, domain) = (&address[..at], &address[at + 1..]);
    if local.is_empty() || domain.is_empty() {
        return Err("Address needs a local part and a domain");
    }
    if domain.contains(' ') || (!local.starts_with('"') && local.contains(' ')) {
        return Err("Address contains a space");
    }
    Ok(())
}

/// Returns the index of the `@` that ends the local part, which may be a
/// quoted string holding `@` itself.
fn local_part_end(address: &str) -> Option<usize> {
    if address.starts_with('"') {
        let close = closing_quote(address.as_bytes())?;
        return (address.as_bytes().get(close + 1) == Some(&b'@')).then_some(close + 1);
    }
    address.rfind('@')
}

fn closing_quote(bytes: &[u8]) -> Option<usize> {
    let mut escaped = false;
    for (index, &byte) in bytes.iter().enumerate().skip(1) {
        if escaped {
            escaped = false;
        } else if byte == b'\\' {
            escaped = true;
        } else if byte == b'"' {
            return Some(index);
        }
    }
    None
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |last| last + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(line: &str) -> MailFrom {
        match parse(line.as_bytes()) {
            Ok(Command::Mail(mail)) => mail,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    fn rcpt(line: &str) -> Result<String, CommandError> {
        parse(line.as_bytes()).map(|command| match command {
            Command::Rcpt(address) => address,
            other => panic!("{line:?} parsed as {other:?}"),
        })
    }

    #[test]
    fn verbs_ignore_case() {
        assert_eq!(
            parse(b"ehlo client.example"),
            Ok(Command::Ehlo("client.example".into()))
        );
        assert_eq!(parse(b"DaTa"), Ok(Command::Data));
        assert_eq!(parse(b"noop anything"), Ok(Command::Noop));
        assert_eq!(parse(b"StartTLS"), Ok(Command::StartTls));
    }

    #[test]
    fn unknown_and_http_verbs() {
        assert_eq!(parse(b"XYZZY"), Err(CommandError::Unrecognized));
        assert_eq!(parse(b""), Err(CommandError::Unrecognized));
        assert_eq!(parse(b"\xff\xfe"), Err(CommandError::Unrecognized));
        assert_eq!(parse(b"GET / HTTP/1.1"), Err(CommandError::NonSmtp));
        assert_eq!(parse(b"POST /x HTTP/1.0"), Err(CommandError::NonSmtp));
    }

    #[test]
    fn ehlo_requires_argument() {
        assert_eq!(
            parse(b"EHLO"),
            Err(CommandError::Syntax(
                "EHLO requires a domain or address literal"
            ))
        );
        assert_eq!(
            parse(b"HELO [127.0.0.1]"),
            Ok(Command::Helo("[127.0.0.1]".into()))
        );
    }

    #[test]
    fn mail_with_parameters() {
        let parsed = mail("MAIL FROM:<shop@example.jp> SIZE=1024 BODY=8BITMIME SMTPUTF8 AUTH=<>");
        assert_eq!(parsed.address, "shop@example.jp");
        assert_eq!(parsed.size, Some(1024));
        assert_eq!(parsed.body, Some(Body::EightBitMime));
        assert!(parsed.smtputf8);
        assert!(parsed.has_parameters);
    }

    #[test]
    fn mail_null_sender_and_lenient_forms() {
        assert_eq!(mail("MAIL FROM:<>").address, "");
        assert!(!mail("MAIL FROM:<>").has_parameters);
        assert_eq!(mail("mail from: <a@b.example>").address, "a@b.example");
        assert_eq!(mail("MAIL FROM:a@b.example SIZE=5").size, Some(5));
        assert_eq!(
            mail("MAIL FROM:<@relay.example,@r2.example:a@b.example>").address,
            "a@b.example"
        );
        assert_eq!(
            mail("MAIL FROM:<\"odd >name\"@b.example>").address,
            "\"odd >name\"@b.example"
        );
    }

    #[test]
    fn mail_errors() {
        assert_eq!(
            parse(b"MAIL TO:<a@b>"),
            Err(CommandError::Syntax(
                "Syntax: MAIL FROM:<address> [parameters]"
            ))
        );
        assert_eq!(
            parse(b"MAIL FROM:<a@b.example"),
            Err(CommandError::BadSender(
                "Address is missing its closing '>'"
            ))
        );
        assert_eq!(
            parse(b"MAIL FROM:<nodomain>"),
            Err(CommandError::BadSender("Address has no '@domain'"))
        );
        assert_eq!(
            parse(b"MAIL FROM:<a@b> SIZE=ten"),
            Err(CommandError::Syntax("SIZE requires a number of bytes"))
        );
        assert_eq!(
            parse(b"MAIL FROM:<a@b> BODY=BINARYMIME"),
            Err(CommandError::UnsupportedParameter("BODY=BINARYMIME".into()))
        );
        assert_eq!(
            parse(b"MAIL FROM:<a@b> RET=FULL"),
            Err(CommandError::UnsupportedParameter("RET".into()))
        );
        assert_eq!(
            parse(b"MAIL FROM:<a@b> SIZE=1 SIZE=2"),
            Err(CommandError::Syntax("A MAIL parameter is given twice"))
        );
        assert_eq!(
            parse(b"MAIL FROM:<a\x01@b>"),
            Err(CommandError::BadSender(
                "Address contains a control character"
            ))
        );
        assert_eq!(
            parse(b"MAIL FROM:<a@b>x"),
            Err(CommandError::BadSender("Unexpected text after the address"))
        );
    }

    #[test]
    fn rcpt_forms() {
        assert_eq!(
            rcpt("RCPT TO:<archive@example.jp>"),
            Ok("archive@example.jp".into())
        );
        assert_eq!(rcpt("RCPT TO:<Postmaster>"), Ok("Postmaster".into()));
        assert_eq!(
            rcpt("RCPT TO:<用户@例子.广告>"),
            Ok("用户@例子.广告".into())
        );
        assert_eq!(
            rcpt("RCPT TO:<>"),
            Err(CommandError::BadRecipient("Address is empty"))
        );
        assert_eq!(
            rcpt("RCPT TO:<a@b> NOTIFY=NEVER"),
            Err(CommandError::UnsupportedParameter("NOTIFY".into()))
        );
        assert_eq!(
            parse(b"RCPT TO:<\xff@b>"),
            Err(CommandError::BadRecipient("Address is not valid UTF-8"))
        );
    }

    #[test]
    fn bdat_forms() {
        assert_eq!(
            parse(b"BDAT 100 LAST"),
            Ok(Command::Bdat {
                size: 100,
                last: true
            })
        );
        assert_eq!(
            parse(b"bdat 0 last"),
            Ok(Command::Bdat {
                size: 0,
                last: true
            })
        );
        assert_eq!(
            parse(b"BDAT 7"),
            Ok(Command::Bdat {
                size: 7,
                last: false
            })
        );
        assert_eq!(
            parse(b"BDAT"),
            Err(CommandError::Syntax("Syntax: BDAT <size> [LAST]"))
        );
        assert_eq!(
            parse(b"BDAT 1 FIRST"),
            Err(CommandError::Syntax("Syntax: BDAT <size> [LAST]"))
        );
        assert_eq!(
            parse(b"BDAT 99999999999999999999999"),
            Err(CommandError::Syntax("BDAT requires a chunk size in bytes"))
        );
    }

    #[test]
    fn auth_forms() {
        assert_eq!(
            parse(b"AUTH plain AGFsaWNlAHNlY3JldA=="),
            Ok(Command::Auth {
                mechanism: "PLAIN".into(),
                initial: Some("AGFsaWNlAHNlY3JldA==".into())
            })
        );
        assert_eq!(
            parse(b"AUTH LOGIN"),
            Ok(Command::Auth {
                mechanism: "LOGIN".into(),
                initial: None
            })
        );
    }

    #[test]
    fn arguments_where_none_are_allowed() {
        assert_eq!(
            parse(b"DATA x"),
            Err(CommandError::Syntax("DATA takes no arguments"))
        );
        assert_eq!(
            parse(b"QUIT now"),
            Err(CommandError::Syntax("QUIT takes no arguments"))
        );
        assert_eq!(
            parse(b"VRFY"),
            Err(CommandError::Syntax("VRFY requires an argument"))
        );
        assert_eq!(parse(b"VRFY postmaster"), Ok(Command::Vrfy));
    }
}
