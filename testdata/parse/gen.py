#!/usr/bin/env python3
"""Writes the parser fixtures in this folder: one .eml per fault, each
next to a hand-written expected file (see crates/archive-core/tests/golden.rs).

The bytes come from Python's codecs (cp932, euc_jp, iso2022_jp, utf-8), not
from the parser under test. The expected values are the source strings.
Run from this folder: python3 gen.py
"""

import base64
import json
import os
import quopri

CRLF = "\r\n"
SHOP = "order@shop.example.jp"
CUSTOMER = "hoge.123@example.com"


def b_word(charset, data):
    return "=?%s?B?%s?=" % (charset, base64.b64encode(data).decode())


def q_word(charset, data):
    text = "".join(
        chr(b) if (chr(b).isalnum() and b < 128) else "=%02X" % b for b in data
    )
    return "=?%s?Q?%s?=" % (charset, text)


def jis_with_nec(text):
    """ISO-2022-JP bytes where NEC row 13 characters (①, ㈱) are written as
    CP50221 does: the CP932 code moved to JIS row 0x2D."""
    nec = {"①": b"-!", "②": b"-\"", "㈱": b"-j", "Ⅱ": b"-6"}
    out = b""
    for ch in text:
        if ch in nec:
            out += b"\x1b$B" + nec[ch] + b"\x1b(B"
        else:
            out += ch.encode("iso2022_jp")
    return out


def message(headers, body, content_type="text/plain; charset=UTF-8", cte="8bit"):
    lines = [
        "From: " + SHOP,
        "To: " + CUSTOMER,
        "Date: Fri, 04 Dec 2026 19:40:00 +0900",
        "Message-ID: <parse-fixture@shop.example.jp>",
        "MIME-Version: 1.0",
    ]
    head = CRLF.join(lines).encode() + CRLF.encode()
    for header in headers:
        head += header if isinstance(header, bytes) else header.encode()
        head += CRLF.encode()
    if content_type:
        head += ("Content-Type: %s\r\n" % content_type).encode()
    if cte:
        head += ("Content-Transfer-Encoding: %s\r\n" % cte).encode()
    return head + CRLF.encode() + body


def write(folder, name, raw, expected):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name + ".eml"), "wb") as f:
        f.write(raw)
    base = {
        "message_id": "parse-fixture@shop.example.jp",
        "date": "2026-12-04T10:40:00Z",
        "date_source": "header",
        "flags": [],
        "attachments": [],
    }
    base.update(expected)
    with open(os.path.join(folder, name + ".expected.json"), "w") as f:
        f.write(json.dumps(base, ensure_ascii=False, indent=2) + "\n")


def encoded_word_splits():
    folder = "encoded-word-splits"
    subject = "ご注文確認①髙橋様"
    data = subject.encode("cp932")
    # Cut after the lead byte of ご (82 B2): inside a character.
    raw = message(["Subject: %s\r\n %s" % (b_word("Shift_JIS", data[:1]), b_word("Shift_JIS", data[1:]))], "本文".encode(), cte="8bit")
    write(folder, "shift-jis-b-split", raw, {"subject": subject, "text": "本文"})

    subject = "発送のお知らせ"
    data = subject.encode("euc_jp")
    raw = message(["Subject: %s %s" % (b_word("EUC-JP", data[:3]), b_word("EUC-JP", data[3:]))], "本文".encode())
    write(folder, "euc-jp-b-split", raw, {"subject": subject, "text": "本文"})

    # ISO-2022-JP: the first word ends after the first byte of 注 inside ESC $ B.
    subject = "注文確認"
    data = subject.encode("iso2022_jp")  # ESC $ B 4 m J 8 3 N G ' ESC ( B
    raw = message(["Subject: %s\r\n %s" % (b_word("ISO-2022-JP", data[:4]), b_word("ISO-2022-JP", data[4:]))], "本文".encode())
    write(folder, "iso-2022-jp-b-split", raw, {"subject": subject, "text": "本文"})

    # Q words cut 1, 2 and 3 bytes into a 4-byte emoji and inside 様.
    name = "🎁山田様"
    data = name.encode()
    words = [q_word("utf-8", data[0:1]), q_word("UTF-8", data[1:3]), q_word("utf-8", data[3:5]), q_word("utf-8", data[5:11]), q_word("utf-8", data[11:])]
    raw = message(["Subject: " + "\r\n ".join(words), "Cc: " + " ".join(words) + " <cc@example.com>"], "本文".encode())
    write(folder, "q-split-offsets", raw, {"subject": name, "cc": [{"name": name, "address": "cc@example.com"}], "text": "本文"})

    # Windows labels in encoded words.
    entries = [
        ("CP932", "①㈱サンプル".encode("cp932")),
        ("MS932", "髙橋".encode("cp932")),
        ("Windows-31J", "Ⅱ型".encode("cp932")),
        ("ISO-2022-JP-MS", jis_with_nec("②注文")),
        ("CP50220", jis_with_nec("㈱商店")),
        ("CP50221", "ｻﾝﾌﾟﾙ".encode("iso2022_jp_ext")),
    ]
    for label, data in entries:
        raw = message(["Subject: " + b_word(label, data)], "本文".encode())
        text = {"CP932": "①㈱サンプル", "MS932": "髙橋", "Windows-31J": "Ⅱ型", "ISO-2022-JP-MS": "②注文", "CP50220": "㈱商店", "CP50221": "ｻﾝﾌﾟﾙ"}[label]
        write(folder, "label-" + label.lower(), raw, {"subject": text, "text": "本文"})


