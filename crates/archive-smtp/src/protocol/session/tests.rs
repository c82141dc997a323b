use super::*;

fn policy() -> Policy {
    Policy {
        hostname: "archive.test".into(),
        max_message_bytes: 1000,
        max_recipients: 3,
        recipients: RecipientFilter::default(),
        tls_available: true,
        auth_available: true,
        auth_without_tls: false,
        auth_required: false,
    }
}

fn session_with(policy: Policy) -> Session {
    Session::new(Arc::new(policy))
}

/// Sends `line` and returns the reply, panicking on any other action.
fn reply(session: &mut Session, line: &str) -> String {
    match session.handle(line.as_bytes()) {
        Action::Reply(reply) => reply.to_string(),
        other => panic!("{line:?} gave {other:?}"),
    }
}

fn greeted() -> Session {
    let mut session = session_with(policy());
    reply(&mut session, "EHLO client.test");
    session
}

#[test]
fn ehlo_lists_extensions() {
    let mut session = session_with(policy());
    assert_eq!(
        reply(&mut session, "EHLO client.test"),
        "250-archive.test greets client.test / 250-PIPELINING / 250-SIZE 1000 / 250-8BITMIME / \
         250-SMTPUTF8 / 250-ENHANCEDSTATUSCODES / 250-CHUNKING / 250 STARTTLS"
    );
}

#[test]
fn ehlo_after_tls_offers_auth() {
    let mut session = session_with(policy());
    reply(&mut session, "EHLO client.test");
    assert_eq!(session.handle(b"STARTTLS"), Action::StartTls);
    session.tls_started();
    assert_eq!(session.helo_name(), None);
    let ehlo = reply(&mut session, "EHLO client.test");
    assert!(
        ehlo.ends_with("250-CHUNKING / 250 AUTH PLAIN LOGIN"),
        "{ehlo}"
    );
}

#[test]
fn helo_reply_is_one_line() {
    let mut session = session_with(policy());
    assert_eq!(reply(&mut session, "HELO client.test"), "250 archive.test");
    assert!(!session.is_extended());
}

#[test]
fn full_transaction() {
    let mut session = greeted();
    assert_eq!(
        reply(&mut session, "MAIL FROM:<shop@example.jp>"),
        "250 2.1.0 Ok"
    );
    assert_eq!(
        reply(&mut session, "RCPT TO:<a@example.jp>"),
        "250 2.1.5 Ok"
    );
    assert_eq!(
        reply(&mut session, "RCPT TO:<b@example.jp>"),
        "250 2.1.5 Ok"
    );
    assert_eq!(session.handle(b"DATA"), Action::ReceiveData);
    let transaction = session.transaction().unwrap();
    assert_eq!(transaction.from, "shop@example.jp");
    assert_eq!(transaction.recipients, ["a@example.jp", "b@example.jp"]);
    session.end_transaction();
    assert!(session.transaction().is_none());
}

#[test]
fn sequence_errors() {
    let mut session = session_with(policy());
    assert_eq!(
        reply(&mut session, "MAIL FROM:<a@b.test>"),
        "503 5.5.1 Send EHLO or HELO first"
    );
    reply(&mut session, "EHLO client.test");
    assert_eq!(
        reply(&mut session, "RCPT TO:<a@b.test>"),
        "503 5.5.1 Need MAIL before RCPT"
    );
    assert_eq!(reply(&mut session, "DATA"), "503 5.5.1 Need MAIL command");
    reply(&mut session, "MAIL FROM:<a@b.test>");
    assert_eq!(
        reply(&mut session, "MAIL FROM:<a@b.test>"),
        "503 5.5.1 Sender already specified"
    );
    assert_eq!(reply(&mut session, "DATA"), "554 5.5.1 No valid recipients");
    assert_eq!(
        reply(&mut session, "STARTTLS"),
        "503 5.5.1 STARTTLS is not allowed during a mail transaction"
    );
}

#[test]
fn rset_and_ehlo_end_transaction() {
    let mut session = greeted();
    reply(&mut session, "MAIL FROM:<a@b.test>");
    assert_eq!(reply(&mut session, "RSET"), "250 2.0.0 Ok");
    assert!(session.transaction().is_none());
    reply(&mut session, "MAIL FROM:<a@b.test>");
    reply(&mut session, "EHLO again.test");
    assert!(session.transaction().is_none());
    assert_eq!(session.helo_name(), Some("again.test"));
}

