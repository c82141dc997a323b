//! The receiver against a raw SMTP client on loopback: exact replies and
//! exact stored bytes.

mod support;

use archive_core::Source;
use support::{Client, archived_reply, config, message, start};

#[tokio::test]
async fn ehlo_lists_extensions() {
    let server = start(config()).await;
    let mut client = server.client().await;
    assert_eq!(
        client.command("EHLO client.test").await,
        "250-archive.test greets client.test / 250-PIPELINING / 250-SIZE 52428800 / \
         250-8BITMIME / 250-SMTPUTF8 / 250-ENHANCEDSTATUSCODES / 250 CHUNKING"
    );
    assert_eq!(
        client.command("VRFY customer@example.com").await,
        "252 2.5.0 Cannot VRFY user, but will accept message"
    );
    assert_eq!(client.command("NOOP").await, "250 2.0.0 Ok");
    assert_eq!(client.command("QUIT").await, "221 2.0.0 Bye");
    assert!(client.read_to_end().await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn message_stored_with_envelope() {
    let server = start(config()).await;
    let mut client = server.client().await;
    client
        .envelope(
            "shop@example.jp",
            &["archive@example.jp", "customer@example.com"],
        )
        .await;
    let sent = message(1);
    assert_eq!(client.data(&sent).await, archived_reply(&sent));
    assert_eq!(client.command("QUIT").await, "221 2.0.0 Bye");

    let stored = server.stored().await;
    assert_eq!(stored.len(), 1);
    let (raw, meta) = &stored[0];
    assert_eq!(raw.as_ref(), sent.as_slice());
    assert_eq!(meta.source, Source::Smtp);
    assert_eq!(meta.envelope_from.as_deref(), Some("shop@example.jp"));
    assert_eq!(
        meta.envelope_to,
        ["archive@example.jp", "customer@example.com"]
    );
    assert!(meta.received_at.is_some());
    let origin = meta.origin.as_deref().unwrap();
    assert!(origin.starts_with("SMTP client 127.0.0.1:"), "{origin}");
    assert_eq!(meta.app["smtp.helo"], "client.test");
    assert_eq!(meta.app["smtp.tls"], "none");
    assert_eq!(meta.app["smtp.protocol"], "ESMTP");
    assert_eq!(meta.app["smtp.listener"], server.addr.to_string());
    assert!(!meta.app.contains_key("smtp.auth"));
    let found = server
        .archive
        .find_by_message_id("<order-1@example.jp>")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn null_sender_and_helo() {
    let server = start(config()).await;
    let mut client = server.client().await;
    assert_eq!(
        client.command("HELO old.client.test").await,
        "250 archive.test"
    );
    assert_eq!(client.command("MAIL FROM:<>").await, "250 2.1.0 Ok");
    assert_eq!(
        client.command("RCPT TO:<archive@example.jp>").await,
        "250 2.1.5 Ok"
    );
    let sent = message(2);
    assert_eq!(client.data(&sent).await, archived_reply(&sent));
    let stored = server.stored().await;
    assert_eq!(stored[0].1.envelope_from.as_deref(), Some(""));
    assert_eq!(stored[0].1.app["smtp.protocol"], "SMTP");
    assert_eq!(stored[0].1.app["smtp.helo"], "old.client.test");
    server.stop().await;
}

#[tokio::test]
async fn dot_stuffing_is_undone() {
    let server = start(config()).await;
    let mut client = server.client().await;
    client
        .envelope("shop@example.jp", &["archive@example.jp"])
        .await;
    assert_eq!(
        client.command("DATA").await,
        "354 End data with <CR><LF>.<CR><LF>"
    );
    client
        .send(b"Subject: dots\r\n\r\n..\r\n...leading\r\n.x\r\nmiddle . dot\r\n..\r\n.\r\n")
        .await;
    let expected = b"Subject: dots\r\n\r\n.\r\n..leading\r\nx\r\nmiddle . dot\r\n.\r\n";
    assert_eq!(client.reply().await, archived_reply(expected));
    assert_eq!(server.stored().await[0].0.as_ref(), expected);
    server.stop().await;
}

#[tokio::test]
async fn bare_lf_and_8bit_kept() {
    let server = start(config()).await;
    let mut client = server.client().await;
    client.command("EHLO client.test").await;
    assert_eq!(
        client
            .command("MAIL FROM:<shop@example.jp> BODY=8BITMIME")
            .await,
        "250 2.1.0 Ok"
    );
    client.command("RCPT TO:<archive@example.jp>").await;
    assert_eq!(
        client.command("DATA").await,
        "354 End data with <CR><LF>.<CR><LF>"
    );
    // A bare LF line with only a period does not end the data.
    let body: &[u8] = b"Subject: =?UTF-8?B?5rOo5paH?=\r\nContent-Type: text/plain; charset=Shift_JIS\r\n\r\n\
        \x82\xb2\x92\x8d\x95\xb6\x82\xa0\x82\xe8\x82\xaa\x82\xc6\x82\xa4\r\nbare\nlf\n.\nstill data\r\n\
        \xff\x00\xfe\r\n";
    client.send(body).await;
    client.send(b".\r\n").await;
    assert_eq!(client.reply().await, archived_reply(body));
    let stored = server.stored().await;
    assert_eq!(stored[0].0.as_ref(), body);
    assert_eq!(stored[0].1.app["smtp.body"], "8BITMIME");
    server.stop().await;
}

#[tokio::test]
async fn smtputf8_addresses_kept() {
    let server = start(config()).await;
    let mut client = server.client().await;
    client.command("EHLO client.test").await;
    assert_eq!(
        client
            .command("MAIL FROM:<ショップ@例え.jp> SMTPUTF8")
            .await,
        "250 2.1.0 Ok"
    );
    assert_eq!(
        client.command("RCPT TO:<アーカイブ@例え.jp>").await,
        "250 2.1.5 Ok"
    );
    assert_eq!(
        client.command("RCPT TO:<用户@例子.广告>").await,
        "250 2.1.5 Ok"
    );
    let sent =
        "From: ショップ@例え.jp\r\nSubject: ご注文ありがとうございます\r\n\r\n本文\r\n".as_bytes();
    assert_eq!(client.data(sent).await, archived_reply(sent));
    let stored = server.stored().await;
    let (raw, meta) = &stored[0];
    assert_eq!(raw.as_ref(), sent);
    assert_eq!(meta.envelope_from.as_deref(), Some("ショップ@例え.jp"));
    assert_eq!(meta.envelope_to, ["アーカイブ@例え.jp", "用户@例子.广告"]);
    assert_eq!(meta.app["smtp.smtputf8"], "yes");
    server.stop().await;
}

#[tokio::test]
async fn utf8_address_after_helo_rejected() {
    let server = start(config()).await;
    let mut client = server.client().await;
    client.command("HELO client.test").await;
    assert_eq!(
        client.command("MAIL FROM:<ショップ@例え.jp>").await,
        "553 5.6.7 Non-ASCII address requires EHLO and the SMTPUTF8 extension"
    );
    server.stop().await;
}

#[tokio::test]
async fn pipelined_batches() {
    let server = start(config()).await;
    let mut client = server.client().await;
    client
        .send(
            b"EHLO client.test\r\nMAIL FROM:<shop@example.jp>\r\nRCPT TO:<a@example.jp>\r\n\
              RCPT TO:<b@example.jp>\r\nDATA\r\n",
        )
        .await;
    assert!(
        client
            .reply()
            .await
            .starts_with("250-archive.test greets client.test")
    );
    assert_eq!(client.reply().await, "250 2.1.0 Ok");
    assert_eq!(client.reply().await, "250 2.1.5 Ok");
    assert_eq!(client.reply().await, "250 2.1.5 Ok");
    assert_eq!(client.reply().await, "354 End data with <CR><LF>.<CR><LF>");

    // The end of one message, a whole BDAT transaction and QUIT in one write.
    let first = message(10);
    let second = message(11);
    let mut batch = archive_smtp::protocol::dot_stuff(&first);
    batch.extend_from_slice(b"MAIL FROM:<shop@example.jp>\r\nRCPT TO:<c@example.jp>\r\n");
    batch.extend_from_slice(format!("BDAT {} LAST\r\n", second.len()).as_bytes());
    batch.extend_from_slice(&second);
    batch.extend_from_slice(b"QUIT\r\n");
    client.send(&batch).await;
    assert_eq!(client.reply().await, archived_reply(&first));
    assert_eq!(client.reply().await, "250 2.1.0 Ok");
    assert_eq!(client.reply().await, "250 2.1.5 Ok");
    assert_eq!(client.reply().await, archived_reply(&second));
    assert_eq!(client.reply().await, "221 2.0.0 Bye");

    let stored = server.stored().await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].1.envelope_to, ["a@example.jp", "b@example.jp"]);
    assert_eq!(stored[1].1.envelope_to, ["c@example.jp"]);
    server.stop().await;
}

#[tokio::test]
async fn bdat_chunks_joined() {
    let server = start(config()).await;
    let mut client = server.client().await;
    client
        .envelope("shop@example.jp", &["archive@example.jp"])
        .await;
    // Chunks are raw: no dot-stuffing, and a period line is content.
    let first: &[u8] = b"Subject: chunks\r\n\r\n.\r\n";
    let second: &[u8] = b"..second part\r\n";
    client
        .send(format!("BDAT {}\r\n", first.len()).as_bytes())
        .await;
    client.send(first).await;
    assert_eq!(
        client.reply().await,
        format!("250 2.0.0 {} bytes received", first.len())
    );
    client
        .send(format!("BDAT {}\r\n", second.len()).as_bytes())
        .await;
    client.send(second).await;
    assert_eq!(
        client.reply().await,
        format!("250 2.0.0 {} bytes received", second.len())
    );
    let whole = [first, second].concat();
    assert_eq!(client.command("BDAT 0 LAST").await, archived_reply(&whole));
    assert_eq!(server.stored().await[0].0.as_ref(), whole.as_slice());
    server.stop().await;
}

#[tokio::test]
async fn bdat_without_transaction_discarded() {
    let server = start(config()).await;
    let mut client = server.client().await;
    client.command("EHLO client.test").await;
    client.send(b"BDAT 6 LAST\r\nQUIT\r\n").await;
    // The six bytes "QUIT\r\n" are the chunk, not a command.
    assert_eq!(client.reply().await, "503 5.5.1 Need MAIL command");
    assert_eq!(client.command("NOOP").await, "250 2.0.0 Ok");
    assert!(server.stored().await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn disconnect_mid_data_stores_nothing() {
    let server = start(config()).await;
    let mut client = server.client().await;
    client
        .envelope("shop@example.jp", &["archive@example.jp"])
        .await;
    assert_eq!(
        client.command("DATA").await,
        "354 End data with <CR><LF>.<CR><LF>"
    );
    client.send(b"Subject: cut off\r\n\r\nhalf of the bo").await;
    drop(client);

    let mut client = server.client().await;
    client
        .envelope("shop@example.jp", &["archive@example.jp"])
        .await;
    let sent = message(3);
    assert_eq!(client.data(&sent).await, archived_reply(&sent));
    let stored = server.stored().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0.as_ref(), sent.as_slice());
    server.stop().await;
}

#[tokio::test]
async fn empty_message_rejected() {
    let server = start(config()).await;
    let mut client = server.client().await;
    client
        .envelope("shop@example.jp", &["archive@example.jp"])
        .await;
    assert_eq!(
        client.command("DATA").await,
        "354 End data with <CR><LF>.<CR><LF>"
    );
    assert_eq!(
        client.command(".").await,
        "554 5.6.0 Message is empty; nothing to archive"
    );
    assert!(server.stored().await.is_empty());
    server.stop().await;
}

fn small_limit() -> archive_smtp::SmtpConfig {
    let mut config = config();
    config.max_message_bytes = 1000;
    config
}

#[tokio::test]
async fn oversize_declared_at_mail() {
    let server = start(small_limit()).await;
    let mut client = server.client().await;
    assert!(
        client
            .command("EHLO client.test")
            .await
            .contains("250-SIZE 1000 /")
    );
    assert_eq!(
        client
            .command("MAIL FROM:<shop@example.jp> SIZE=1001")
            .await,
        "552 5.3.4 Message size exceeds fixed maximum message size of 1000 bytes"
    );
    assert_eq!(
        client
            .command("MAIL FROM:<shop@example.jp> SIZE=1000")
            .await,
        "250 2.1.0 Ok"
    );
    // A shutdown waits for open transactions; this one ends with the client.
    drop(client);
    server.stop().await;
}

#[tokio::test]
async fn oversize_data_read_to_end() {
    let server = start(small_limit()).await;
    let mut client = server.client().await;
    client
        .envelope("shop@example.jp", &["archive@example.jp"])
        .await;
    let big = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(2000));
    assert_eq!(
        client.data(big.as_bytes()).await,
        "552 5.3.4 Message size exceeds fixed maximum message size of 1000 bytes"
    );
    // The session goes on: the data was read to its end marker.
    assert_eq!(client.command("RSET").await, "250 2.0.0 Ok");
    client.command("MAIL FROM:<shop@example.jp>").await;
    client.command("RCPT TO:<archive@example.jp>").await;
    let sent = message(4);
    assert_eq!(client.data(&sent).await, archived_reply(&sent));
    assert_eq!(server.stored().await.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn oversize_bdat_fails_later_chunks() {
    let server = start(small_limit()).await;
    let mut client = server.client().await;
    client
        .envelope("shop@example.jp", &["archive@example.jp"])
        .await;
    let chunk = vec![b'x'; 600];
    let mut batch = b"BDAT 600\r\n".to_vec();
    batch.extend_from_slice(&chunk);
    batch.extend_from_slice(b"BDAT 600\r\n");
    batch.extend_from_slice(&chunk);
    batch.extend_from_slice(b"BDAT 600 LAST\r\n");
    batch.extend_from_slice(&chunk);
    client.send(&batch).await;
    let too_large = "552 5.3.4 Message size exceeds fixed maximum message size of 1000 bytes";
    assert_eq!(client.reply().await, "250 2.0.0 600 bytes received");
    assert_eq!(client.reply().await, too_large);
    assert_eq!(client.reply().await, too_large);
    assert_eq!(client.command("NOOP").await, "250 2.0.0 Ok");
    assert!(server.stored().await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn connection_flood_gets_421() {
    let mut config = config();
    config.max_connections = 4;
    let server = start(config).await;
    let mut admitted = Vec::new();
    for _ in 0..4 {
        admitted.push(server.client().await);
    }
    for _ in 0..20 {
        let mut client = Client::connect(server.addr).await;
        assert_eq!(
            client.reply().await,
            "421 4.3.2 Too many connections; try again later"
        );
        assert!(client.read_to_end().await.is_empty());
    }
    // The admitted clients are still served.
    for client in &mut admitted {
        assert_eq!(client.command("NOOP").await, "250 2.0.0 Ok");
    }
    server.stop().await;
}

#[tokio::test]
async fn in_flight_limit_gives_451() {
    let mut config = config();
    config.max_in_flight = 1;
    let server = start(config).await;
    let mut first = server.client().await;
    first
        .envelope("shop@example.jp", &["archive@example.jp"])
        .await;
    assert_eq!(
        first.command("DATA").await,
        "354 End data with <CR><LF>.<CR><LF>"
    );

    let mut second = server.client().await;
    second
        .envelope("shop@example.jp", &["archive@example.jp"])
        .await;
    assert_eq!(
        second.command("DATA").await,
        "451 4.3.2 Too many messages in progress; try again later"
    );
    let mut chunk = b"BDAT 5 LAST\r\n".to_vec();
    chunk.extend_from_slice(b"hello");
    second.command("MAIL FROM:<shop@example.jp>").await;
    second.command("RCPT TO:<archive@example.jp>").await;
    second.send(&chunk).await;
    assert_eq!(
        second.reply().await,
        "451 4.3.2 Too many messages in progress; try again later"
    );

    let sent = message(5);
    first.send(&archive_smtp::protocol::dot_stuff(&sent)).await;
    assert_eq!(first.reply().await, archived_reply(&sent));
    // The place is free again.
    second.command("MAIL FROM:<shop@example.jp>").await;
    second.command("RCPT TO:<archive@example.jp>").await;
    let retried = message(6);
    assert_eq!(second.data(&retried).await, archived_reply(&retried));
    assert_eq!(server.stored().await.len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn garbage_closes_after_errors() {
    let server = start(config()).await;
    let mut client = server.client().await;
    // Deterministic pseudo-random bytes without line feeds, as lines.
    let mut state: u32 = 0x1234_5678;
    for _ in 0..9 {
        let mut line: Vec<u8> = (0..40)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                match (state >> 24) as u8 {
                    b'\n' | b' ' | b'\t' | b'\r' => b'#',
                    byte => byte,
                }
            })
            .collect();
        line[0] |= 0x80;
        line.extend_from_slice(b"\r\n");
        client.send(&line).await;
        assert_eq!(client.reply().await, "500 5.5.2 Command unrecognized");
    }
    client.send(b"\x00\x01\x02\r\n").await;
    assert_eq!(
        client.reply().await,
        "421 4.7.0 Too many errors; closing connection"
    );
    assert!(client.read_to_end().await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn long_line_rejected() {
    let server = start(config()).await;
    let mut client = server.client().await;
    let mut line = vec![b'A'; 10_000];
    line.extend_from_slice(b"\r\n");
    client.send(&line).await;
    assert_eq!(client.reply().await, "500 5.5.2 Line too long");
    assert_eq!(client.command("NOOP").await, "250 2.0.0 Ok");
    server.stop().await;
}

#[tokio::test]
async fn http_request_closed() {
    let server = start(config()).await;
    let mut client = server.client().await;
    client
        .send(b"GET / HTTP/1.1\r\nHost: archive.test\r\n\r\n")
        .await;
    assert_eq!(
        client.reply().await,
        "421 4.7.0 Non-SMTP command received; closing connection"
    );
    assert!(client.read_to_end().await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn relay_attempt_rejected() {
    let mut config = config();
    config.accept_recipients = vec!["archive@example.jp".into()];
    let server = start(config).await;
    let mut client = server.client().await;
    client.command("EHLO client.test").await;
    client.command("MAIL FROM:<shop@example.jp>").await;
    assert_eq!(
        client.command("RCPT TO:<customer@example.com>").await,
        "550 5.7.1 Relay access denied: customer@example.com is not an archive address"
    );
    assert_eq!(
        client.command("DATA").await,
        "554 5.5.1 No valid recipients"
    );
    assert_eq!(
        client.command("RCPT TO:<Archive@Example.JP>").await,
        "250 2.1.5 Ok"
    );
    let sent = message(7);
    assert_eq!(client.data(&sent).await, archived_reply(&sent));
    assert_eq!(
        server.stored().await[0].1.envelope_to,
        ["Archive@Example.JP"]
    );
    server.stop().await;
}

#[tokio::test]
async fn client_outside_networks_rejected() {
    let mut config = config();
    config.allowed_networks = vec!["10.0.0.0/8".parse().unwrap()];
    let server = start(config).await;
    let mut client = Client::connect(server.addr).await;
    assert_eq!(
        client.reply().await,
        "554 5.7.1 Client address 127.0.0.1 is not allowed to connect"
    );
    assert!(client.read_to_end().await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn sequence_errors_answered() {
    let server = start(config()).await;
    let mut client = server.client().await;
    assert_eq!(
        client.command("MAIL FROM:<shop@example.jp>").await,
        "503 5.5.1 Send EHLO or HELO first"
    );
    client.command("EHLO client.test").await;
    assert_eq!(
        client.command("RCPT TO:<a@example.jp>").await,
        "503 5.5.1 Need MAIL before RCPT"
    );
    assert_eq!(client.command("DATA").await, "503 5.5.1 Need MAIL command");
    assert_eq!(
        client.command("STARTTLS").await,
        "502 5.5.1 STARTTLS is not available"
    );
    assert_eq!(
        client.command("AUTH PLAIN").await,
        "502 5.5.1 AUTH is not available"
    );
    assert_eq!(
        client.command("XYZZY").await,
        "500 5.5.2 Command unrecognized"
    );
    assert_eq!(
        client.command("MAIL FROM:<shop@example.jp> RET=HDRS").await,
        "555 5.5.4 Parameter RET is not recognized or not implemented"
    );
    server.stop().await;
}
