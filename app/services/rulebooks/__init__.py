"""Rulebooks in force: loading the rules directory, refusing a broken one and keeping
the last good one in every process (`registry`); the history of rulebooks put in force and
diffs between them (`history`); candidate rulebooks (`candidates`) and their simulation over
the whole population (`simulate`)."""
