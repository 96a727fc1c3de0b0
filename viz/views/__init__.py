"""Views that need no TUI: text swimlanes for the terminal (`text`), export to Perfetto / chrome://tracing
(`chrome`), and what a cell of a lane shows (`cells`: the rule for a cell of mixed states and the words for each state,
which the app's timeline follows too). Like every view they read only the trace model."""

MIN_WIDTH = 60  # the narrowest text report (`--width`) that stays readable: whole figures in the totals, room for bars
