"""Glue Data Quality: rulesets and evaluation runs of DQDL rules over catalog tables."""
