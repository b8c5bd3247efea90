"""The Power BI project of powerbi/: its semantic model (TMDL) read as text and checked against the views."""
