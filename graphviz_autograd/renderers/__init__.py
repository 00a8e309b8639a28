"""Graph -> text or picture: DOT and the `dot` process, JSON, Mermaid, the HTML explorer, the
terminal tree, the diff picture, and what they share (labels, style, formats, fitting)."""