#[test]
fn simple_commands() {
    let mut session = greeted();
    assert_eq!(reply(&mut session, "NOOP"), "250 2.0.0 Ok");
    assert_eq!(
        reply(&mut session, "VRFY postmaster"),
        "252 2.5.0 Cannot VRFY user, but will accept message"
    );
    assert_eq!(
        reply(&mut session, "EXPN list"),
        "502 5.5.1 EXPN is not implemented"
    );
    assert!(reply(&mut session, "HELP").starts_with("214 2.0.0 Commands:"));
    assert_eq!(
        session.handle(b"QUIT"),
        Action::Close(Reply::new(221, "2.0.0", "Bye"))
    );
}

#[test]
fn size_parameter_over_limit() {
    let mut session = greeted();
    assert_eq!(
        reply(&mut session, "MAIL FROM:<a@b.test> SIZE=1001"),
        "552 5.3.4 Message size exceeds fixed maximum message size of 1000 bytes"
    );
    assert!(session.transaction().is_none());
    assert_eq!(
        reply(&mut session, "MAIL FROM:<a@b.test> SIZE=1000"),
        "250 2.1.0 Ok"
    );
}

#[test]
fn recipient_limit_gives_452() {
    let mut session = greeted();
    reply(&mut session, "MAIL FROM:<a@b.test>");
    for n in 0..3 {
        assert_eq!(
            reply(&mut session, &format!("RCPT TO:<r{n}@b.test>")),
            "250 2.1.5 Ok"
        );
    }
    assert_eq!(
        reply(&mut session, "RCPT TO:<r3@b.test>"),
        "452 4.5.3 Too many recipients"
    );
    assert_eq!(session.transaction().unwrap().recipients.len(), 3);
}

#[test]
fn recipient_budget_gives_452() {
    let mut policy = policy();
    policy.max_recipients = 10_000;
    let mut session = session_with(policy);
    reply(&mut session, "EHLO client.test");
    reply(&mut session, "MAIL FROM:<a@b.test>");
    let local = "x".repeat(1000);
    let mut accepted = 0;
    loop {
        let line = format!("RCPT TO:<{local}{accepted}@b.test>");
        match reply(&mut session, &line).as_str() {
            "250 2.1.5 Ok" => accepted += 1,
            "452 4.5.3 Too many recipients" => break,
            other => panic!("unexpected {other}"),
        }
        assert!(accepted < 1000, "the budget must stop recipients");
    }
    // 53,248 bytes of budget at 1,011 to 1,012 bytes per recipient.
    assert_eq!(accepted, 52);
}

#[test]
fn recipient_filter_rejects_relay() {
    let mut policy = policy();
    policy.recipients =
        RecipientFilter::new(&["Archive@Example.jp".into(), "@journal.test".into()]);
    let mut session = session_with(policy);
    reply(&mut session, "EHLO client.test");
    reply(&mut session, "MAIL FROM:<shop@example.jp>");
    assert_eq!(
        reply(&mut session, "RCPT TO:<archive@EXAMPLE.jp>"),
        "250 2.1.5 Ok"
    );
    assert_eq!(
        reply(&mut session, "RCPT TO:<any@Journal.test>"),
        "250 2.1.5 Ok"
    );
    assert_eq!(
        reply(&mut session, "RCPT TO:<customer@example.com>"),
        "550 5.7.1 Relay access denied: customer@example.com is not an archive address"
    );
    assert_eq!(session.transaction().unwrap().recipients.len(), 2);
}

#[test]
fn non_ascii_needs_ehlo() {
    let mut session = session_with(policy());
    reply(&mut session, "HELO client.test");
    assert_eq!(
        reply(&mut session, "MAIL FROM:<用户@例子.广告>"),
        "553 5.6.7 Non-ASCII address requires EHLO and the SMTPUTF8 extension"
    );
    assert_eq!(
        reply(&mut session, "MAIL FROM:<a@b.test> BODY=8BITMIME"),
        "555 5.5.4 MAIL parameters are not allowed after HELO; use EHLO"
    );
    let mut session = greeted();
    assert_eq!(
        reply(&mut session, "MAIL FROM:<用户@例子.广告> SMTPUTF8"),
        "250 2.1.0 Ok"
    );
    assert_eq!(
        reply(&mut session, "RCPT TO:<아카이브@예시.테스트>"),
        "250 2.1.5 Ok"
    );
    assert!(session.transaction().unwrap().smtputf8);
}