def charset_labels():
    folder = "charset-labels"
    body = "山田 太郎 様\n\n①髙品質ソファ（Ⅴ期モデル）×1\n販売元：㈱サンプル家具\n"
    crlf_body = body.replace("\n", CRLF)
    for label in ["CP932", "MS932", "Windows-31J"]:
        raw = message(["Subject: label " + label], crlf_body.encode("cp932"), "text/plain; charset=" + label)
        write(folder, "body-" + label.lower(), raw, {"subject": "label " + label, "text": body.rstrip("\n")})

    body = "山田 太郎 様\n\n①サンプル茶葉 ×2\n②サンプル急須 Ⅱ型\nﾒｰﾙ便でお届けします。\n"
    encoded = b""
    for line in body.split("\n"):
        if "ﾒｰﾙ" in line:
            head, tail = line.split("ﾒｰﾙ")
            encoded += jis_with_nec(head) + "ﾒｰﾙ".encode("iso2022_jp_ext") + jis_with_nec(tail)
        else:
            encoded += jis_with_nec(line)
        encoded += CRLF.encode()
    encoded = encoded[:-2]
    for label in ["ISO-2022-JP-MS", "CP50220", "CP50221"]:
        raw = message(["Subject: label " + label], encoded, "text/plain; charset=" + label, "7bit")
        write(folder, "body-" + label.lower(), raw, {"subject": "label " + label, "text": body.rstrip("\n")})

    body = "山田 太郎 様\n\nご注文ありがとうございます。商品の発送準備が整いましたので、お知らせいたします。\n"
    raw = message(["Subject: EUC-JP without charset"], body.replace("\n", CRLF).encode("euc_jp"), "text/plain")
    write(folder, "euc-jp-without-charset", raw, {"subject": "EUC-JP without charset", "text": body.rstrip("\n"), "flags": ["charset_guessed"]})

    subject = "ご注文確認のお知らせ（表示テスト）"
    name = "山田　表示"
    headers = [b"Subject: " + subject.encode("cp932"), b"Cc: \"" + name.encode("cp932") + b"\" <cc@example.com>"]
    raw = message(headers, "本文です。\r\n".encode("cp932"), "text/plain; charset=Shift_JIS")
    write(folder, "raw-shift-jis-subject", raw, {
        "subject": subject,
        "cc": [{"name": name, "address": "cc@example.com"}],
        "text": "本文です。",
        "flags": ["eight_bit_header"],
    })


def rfc2231():
    folder = "rfc2231"
    for label, codec, cut_name, name in [
        ("UTF-8", "utf-8", "utf8-split-inside-character", "明細書_注文.pdf"),
        ("Shift_JIS", "cp932", "shift-jis-split-inside-character", "注文明細表.pdf"),
    ]:
        data = name.encode(codec)
        if codec == "utf-8":
            cut = 1  # after E6 of 明
        else:
            cut = data.index(b"\x95\x5c") + 1  # between 95 and the 0x5C trail byte of 表
        pct = lambda chunk: "".join("%%%02X" % b for b in chunk)
        pdf = b"%PDF-1.4\n% fixture\n%%EOF\n"
        body = (
            "--b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n本文\r\n"
            "--b\r\nContent-Type: application/pdf\r\n"
            "Content-Disposition: attachment;\r\n filename*0*=%s'ja'%s;\r\n filename*1*=%s\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--b--\r\n"
        ) % (label, pct(data[:cut]), pct(data[cut:]), base64.b64encode(pdf).decode())
        raw = message(["Subject: rfc2231 " + cut_name], body.encode(), "multipart/mixed; boundary=b", None)
        write(folder, cut_name, raw, {
            "subject": "rfc2231 " + cut_name,
            "text": "本文",
            "attachments": [{"name": name, "content_type": "application/pdf", "size": len(pdf),
                             "sha256": __import__("hashlib").sha256(pdf).hexdigest(), "inline": False, "content_id": None}],
        })


