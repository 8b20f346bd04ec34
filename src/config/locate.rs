//! The YAML error locator: `file:line` of a key path, for errors found after decoding.

use std::path::Path;

/// One step of a key path into YAML text: a mapping key or a sequence index.
#[derive(Debug, Clone, Copy)]
pub(super) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// `file:line` of the value at `at` (like `domains[3].fqdn`), for errors found after
/// decoding; the deepest part of the path that exists when not all of it does.
pub(super) fn locate(path: &Path, text: &str, at: &[Seg<'_>]) -> String {
    match line_of(text, at) {
        Some(i) => format!("{}:{}", path.display(), i + 1),
        None => path.display().to_string(),
    }
}

/// One meaningful line of YAML: its number, the column it starts at (a dash counts), the
/// column of its key after any `- `, and its content from there.
type Line<'t> = (usize, usize, usize, &'t str);

/// The 0-based line of the node at `at` in block-style YAML (the style configurations are
/// written in), walking the indentation; a flow collection (`[a, b]`) is located as a whole.
pub(super) fn line_of(text: &str, at: &[Seg<'_>]) -> Option<usize> {
    let lines: Vec<Line<'_>> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let start = l.len() - l.trim_start().len();
            let mut content = l.trim_start();
            if content.is_empty() || content.starts_with('#') || content.starts_with("---") {
                return None;
            }
            let mut key = start;
            while let Some(rest) = content.strip_prefix('-').filter(|r| r.starts_with(' ')) {
                let trimmed = rest.trim_start();
                key += content.len() - trimmed.len();
                content = trimmed;
            }
            Some((i, start, key, content))
        })
        .collect();
    find(&lines, at, None)
}

/// [`line_of`] within `region`, the lines of one node's children.
fn find(region: &[Line<'_>], at: &[Seg<'_>], found: Option<usize>) -> Option<usize> {
    let (Some((seg, rest)), Some(first)) = (at.split_first(), region.first()) else {
        return found;
    };
    let is_dash = |l: &Line<'_>| l.2 > l.1;
    match *seg {
        Seg::Key(key) => {
            let col = first.2;
            let is_key = |c: &str| {
                let c = c.strip_prefix(['"', '\'']).unwrap_or(c);
                c.strip_prefix(key).is_some_and(|r| {
                    let r = r.strip_prefix(['"', '\'']).unwrap_or(r);
                    r.starts_with(':')
                })
            };
            let Some(p) = region.iter().position(|l| l.2 == col && is_key(l.3)) else {
                return found;
            };
            // Its children are indented deeper, or a list at its own column (YAML allows it).
            let after = &region[p + 1..];
            let end = after
                .iter()
                .position(|l| !(l.1 > col || (l.1 == col && is_dash(l))))
                .unwrap_or(after.len());
            find(&after[..end], rest, Some(region[p].0))
        }
        Seg::Index(n) => {
            let dash = first.1;
            let items: Vec<usize> = (0..region.len())
                .filter(|&p| region[p].1 == dash && is_dash(&region[p]))
                .collect();
            let Some(&p) = items.get(n) else {
                return found;
            };
            let end = items.get(n + 1).copied().unwrap_or(region.len());
            let mut item = region[p..end].to_vec();
            // The item's first key sits after its dash, level with the keys below it.
            item[0].1 = item[0].2;
            find(&item, rest, Some(region[p].0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_positions() {
        let text = "global:\n  interval: 1m\ndomains:\n- domain: a.example\n  fqdn: x.example\n-   domain: b.example\n    port: 1\n  # comment\n- domain: c.example\n  vantages: [inside]\n";
        let at = |p: &[Seg<'_>]| line_of(text, p).map(|l| l + 1);
        assert_eq!(at(&[Seg::Key("global"), Seg::Key("interval")]), Some(2));
        assert_eq!(
            at(&[Seg::Key("domains"), Seg::Index(0), Seg::Key("fqdn")]),
            Some(5)
        );
        assert_eq!(
            at(&[Seg::Key("domains"), Seg::Index(1), Seg::Key("domain")]),
            Some(6)
        );
        assert_eq!(
            at(&[Seg::Key("domains"), Seg::Index(1), Seg::Key("port")]),
            Some(7)
        );
        assert_eq!(
            at(&[
                Seg::Key("domains"),
                Seg::Index(2),
                Seg::Key("vantages"),
                Seg::Index(0)
            ]),
            Some(10)
        );
        // What does not exist is located at its deepest existing parent.
        assert_eq!(
            at(&[Seg::Key("domains"), Seg::Index(2), Seg::Key("port")]),
            Some(9)
        );
        assert_eq!(at(&[Seg::Key("domains"), Seg::Index(7)]), Some(3));
        assert_eq!(at(&[Seg::Key("vantages")]), None);
    }
}