#[test]
fn bdat_chunks_and_failure() {
    let mut session = greeted();
    reply(&mut session, "MAIL FROM:<a@b.test>");
    reply(&mut session, "RCPT TO:<c@d.test>");
    assert_eq!(
        session.handle(b"BDAT 10"),
        Action::ReceiveChunk {
            size: 10,
            last: false
        }
    );
    assert_eq!(
        reply(&mut session, "DATA"),
        "503 5.5.1 DATA cannot follow BDAT"
    );
    let failure = Reply::new(552, "5.3.4", "too big");
    session.fail_chunks(failure.clone());
    assert_eq!(
        session.handle(b"BDAT 5"),
        Action::DiscardChunk {
            size: 5,
            reply: failure.clone()
        }
    );
    assert_eq!(
        session.handle(b"BDAT 5 LAST"),
        Action::DiscardChunk {
            size: 5,
            reply: failure
        }
    );
    assert!(session.transaction().is_none());
    match session.handle(b"BDAT 3 LAST") {
        Action::DiscardChunk { size: 3, reply } => {
            assert_eq!(reply.to_string(), "503 5.5.1 Need MAIL command")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bdat_without_recipients_is_discarded() {
    let mut session = greeted();
    reply(&mut session, "MAIL FROM:<a@b.test>");
    match session.handle(b"BDAT 4 LAST") {
        Action::DiscardChunk { size: 4, reply } => {
            assert_eq!(reply.to_string(), "554 5.5.1 No valid recipients")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn errors_close_after_limit() {
    let mut session = session_with(policy());
    for _ in 1..MAX_ERRORS {
        assert_eq!(
            reply(&mut session, "\u{1}garbage"),
            "500 5.5.2 Command unrecognized"
        );
    }
    assert_eq!(
        session.handle(b"garbage"),
        Action::Close(Reply::new(
            421,
            "4.7.0",
            "Too many errors; closing connection"
        ))
    );
}

#[test]
fn http_request_closes() {
    let mut session = session_with(policy());
    match session.handle(b"GET / HTTP/1.1") {
        Action::Close(reply) => assert_eq!(reply.code(), 421),
        other => panic!("{other:?}"),
    }
}

#[test]
fn auth_rules() {
    let mut session = greeted();
    assert_eq!(
        reply(&mut session, "AUTH PLAIN"),
        "538 5.7.11 Encryption required for requested authentication mechanism; use STARTTLS"
    );
    let mut plaintext = policy();
    plaintext.auth_without_tls = true;
    let mut session = session_with(plaintext);
    assert_eq!(
        reply(&mut session, "AUTH PLAIN"),
        "503 5.5.1 Send EHLO first"
    );
    reply(&mut session, "EHLO client.test");
    assert_eq!(
        reply(&mut session, "AUTH CRAM-MD5"),
        "504 5.5.4 Unrecognized authentication type; use PLAIN or LOGIN"
    );
    assert_eq!(
        session.handle(b"AUTH LOGIN"),
        Action::Authenticate {
            mechanism: Mechanism::Login,
            initial: None
        }
    );
    session.authenticated("postfix".into());
    assert_eq!(
        reply(&mut session, "AUTH PLAIN"),
        "503 5.5.1 Already authenticated"
    );
    assert_eq!(session.user(), Some("postfix"));
}

#[test]
fn auth_required_before_mail() {
    let mut required = policy();
    required.auth_required = true;
    let mut session = session_with(required);
    reply(&mut session, "EHLO client.test");
    assert_eq!(
        reply(&mut session, "MAIL FROM:<a@b.test>"),
        "530 5.7.0 Authentication required"
    );
    session.authenticated("postfix".into());
    assert_eq!(reply(&mut session, "MAIL FROM:<a@b.test>"), "250 2.1.0 Ok");
}

#[test]
fn auth_failures_close() {
    let mut session = greeted();
    let failed = Reply::new(535, "5.7.8", "Authentication credentials invalid");
    for _ in 1..MAX_AUTH_FAILURES {
        assert_eq!(
            session.auth_failed(failed.clone()),
            Action::Reply(failed.clone())
        );
    }
    match session.auth_failed(failed) {
        Action::Close(reply) => assert_eq!(reply.code(), 421),
        other => panic!("{other:?}"),
    }
}

#[test]
fn starttls_rules() {
    let mut no_tls = policy();
    no_tls.tls_available = false;
    let mut session = session_with(no_tls);
    reply(&mut session, "EHLO client.test");
    assert_eq!(
        reply(&mut session, "STARTTLS"),
        "502 5.5.1 STARTTLS is not available"
    );
    let mut session = session_with(policy());
    assert_eq!(reply(&mut session, "STARTTLS"), "503 5.5.1 Send EHLO first");
    reply(&mut session, "EHLO client.test");
    assert_eq!(session.handle(b"STARTTLS"), Action::StartTls);
    session.tls_started();
    reply(&mut session, "EHLO client.test");
    assert_eq!(
        reply(&mut session, "STARTTLS"),
        "503 5.5.1 TLS is already active"
    );
}
