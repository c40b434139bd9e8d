"""Cost and scale of the stack (issue 10): a dated price file, inputs read from the project and a
measurement run, a pure model of the monthly bill, the seed's other options, and the report.

`python -m cost.measure` writes cost/measured.json; `python -m cost.report` prints the table.
"""
