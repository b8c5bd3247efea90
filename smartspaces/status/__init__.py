"""`smartspaces status`: one screen of the platform's state, read from the stores without starting Spark.

The servers of the local stack, each streaming query's last micro-batch (from its Spark checkpoint), the change
feed's backlog per change-log writer, the newest enrichment run and its quality verdict, and Redis's keys.
sections.py holds what each section shows and when it needs attention, collect.py reads the stores, render.py
prints the text and the JSON.
"""