def transfer():
    folder = "transfer"
    text = "山田 太郎 様\r\n\r\nご注文の明細をお送りします。\r\n"
    encoded = base64.b64encode(text.encode()).decode()
    junk = "!" + encoded[:7] + " " + encoded[7:30] + "\t*" + encoded[30:] + "\r\n"
    raw = message(["Subject: base64 junk"], junk.encode(), cte="base64")
    write(folder, "base64-junk", raw, {"subject": "base64 junk", "text": text.replace(CRLF, "\n").rstrip("\n"), "flags": ["invalid_base64"]})

    first, second = "前半です。", "後半です。"
    blocks = base64.b64encode(first.encode()).decode() + "\r\n" + base64.b64encode(second.encode()).decode() + "\r\n"
    raw = message(["Subject: base64 concatenated"], blocks.encode(), cte="base64")
    write(folder, "base64-concatenated", raw, {"subject": "base64 concatenated", "text": first + second})

    qp = quopri.encodestring("合計：1,000円\r\n".encode()).decode()
    body = "a=XYb =\r\n" + qp + "100% =ZZ done=\r\n= \r\nend="
    raw = message(["Subject: qp invalid"], body.encode(), cte="quoted-printable")
    write(folder, "qp-invalid-escapes", raw, {
        "subject": "qp invalid",
        "text": "a=XYb 合計：1,000円\n100% =ZZ doneend=",
        "flags": ["invalid_quoted_printable"],
    })


def structure():
    folder = "structure"
    pdf = b"%PDF-1.4\n% nested fixture\n%%EOF\n"
    body = (
        "--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
        "--inner\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nテキスト本文\r\n"
        "--inner\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n<p>HTML本文</p>\r\n"
        "--outer\r\nContent-Type: application/pdf; name=\"invoice.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n"
        "--outer--\r\n"
    ) % base64.b64encode(pdf).decode()
    raw = message(["Subject: nested missing close"], body.encode(), "multipart/mixed; boundary=\"outer\"", None)
    import hashlib
    write(folder, "nested-missing-closing-boundary", raw, {
        "subject": "nested missing close",
        "text": "テキスト本文",
        "html": True,
        "attachments": [{"name": "invoice.pdf", "content_type": "application/pdf", "size": len(pdf),
                         "sha256": hashlib.sha256(pdf).hexdigest(), "inline": False, "content_id": None}],
        "flags": ["missing_closing_boundary"],
    })

    nested = "From: a@example.com\r\nSubject: =?UTF-8?B?%s?=\r\n\r\n転送された本文\r\n" % base64.b64encode("元の件名".encode()).decode()
    body = (
        "--f\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n転送します。\r\n"
        "--f\r\nContent-Type: message/rfc822\r\n\r\n%s\r\n--f--\r\n"
    ) % nested
    raw = message(["Subject: forwarded"], body.encode(), "multipart/mixed; boundary=f", None)
    data = nested.encode()
    write(folder, "forwarded-message", raw, {
        "subject": "forwarded",
        "text": "転送します。",
        "attachments": [{"name": "元の件名.eml", "content_type": "message/rfc822", "size": len(data),
                         "sha256": hashlib.sha256(data).hexdigest(), "inline": False, "content_id": None}],
    })


def dates():
    folder = "dates"
    for name, date, expected in [
        ("obsolete-est", "Fri, 4 Dec 2026 05:40:00 EST", "2026-12-04T10:40:00Z"),
        ("obsolete-pdt", "Fri, 4 Dec 2026 03:40:00 PDT", "2026-12-04T10:40:00Z"),
        ("obsolete-gmt", "Fri, 4 Dec 2026 10:40:00 GMT", "2026-12-04T10:40:00Z"),
        ("minus-zero", "Fri, 4 Dec 2026 10:40:00 -0000", "2026-12-04T10:40:00Z"),
        ("military-z", "Fri, 4 Dec 2026 10:40:00 Z", "2026-12-04T10:40:00Z"),
    ]:
        raw = message(["Subject: date " + name], "本文".encode())
        raw = raw.replace(b"Fri, 04 Dec 2026 19:40:00 +0900", date.encode())
        write(folder, name, raw, {"subject": "date " + name, "date": expected, "headers": {"Date": date}})


if __name__ == "__main__":
    encoded_word_splits()
    charset_labels()
    rfc2231()
    transfer()
    structure()
    dates()
