"""What the exploration notebooks (notebooks/02.., 03.., 04..) compute, as small functions a test can check.

Each module reads one question's rows from the stores (SQL on PostgreSQL, keys of Redis, a Spark aggregate of a
Delta table) and shapes them with pandas into exactly what a notebook plots; `figures` draws and saves them.
"""
