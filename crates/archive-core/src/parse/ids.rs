//! Message ids in `Message-ID`, `In-Reply-To` and `References`.

use super::header::unfold;

/// Returns the first message id of a raw value, without angle brackets.
/// A value without brackets is taken whole, trimmed.
pub(crate) fn parse_message_id(raw: &[u8]) -> Option<String> {
    parse_id_list(raw).into_iter().next()
}

/// Returns every message id of a raw value, without angle brackets. Values
/// that have no bracketed id are split on whitespace and commas.
pub(crate) fn parse_id_list(raw: &[u8]) -> Vec<String> {
    let text = unfold(raw);
    let text = String::from_utf8_lossy(&text);

    let bracketed: Vec<String> = text
        .split('<')
        .skip(1)
        .filter_map(|rest| rest.split_once('>').map(|(id, _)| id.trim()))
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect();
    if !bracketed.is_empty() {
        return bracketed;
    }
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracketed_ids() {
        assert_eq!(
            parse_message_id(b" <a@b> (comment)\r\n").as_deref(),
            Some("a@b")
        );
        assert_eq!(parse_id_list(b"<a@b>\r\n <c@d>"), ["a@b", "c@d"]);
    }

    #[test]
    fn bare_ids() {
        assert_eq!(parse_message_id(b" a@b ").as_deref(), Some("a@b"));
        assert_eq!(parse_message_id(b"  \r\n"), None);
    }
}
