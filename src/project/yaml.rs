//! YAML with a bound on alias expansion. A compose file with nested anchors
//! and aliases (a "billion laughs") expands exponentially when loaded into a
//! tree, as every loader that copies aliases does; doctor measures the
//! expanded size from the parser's events first and refuses a document
//! that would exceed a small budget.

use yaml_rust2::parser::{Event, EventReceiver, Parser};
use yaml_rust2::{Yaml, YamlLoader};

/// Nodes a document may expand to: far above any real compose file.
pub const MAX_NODES: u64 = 200_000;

/// Counts the nodes the document becomes once every alias is expanded.
#[derive(Default)]
struct Expansion {
    nodes: u64,
    /// Expanded size of each anchor, by anchor id.
    anchors: Vec<u64>,
    /// Open collections: (anchor id, node count when it opened).
    open: Vec<(usize, u64)>,
}

impl Expansion {
    fn anchor(&mut self, id: usize, size: u64) {
        if id > 0 {
            if self.anchors.len() <= id {
                self.anchors.resize(id + 1, 0);
            }
            self.anchors[id] = size;
        }
    }
}

impl EventReceiver for Expansion {
    fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Scalar(_, _, id, _) => {
                self.nodes = self.nodes.saturating_add(1);
                self.anchor(id, 1);
            }
            Event::SequenceStart(id, _) | Event::MappingStart(id, _) => {
                self.nodes = self.nodes.saturating_add(1);
                self.open.push((id, self.nodes));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((id, at)) = self.open.pop() {
                    let size = self.nodes - at + 1;
                    self.anchor(id, size);
                }
            }
            Event::Alias(id) => {
                let size = self.anchors.get(id).copied().unwrap_or(1);
                self.nodes = self.nodes.saturating_add(size);
            }
            _ => {}
        }
    }
}

/// Parse `text`, refusing documents whose aliases expand past `MAX_NODES`.
pub fn load(text: &str) -> Result<Vec<Yaml>, String> {
    let mut expansion = Expansion::default();
    Parser::new_from_str(text)
        .load(&mut expansion, true)
        .map_err(|e| format!("not valid YAML: {e}"))?;
    if expansion.nodes > MAX_NODES {
        return Err(format!(
            "its aliases expand to more than {MAX_NODES} nodes (a YAML alias bomb?): not read"
        ));
    }
    YamlLoader::load_from_str(text).map_err(|e| format!("not valid YAML: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_billion_laughs_is_refused_and_a_compose_file_is_read() {
        let bomb = include_str!("../../fixtures/hostile/alias-bomb.yml");
        let err = load(bomb).unwrap_err();
        assert!(err.contains("alias"), "{err}");
        let ok =
            load("x: &p {port: 1}\nservices:\n  db:\n    <<: *p\n    ports: [\"5432:5432\"]\n")
                .unwrap();
        assert_eq!(
            ok[0]["services"]["db"]["ports"][0].as_str(),
            Some("5432:5432")
        );
    }
}
