"""Model cards: what one model version is, what it was trained on, how it does on the golden set, what it
costs to serve and, for a candidate, why the gate promoted or rejected it (docs/model-card.md).

`card` is the document (pydantic), `sections` computes its parts from numbers (numpy only), `build` assembles
a card from a model directory or a registry item, `files` reads and writes a card directory, `html` renders
one (Jinja2). None of them plots: the pictures come from core.plotting (matplotlib), which only the training
job and the CLI import.
"""
