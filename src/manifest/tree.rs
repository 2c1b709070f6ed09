//! A minimal YAML node tree with byte ranges, built from the parser's events. It exists for
//! in-place edits: knowing exactly which bytes hold a value lets an edit touch only those,
//! so comments and formatting elsewhere survive.

use std::ops::Range;

use serde_saphyr::granit_parser::{Event, Parser, StructureStyle};

#[derive(Debug, Clone)]
pub enum Node {
    Scalar {
        value: String,
        range: Range<usize>,
    },
    Map {
        flow: bool,
        entries: Vec<(Node, Node)>,
        range: Range<usize>,
    },
    Seq {
        flow: bool,
        #[allow(dead_code)] // part of the tree; edits do not touch lists yet
        items: Vec<Node>,
        range: Range<usize>,
    },
}

impl Node {
    pub fn range(&self) -> Range<usize> {
        match self {
            Node::Scalar { range, .. } | Node::Map { range, .. } | Node::Seq { range, .. } => {
                range.clone()
            }
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The entry of a mapping whose key is `key`.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match self {
            Node::Map { entries, .. } => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// True for an empty plain scalar (`key:` with nothing after it).
    pub fn is_null(&self) -> bool {
        match self {
            Node::Scalar { value, range } => range.is_empty() || value == "~" || value == "null",
            _ => false,
        }
    }
}

/// Parse `text` into a tree; `None` when it is not a single YAML document.
pub fn parse(text: &str) -> Option<Node> {
    let mut events = Vec::new();
    for item in Parser::new_from_str(text) {
        let (event, span) = item.ok()?;
        // Keep structure only; comments and anchor metadata are presentation.
        if !matches!(
            event,
            Event::StreamStart
                | Event::DocumentStart(..)
                | Event::Scalar(..)
                | Event::MappingStart(..)
                | Event::MappingEnd
                | Event::SequenceStart(..)
                | Event::SequenceEnd
                | Event::Alias(..)
        ) {
            continue;
        }
        let start = span.start.byte_offset()?;
        let end = span.end.byte_offset()?;
        events.push((event, start..end));
    }
    let mut it = events.into_iter().peekable();
    // StreamStart, DocumentStart
    while let Some((e, _)) = it.peek() {
        match e {
            Event::StreamStart | Event::DocumentStart(..) => {
                it.next();
            }
            _ => break,
        }
    }
    let root = node(&mut it)?;
    Some(root)
}

type Events<'a> = std::iter::Peekable<std::vec::IntoIter<(Event<'a>, Range<usize>)>>;

fn node(it: &mut Events) -> Option<Node> {
    let (event, range) = it.next()?;
    match event {
        Event::Scalar(value, ..) => Some(Node::Scalar {
            value: value.into_owned(),
            range,
        }),
        Event::MappingStart(style, ..) => {
            let flow = style == StructureStyle::Flow;
            let mut entries = Vec::new();
            let start = range.start;
            let mut end = range.end;
            loop {
                if let Some((Event::MappingEnd, r)) = it.peek() {
                    if flow {
                        end = r.end;
                    }
                    it.next();
                    break;
                }
                let k = node(it)?;
                let v = node(it)?;
                end = end.max(v.range().end).max(k.range().end);
                entries.push((k, v));
            }
            Some(Node::Map {
                flow,
                entries,
                range: start..end,
            })
        }
        Event::SequenceStart(style, ..) => {
            let flow = style == StructureStyle::Flow;
            let mut items = Vec::new();
            let start = range.start;
            let mut end = range.end;
            loop {
                if let Some((Event::SequenceEnd, r)) = it.peek() {
                    if flow {
                        end = r.end;
                    }
                    it.next();
                    break;
                }
                let n = node(it)?;
                end = end.max(n.range().end);
                items.push(n);
            }
            Some(Node::Seq {
                flow,
                items,
                range: start..end,
            })
        }
        // Aliases, anchors, comments: not used by cdxs.yaml; treat as opaque scalars.
        _ => Some(Node::Scalar {
            value: String::new(),
            range,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_point_at_values() {
        let text = "version: 1\nhomes:\n  work:\n    path: ~/w # c\n    account: me\n  b: { path: x, account: y }\n";
        let root = parse(text).unwrap();
        let homes = root.get("homes").unwrap();
        let work = homes.get("work").unwrap();
        let acc = work.get("account").unwrap();
        assert_eq!(&text[acc.range()], "me");
        let path = work.get("path").unwrap();
        assert_eq!(&text[path.range()], "~/w");
        let b = homes.get("b").unwrap();
        assert_eq!(&text[b.range()], "{ path: x, account: y }");
    }
}
