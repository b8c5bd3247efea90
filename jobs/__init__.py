"""Entry points, one per pipeline stage.

Each has main(argv): the same for spark-submit, the Spark Operator, the notebooks and the tests.
"""
