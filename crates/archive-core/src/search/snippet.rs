//! Snippets: a short piece of a message's text around the first match, with
//! the matched characters marked.

use super::normalize::Normalized;
use super::query::TextTerm;

/// Characters shown before the first match.
const LEAD_CHARS: usize = 30;

/// A piece of text with highlighted ranges.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Snippet {
    /// The text, on one line, with `…` where it was cut.
    pub text: String,
    /// Highlighted ranges as character offsets `[start, end)` into `text`.
    pub highlights: Vec<(usize, usize)>,
}

impl Snippet {
    /// Formats the snippet with `[` and `]` around each highlight.
    pub fn bracketed(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 8);
        let mut marks = self
            .highlights
            .iter()
            .flat_map(|&(start, end)| [(start, '['), (end, ']')])
            .peekable();
        for (index, c) in self.text.chars().enumerate() {
            while let Some(&(at, mark)) = marks.peek() {
                if at != index {
                    break;
                }
                out.push(mark);
                marks.next();
            }
            out.push(c);
        }
        out.extend(marks.map(|(_, mark)| mark));
        out
    }
}

/// Returns about `max_chars` characters of `text` around the first
/// occurrence of any of `terms`, or the start of the text when none occurs.
pub fn snippet(text: &str, terms: &[&TextTerm], max_chars: usize) -> Snippet {
    let normalized = Normalized::new(text);
    let chars: Vec<char> = normalized.text.chars().collect();
    let wanted: Vec<Vec<char>> = terms
        .iter()
        .map(|term| term.normalized().chars().collect::<Vec<char>>())
        .filter(|term| !term.is_empty())
        .collect();

    let mut occurrences = Vec::new();
    for term in &wanted {
        occurrences.extend(find_all(&chars, term).map(|start| (start, start + term.len())));
    }
    occurrences.sort_unstable();

    let first = occurrences.first().map_or(0, |&(start, _)| start);
    let window_start = first.saturating_sub(LEAD_CHARS);
    let window_end = (window_start + max_chars).min(chars.len());

    let byte_of = |index: usize| normalized.origins.get(index).copied().unwrap_or(text.len());
    let (from, to) = (byte_of(window_start), byte_of(window_end));
    let prefix = if window_start > 0 { "…" } else { "" };
    let suffix = if window_end < chars.len() { "…" } else { "" };
    let (body, positions) = one_line(&text[from..to], from);

    // Highlights are mapped back through byte offsets, because one
    // normalized character may stand for several original ones.
    let shift = prefix.chars().count();
    let char_index = |byte: usize| {
        let at = positions.partition_point(|&(start, _)| start < byte);
        positions
            .get(at)
            .map_or(body.chars().count(), |&(_, index)| index)
            + shift
    };
    let highlights = occurrences
        .iter()
        .filter(|&&(start, end)| start >= window_start && end <= window_end)
        .map(|&(start, end)| (char_index(byte_of(start)), char_index(byte_of(end))))
        .collect();

    Snippet {
        text: format!("{prefix}{body}{suffix}"),
        highlights,
    }
}

/// Puts `text` on one line, every run of white space as one space, without
/// trailing white space. Returns the line and, for each original character
/// kept, its byte offset (plus `base`) and its character index in the line.
fn one_line(text: &str, base: usize) -> (String, Vec<(usize, usize)>) {
    let mut line = String::with_capacity(text.len());
    let mut positions = Vec::with_capacity(text.len());
    let mut count = 0;
    let mut in_space = false;
    for (offset, c) in text.char_indices() {
        if c.is_whitespace() {
            if !in_space {
                positions.push((base + offset, count));
                line.push(' ');
                count += 1;
            }
            in_space = true;
            continue;
        }
        in_space = false;
        positions.push((base + offset, count));
        line.push(c);
        count += 1;
    }
    if line.ends_with(' ') {
        line.pop();
        positions.retain(|&(_, index)| index < count - 1);
    }
    (line, positions)
}

fn find_all<'a>(haystack: &'a [char], needle: &'a [char]) -> impl Iterator<Item = usize> + 'a {
    (0..haystack.len().saturating_sub(needle.len() - 1))
        .filter(move |&start| haystack[start..].starts_with(needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::query::TextField;

    #[test]
    fn highlights_the_original_characters() {
        let text = "ご注文コード：ＡＢＣ－１２３４\r\nショップ名：ｻﾝﾌﾟﾙｼｮｯﾌﾟ\r\n";
        let abc = TextTerm::new(TextField::Any, "abc-1234");
        let shop = TextTerm::new(TextField::Any, "サンプル");
        let found = snippet(text, &[&abc, &shop], 200);
        assert_eq!(
            found.text,
            "ご注文コード：ＡＢＣ－１２３４ ショップ名：ｻﾝﾌﾟﾙｼｮｯﾌﾟ"
        );
        assert_eq!(
            found.bracketed(),
            "ご注文コード：[ＡＢＣ－１２３４] ショップ名：[ｻﾝﾌﾟﾙ]ｼｮｯﾌﾟ"
        );
    }

    #[test]
    fn long_text_is_cut_around_the_match() {
        let text = format!("{}発送しました{}", "あ".repeat(100), "い".repeat(100));
        let term = TextTerm::new(TextField::Any, "発送");
        let found = snippet(&text, &[&term], 40);
        assert!(found.text.starts_with('…') && found.text.ends_with('…'));
        assert_eq!(found.text.chars().count(), 42);
        assert_eq!(found.bracketed().matches("[発送]").count(), 1);
    }

    #[test]
    fn no_match_shows_the_start() {
        let found = snippet("本文です", &[&TextTerm::new(TextField::Any, "xyz")], 10);
        assert_eq!(found.text, "本文です");
        assert!(found.highlights.is_empty());
    }
}
