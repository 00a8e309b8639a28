"""Graph -> graph: folding big graphs to a size that lays out (`fold`), collapsing deep
modules (`collapse`), and comparing two graphs (`diff`). Pure: no torch, no Graphviz."""
