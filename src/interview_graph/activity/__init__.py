"""The activity agent: analyses the candidate's live coding for the panel."""
