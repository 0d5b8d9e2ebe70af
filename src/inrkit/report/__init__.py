"""Run folders, figures and HTML reports."""
