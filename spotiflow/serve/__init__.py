"""What readers see: the dashboard, exports of the marts and the summary."""
