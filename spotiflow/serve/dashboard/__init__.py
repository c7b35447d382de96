"""The Streamlit dashboard (reads the marts only) and the command that serves it."""
