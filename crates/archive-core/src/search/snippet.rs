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
    let body: String = text[from..to]
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();

    // Highlights are mapped back through byte offsets, because one
    // normalized character may stand for several original ones.
    let shift = prefix.chars().count();
    let char_index = |byte: usize| text[from..byte.clamp(from, to)].chars().count() + shift;
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
        let text = "ご注文コード：ＡＢＣ－１２３４\nショップ名：ｻﾝﾌﾟﾙｼｮｯﾌﾟ";
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
